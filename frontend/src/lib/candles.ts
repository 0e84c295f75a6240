/**
 * The chart's series model, pure (unit tested): pages of `GET /api/charts/{code}` prepended
 * when scrolling left, and the forming 1-minute candles of /ws folded into the interval
 * shown.
 *
 * Time convention: intraday `time` is the KST wall-clock start written as if it were UTC
 * (the true instant + 9 h, docs/backend.md "Charts"), so lightweight-charts' UTC axis reads
 * Korean time with no option; `1d`/`1w` bars use the KST trading day "YYYY-MM-DD". The live
 * candle's `time` follows the same convention, so both go into one series.
 *
 * Folding a 1-minute candle into a longer bar: high/low/close are exact; the volume is the
 * bar's volume at fetch plus what each minute grew by since (a minute that began after the
 * fetch counts whole). A reload (or the hub's closed bars) gives the exact bar.
 */

export type Interval = "1m" | "3m" | "5m" | "10m" | "15m" | "30m" | "60m" | "1d" | "1w";
export const INTERVALS: Interval[] = ["1m", "3m", "5m", "10m", "15m", "30m", "60m", "1d", "1w"];
export const INTERVAL_LABEL: Record<Interval, string> = {
  "1m": "1분",
  "3m": "3분",
  "5m": "5분",
  "10m": "10분",
  "15m": "15분",
  "30m": "30분",
  "60m": "60분",
  "1d": "일",
  "1w": "주",
};

export const KST_OFFSET_S = 9 * 3600;

export interface Bar {
  time: number | string;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

export interface MinuteCandle {
  /** chart time of the minute's start */
  time: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  /** the backend saw only part of the minute (started mid-minute, or a bus gap) */
  partial?: boolean;
}

export function minutesOf(interval: Interval): number | null {
  const m = /^(\d+)m$/.exec(interval);
  return m ? Number(m[1]) : null;
}

/** The KST day "YYYY-MM-DD" of a chart time (KST wall clock as UTC). */
export function dayOf(chartTime: number): string {
  return new Date(chartTime * 1000).toISOString().slice(0, 10);
}

/** Monday of the week of a "YYYY-MM-DD" day. */
export function mondayOf(day: string): string {
  const d = new Date(`${day}T00:00:00Z`);
  const dow = (d.getUTCDay() + 6) % 7; // Monday 0
  return new Date(d.getTime() - dow * 86_400_000).toISOString().slice(0, 10);
}

/** The bar key a minute belongs to for the interval (weeks: their Monday). */
export function bucketOf(minuteTime: number, interval: Interval): number | string {
  const n = minutesOf(interval);
  if (n !== null) return Math.floor(minuteTime / (n * 60)) * n * 60;
  const day = dayOf(minuteTime);
  return interval === "1w" ? mondayOf(day) : day;
}

function keyOf(bar: Bar, interval: Interval): number | string {
  return interval === "1w" && typeof bar.time === "string" ? mondayOf(bar.time) : bar.time;
}

function older(a: number | string, b: number | string): boolean {
  return typeof a === "number" && typeof b === "number" ? a < b : String(a) < String(b);
}

/** The chart time of the minute running at ``nowMs`` (epoch ms). */
export function chartMinuteNow(nowMs: number): number {
  return Math.floor((nowMs / 1000 + KST_OFFSET_S) / 60) * 60;
}

export type Change =
  | { kind: "none" }
  | { kind: "update"; bar: Bar } // the newest bar changed or a bar was appended
  | { kind: "historical"; bar: Bar; index: number }; // an older bar changed in place

export class SeriesModel {
  bars: Bar[] = [];
  /** per minute: volume at first sight (what the fetched bar already held) and latest */
  private readonly minutes = new Map<number, { base: number; latest: number }>();

  constructor(
    readonly interval: Interval,
    /** chart time of the minute running when the first page was fetched */
    private readonly fetchMinute: number,
  ) {}

  setFirstPage(bars: readonly Bar[]): void {
    this.bars = bars.slice();
    this.minutes.clear();
  }

  /** Older bars (a page before the first bar); returns how many were added. */
  prepend(page: readonly Bar[]): number {
    const first = this.bars[0];
    const add = first ? page.filter((b) => older(b.time, first.time)) : page.slice();
    this.bars = add.concat(this.bars);
    return add.length;
  }

  applyMinute(c: MinuteCandle): Change {
    if (this.interval === "1m") {
      const bar: Bar = { time: c.time, open: c.open, high: c.high, low: c.low, close: c.close, volume: c.volume };
      return this.place(bar, c.partial === true);
    }
    const key = bucketOf(c.time, this.interval);
    const seen = this.minutes.get(c.time);
    const base = seen ? seen.base : c.time > this.fetchMinute ? 0 : c.volume;
    const grew = Math.max(0, c.volume - (seen ? seen.latest : base));
    this.minutes.set(c.time, { base, latest: Math.max(c.volume, seen?.latest ?? 0) });
    const last = this.bars[this.bars.length - 1];
    if (last && keyOf(last, this.interval) === key) {
      const bar: Bar = {
        ...last,
        high: Math.max(last.high, c.high),
        low: Math.min(last.low, c.low),
        close: c.close,
        volume: last.volume + grew,
      };
      this.bars[this.bars.length - 1] = bar;
      return { kind: "update", bar };
    }
    if (last && older(key, keyOf(last, this.interval))) return { kind: "none" };
    const time = this.interval === "1w" ? dayOf(c.time) : key;
    const bar: Bar = { time, open: c.open, high: c.high, low: c.low, close: c.close, volume: c.volume };
    this.bars.push(bar);
    return { kind: "update", bar };
  }

  /**
   * 1m: the same time replaces its bar, a later one appends, an older one is replaced in
   * place. A `partial` candle (its open and volume miss the minute's start) does not
   * replace the fetched bar of its minute, which has the whole start: it is merged in.
   */
  private place(incoming: Bar, partial = false): Change {
    const last = this.bars[this.bars.length - 1];
    if (!last || older(last.time, incoming.time)) {
      this.bars.push(incoming);
      return { kind: "update", bar: incoming };
    }
    if (last.time === incoming.time) {
      const bar: Bar = partial
        ? {
            ...last,
            high: Math.max(last.high, incoming.high),
            low: Math.min(last.low, incoming.low),
            close: incoming.close,
            volume: Math.max(last.volume, incoming.volume),
          }
        : incoming;
      this.bars[this.bars.length - 1] = bar;
      return { kind: "update", bar };
    }
    const bar = incoming;
    for (let i = this.bars.length - 2; i >= 0 && i >= this.bars.length - 120; i--) {
      const b = this.bars[i];
      if (b && b.time === bar.time) {
        this.bars[i] = bar;
        return { kind: "historical", bar, index: i };
      }
    }
    return { kind: "none" };
  }
}
