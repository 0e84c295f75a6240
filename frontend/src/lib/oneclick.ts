/**
 * The one-click order mode's fat-finger limits (off by default; it must be armed). An
 * order sent by one click is refused here, before any request, when its price is more
 * than `maxTicks` ticks from the last price, its quantity over `maxQuantity`, or its
 * amount over `maxAmount` KRW. The defaults can be replaced per browser
 * (localStorage {@link LIMITS_KEY}); the book shows the limits in force.
 */
import { ticksBetween } from "./ticks";

export interface FatFingerLimits {
  maxTicks: number;
  maxQuantity: number;
  maxAmount: number;
}

export const DEFAULT_LIMITS: FatFingerLimits = {
  maxTicks: 10,
  maxQuantity: 1_000,
  maxAmount: 10_000_000,
};

/** localStorage key of the user's own limits (JSON, any of the three fields) */
export const LIMITS_KEY = "gslts.oneclick.limits";

/**
 * The limits stored under {@link LIMITS_KEY}: each field a positive integer, else its
 * default (a broken or absent entry gives the defaults; nothing is ever unlimited).
 */
export function parseLimits(raw: string | null | undefined): FatFingerLimits {
  let obj: unknown = null;
  try {
    obj = raw ? JSON.parse(raw) : null;
  } catch {
    obj = null;
  }
  const rec = obj !== null && typeof obj === "object" ? (obj as Record<string, unknown>) : {};
  const pick = (key: keyof FatFingerLimits): number => {
    const v = rec[key];
    return typeof v === "number" && Number.isSafeInteger(v) && v > 0 ? v : DEFAULT_LIMITS[key];
  };
  return { maxTicks: pick("maxTicks"), maxQuantity: pick("maxQuantity"), maxAmount: pick("maxAmount") };
}

/** Why a one-click order is refused (Korean, for the screen), or null when it may go. */
export function fatFinger(
  price: number,
  quantity: number,
  last: number | null,
  limits: FatFingerLimits = DEFAULT_LIMITS,
): string | null {
  if (!Number.isInteger(quantity) || quantity <= 0) return "수량을 입력하세요";
  if (!Number.isInteger(price) || price <= 0) return "가격이 올바르지 않습니다";
  if (last === null || last <= 0) return "현재가를 모릅니다: 원클릭 주문을 보낼 수 없습니다";
  const ticks = Math.abs(ticksBetween(last, price));
  if (ticks > limits.maxTicks) return `현재가에서 ${ticks}호가 떨어진 가격입니다 (한도 ${limits.maxTicks})`;
  if (quantity > limits.maxQuantity) return `수량 한도 ${limits.maxQuantity}주를 넘습니다`;
  if (price * quantity > limits.maxAmount) return `금액 한도 ${limits.maxAmount.toLocaleString("ko-KR")}원을 넘습니다`;
  return null;
}
