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
export function viOf(live: WsVi | null | undefined, snapshot: WsVi | null | undefined): WsVi | null {
  return live ?? snapshot ?? null;
}

/** "VI 정적 ▲ 1,234원 · 해제 10:02:05" for an active VI, null when none is in force. */
export function viLabel(vi: WsVi | null | undefined): string | null {
  if (!vi || !vi.active) return null;
  const parts = [`VI${vi.kind ? ` ${vi.kind}` : ""}${vi.direction === "up" ? " ▲" : vi.direction === "down" ? " ▼" : ""}`];
  if (vi.trigger_price) parts.push(`${num(vi.trigger_price)}원`);
  if (vi.release_at) parts.push(`해제 ${kstTime(vi.release_at)}`);
  return parts.join(" · ");
}
