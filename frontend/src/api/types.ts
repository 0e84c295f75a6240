/**
 * Names for the generated OpenAPI types (schema.d.ts) and the /ws messages (docs/backend.md
 * "Browser stream", not in the OpenAPI document).
 */
import type { Schemas } from "./client";

export type Account = Schemas["AccountOut"];
export type Holding = Schemas["HoldingOut"];
export type Orderable = Schemas["OrderableOut"];
export type SessionInfo = Schemas["SessionOut"];
export type Me = Schemas["MeOut"];
export type ChartPage = Schemas["ChartOut"];
export type ChartCandle = Schemas["Candle"];

export type SearchResult = Schemas["SearchHit"];
export type SearchAnswer = Schemas["SearchOut"];
export type StockQuote = Schemas["QuoteOut"];
export type StockDetail = Schemas["StockOut"];
export type Level = Schemas["Level"];
export type OrderBookAnswer = Schemas["BookOut"];

// --- /ws ------------------------------------------------------------------------------

export type Channel = "trades" | "book" | "candle";

export interface WsBook {
  type: "book";
  code: string;
  venue: string;
  time: string;
  asks: [number, number][];
  bids: [number, number][];
  total_ask: number;
  total_bid: number;
  /** 예상체결가 / 수량 (0D FID 23/24): set during a call auction (동시호가), else null */
  expected_price?: number | null;
  expected_qty?: number | null;
}
/** A stock's volatility interruption (1h VI발동/해제) as the hub tracks it. */
export interface WsVi {
  code: string;
  active: boolean;
  /** 정적 / 동적 / 정적+동적 as Kiwoom sends it */
  kind: string;
  trigger_price: number | null;
  triggered_at: string | null;
  /** announced (while active) or actual release time, ISO */
  release_at: string | null;
  count: number | null;
  direction: "up" | "down" | "";
}
export interface WsCandle {
  type: "candle";
  code: string;
  interval: "1m";
  time: number;
  start: string;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  closed: boolean;
  partial: boolean;
}
export interface WsTrades {
  type: "trades";
  code: string;
  n: number;
  time: number[];
  price: number[];
  volume: number[];
  cum_volume: number[];
  venue: string[];
}
export interface WsLast {
  code: string;
  venue: string;
  price: number;
  volume: number;
  cum_volume: number;
  time: string;
}
export interface WsSnapshot {
  type: "snapshot";
  code: string;
  last?: WsLast | null;
  book?: Omit<WsBook, "type"> | null;
  candle?: WsCandle | null;
  /** with the book channel: the stock's latest VI state, null when none seen */
  vi?: WsVi | null;
}
export type WsMessage =
  | { type: "hello"; user: { id: number; username: string; role: string }; max_codes: number }
  | WsSnapshot
  | WsTrades
  | WsBook
  | WsCandle
  | ({ type: "vi" } & WsVi)
  | ({ type: "order" } & Order)
  | ({ type: "balance" } & Account)
  | { type: "subscribed" | "unsubscribed" | "pong"; codes?: string[] }
  | { type: "error"; error: string; detail: string; field?: string; code?: string };

// --- orders (generated; the screens still show "주문 API 준비 중" on a 404) ---------------

export type Side = "buy" | "sell";
export type OrderState = Schemas["OrderOut"]["state"];

export type OrderType = Schemas["OrderTypeOut"];
export type Order = Schemas["OrderOut"];
export type OrderPage = Schemas["OrderList"];
export type NewOrder = Schemas["OrderIn"];

export const OPEN_STATES: ReadonlySet<OrderState> = new Set([
  "pending",
  "unknown",
  "accepted",
  "partially_filled",
]);

export const STATE_LABEL: Record<OrderState, string> = {
  pending: "접수중",
  unknown: "확인중",
  accepted: "접수",
  partially_filled: "부분체결",
  filled: "체결",
  cancelled: "취소",
  rejected: "거부",
};
