"use client";
/**
 * The link map (US instrument → Korean stock, with confidence and rationale). Everyone
 * sees it; an admin or a trader edits a draft of it — confidence and rationale in place,
 * a link added or removed — and saves the whole map (PUT /api/sectors/links). The
 * server's validation error is shown at the row and field it names.
 */
import { useEffect, useMemo, useState } from "react";
import { ApiError } from "@/api/client";
import { CONFIDENCE_LABEL, confidenceLabel, linkErrorAt, linkKey, stripTag, syncTag } from "@/lib/sector";
import type { SectorLink } from "@/lib/sectorTypes";

interface Props {
  links: readonly SectorLink[];
  editable: boolean;
  save: (links: SectorLink[]) => Promise<unknown>;
}

interface FieldError {
  index: number | null;
  key: string;
  message: string;
}

type Confidence = SectorLink["confidence"];
const EMPTY: SectorLink = {
  us_symbol: "",
  us_name: "",
  kr_code: "",
  kr_name: "",
  confidence: "M",
  rationale: "",
  active: true,
};
const CONF: Confidence[] = ["H", "M", "L"];

export function SectorLinks({ links, editable, save }: Props) {
  const [draft, setDraft] = useState<SectorLink[]>(() => links.map((l) => ({ ...l })));
  const [added, setAdded] = useState<SectorLink>(EMPTY);
  const [filter, setFilter] = useState("");
  const [error, setError] = useState<FieldError | null>(null);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const [busy, setBusy] = useState(false);

  // a new answer from the server (after a save, or refetched) replaces the draft
  useEffect(() => setDraft(links.map((l) => ({ ...l }))), [links]);

  const original = useMemo(() => new Map(links.map((l) => [linkKey(l), l])), [links]);
  const dirty =
    draft.length !== links.length ||
    draft.some((l) => {
      const o = original.get(linkKey(l));
      return !o || o.confidence !== l.confidence || o.rationale !== l.rationale || o.active !== l.active;
    });
  const q = filter.trim().toLowerCase();
  const shown = draft
    .map((l, index) => ({ l, index }))
    .filter(
      ({ l }) =>
        !q ||
        l.us_symbol.toLowerCase().includes(q) ||
        l.kr_code.includes(q) ||
        l.kr_name.toLowerCase().includes(q) ||
        l.us_name.toLowerCase().includes(q),
    );

  function patch(index: number, p: Partial<SectorLink>) {
    setDraft((d) => d.map((l, i) => (i === index ? { ...l, ...p } : l)));
    setMessage(null);
  }

  function add() {
    const link = { ...added, us_symbol: added.us_symbol.trim().toUpperCase(), kr_code: added.kr_code.trim() };
    if (draft.some((l) => linkKey(l) === linkKey(link))) {
      setError({ index: -1, key: "kr_code", message: "이미 있는 링크입니다 (this link exists)" });
      return;
    }
    setDraft((d) => [...d, link]);
    setAdded(EMPTY);
    setError(null);
    setMessage({ ok: true, text: "추가됨 — 저장해야 반영됩니다 (added; save to apply)" });
  }

  async function submit() {
    setBusy(true);
    setError(null);
    setMessage(null);
    try {
      await save(draft.map((l) => ({ ...l, rationale: syncTag(l.rationale, l.confidence) })));
      setMessage({ ok: true, text: "저장했습니다 (saved)" });
    } catch (e) {
      if (e instanceof ApiError) {
        const at = linkErrorAt(e.field);
        // the Korean summary first, then the server's exact words (which rule, which value)
        const text = e.body.detail_ko && e.body.detail ? `${e.body.detail_ko} — ${e.body.detail}` : e.message;
        setError({ index: at?.index ?? null, key: at?.key ?? "", message: text });
        const row = at?.index !== null && at?.index !== undefined ? draft[at.index] : undefined;
        if (row) {
          setFilter(""); // the row must be on screen
          setMessage({ ok: false, text: `저장 안 됨: ${row.us_symbol}→${row.kr_code} 행 (not saved: see the row) — ${text}` });
        } else if (!at || at.index === null) {
          setMessage({ ok: false, text: `저장 안 됨 (not saved) — ${text}` });
        }
      } else {
        setMessage({ ok: false, text: String(e) });
      }
    } finally {
      setBusy(false);
    }
  }

  const errAt = (index: number, key: string) =>
    error && error.index === index && (error.key === key || (key === "rationale" && !["us_symbol", "kr_code", "confidence"].includes(error.key)))
      ? error.message
      : null;

  return (
    <div data-testid="sector-links">
      <div className="links-filter">
        <input
          type="search"
          placeholder="필터: 종목명, 코드, ETF"
          value={filter}
          onChange={(e) => setFilter(e.target.value)}
          data-testid="links-filter"
        />
        <span className="muted">
          {shown.length} / {draft.length}개 링크
        </span>
        {editable && (
          <>
            <button
              type="button"
              className="btn"
              disabled={!dirty || busy}
              onClick={submit}
              data-testid="links-save"
            >
              {busy ? "저장 중…" : "저장 (save)"}
            </button>
            <button
              type="button"
              className="btn"
              disabled={!dirty || busy}
              onClick={() => {
                setDraft(links.map((l) => ({ ...l })));
                setError(null);
                setMessage(null);
              }}
            >
              되돌리기
            </button>
          </>
        )}
        {!editable && <span className="muted small">편집은 관리자·트레이더만 (admin/trader only)</span>}
      </div>
      {message && (
        <p className={message.ok ? "ok" : "error"} data-testid="links-message">
          {message.text}
        </p>
      )}
      {error && error.index === null && error.key && (
        <p className="error" data-testid="links-error">
          {error.key}: {error.message}
        </p>
      )}
      <div className="links-scroll">
        <table className="links-table">
          <thead>
            <tr>
              <th>미국</th>
              <th>한국 종목</th>
              <th>신뢰도</th>
              <th>근거 (rationale)</th>
              <th>사용</th>
              {editable && <th />}
            </tr>
          </thead>
          <tbody>
            {shown.map(({ l, index }) => {
              const o = original.get(linkKey(l));
              const changed = !o || o.confidence !== l.confidence || o.rationale !== l.rationale || o.active !== l.active;
              const rowErr =
                errAt(index, "us_symbol") ?? errAt(index, "kr_code") ?? errAt(index, "confidence") ?? errAt(index, "rationale");
              return (
                <tr
                  key={linkKey(l)}
                  className={changed ? "changed" : undefined}
                  data-testid="link-row"
                  data-key={linkKey(l)}
                >
                  <td title={l.us_name}>
                    <b>{l.us_symbol}</b>
                  </td>
                  <td>
                    {l.kr_name || "?"} <span className="muted small">{l.kr_code}</span>
                  </td>
                  <td className={errAt(index, "confidence") ? "bad" : undefined}>
                    {editable ? (
                      <select
                        value={l.confidence}
                        onChange={(e) => patch(index, { confidence: e.target.value as Confidence })}
                        data-testid="link-confidence"
                      >
                        {CONF.map((c) => (
                          <option key={c} value={c}>
                            {c} {CONFIDENCE_LABEL[c]}
                          </option>
                        ))}
                      </select>
                    ) : (
                      `${l.confidence} ${confidenceLabel(l.confidence)}`
                    )}
                  </td>
                  <td className={`c-rationale${errAt(index, "rationale") ? " bad" : ""}`}>
                    {editable ? (
                      <input
                        value={l.rationale}
                        onChange={(e) => patch(index, { rationale: e.target.value })}
                        data-testid="link-rationale"
                      />
                    ) : (
                      stripTag(l.rationale)
                    )}
                    {rowErr && (
                      <p className="field-error" style={{ margin: 0 }} data-testid="link-field-error">
                        {rowErr}
                      </p>
                    )}
                  </td>
                  <td>
                    {editable ? (
                      <input
                        type="checkbox"
                        checked={l.active}
                        onChange={(e) => patch(index, { active: e.target.checked })}
                        aria-label="사용 (active)"
                        style={{ width: "auto" }}
                      />
                    ) : l.active ? (
                      "예"
                    ) : (
                      "아니오"
                    )}
                  </td>
                  {editable && (
                    <td>
                      <button
                        type="button"
                        className="btn-link"
                        onClick={() => {
                          setDraft((d) => d.filter((_, i) => i !== index));
                          setError(null);
                        }}
                        data-testid="link-remove"
                      >
                        삭제
                      </button>
                    </td>
                  )}
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {editable && (
        <div className="links-add" data-testid="links-add">
          <span className={error?.index === -1 && error.key === "us_symbol" ? "bad" : undefined}>
            <input
              placeholder="미국 ETF (SOXX)"
              value={added.us_symbol}
              onChange={(e) => setAdded({ ...added, us_symbol: e.target.value })}
              data-testid="add-us-symbol"
            />
          </span>
          <span className={error?.index === -1 && error.key === "kr_code" ? "bad" : undefined}>
            <input
              placeholder="종목코드"
              value={added.kr_code}
              maxLength={6}
              onChange={(e) => setAdded({ ...added, kr_code: e.target.value })}
              data-testid="add-kr-code"
            />
          </span>
          <select
            value={added.confidence}
            onChange={(e) => setAdded({ ...added, confidence: e.target.value as Confidence })}
            data-testid="add-confidence"
          >
            {CONF.map((c) => (
              <option key={c} value={c}>
                {c} {CONFIDENCE_LABEL[c]}
              </option>
            ))}
          </select>
          <input
            className="c-rationale"
            placeholder="근거 (rationale)"
            value={added.rationale}
            onChange={(e) => setAdded({ ...added, rationale: e.target.value })}
            data-testid="add-rationale"
          />
          <button
            type="button"
            className="btn"
            disabled={!added.us_symbol.trim() || !/^[0-9A-Z]{6}$/.test(added.kr_code.trim())}
            onClick={add}
            data-testid="links-add-button"
          >
            추가
          </button>
          {error?.index === -1 && (
            <p className="field-error" style={{ margin: 0, gridColumn: "1 / -1" }}>
              {error.message}
            </p>
          )}
        </div>
      )}
    </div>
  );
}
