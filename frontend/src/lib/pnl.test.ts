import { describe, expect, it } from "vitest";
import { estimateOrder, presetFor, presetQuantity, returnPct, totals, valueHoldings } from "./pnl";

const rows = [
  { stock_code: "005930", quantity: 17, purchase_amount: 1_210_000, price: 72_058 },
  { stock_code: "000660", quantity: 3, purchase_amount: 600_000, price: 190_000 },
];

describe("positions", () => {
  it("values at live prices and the totals are sums of the rows", () => {
    const v = valueHoldings(rows, { "005930": 72_000 });
    expect(v[0]?.evaluation).toBe(1_224_000);
    expect(v[0]?.profit).toBe(14_000);
    expect(v[0]?.return_pct).toBe("1.16");
    expect(v[1]?.price).toBe(190_000); // no live price: its own
    expect(v[1]?.profit).toBe(-30_000);
    expect(v[1]?.return_pct).toBe("-5.00");
    const t = totals(v);
    expect(t.purchase).toBe(1_810_000);
    expect(t.evaluation).toBe(1_224_000 + 570_000);
    expect(t.profit).toBe(t.evaluation - t.purchase);
    expect(typeof t.profit).toBe("number");
    expect(t.return_pct).toBe(returnPct(-16_000, 1_810_000));
  });

  it("return percent as the backend rounds it", () => {
    expect(returnPct(15_000, 1_210_000)).toBe("1.24");
    expect(returnPct(0, 0)).toBe("0.00");
    expect(returnPct(-1, 1_000_000)).toBe("0.00");
  });
});

describe("order estimate", () => {
  it("buy adds commission, sell takes commission and tax", () => {
    expect(estimateOrder("buy", 72_000, 10)).toEqual({
      amount: 720_000,
      commission: 108,
      tax: 0,
      total: 720_108,
    });
    expect(estimateOrder("sell", 72_000, 10)).toEqual({
      amount: 720_000,
      commission: 108,
      tax: 1_296,
      total: 718_596,
    });
  });

  it("presets: a share of the orderable cash or of the sellable quantity", () => {
    expect(presetQuantity("buy", 100, 72_000, 1_000_000, 0)).toBe(13);
    expect(presetQuantity("buy", 50, 72_000, 1_000_000, 0)).toBe(6);
    expect(presetQuantity("sell", 25, 72_000, 0, 17)).toBe(4);
    expect(presetQuantity("buy", 100, 0, 1_000_000, 0)).toBe(0);
  });
});

describe("presets on a 현금 or 최대 basis", () => {
  // 40 % margin: 최대 is 2.5 × 현금
  const o = { price: 50_000, cash_qty: 1_999, max_qty: 4_997 };

  it("buys: a share of the orderable quantity for this price, on the chosen basis", () => {
    expect(presetFor("buy", 100, "cash", 50_000, o, 0, 0)).toBe(1_999);
    expect(presetFor("buy", 25, "cash", 50_000, o, 0, 0)).toBe(499);
    expect(presetFor("buy", 100, "max", 50_000, o, 0, 0)).toBe(4_997);
    expect(presetFor("buy", 10, "max", 50_000, o, 0, 0)).toBe(499);
    expect(presetFor("buy", 50, "max", 50_000, o, 0, 0)).toBe(2_498);
  });

  it("an answer for another price is not used: 현금 falls back to the cash, 최대 to none", () => {
    expect(presetFor("buy", 100, "cash", 72_000, o, 1_000_000, 0)).toBe(13);
    expect(presetFor("buy", 100, "max", 72_000, o, 1_000_000, 0)).toBeNull();
    expect(presetFor("buy", 100, "cash", 72_000, null, 1_000_000, 0)).toBe(13);
    expect(presetFor("buy", 100, "max", 72_000, undefined, 1_000_000, 0)).toBeNull();
  });

  it("sells: a share of the sellable quantity whatever the basis", () => {
    expect(presetFor("sell", 25, "cash", 50_000, o, 0, 17)).toBe(4);
    expect(presetFor("sell", 25, "max", 50_000, o, 0, 17)).toBe(4);
    expect(presetFor("sell", 100, "max", 50_000, null, 0, 17)).toBe(17);
  });
});
