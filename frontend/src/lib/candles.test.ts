import { describe, expect, it } from "vitest";
import { SeriesModel, bucketOf, chartMinuteNow, dayOf, mondayOf } from "./candles";

// 2026-09-28 09:00 KST as a chart time (KST wall clock as UTC)
const T0 = Date.UTC(2026, 8, 28, 9, 0) / 1000;
const m = (i: number, o: number, h: number, l: number, c: number, v: number) => ({
  time: T0 + i * 60,
  open: o,
  high: h,
  low: l,
  close: c,
  volume: v,
});

describe("buckets", () => {
  it("aligns on KST wall-clock multiples", () => {
    expect(bucketOf(T0 + 7 * 60, "5m")).toBe(T0 + 5 * 60);
    expect(bucketOf(T0 + 59 * 60, "60m")).toBe(T0);
    expect(bucketOf(T0 + 14 * 60, "15m")).toBe(T0);
    expect(bucketOf(T0 + 3600, "1d")).toBe("2026-09-28");
    expect(dayOf(T0)).toBe("2026-09-28");
    expect(mondayOf("2026-10-01")).toBe("2026-09-28");
    expect(bucketOf(T0 + 3 * 86400, "1w")).toBe("2026-09-28");
  });

  it("the running minute in chart time", () => {
    // 00:00:30 UTC is 09:00:30 KST
    expect(chartMinuteNow(Date.UTC(2026, 8, 28, 0, 0, 30))).toBe(T0);
  });
});

describe("1m series", () => {
  it("replaces the forming bar, appends the next, fixes an older closed one in place", () => {
    const s = new SeriesModel("1m", T0);
    s.setFirstPage([m(0, 100, 101, 99, 100, 10), m(1, 100, 102, 100, 101, 5)]);
    expect(s.applyMinute(m(1, 100, 103, 100, 103, 8))).toEqual({
      kind: "update",
      bar: m(1, 100, 103, 100, 103, 8),
    });
    expect(s.applyMinute(m(2, 103, 103, 103, 103, 1)).kind).toBe("update");
    expect(s.bars).toHaveLength(3);
    const closed = s.applyMinute(m(1, 100, 104, 99, 102, 12)); // the hub's final bar
    expect(closed).toEqual({ kind: "historical", bar: m(1, 100, 104, 99, 102, 12), index: 1 });
    expect(s.bars[2]?.close).toBe(103); // the newest is untouched
  });

  it("a partial candle is merged into the fetched bar of its minute, not put over it", () => {
    const s = new SeriesModel("1m", T0);
    s.setFirstPage([m(0, 100, 105, 98, 101, 50)]);
    s.applyMinute({ ...m(0, 102, 103, 97, 102, 4), partial: true });
    expect(s.bars[0]).toEqual(m(0, 100, 105, 97, 102, 50));
    s.applyMinute(m(0, 100, 106, 97, 104, 60)); // the hub's closed, whole bar replaces it
    expect(s.bars[0]).toEqual(m(0, 100, 106, 97, 104, 60));
  });

  it("prepends older pages without overlap", () => {
    const s = new SeriesModel("1m", T0);
    s.setFirstPage([m(5, 1, 1, 1, 1, 1), m(6, 1, 1, 1, 1, 1)]);
    expect(s.prepend([m(3, 1, 1, 1, 1, 1), m(4, 1, 1, 1, 1, 1), m(5, 1, 1, 1, 1, 1)])).toBe(2);
    expect(s.bars.map((b) => b.time)).toEqual([3, 4, 5, 6].map((i) => T0 + i * 60));
  });
});

describe("folding minutes into longer bars", () => {
  it("5m: prices exact, volume grows by what each minute added since the fetch", () => {
    // fetched at 09:07: the 09:05 bar holds minutes 5..7 so far (volume 30)
    const s = new SeriesModel("5m", T0 + 7 * 60);
    s.setFirstPage([
      { time: T0, open: 100, high: 105, low: 99, close: 104, volume: 50 },
      { time: T0 + 300, open: 104, high: 106, low: 103, close: 105, volume: 30 },
    ]);
    // minute 7 at first sight (already counted in the fetched bar)
    s.applyMinute(m(7, 105, 106, 104, 105, 6));
    expect(s.bars[1]?.volume).toBe(30);
    s.applyMinute(m(7, 105, 107, 104, 107, 9)); // +3
    expect(s.bars[1]).toEqual({ time: T0 + 300, open: 104, high: 107, low: 103, close: 107, volume: 33 });
    s.applyMinute(m(8, 107, 107, 102, 102, 4)); // a new minute counts whole
    expect(s.bars[1]).toMatchObject({ low: 102, close: 102, volume: 37 });
    const next = s.applyMinute(m(10, 102, 102, 102, 102, 2)); // 09:10 opens a new bar
    expect(next).toEqual({
      kind: "update",
      bar: { time: T0 + 600, open: 102, high: 102, low: 102, close: 102, volume: 2 },
    });
    expect(s.applyMinute(m(3, 1, 1, 1, 1, 1))).toEqual({ kind: "none" }); // older bucket
  });

  it("1d and 1w fold into the day / the week", () => {
    const d = new SeriesModel("1d", T0 + 60);
    d.setFirstPage([{ time: "2026-09-28", open: 100, high: 110, low: 90, close: 105, volume: 1000 }]);
    d.applyMinute(m(30, 105, 111, 105, 111, 10));
    expect(d.bars[0]).toMatchObject({ high: 111, close: 111, volume: 1010 });
    const w = new SeriesModel("1w", T0 + 86400 * 2);
    w.setFirstPage([{ time: "2026-09-28", open: 100, high: 110, low: 90, close: 105, volume: 1000 }]);
    const c = w.applyMinute({ ...m(0, 105, 120, 105, 118, 7), time: T0 + 86400 * 3 }); // Thursday
    expect(c.kind).toBe("update");
    expect(w.bars).toHaveLength(1);
    expect(w.bars[0]).toMatchObject({ high: 120, close: 118, volume: 1007 });
  });
});
