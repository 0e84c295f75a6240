import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS, fatFinger, parseLimits } from "./oneclick";

describe("one-click fat-finger limits", () => {
  it("lets a near, small order through", () => {
    expect(fatFinger(72_000, 10, 72_100)).toBeNull();
    expect(fatFinger(73_000, 10, 72_000)).toBeNull(); // exactly 10 ticks of 100
  });

  it("refuses a price too many ticks away (counted across a band edge)", () => {
    expect(fatFinger(73_100, 1, 72_000)).toContain("11호가");
    expect(fatFinger(5_050, 1, 4_990)).toBeNull(); // 4995, 5000, 5010…5050: 7 ticks
    expect(fatFinger(5_100, 1, 4_990)).toContain("12호가");
  });

  it("refuses a quantity or an amount over the limit", () => {
    expect(fatFinger(1_000, DEFAULT_LIMITS.maxQuantity + 1, 1_000)).toContain("수량 한도");
    expect(fatFinger(72_000, 200, 72_000)).toContain("금액 한도");
  });

  it("refuses without a last price or a quantity", () => {
    expect(fatFinger(72_000, 1, null)).toContain("현재가");
    expect(fatFinger(72_000, 0, 72_000)).toContain("수량");
  });
});

describe("stored one-click limits", () => {
  it("replace the defaults field by field", () => {
    expect(parseLimits('{"maxTicks": 3}')).toEqual({ ...DEFAULT_LIMITS, maxTicks: 3 });
    const all = parseLimits('{"maxTicks": 2, "maxQuantity": 50, "maxAmount": 1000000}');
    expect(all).toEqual({ maxTicks: 2, maxQuantity: 50, maxAmount: 1_000_000 });
    expect(fatFinger(72_300, 1, 72_000, all)).toContain("3호가");
  });

  it("never become unlimited: broken, absent or non-positive values are the defaults", () => {
    expect(parseLimits(null)).toEqual(DEFAULT_LIMITS);
    expect(parseLimits("not json")).toEqual(DEFAULT_LIMITS);
    expect(parseLimits("[1,2]")).toEqual(DEFAULT_LIMITS);
    expect(parseLimits('{"maxTicks": 0, "maxQuantity": -5, "maxAmount": 1.5}')).toEqual(DEFAULT_LIMITS);
    expect(parseLimits('{"maxTicks": "3"}')).toEqual(DEFAULT_LIMITS);
  });
});

describe("client order ids", () => {
  it("are v4 UUIDs, unique", async () => {
    const { uuid } = await import("./uuid");
    const a = uuid();
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(uuid()).not.toBe(a);
  });
});
