/**
 * What the order book's badges say: a VI (volatility interruption: the stock trades in a
 * single-price call for about two minutes) and a 동시호가 (call auction) with its
 * 예상체결가/수량. Both come from the live stream first (/ws `vi` pushes and the
 * snapshot's `vi`; the `book` messages' `expected_price`/`expected_qty`, set only while
 * an auction collects orders), the REST book only until the stream has spoken.
 */
import type { WsVi } from "@/api/types";
import { kstTime, num } from "./format";

export interface Auction {
  price: number;
  qty: number | null;
}

interface BookLike {
  expected_price?: number | null;
  expected_qty?: number | null;
}

/**
 * The auction's expected crossing, or null outside one. A live book decides once there
 * is one (its blank expected price means the auction is over); the REST snapshot only
 * before that.
 */
export function auctionOf(live: BookLike | null | undefined, snapshot: BookLike | null | undefined): Auction | null {
  const src = live ?? snapshot;
  const price = src?.expected_price;
  if (!src || price === null || price === undefined || price <= 0) return null;
  const qty = src.expected_qty;
  return { price, qty: qty === null || qty === undefined ? null : qty };
}

/** The VI state in force: the stream's when it has one, else the REST snapshot's. */
export function viOf(
  live: ReceivedVi | null | undefined,
  snapshot: ReceivedVi | null | undefined,
): ReceivedVi | null {
  return live ?? snapshot ?? null;
}

/**
 * A VI still "active" this long after its announced release is taken as over: its
 * release was lost (e.g. the hub's socket reconnected during it), as the hub itself
 * assumes (`gslts_hub.vi`: a grace after the announced time). Measured on this browser's
 * clock from when the state arrived (the announced duration, release − trigger, plus the
 * grace), never by comparing the exchange's times with the browser's wall clock.
 */
export const VI_GRACE_MS = 60_000;

/** The VI state and when this browser received it (epoch ms; absent: no expiry). */
export type ReceivedVi = WsVi & { received_ms?: number };

/** When an active VI is taken as over on this browser's clock (null: never). */
export function viExpiresAt(vi: ReceivedVi): number | null {
  if (vi.received_ms === undefined || !vi.release_at || !vi.triggered_at) return null;
  const span = Date.parse(vi.release_at) - Date.parse(vi.triggered_at);
  if (!Number.isFinite(span) || span < 0) return null;
  return vi.received_ms + span + VI_GRACE_MS;
}

/**
 * "VI 정적 ▲ · 1,234원 · 해제 10:02:05" for an active VI, null when none is in force (none,
 * released, or past {@link viExpiresAt} at `nowMs`).
 */
export function viLabel(vi: ReceivedVi | null | undefined, nowMs: number = Date.now()): string | null {
  if (!vi || !vi.active) return null;
  const expires = viExpiresAt(vi);
  if (expires !== null && nowMs > expires) return null;
  const parts = [`VI${vi.kind ? ` ${vi.kind}` : ""}${vi.direction === "up" ? " ▲" : vi.direction === "down" ? " ▼" : ""}`];
  if (vi.trigger_price) parts.push(`${num(vi.trigger_price)}원`);
  if (vi.release_at) parts.push(`해제 ${kstTime(vi.release_at)}`);
  return parts.join(" · ");
}
