/**
 * KRX price rules, the same as the backend's ``gslts_kiwoom.krx`` (and tested with the
 * same cases as ``tests/unit/krx/test_krx.py``): the tick (호가단위) of each price band,
 * rounding to the grid, stepping across band edges, the ±30 % daily limits.
 */

/** [floor, tick] from the top band down. */
const BANDS: ReadonlyArray<readonly [number, number]> = [
  [500_000, 1_000],
  [200_000, 500],
  [50_000, 100],
  [20_000, 50],
  [5_000, 10],
  [2_000, 5],
  [0, 1],
];
export const ETF_TICK = 5;
export const LIMIT_PERCENT = 30;

export function tickSize(price: number, etf = false): number {
  if (!Number.isInteger(price) || price < 0) throw new RangeError(`bad price ${price}`);
  if (etf) return ETF_TICK;
  for (const [floor, tick] of BANDS) if (price >= floor) return tick;
  return 1;
}

export function isValidPrice(price: number, etf = false): boolean {
  return Number.isInteger(price) && price > 0 && price % tickSize(price, etf) === 0;
}

export type RoundDirection = "down" | "up" | "nearest";

/** Round to the grid (ties upwards for ``nearest``); band edges are multiples of both ticks. */
export function roundToTick(price: number, dir: RoundDirection = "nearest", etf = false): number {
  const tick = tickSize(price, etf);
  const down = price - (price % tick);
  if (dir === "down" || down === price) return down;
  const up = down + tick;
  if (dir === "up") return up;
  return price - down >= up - price ? up : down;
}

/** ``n`` ticks above a valid price. */
export function tickUp(price: number, n = 1, etf = false): number {
  let p = price;
  for (let i = 0; i < n; i++) p += tickSize(p, etf);
  return p;
}

/** ``n`` ticks below a price, never below 1 (the tick under an edge is the lower band's). */
export function tickDown(price: number, n = 1, etf = false): number {
  let p = price;
  for (let i = 0; i < n; i++) {
    const step = p > 1 ? tickSize(p - 1, etf) : 0;
    p = Math.max(p - step, 1);
  }
  return p;
}

/** [하한가, 상한가] for a base price: ±30 % rounded inward to the grid (integer arithmetic). */
export function priceLimits(base: number, etf = false): [number, number] {
  const upperRaw = Math.floor((base * (100 + LIMIT_PERCENT)) / 100);
  const lowerRaw = Math.ceil((base * (100 - LIMIT_PERCENT)) / 100);
  const upper = roundToTick(upperRaw, "down", etf);
  const lower = Math.max(roundToTick(lowerRaw, "up", etf), 1);
  return [lower, upper];
}

/** How many ticks lie between two prices (signed, ``to`` − ``from``), for fat-finger limits. */
export function ticksBetween(from: number, to: number, etf = false): number {
  if (from === to) return 0;
  let n = 0;
  let p = from;
  if (to > from) {
    while (p < to && n < 100_000) {
      p = tickUp(p, 1, etf);
      n++;
    }
    return n;
  }
  while (p > to && n < 100_000) {
    p = tickDown(p, 1, etf);
    n++;
  }
  return -n;
}
