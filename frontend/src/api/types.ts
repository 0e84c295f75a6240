/**
 * Names for the generated OpenAPI types (schema.d.ts), the /ws messages (docs/backend.md
 * "Browser stream", not in the OpenAPI document) and the orders API contract (being built:
 * routes absent → "주문 API 준비 중"; replaced by generated types once they are in the
 * document).
 */
import type { Schemas } from "./client";

export type Account = Schemas["AccountOut"];
export type Holding = Schemas["HoldingOut"];
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
}
export type WsMessage =
  | { type: "hello"; user: { id: number; username: string; role: string }; max_codes: number }
  | WsSnapshot
  | WsTrades
  | WsBook
  | WsCandle
  | ({ type: "order" } & Order)
  | ({ type: "balance" } & Account)
  | { type: "subscribed" | "unsubscribed" | "pong"; codes?: string[] }
  | { type: "error"; error: string; detail: string; field?: string; code?: string };

// --- orders (contract) ----------------------------------------------------------------

export type Side = "buy" | "sell";
export type OrderState =
  | "pending"
  | "unknown"
  | "accepted"
  | "partially_filled"
  | "filled"
  | "cancelled"
  | "rejected";

export interface OrderType {
  order_type: string;
  code: string;
  label: string;
  needs_price: boolean;
  needs_stop_price: boolean;
  time_in_force: "day" | "ioc" | "fok";
  venues: string[];
}

export interface Order {
  id: number | string;
  client_order_id: string | null;
  broker_order_no: string | null;
  root_order_no: string | null;
  stock_code: string;
  venue: string;
  side: Side;
  order_type: string;
  order_type_label: string;
  price: number | null;
  stop_price: number | null;
  quantity: number;
  filled_quantity: number;
  open_quantity: number;
  avg_fill_price: number | null;
  state: OrderState;
  reject_reason: string | null;
  created_at: string;
  updated_at: string;
  username: string;
  actions: { modify: boolean; cancel: boolean };
}

export interface OrderPage {
  orders: Order[];
  next_cursor: string | null;
}

export interface NewOrder {
  stock_code: string;
  side: Side;
  quantity: number;
  order_type: string;
  price: number | null;
  stop_price: number | null;
  venue: string;
  client_order_id: string;
}

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
