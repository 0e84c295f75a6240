"use client";
/**
 * The sector page, /sector/?date=YYYY-MM-DD: last night's US sector heat map, this
 * morning's ranked Korean watch list with its explanations (a row opens the trading
 * view), the walk-forward backtest with every headline figure beside its permutation
 * p-value and a plain statement of what it does not promise, and the link map (edited by
 * an admin or a trader). Without a date the server's session: today until 15:30 KST, else
 * the next one. Stacked on a phone.
 */
import { useRouter, useSearchParams } from "next/navigation";
import { type ReactNode, Suspense, useState } from "react";
import { ApiError } from "@/api/client";
import { SectorBacktestView } from "@/components/SectorBacktest";
import { SectorHeatMap } from "@/components/SectorHeatMap";
import { SectorLinks } from "@/components/SectorLinks";
import { SectorRanking } from "@/components/SectorRanking";
import { kstToday } from "@/lib/format";
import {
  useMe,
  useSaveSectorLinks,
  useSectorBacktest,
  useSectorLinks,
  useSectorRecommendations,
  useSectorUs,
} from "@/lib/hooks";
import { canEditLinks, daysBefore, isoDay, noteKo } from "@/lib/sector";
import type { SectorUs } from "@/lib/sectorTypes";
import "./sector.css";

/** the default backtest: the last two years (earlier bars are the fit's history) */
const BACKTEST_DAYS = 730;

function errorText(e: unknown): string {
  if (e instanceof ApiError) {
    return e.body.detail_ko && e.body.detail !== e.body.detail_ko
      ? `${e.body.detail_ko} (${e.body.detail})`
      : e.body.detail || e.message;
  }
  return String(e);
}

function noData(e: unknown): boolean {
  return e instanceof ApiError && e.status === 404 && /no sector data/i.test(e.body.detail);
}

function usEmpty(us: SectorUs | undefined): boolean {
  return !!us && us.items.every((i) => i.last_date === null);
}

/** How to get data in: the empty state of a fresh install. */
function HowToImport() {
  return (
    <div className="sector-empty" data-testid="sector-no-data">
      <p>
        <b>아직 미국 섹터 데이터가 없습니다.</b>
        <br />
        <span className="sector-en">No US sector data yet.</span>
      </p>
      <p>
        CSV 파일을 가져오거나(형식: docs/sectors-data.md) 데이터 제공자에서 받아 오세요 — import a CSV file
        or fetch from a provider:
      </p>
      <pre>
        {"gslts sectors import FILE.csv\ngslts sectors fetch\ngslts sectors recommend --date YYYY-MM-DD"}
      </pre>
    </div>
  );
}

function Panel({
  title,
  children,
  testId,
  extra,
}: {
  title: string;
  children: ReactNode;
  testId?: string;
  extra?: ReactNode;
}) {
  return (
    <section className="panel" data-testid={testId}>
      <div className="panel-title">
        {title}
        {extra}
      </div>
      {children}
    </section>
  );
}

function Backtest({ to }: { to: string }) {
  // the default: the two years up to the page's session (keyed by it: a new date resets it)
  const initial = { from: daysBefore(to, BACKTEST_DAYS), to, topN: 5 };
  const [form, setForm] = useState(initial);
  const [range, setRange] = useState(initial);
  const bt = useSectorBacktest(range);
  const err = bt.error instanceof ApiError ? bt.error : null;
  return (
    <Panel title="백테스트 (walk-forward backtest)" testId="sector-backtest-panel">
      <form
          className="bt-form"
          onSubmit={(e) => {
            e.preventDefault();
            setRange({ ...form });
          }}
        >
          <label className={err?.field === "from" ? "bad" : undefined}>
            시작
            <input type="date" value={form.from} onChange={(e) => setForm({ ...form, from: e.target.value })} />
          </label>
          <label className={err?.field === "to" ? "bad" : undefined}>
            끝
            <input type="date" value={form.to} onChange={(e) => setForm({ ...form, to: e.target.value })} />
          </label>
          <label>
            상위 N
            <input
              type="number"
              min={1}
              max={50}
              value={form.topN}
              onChange={(e) => setForm({ ...form, topN: Math.max(1, Math.min(50, Number(e.target.value) || 1)) })}
            />
          </label>
          <button type="submit" className="btn" disabled={bt.isFetching}>
            {bt.isFetching ? "계산 중…" : "실행"}
          </button>
        </form>
      {bt.isPending ? (
        <p className="center-note" data-testid="backtest-loading">
          백테스트 계산 중… (수 초 걸립니다 · takes a few seconds)
        </p>
      ) : bt.isError ? (
        noData(bt.error) ? (
          <HowToImport />
        ) : (
          <p className="error" data-testid="backtest-error">
            {errorText(bt.error)}
          </p>
        )
      ) : (
        <SectorBacktestView result={bt.data} />
      )}
    </Panel>
  );
}

function SectorView() {
  const params = useSearchParams();
  const router = useRouter();
  const date = isoDay(params.get("date"));
  const recs = useSectorRecommendations(date);
  const us = useSectorUs(date);
  const links = useSectorLinks();
  const me = useMe();
  const save = useSaveSectorLinks();
  const resolved = recs.data?.date ?? us.data?.date ?? date;
  const dateErr = [recs.error, us.error].find((e) => e instanceof ApiError && e.field === "date");
  const empty = noData(recs.error) || usEmpty(us.data);
  const note = noteKo(recs.data?.note);

  function pick(day: string | null) {
    router.replace(day ? `/sector/?date=${day}` : "/sector/");
  }

  return (
    <div className="main" data-testid="sector-page">
      <div className="sector-bar">
        <h1>섹터 연동 · Global sector link</h1>
        <label>
          세션{" "}
          <input
            type="date"
            value={date ?? resolved ?? ""}
            onChange={(e) => pick(isoDay(e.target.value))}
            data-testid="sector-date"
          />
        </label>
        <button type="button" className="btn" onClick={() => pick(null)} disabled={!date}>
          최신 (latest)
        </button>
        {resolved && (
          <span className="resolved" data-testid="sector-resolved">
            {resolved === kstToday() ? "오늘 " : ""}
            {resolved} KRX 세션용 · for the KRX session of {resolved}
          </span>
        )}
        {dateErr && (
          <span className="error" data-testid="sector-date-error">
            {errorText(dateErr)}
          </span>
        )}
      </div>
      {empty && !dateErr ? (
        <section className="panel">
          <HowToImport />
        </section>
      ) : null}
      <div className="sector">
        <div>
          <Panel title="간밤 미국 섹터 (last night's US sectors)" testId="sector-us-panel">
            {us.isPending ? (
              <p className="center-note">불러오는 중…</p>
            ) : us.isError ? (
              <p className="error">{errorText(us.error)}</p>
            ) : usEmpty(us.data) ? (
              <p className="muted">데이터 없음 (no data)</p>
            ) : (
              <SectorHeatMap us={us.data} />
            )}
          </Panel>
          <Panel
            title="오늘의 관심 종목 (ranked watch list)"
            testId="sector-ranking-panel"
            extra={
              recs.data ? (
                <span className="muted small" style={{ fontWeight: 400 }}>
                  {recs.data.items.length}종목 · 예상 갭은 예측이며 매수 가능한 수익이 아닙니다 (the expected gap is a
                  forecast)
                </span>
              ) : null
            }
          >
            {note && (
              <p className={note.provisional ? "notice" : "muted"} data-testid="sector-note">
                {note.ko} {note.en && <span className="sector-en">{note.en}</span>}
              </p>
            )}
            {recs.isPending ? (
              <p className="center-note">불러오는 중…</p>
            ) : recs.isError ? (
              noData(recs.error) ? (
                <p className="muted">데이터를 가져온 뒤 목록이 나옵니다 (the list appears once data is imported).</p>
              ) : (
                <p className="error" data-testid="sector-error">
                  {errorText(recs.error)}
                </p>
              )
            ) : recs.data.items.length === 0 ? (
              <p className="muted" data-testid="sector-list-empty">
                순위를 매길 종목이 없습니다 (nothing to rank).
              </p>
            ) : (
              <SectorRanking rows={recs.data.items} />
            )}
          </Panel>
        </div>
        <div>
          {resolved ? (
            <Backtest key={resolved} to={resolved} />
          ) : (
            <Panel title="백테스트 (walk-forward backtest)">
              <p className="center-note">불러오는 중…</p>
            </Panel>
          )}
        </div>
        <div style={{ gridColumn: "1 / -1" }}>
          <Panel title={`링크 맵 (US → KR links)${links.data ? ` · ${links.data.count}` : ""}`} testId="sector-links-panel">
            {links.isPending ? (
              <p className="center-note">불러오는 중…</p>
            ) : links.isError ? (
              <p className="error">{errorText(links.error)}</p>
            ) : (
              <SectorLinks links={links.data.items} editable={canEditLinks(me.data?.role)} save={save} />
            )}
          </Panel>
        </div>
      </div>
    </div>
  );
}

export default function SectorPage() {
  return (
    <Suspense fallback={<p className="center-note">불러오는 중…</p>}>
      <SectorView />
    </Suspense>
  );
}
