"use client";
/**
 * The honest account: the walk-forward backtest's headline figures, each beside its
 * permutation p-value; the cumulative top-N gap return (a theoretical bound: the gap
 * cannot be bought with a signal known after the US close) and the cumulative day-session
 * return after Korean costs (the tradable strategy); the rank IC over time; and a plain
 * statement, Korean then English, of what is significant and what the numbers do not
 * promise (multiple testing).
 */
import dynamic from "next/dynamic";
import { useMemo } from "react";
import { dirClass } from "@/lib/format";
import {
  type BacktestSummary,
  compound,
  dec,
  fracDir,
  fracPct,
  pText,
  percentSeries,
  ratePct,
  rollingMean,
  significanceStatement,
  verdict,
} from "@/lib/sector";
import type { SectorBacktest as Result, SectorStat } from "@/lib/sectorTypes";
import type { ChartLine } from "./SectorChart";

const SectorChart = dynamic(() => import("./SectorChart").then((m) => m.SectorChart), {
  ssr: false,
  loading: () => <div className="bt-chart-box center-note">차트 불러오는 중…</div>,
});

const IC_WINDOW = 20;

function Stat({
  label,
  stat,
  show,
  bound,
  testId,
}: {
  label: string;
  stat: SectorStat;
  show: (v: number | null) => string;
  bound?: boolean;
  testId: string;
}) {
  const v = verdict(stat.p_value);
  return (
    <div className={`bt-stat${bound ? " bound" : ""}`} data-testid={testId} data-p={stat.p_value ?? ""}>
      <div className="lbl">{label}</div>
      <span className={`val ${dirClass(fracDir(stat.value))}`}>{show(stat.value)}</span>
      <span className={`p ${v === "significant" ? "sig" : "not"}`} title="순열검정 (미국 날짜 섞기), 단측">
        {pText(stat.p_value)}
      </span>
    </div>
  );
}

function Legend({ lines }: { lines: ChartLine[] }) {
  return (
    <div className="bt-legend">
      {lines.map((l) => (
        <span key={l.name}>
          <i style={{ background: l.color, opacity: l.dashed ? 0.6 : 1 }} />
          {l.name}
        </span>
      ))}
    </div>
  );
}

export function SectorBacktestView({ result }: { result: Result }) {
  const r = result;
  const [gapLines, dayLines] = useMemo<[ChartLine[], ChartLine[]]>(() => {
    const cum = (pick: (d: (typeof r.daily)[number]) => number | null | undefined) => {
      const c = compound(r.daily.map(pick));
      return percentSeries(
        r.daily.map((d, i) => ({ date: d.date, v: c[i] ?? null })),
        (d) => d.v,
      );
    };
    return [
      [
        {
          name: `상위 ${r.top_n} 갭 누적 — 이론적 상한 (top ${r.top_n} gap, theoretical bound)`,
          color: "#d97706",
          dashed: true,
          points: percentSeries(r.daily, (d) => d.cum_gap),
        },
        { name: "유니버스 갭 (universe gap)", color: "#9ca3af", width: 1, points: cum((d) => d.universe_gap) },
      ],
      [
        {
          name: `상위 ${r.top_n} 장중 누적, 비용 차감 (top ${r.top_n} day session after costs)`,
          color: "#111827",
          points: percentSeries(r.daily, (d) => d.cum_day_net),
        },
        { name: "유니버스 장중, 비용 전 (universe, before costs)", color: "#9ca3af", width: 1, points: cum((d) => d.universe_day) },
      ],
    ];
  }, [r]);
  const icLines = useMemo<ChartLine[]>(() => {
    const gap = rollingMean(r.daily.map((d) => d.ic_gap), IC_WINDOW);
    const day = rollingMean(r.daily.map((d) => d.ic_day), IC_WINDOW);
    const pick = (xs: (number | null)[]) => r.daily.map((d, i) => ({ date: d.date, v: xs[i] ?? null }));
    return [
      { name: `갭 IC ${IC_WINDOW}일 평균 (gap rank IC)`, color: "#7c3aed", points: percentSeries(pick(gap), (d) => d.v) },
      { name: `장중 IC ${IC_WINDOW}일 평균 (day-session IC)`, color: "#059669", points: percentSeries(pick(day), (d) => d.v) },
    ];
  }, [r]);
  const summary: BacktestSummary = r;
  const statement = significanceStatement(summary);
  const pct = (v: number | null) => fracPct(v);
  const plain = (v: number | null) => dec(v, 3);
  return (
    <div data-testid="sector-backtest" data-days={r.days}>
      <p className="sector-note">
        {r.start} ~ {r.end} · {r.days}거래일 · 상위 {r.top_n}종목 · 순열 {r.permutations}회 · 왕복 비용 평균{" "}
        {fracPct(r.mean_cost).replace("+", "")}
      </p>
      <div className="bt-stats">
        <Stat testId="stat-ic-gap" label="갭 순위 IC (gap IC)" stat={r.ic_gap} show={plain} />
        <Stat testId="stat-icir-gap" label="갭 ICIR" stat={r.icir_gap} show={plain} />
        <Stat testId="stat-hit-gap" label="갭 방향 적중률 (hit rate)" stat={r.hit_rate_gap} show={ratePct} />
        <Stat testId="stat-top-gap" label={`상위 ${r.top_n} 갭 평균/일 — 이론적 상한`} stat={r.top_gap} show={pct} bound />
        <Stat testId="stat-top-gap-excess" label="갭 초과수익 vs 유니버스 — 이론적 상한" stat={r.top_gap_excess} show={pct} bound />
        <Stat testId="stat-day-net" label={`장중 순수익/일 (비용 차감, after costs)`} stat={r.top_day_net} show={pct} />
        <Stat testId="stat-day-excess" label="장중 초과수익 vs 유니버스 (gross)" stat={r.top_day_excess} show={pct} />
        <Stat testId="stat-ic-day" label="장중 순위 IC (day IC)" stat={r.ic_day} show={plain} />
      </div>
      <div className="bt-chart">
        <h3>갭 누적 수익률 — 이론적 상한, 매수 불가 (cumulative gap return: a bound nobody could collect, %)</h3>
        <Legend lines={gapLines} />
        <SectorChart lines={gapLines} testId="bt-gap-chart" />
      </div>
      <div className="bt-chart">
        <h3>장중 누적 수익률, 비용 차감 — 거래 가능한 전략 (cumulative day session after costs: the tradable strategy, %)</h3>
        <Legend lines={dayLines} />
        <SectorChart lines={dayLines} testId="bt-day-chart" />
      </div>
      <div className="bt-chart">
        <h3>순위 IC 추이 (rank IC over time, ×100)</h3>
        <Legend lines={icLines} />
        <SectorChart lines={icLines} testId="bt-ic-chart" precision={1} unit="" />
      </div>
      <div className="bt-statement" data-testid="bt-statement">
        {statement.ko.map((line, i) => (
          <div key={line}>
            <p>{line}</p>
            <p className="sector-en">{statement.en[i]}</p>
          </div>
        ))}
        {r.multiple_testing?.note && <p className="sector-en">{r.multiple_testing.note}</p>}
        {r.notes.map((n) => (
          <p key={n} className="sector-en">
            {n}
          </p>
        ))}
      </div>
      <p className="sector-note">
        장중 평균 총수익 {fracPct(r.top_day_gross)}/일, 유니버스 장중 {fracPct(r.universe_day)}/일, 유니버스 갭{" "}
        <span className={dirClass(fracDir(r.universe_gap))}>{fracPct(r.universe_gap)}</span>/일.
      </p>
    </div>
  );
}
