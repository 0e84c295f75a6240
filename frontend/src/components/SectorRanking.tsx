"use client";
/**
 * The morning's ranked list: each linked Korean stock by its expected gap, with what drove
 * it (each US move, its beta and contribution), the main driver's gap beta ± its
 * uncertainty, the day-session beta, the history behind the fit and the past hit rate,
 * and the model's explanation, Korean first. A row opens the stock in the trading view.
 */
import Link from "next/link";
import { dirClass } from "@/lib/format";
import { betaPm, confidenceLabel, dec, fracDir, fracPct, hitRateText, splitExplanation } from "@/lib/sector";
import type { SectorRecommendation } from "@/lib/sectorTypes";

function Drivers({ r }: { r: SectorRecommendation }) {
  const drivers = [...r.drivers].sort(
    (a, b) => Math.abs(b.contribution ?? 0) - Math.abs(a.contribution ?? 0),
  );
  return (
    <span className="drivers">
      {drivers.map((d) => (
        <span
          key={d.us_symbol}
          className="driver"
          title={`신뢰도 ${confidenceLabel(d.confidence)} · 시장 대비 ${fracPct(d.signal)} · OLS 베타 ${dec(d.beta_ols)} · ${d.history_days}일`}
        >
          {d.us_symbol} <span className={dirClass(fracDir(d.us_return))}>{fracPct(d.us_return)}</span> ×{" "}
          {betaPm(d.beta, d.beta_se)} →{" "}
          <span className={dirClass(fracDir(d.contribution))}>{fracPct(d.contribution)}</span>
        </span>
      ))}
    </span>
  );
}

export function SectorRanking({ rows }: { rows: readonly SectorRecommendation[] }) {
  return (
    <ol className="rank-list" data-testid="sector-ranking">
      <li className="rank-row rank-head" aria-hidden>
        <span>#</span>
        <span>종목 · 설명</span>
        <span className="num">예상 갭</span>
        <span className="num c-beta">갭 베타 ± SE</span>
        <span className="num c-hist">이력</span>
        <span className="num c-hit">적중률</span>
      </li>
      {rows.map((r) => {
        const why = splitExplanation(r.explanation);
        return (
          <li key={r.kr_code}>
            <Link
              href={`/stock/?code=${r.kr_code}`}
              className="rank-row"
              data-testid="sector-row"
              data-code={r.kr_code}
              data-rank={r.rank}
            >
              <span className="rk">{r.rank}</span>
              <span>
                <span className="nm">{r.kr_name || r.kr_code}</span>
                <span className="cd">{r.kr_code}</span>
              </span>
              <span className={`num gap ${dirClass(fracDir(r.expected_gap))}`} data-testid="expected-gap">
                {fracPct(r.expected_gap)}
              </span>
              <span className="num c-beta" title={`장중 베타 ${dec(r.beta_day)} · 예상 장중 ${fracPct(r.expected_day)}`}>
                {betaPm(r.beta_gap, r.beta_gap_se)}
              </span>
              <span className="num c-hist">{r.history_days}일</span>
              <span className="num c-hit">적중 {hitRateText(r.hit_rate, r.hit_days)}</span>
              <Drivers r={r} />
              <span className="why">
                {why.ko}
                {why.en && <span className="sector-en"> · {why.en}</span>}
              </span>
            </Link>
          </li>
        );
      })}
    </ol>
  );
}
