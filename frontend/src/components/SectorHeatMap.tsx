"use client";
/**
 * Last night's US sectors: one tile per instrument of the link map, its move compounded
 * over every US session since the previous KRX session (red up, blue down, the colour
 * growing with the move), larger for the instruments that drive more Korean stocks,
 * ordered from the strongest rise to the strongest fall; the market factors (EWY, SPY)
 * first, outlined. Above: which US sessions these are and when each closed, in KST.
 */
import { HEAT_CAP, fracPct, heatColour, heatTiles, kstClose, latestUsDate, usCloseIso } from "@/lib/sector";
import type { SectorUs } from "@/lib/sectorTypes";

export function SectorHeatMap({ us }: { us: SectorUs }) {
  const tiles = heatTiles(us.items.map((i) => ({ ...i, ret: i.change })));
  const sessions = us.us_sessions;
  const latest = latestUsDate(us.items);
  const missing = sessions.length > 0 && tiles.every((t) => t.ret === null);
  return (
    <div data-testid="sector-heatmap">
      {missing && (
        <p className="notice" data-testid="heat-missing">
          이 세션의 미국 데이터가 아직 없습니다 (마지막 저장: {latest ?? "-"}). <code>gslts sectors fetch</code> 또는{" "}
          <code>gslts sectors import FILE</code>로 가져오세요. · No US data for this session yet.
        </p>
      )}
      <div className="heat-sessions" data-testid="heat-sessions">
        {sessions.length === 0 ? (
          "미국 휴장: 이번 세션에는 신호가 없습니다 (US holiday: no signal)"
        ) : (
          <>
            미국 장 마감 (KST){" "}
            {sessions.map((day, i) => (
              <span key={day}>
                {i > 0 ? " · " : ""}
                <b title={`NYSE ${day} 16:00 ET`} data-testid="us-close">
                  {kstClose(usCloseIso(day))}
                </b>
              </span>
            ))}
            {sessions.length > 1 ? ` — ${sessions.length}개 세션 누적 (compounded)` : ""}
            {latest && <span className="muted"> · 저장된 데이터 ~{latest}</span>}
          </>
        )}
      </div>
      <div className="heat">
        {tiles.map((t) => {
          const c = heatColour(t.ret);
          return (
            <div
              key={t.symbol}
              className={`heat-tile size-${t.size}${t.market ? " market" : ""}`}
              style={{ background: c.background, color: c.color }}
              data-testid="heat-tile"
              data-symbol={t.symbol}
              data-ret={t.ret ?? ""}
              title={`${t.symbol} ${t.name}${t.market ? " (시장 요인 market factor)" : ""} · 연동 종목 ${t.links}개`}
            >
              <span className="sym">{t.symbol}</span>
              <span className="ret">{fracPct(t.ret)}</span>
              <span className="nm">{t.market ? `시장 · ${t.name}` : t.name}</span>
            </div>
          );
        })}
      </div>
      <div className="heat-legend">
        <span>-{Math.round(HEAT_CAP * 100)}%</span>
        <span className="scale" />
        <span>+{Math.round(HEAT_CAP * 100)}%</span>
        <span>칸 크기: 연동된 한국 종목 수 (tile size: linked Korean stocks) · 점선: 시장 요인</span>
      </div>
    </div>
  );
}
