// The same cases as tests/unit/krx/test_krx.py (the backend's rules).
import { describe, expect, it } from "vitest";
import {
  isValidPrice,
  priceLimits,
  roundToTick,
  tickDown,
  tickSize,
  tickUp,
  ticksBetween,
} from "./ticks";

describe("KRX tick bands", () => {
  it.each([
    [1999, 2000, 1, 5],
    [4995, 5000, 5, 10],
    [49950, 50000, 50, 100],
    [199900, 200000, 100, 500],
    [499500, 500000, 500, 1000],
  ])("edge %i → %i", (below, edge, tickBelow, tickAtEdge) => {
    expect(tickSize(below)).toBe(tickBelow);
    expect(tickSize(edge)).toBe(tickAtEdge);
    expect(tickDown(edge)).toBe(below);
    expect(tickUp(below)).toBe(edge);
  });

  it("band interiors", () => {
    expect([1, 3000, 10000, 30000, 100000, 300000, 900000].map((p) => tickSize(p))).toEqual([
      1, 5, 10, 50, 100, 500, 1000,
    ]);
  });

  it("ETF tick is five", () => {
    expect(tickSize(60000, true)).toBe(5);
  });

  it("rounds to the grid", () => {
    expect(roundToTick(67549, "down")).toBe(67500);
    expect(roundToTick(67501, "up")).toBe(67600);
    expect(roundToTick(67549, "nearest")).toBe(67500);
    expect(roundToTick(67550, "nearest")).toBe(67600);
    expect(roundToTick(4997, "up")).toBe(5000);
    expect(roundToTick(4997, "down")).toBe(4995);
    expect(roundToTick(50000, "up")).toBe(50000);
  });

  it("refuses a negative price", () => {
    expect(() => tickSize(-1)).toThrow(RangeError);
  });

  it("never steps below one won", () => {
    expect(tickDown(1)).toBe(1);
    expect(tickDown(3, 5)).toBe(1);
  });

  it("counts ticks across a band edge", () => {
    expect(ticksBetween(4990, 5020)).toBe(4); // 4995, 5000, 5010, 5020
    expect(ticksBetween(5020, 4990)).toBe(-4);
    expect(ticksBetween(72000, 72000)).toBe(0);
  });
});

describe("daily limits round inward", () => {
  it.each([
    [67500, 47250, 87700],
    [10000, 7000, 13000],
    [1999, 1400, 2595],
    [547000, 383000, 711000],
  ])("base %i", (base, lower, upper) => {
    expect(priceLimits(base)).toEqual([lower, upper]);
    expect(isValidPrice(lower)).toBe(true);
    expect(isValidPrice(upper)).toBe(true);
  });
});
