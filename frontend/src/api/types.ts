/**
 * Shapes of routes whose OpenAPI answer is an untyped object (market data: search, stock,
 * order book — docs/backend.md "Market data"), the /ws messages (docs/backend.md "Browser
 * stream") and the orders API contract (being built: routes absent → "주문 API 준비 중").
 * Everything the OpenAPI document does type comes from schema.d.ts instead.
 */
import type { Schemas } from "./client";

export type Account = Schemas["AccountOut"];
export type Holding = Schemas["HoldingOut"];
export type SessionInfo = Schemas["SessionOut"];
export type Me = Schemas["MeOut"];
export type ChartPage = Schemas["ChartOut"];
export type ChartCandle = Schemas["Candle"];

export interface SearchResult {
  code: string;
  name: string;
  market: string;
  match: string;
  rank_value?: number | null;
}
export interface SearchAnswer {
  query: string;
  count: number;
  results: SearchResult[];
}

export interface StockQuote {
  source: "hub" | "kiwoom";
  price: number | null;
  change?: number | null;
  change_rate?: string | number | null;
  base_price?: number | null;
  upper_limit?: number | null;
  lower_limit?: number | null;
  open?: number | null;
  high?: number | null;
  low?: number | null;
  volume?: number | null;
  time?: string | null;
  [k: string]: unknown;
}
export interface StockDetail {
  code: string;
  name: string;
  market: string;
  sector?: string | null;
  order_warning?: number | null;
  nxt_enabled?: boolean | null;
  quote?: StockQuote | null;
  [k: string]: unknown;
}

export interface Level {
  price: number;
  qty: number;
}
export interface OrderBookAnswer {
  code: string;
  source: "hub" | "kiwoom";
  age_s: number | null;
  time: string | null;
  venue: string | null;
  asks: Level[];
  bids: Level[];
  total_ask_qty: number | null;
  total_bid_qty: number | null;
  expected_price: number | null;
  expected_qty: number | null;
}

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
