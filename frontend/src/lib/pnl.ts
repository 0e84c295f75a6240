/**
 * Positions valued at live prices, and the totals that must add up: every sum is of
 * integers (KRW), never of formatted strings. Matches ``GET /api/account``: evaluation =
 * quantity × price, profit = evaluation − purchase_amount, return = profit / purchase ×
 * 100 to 2 decimals (a decimal string), totals = sums of the rows.
 */

export interface HoldingLike {
  stock_code: string;
  quantity: number;
  purchase_amount: number;
  price: number;
}

export interface Valued<H extends HoldingLike> {
  row: H;
  price: number;
  evaluation: number;
  profit: number;
  return_pct: string;
}

export interface Totals {
  purchase: number;
  evaluation: number;
  profit: number;
  return_pct: string;
}

/** profit / base × 100 to 2 decimals, half away from zero, as a string ("1.24", "-0.50"). */
export function returnPct(profit: number, base: number): string {
  if (!base) return "0.00";
  const bp = Math.round((Math.abs(profit) * 10000) / base);
  const sign = profit < 0 && bp !== 0 ? "-" : "";
  return `${sign}${Math.floor(bp / 100)}.${String(bp % 100).padStart(2, "0")}`;
}

/** Each holding valued at ``live[code]`` when known, else at its own ``price``. */
export function valueHoldings<H extends HoldingLike>(
  holdings: readonly H[],
  live: Readonly<Record<string, number | undefined>> = {},
): Valued<H>[] {
  return holdings.map((h) => {
    const price = live[h.stock_code] ?? h.price;
    const evaluation = h.quantity * price;
    const profit = evaluation - h.purchase_amount;
    return { row: h, price, evaluation, profit, return_pct: returnPct(profit, h.purchase_amount) };
  });
}

export function totals(rows: readonly Valued<HoldingLike>[]): Totals {
  let purchase = 0;
  let evaluation = 0;
  for (const r of rows) {
    purchase += r.row.purchase_amount;
    evaluation += r.evaluation;
  }
  const profit = evaluation - purchase;
  return { purchase, evaluation, profit, return_pct: returnPct(profit, purchase) };
}

/** Broker commission and sell tax the simulator charges (SimConfig defaults). */
/** rates in units of 1/100,000: 15 = 0.015 %, 180 = 0.18 % */
export const COMMISSION_RATE = 15;
export const SELL_TAX_RATE = 180;
const RATE_UNIT = 100_000;

export interface Estimate {
  amount: number;
  commission: number;
  tax: number;
  /** buy: cash needed; sell: cash received */
  total: number;
}

/** Estimated amount of an order: fees rounded down like the broker's (whole won). */
export function estimateOrder(side: "buy" | "sell", price: number, quantity: number): Estimate {
  const amount = price * quantity;
  const commission = Math.floor((amount * COMMISSION_RATE) / RATE_UNIT);
  const tax = side === "sell" ? Math.floor((amount * SELL_TAX_RATE) / RATE_UNIT) : 0;
  const total = side === "buy" ? amount + commission : amount - commission - tax;
  return { amount, commission, tax, total };
}

/** Quantity for a preset share of what is possible: floor(cash / (price × (1+fee))) × pct. */
export function presetQuantity(
  side: "buy" | "sell",
  percent: number,
  price: number,
  orderableCash: number,
  sellable: number,
): number {
  if (side === "sell") return Math.floor((sellable * percent) / 100);
  if (price <= 0) return 0;
  const perShare = price + Math.ceil((price * COMMISSION_RATE) / RATE_UNIT);
  const max = Math.floor(orderableCash / perShare);
  return Math.floor((max * percent) / 100);
}

/** What a buy's quantity presets are a share of: 현금(미수불가) or 최대(미수발생). */
export type Basis = "cash" | "max";

export interface OrderableLike {
  price: number;
  cash_qty: number;
  max_qty: number;
}

/**
 * The quantity of a preset (10/25/50/100 %): sells take the share of the sellable
 * quantity (the basis does not apply); buys of the orderable quantity the backend gave
 * for this very price (`GET /api/account/orderable`) on the chosen basis; without that
 * answer (not fetched yet, another price, or no such route) the 현금 basis falls back to
 * the orderable cash and 최대 to nothing (null: the panel keeps its quantity).
 */
export function presetFor(
  side: "buy" | "sell",
  percent: number,
  basis: Basis,
  price: number,
  orderable: OrderableLike | null | undefined,
  orderableCash: number,
  sellable: number,
): number | null {
  if (side === "sell") return Math.floor((sellable * percent) / 100);
  if (orderable && price > 0 && orderable.price === price) {
    const base = basis === "max" ? orderable.max_qty : orderable.cash_qty;
    return Math.floor((base * percent) / 100);
  }
  if (basis === "cash") return presetQuantity("buy", percent, price, orderableCash, 0);
  return null;
}
