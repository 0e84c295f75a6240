/**
 * The sector page's pure logic: returns as percentages, the heat map's colours and
 * layout, betas with their uncertainty, p-values and the plain statement of what the
 * backtest found, the backtest's chart series, and where a server error about a link
 * belongs. No React, no fetch: unit-tested in `sector.test.ts`.
 *
 * The sector API gives returns, betas and ICs as **fractions** (0.0404 = +4.04 %),
 * unlike the trading API's decimal-string percentages; everything here converts them
 * once. Korean convention as everywhere: red up, blue down.
 */
import { type Direction, direction, kstDateTime } from "./format";

// --- numbers ------------------------------------------------------------------------------

function finite(x: number | null | undefined): x is number {
  return typeof x === "number" && Number.isFinite(x);
}

/**
 * A fraction as a signed percentage: 0.0404 → "+4.04%", -0.0012 → "-0.12%"; a value that
 * rounds to zero is "0.00%" (never "-0.00%"); null/NaN → "-".
 */
export function fracPct(x: number | null | undefined, digits = 2): string {
  if (!finite(x)) return "-";
  const scaled = Math.round(Math.abs(x) * 100 * 10 ** digits);
  if (scaled === 0) return `${(0).toFixed(digits)}%`;
  const body = (scaled / 10 ** digits).toFixed(digits);
  return `${x > 0 ? "+" : "-"}${body}%`;
}

/** A fraction as an unsigned percentage without decimals: 0.583 → "58%". */
export function ratePct(x: number | null | undefined): string {
  if (!finite(x)) return "-";
  return `${Math.round(x * 100)}%`;
}

/** A plain decimal with a fixed number of digits and a sign only when negative. */
export function dec(x: number | null | undefined, digits = 2): string {
  if (!finite(x)) return "-";
  const s = x.toFixed(digits);
  return /^-0\.?0*$/.test(s) ? s.slice(1) : s;
}

/** Beta with its uncertainty: (0.142, 0.031) → "0.14 ± 0.03"; without SE just "0.14". */
export function betaPm(beta: number | null | undefined, se: number | null | undefined): string {
  if (!finite(beta)) return "-";
  return finite(se) ? `${dec(beta)} ± ${dec(Math.abs(se))}` : dec(beta);
}

/** Direction of a signed fraction (for the red/blue class). */
export function fracDir(x: number | null | undefined): Direction {
  return direction(finite(x) ? x : null);
}

/** Hit rate with how many days it counts: (0.583, 120) → "58% (120일)". */
export function hitRateText(rate: number | null | undefined, days?: number | null): string {
  if (!finite(rate)) return "기록 없음";
  return days ? `${ratePct(rate)} (${days}일)` : ratePct(rate);
}

// --- the heat map -------------------------------------------------------------------------

const UP_RGB = [224, 49, 75] as const; // --up #e0314b
const DOWN_RGB = [47, 111, 222] as const; // --down #2f6fde
const FLAT_RGB = [243, 244, 246] as const; // #f3f4f6

/** Default full-colour move: ±3 % overnight is a big night for a sector ETF. */
export const HEAT_CAP = 0.03;

export interface HeatColour {
  background: string;
  color: string;
  /** 0 (flat) … 1 (at or beyond the cap) */
  intensity: number;
}

function mix(a: readonly number[], b: readonly number[], t: number): string {
  const c = a.map((v, i) => Math.round(v + ((b[i] ?? v) - v) * t));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

/**
 * The tile colour of an overnight move: red up, blue down, white-grey when flat; the
 * intensity grows with the square root of |move| / cap (small moves stay visible, a 3 %
 * night is full colour), and the text turns white on a strong tile. No data → grey tile.
 */
export function heatColour(ret: number | null | undefined, cap = HEAT_CAP): HeatColour {
  if (!finite(ret)) return { background: "rgb(229, 231, 235)", color: "#6b7280", intensity: 0 };
  const t = Math.min(1, Math.sqrt(Math.abs(ret) / cap));
  if (ret === 0 || t < 0.005) return { background: mix(FLAT_RGB, FLAT_RGB, 0), color: "#1f2937", intensity: 0 };
  const target = ret > 0 ? UP_RGB : DOWN_RGB;
  return { background: mix(FLAT_RGB, target, t), color: t > 0.6 ? "#ffffff" : "#1f2937", intensity: t };
}

/** One instrument as the heat map draws it. */
export interface HeatTile {
  symbol: string;
  name: string;
  ret: number | null;
  /** how many Korean stocks it is linked to (the tile's weight) */
  links: number;
  /** a market factor (EWY, SPY): shown apart from the sectors */
  market: boolean;
  /** relative size 1 … 3 from the links */
  size: 1 | 2 | 3;
}

export const MARKET_SYMBOLS: ReadonlySet<string> = new Set(["EWY", "SPY"]);

/**
 * The heat map's tiles: sized by how many Korean stocks each instrument drives (a tile per
 * ETF, larger for the ones behind many stocks), ordered from the strongest rise to the
 * strongest fall (no data last), market factors first and apart. A row may say itself
 * whether it is a market factor (`kind: "market"`) and how many links it has; else
 * `marketSymbols` and `linkCount` decide.
 */
export function heatTiles(
  rows: readonly {
    symbol: string;
    name?: string | null;
    ret: number | null | undefined;
    kind?: string | null;
    links?: number | null;
  }[],
  linkCount: (symbol: string) => number = () => 0,
  marketSymbols: ReadonlySet<string> = MARKET_SYMBOLS,
): HeatTile[] {
  const tiles = rows.map((r): HeatTile => {
    const links = typeof r.links === "number" ? r.links : linkCount(r.symbol);
    const size: 1 | 2 | 3 = links >= 8 ? 3 : links >= 4 ? 2 : 1;
    return {
      symbol: r.symbol,
      name: r.name ?? "",
      ret: finite(r.ret) ? r.ret : null,
      links,
      market: r.kind ? r.kind === "market" : marketSymbols.has(r.symbol),
      size,
    };
  });
  const key = (t: HeatTile) => (t.ret === null ? Number.NEGATIVE_INFINITY : t.ret);
  return tiles.sort(
    (a, b) =>
      Number(b.market) - Number(a.market) ||
      (a.ret === null ? 1 : 0) - (b.ret === null ? 1 : 0) ||
      key(b) - key(a) ||
      a.symbol.localeCompare(b.symbol),
  );
}

/** The n-th (1-based) Sunday of a month, as a UTC day of the month. */
function nthSunday(year: number, month0: number, n: number): number {
  const first = new Date(Date.UTC(year, month0, 1)).getUTCDay();
  return 1 + ((7 - first) % 7) + (n - 1) * 7;
}

/**
 * When the NYSE regular session of `usDay` ("YYYY-MM-DD") closed, as an ISO instant:
 * 16:00 New York — 20:00 UTC in US summer time (second Sunday of March to the first
 * Sunday of November), 21:00 UTC otherwise; i.e. 05:00 / 06:00 KST the next day. The
 * 13:00 early closes (day after Thanksgiving, Christmas Eve, around July 4th) are not
 * known here: the API names its sessions by date only.
 */
export function usCloseIso(usDay: string): string | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(usDay);
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]) - 1, Number(m[3])];
  const start = Date.UTC(y, 2, nthSunday(y, 2, 2));
  const end = Date.UTC(y, 10, nthSunday(y, 10, 1));
  const day = Date.UTC(y, mo, d);
  const summer = day >= start && day < end;
  return new Date(day + (summer ? 20 : 21) * 3_600_000).toISOString();
}

/** "12/04(목) 06:00" — a US close shown in Korean time, whatever the viewer's zone. */
export function kstClose(iso: string | null | undefined): string {
  if (!iso) return "-";
  const t = kstDateTime(iso); // "2026-12-04 06:00"
  if (t === "-") return t;
  const [day, hm] = t.split(" ");
  const [y, m, d] = (day ?? "").split("-").map(Number);
  if (!y || !m || !d) return t;
  const wd = "일월화수목금토"[new Date(Date.UTC(y, m - 1, d)).getUTCDay()];
  return `${String(m).padStart(2, "0")}/${String(d).padStart(2, "0")}(${wd}) ${hm}`;
}

// --- explanations -------------------------------------------------------------------------

/** The model's two-line explanation (Korean first, English second). */
export function splitExplanation(text: string | null | undefined): { ko: string; en: string } {
  const lines = (text ?? "").split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  return { ko: lines[0] ?? "", en: lines.slice(1).join(" ") };
}

export const CONFIDENCE_LABEL: Record<string, string> = { H: "높음", M: "보통", L: "낮음" };

export function confidenceLabel(c: string | null | undefined): string {
  return (c && CONFIDENCE_LABEL[c]) || c || "-";
}

// --- significance -------------------------------------------------------------------------

export const ALPHA = 0.05;

/** "p=0.005", "p=0.42"; null → "검정 없음". */
export function pText(p: number | null | undefined): string {
  if (!finite(p)) return "검정 없음";
  if (p < 0.001) return "p<0.001";
  return `p=${p < 0.01 ? p.toFixed(3) : p.toFixed(2)}`;
}

export type Verdict = "significant" | "not" | "untested";

export function verdict(p: number | null | undefined, alpha = ALPHA): Verdict {
  if (!finite(p)) return "untested";
  return p < alpha ? "significant" : "not";
}

export const VERDICT_LABEL: Record<Verdict, string> = {
  significant: "유의",
  not: "유의하지 않음",
  untested: "검정 없음",
};

interface StatLike {
  value: number | null;
  p_value: number | null;
}

/** What the backtest's headline numbers say, in plain words (the statement under the charts). */
export interface BacktestSummary {
  days: number;
  permutations: number;
  ic_gap: StatLike;
  top_gap: StatLike;
  top_day_net: StatLike;
  mean_cost?: number | null;
  multiple_testing?: {
    links_tried: number;
    alpha: number;
    significant_raw: number;
    significant_holm: number;
  } | null;
}

/**
 * The plain Korean + English statement of the significance and of what the numbers do not
 * promise: one line each for the gap forecast, the tradable day session, multiple testing
 * and the caveats. The p-values are one-sided permutation tests (US dates shuffled).
 */
export function significanceStatement(r: BacktestSummary): { ko: string[]; en: string[] } {
  const ko: string[] = [];
  const en: string[] = [];
  const gapV = verdict(r.ic_gap.p_value);
  const minP = r.permutations > 0 ? 1 / (1 + r.permutations) : null;
  ko.push(
    gapV === "significant"
      ? `갭 예측: ${r.days}거래일 동안 순위 IC ${dec(r.ic_gap.value, 3)} (${pText(r.ic_gap.p_value)}). 미국 날짜를 섞은 순열검정 ${r.permutations}회보다 나았으므로 우연으로 보기 어렵습니다. 다만 갭은 미국 장 마감 뒤 신호로 살 수 없으므로 갭 수익 ${fracPct(r.top_gap.value)}/일은 이론적 상한입니다.`
      : `갭 예측: ${r.days}거래일 동안 순위 IC ${dec(r.ic_gap.value, 3)} (${pText(r.ic_gap.p_value)}). 순열검정에서 유의하지 않아 우연과 구별되지 않습니다.`,
  );
  en.push(
    gapV === "significant"
      ? `Gap forecast: rank IC ${dec(r.ic_gap.value, 3)} over ${r.days} sessions (${pText(r.ic_gap.p_value)}), better than ${r.permutations} date-shuffled permutations. The gap cannot be bought with a signal known after the US close, so its ${fracPct(r.top_gap.value)}/day is a theoretical bound.`
      : `Gap forecast: rank IC ${dec(r.ic_gap.value, 3)} over ${r.days} sessions (${pText(r.ic_gap.p_value)}): not distinguishable from chance.`,
  );
  const dayV = verdict(r.top_day_net.p_value);
  const cost = finite(r.mean_cost) ? ` 왕복 비용 평균 ${fracPct(r.mean_cost).replace("+", "")}` : "";
  const costEn = finite(r.mean_cost) ? ` (mean round-trip cost ${fracPct(r.mean_cost).replace("+", "")})` : "";
  ko.push(
    `장중 전략(시가 매수 → 종가 매도, 비용 차감${cost}): 상위 종목 평균 ${fracPct(r.top_day_net.value)}/일 (${pText(r.top_day_net.p_value)}) — ${dayV === "significant" ? "유의" : "유의하지 않음"}.`,
  );
  en.push(
    `Day session (buy the open, sell the close, after costs${costEn}): ${fracPct(r.top_day_net.value)}/day (${pText(r.top_day_net.p_value)}) — ${dayV === "significant" ? "significant" : "not significant"}.`,
  );
  const mt = r.multiple_testing;
  if (mt && mt.links_tried > 0) {
    const chance = (mt.links_tried * mt.alpha).toFixed(1);
    ko.push(
      `다중검정 주의: 링크 ${mt.links_tried}개를 시험하면 우연만으로도 약 ${chance}개가 ${Math.round(mt.alpha * 100)}% 수준을 통과합니다. 통과 ${mt.significant_raw}개, Holm 보정 후 ${mt.significant_holm}개.`,
    );
    en.push(
      `Multiple testing: with ${mt.links_tried} links tried, about ${chance} pass at ${Math.round(mt.alpha * 100)}% by chance alone; ${mt.significant_raw} passed, ${mt.significant_holm} after Holm.`,
    );
  }
  ko.push(
    `이 숫자들이 약속하지 않는 것: 과거의 이 기록, 이 링크들에 대한 설명일 뿐 미래 수익을 보장하지 않습니다. 링크와 설정은 시장을 본 사람이 골랐으므로 p값도 낙관적이며, 관계는 시간이 지나며 약해집니다.${minP ? ` 순열 ${r.permutations}회의 최소 p값은 ${minP.toFixed(3)}입니다.` : ""} 투자 권유가 아닙니다.`,
  );
  en.push(
    `What the numbers do not promise: they describe this history on these links, not future returns. The links and settings were chosen by people who had seen markets like it, so even the p-values are optimistic, and relations drift.${minP ? ` With ${r.permutations} permutations the smallest possible p is ${minP.toFixed(3)}.` : ""} Not investment advice.`,
  );
  return { ko, en };
}

// --- chart series -------------------------------------------------------------------------

export interface LinePoint {
  time: string;
  value: number;
}

/** A daily field of the backtest as a line in percent, days without a value left out. */
export function percentSeries<T extends { date: string }>(
  daily: readonly T[],
  pick: (d: T) => number | null | undefined,
): LinePoint[] {
  const out: LinePoint[] = [];
  for (const d of daily) {
    const v = pick(d);
    if (finite(v)) out.push({ time: d.date, value: Math.round(v * 1e6) / 1e4 });
  }
  return out;
}

/** Compounded daily returns from 0: [0.01, 0.02] → [0.01, 0.0302] (null counts as 0). */
export function compound(returns: readonly (number | null | undefined)[]): number[] {
  let acc = 1;
  return returns.map((r) => {
    acc *= 1 + (finite(r) ? r : 0);
    return acc - 1;
  });
}

/** Trailing mean over `window` values (fewer at the start), nulls skipped; null until one. */
export function rollingMean(values: readonly (number | null | undefined)[], window: number): (number | null)[] {
  const out: (number | null)[] = [];
  const buf: number[] = [];
  let sum = 0;
  for (const v of values) {
    const x = finite(v) ? v : null;
    buf.push(x ?? Number.NaN);
    if (x !== null) sum += x;
    if (buf.length > window) {
      const old = buf.shift();
      if (old !== undefined && !Number.isNaN(old)) sum -= old;
    }
    const n = buf.filter((b) => !Number.isNaN(b)).length;
    out.push(n ? sum / n : null);
  }
  return out;
}

// --- links --------------------------------------------------------------------------------

/** Who may change the link map (the API decides; the page only hides the controls). */
export function canEditLinks(role: string | null | undefined): boolean {
  return role === "admin" || role === "trader";
}

/**
 * Where a server validation error about the links belongs: `links.3.confidence`,
 * `links[3].confidence`, `body.links.3.rationale`, `3.kr_code` → {index: 3, key}; a
 * field without an index → {index: null, key}; nothing recognisable → null.
 */
export function linkErrorAt(field: string | null | undefined): { index: number | null; key: string } | null {
  if (!field) return null;
  const parts = field
    .replace(/\[(\d+)\]/g, ".$1")
    .split(".")
    .filter((p) => p && p !== "body" && p !== "links");
  if (!parts.length) return null;
  const i = parts.findIndex((p) => /^\d+$/.test(p));
  if (i < 0) return { index: null, key: parts[parts.length - 1] ?? "" };
  return { index: Number(parts[i]), key: parts[i + 1] ?? "" };
}

/** The one-line key of a link (a stock may have several, an instrument many). */
export function linkKey(l: { us_symbol: string; kr_code: string }): string {
  return `${l.us_symbol}→${l.kr_code}`;
}

/** The rationale without its leading confidence tag ("[H] 반도체…" → "반도체…"). */
export function stripTag(rationale: string | null | undefined): string {
  return (rationale ?? "").replace(/^\s*\[[HML]\]\s*/, "");
}

/**
 * The API's note about a list (English, from the service) in Korean first: a US holiday,
 * US data not complete yet (the list is provisional), not enough history; anything else
 * as it came.
 */
export function noteKo(note: string | null | undefined): { ko: string; en: string; provisional: boolean } | null {
  if (!note) return null;
  if (/holiday|no US session/i.test(note))
    return { ko: "미국 휴장: 이번 세션에는 신호가 없습니다.", en: note, provisional: false };
  if (/not complete/i.test(note))
    return { ko: "미국 데이터가 아직 다 들어오지 않았습니다: 잠정 목록이며 저장되지 않습니다.", en: note, provisional: true };
  if (/history/i.test(note))
    return { ko: "아직 충분한 이력(최소 표본 수)을 가진 링크가 없어 순위를 매길 수 없습니다.", en: note, provisional: false };
  return { ko: note, en: "", provisional: false };
}

/** "YYYY-MM-DD" `days` calendar days before `day` (for a default backtest range). */
export function daysBefore(day: string, days: number): string {
  const [y, m, d] = day.split("-").map(Number);
  if (!y || !m || !d) return day;
  return new Date(Date.UTC(y, m - 1, d) - days * 86_400_000).toISOString().slice(0, 10);
}

/** A valid "YYYY-MM-DD" from a query parameter, else null. */
export function isoDay(s: string | null | undefined): string | null {
  if (!s || !/^\d{4}-\d{2}-\d{2}$/.test(s)) return null;
  const t = Date.parse(`${s}T00:00:00Z`);
  return Number.isNaN(t) || new Date(t).toISOString().slice(0, 10) !== s ? null : s;
}

/** The latest US session stored for any instrument ("YYYY-MM-DD"), null when none. */
export function latestUsDate(items: readonly { last_date?: string | null }[]): string | null {
  let best: string | null = null;
  for (const i of items) if (i.last_date && (!best || i.last_date > best)) best = i.last_date;
  return best;
}

/**
 * A rationale that starts with a confidence tag (the shipped map's "[H] …") carries the
 * link's current confidence in it, so a changed confidence does not leave a stale tag;
 * one without a tag is left as written.
 */
export function syncTag(rationale: string, confidence: string): string {
  return /^\s*\[[HML]\]/.test(rationale) ? `[${confidence}] ${stripTag(rationale)}` : rationale;
}
