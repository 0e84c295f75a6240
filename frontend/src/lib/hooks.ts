"use client";
/**
 * One hook per resource (TanStack Query), the live socket's state and its per-stock data.
 * Query keys: ["me"], ["session"], ["account"], ["stock", code], ["orderbook", code],
 * ["search", q], ["orderTypes"], ["orders", status, code]. Pushes from /ws write into
 * the same cache (`balance` → ["account"], `order` → every ["orders", …] list).
 */
import { useQuery, useQueryClient, type UseQueryResult } from "@tanstack/react-query";
import { useEffect, useSyncExternalStore } from "react";
import { ApiError, type Schemas, api, request, unwrap } from "@/api/client";
import type {
  Account,
  Channel,
  Me,
  OrderBookAnswer,
  Orderable,
  OrderPage,
  OrderType,
  SearchAnswer,
  SessionInfo,
  StockDetail,
  WsBook,
  WsVi,
} from "@/api/types";
import { kstToday } from "./format";
import { type LastTrade, type SocketState, type TapeEntry, live } from "./live";

const noRetryOn4xx = (count: number, err: Error) =>
  !(err instanceof ApiError && err.status >= 400 && err.status < 500) && count < 2;

export function useMe(): UseQueryResult<Me> {
  return useQuery({
    queryKey: ["me"],
    queryFn: () => unwrap(api.GET("/api/auth/me")),
    retry: noRetryOn4xx,
    staleTime: 60_000,
  });
}

export function useSession(enabled = true): UseQueryResult<SessionInfo> {
  return useQuery({
    queryKey: ["session"],
    queryFn: () => unwrap(api.GET("/api/session")),
    refetchInterval: 10_000,
    retry: noRetryOn4xx,
    enabled,
  });
}

export function useAccount(): UseQueryResult<Account> {
  return useQuery({
    queryKey: ["account"],
    queryFn: () => unwrap(api.GET("/api/account")),
    retry: noRetryOn4xx,
    refetchInterval: 60_000,
  });
}

export function useStock(code: string | null): UseQueryResult<StockDetail> {
  return useQuery({
    queryKey: ["stock", code],
    queryFn: () =>
      unwrap(api.GET("/api/stocks/{code}", { params: { path: { code: code ?? "" } } })),
    enabled: !!code,
    retry: noRetryOn4xx,
    staleTime: 30_000,
  });
}

export function useOrderBookSnapshot(code: string | null): UseQueryResult<OrderBookAnswer> {
  return useQuery({
    queryKey: ["orderbook", code],
    queryFn: () =>
      unwrap(api.GET("/api/orderbook/{code}", { params: { path: { code: code ?? "" } } })),
    enabled: !!code,
    retry: noRetryOn4xx,
    staleTime: Number.POSITIVE_INFINITY, // /ws `book` takes over
  });
}

export function useSearch(q: string): UseQueryResult<SearchAnswer> {
  const query = q.trim();
  return useQuery({
    queryKey: ["search", query],
    queryFn: () =>
      unwrap(api.GET("/api/stocks/search", { params: { query: { q: query, limit: "10" } } })),
    enabled: query.length > 0,
    retry: false,
    staleTime: 60_000,
    placeholderData: (prev) => prev,
  });
}

/**
 * 가능수량 (현금 / 최대) of an order of `code` at `price` (`GET /api/account/orderable`,
 * kt00011 behind it: asked only while `enabled`, i.e. when a preset is about to be used
 * or the panel shows the figures). `null` data: the route is absent (404).
 */
export function orderableQuery(code: string | null, side: "buy" | "sell", price: number) {
  return {
    queryKey: ["orderable", code, side, price] as const,
    queryFn: async (): Promise<Orderable | null> => {
      const qs = new URLSearchParams({ code: code ?? "", price: String(price), side });
      try {
        return await request<Orderable>("GET", `/api/account/orderable?${qs}`);
      } catch (e) {
        if (e instanceof ApiError && (e.status === 404 || e.status === 405)) return null;
        throw e;
      }
    },
    retry: noRetryOn4xx,
    staleTime: 5_000,
  };
}

export function useOrderable(
  code: string | null,
  side: "buy" | "sell",
  price: number,
  enabled = true,
): UseQueryResult<Orderable | null> {
  return useQuery({ ...orderableQuery(code, side, price), enabled: enabled && !!code && price > 0 });
}

/** `null` data: the orders API is not there yet (404) — "주문 API 준비 중". */
export function useOrderTypes(): UseQueryResult<OrderType[] | null> {
  return useQuery({
    queryKey: ["orderTypes"],
    queryFn: async () => {
      try {
        return await request<OrderType[]>("GET", "/api/orders/types");
      } catch (e) {
        if (e instanceof ApiError && (e.status === 404 || e.status === 405)) return null;
        throw e;
      }
    },
    retry: noRetryOn4xx,
    staleTime: 10 * 60_000,
  });
}

export function useOrders(
  status: "open" | "filled" | "cancelled" | "rejected" | "all",
  code?: string | null,
  range?: { from?: string; to?: string },
): UseQueryResult<OrderPage | null> {
  return useQuery({
    queryKey: ["orders", status, code ?? null, range?.from ?? null, range?.to ?? null],
    queryFn: async () => {
      const qs = new URLSearchParams({ status, limit: "100" });
      if (code) qs.set("stock_code", code);
      if (range?.from) qs.set("from", range.from);
      if (range?.to) qs.set("to", range.to);
      try {
        return await request<OrderPage>("GET", `/api/orders?${qs}`);
      } catch (e) {
        if (e instanceof ApiError && (e.status === 404 || e.status === 405)) return null;
        throw e;
      }
    },
    retry: noRetryOn4xx,
    refetchInterval: 30_000,
  });
}

/**
 * 기준가 (the price change is against): the quote's base price when it has one (ka10001),
 * else the previous session's daily close (the day's bar is the forming one).
 */
/**
 * The stock's 기준가: the quote's base price, or else the previous daily close.
 * `quoteBase` is `undefined` while the quote is still loading: the daily chart is asked
 * only once the quote has come without a base price (asking at once made every
 * watchlist row fetch — and the backend backfill from ka10081 — a page of daily bars
 * beside the chart's first page, which then waited).
 */
export function useReference(code: string | null, quoteBase?: number | null): number | null {
  const daily = useQuery({
    queryKey: ["prevClose", code],
    queryFn: () =>
      unwrap(
        api.GET("/api/charts/{code}", {
          params: { path: { code: code ?? "" }, query: { interval: "1d", limit: "2" } },
        }),
      ),
    enabled: !!code && quoteBase === null,
    staleTime: 10 * 60_000,
    retry: false,
  });
  if (quoteBase) return quoteBase;
  const bars = daily.data?.candles ?? [];
  const last = bars[bars.length - 1];
  if (!last) return null;
  if (last.time === kstToday()) return bars.length > 1 ? (bars[bars.length - 2]?.close ?? null) : last.open;
  return last.close;
}

// --- live -----------------------------------------------------------------------------

export function useSocketState(): SocketState {
  return useSyncExternalStore(
    (fn) => live().onState(fn),
    () => live().state,
    () => "closed",
  );
}

/** Subscribe to a stock's channels for as long as the component shows it. */
export function useLiveSubscription(code: string | null, channels?: Channel[]): void {
  const key = channels?.join(",") ?? "";
  useEffect(() => {
    if (!code) return;
    return live().subscribe(code, key ? (key.split(",") as Channel[]) : undefined);
  }, [code, key]);
}

function useStoreKey(key: string): number {
  return useSyncExternalStore(
    (fn) => live().store.subscribe(key, fn),
    () => live().store.version(key),
    () => 0,
  );
}

export function useLast(code: string | null): LastTrade | undefined {
  useStoreKey(`last:${code}`);
  return code ? live().store.last.get(code) : undefined;
}

export function useTape(code: string | null): TapeEntry[] {
  useStoreKey(`last:${code}`);
  return (code && live().store.tapes.get(code)) || [];
}

export function useLiveBook(code: string | null): WsBook | undefined {
  useStoreKey(`book:${code}`);
  return code ? live().store.books.get(code) : undefined;
}

/** The stock's latest VI state from /ws (its book channel), if any was seen. */
export function useLiveVi(code: string | null): (WsVi & { received_ms: number }) | undefined {
  useStoreKey(`book:${code}`);
  return code ? live().store.vi.get(code) : undefined;
}

/** Latest live prices of several stocks (positions valued between pushes). */
export function useLivePrices(codes: readonly string[]): Record<string, number | undefined> {
  const key = codes.join(",");
  const version = useSyncExternalStore(
    (fn) => {
      const offs = codes.map((c) => live().store.subscribe(`last:${c}`, fn));
      return () => offs.forEach((o) => o());
    },
    () => codes.reduce((acc, c) => acc + live().store.version(`last:${c}`), 0),
    () => 0,
  );
  void version;
  void key;
  const out: Record<string, number | undefined> = {};
  for (const c of codes) out[c] = live().store.last.get(c)?.price;
  return out;
}

// --- sectors (the sector page) --------------------------------------------------------

/** The ranked watch list of a KRX session (`date` null: the server's default session). */
export function useSectorRecommendations(
  date: string | null,
): UseQueryResult<Schemas["SectorRecommendationsOut"]> {
  return useQuery({
    queryKey: ["sectorRecommendations", date],
    queryFn: () =>
      unwrap(api.GET("/api/sectors/recommendations", { params: { query: date ? { date } : {} } })),
    retry: noRetryOn4xx,
    staleTime: 5 * 60_000,
  });
}

/** Last night's US moves feeding a KRX session (the heat map). */
export function useSectorUs(date: string | null): UseQueryResult<Schemas["SectorUsMovesOut"]> {
  return useQuery({
    queryKey: ["sectorUs", date],
    queryFn: () => unwrap(api.GET("/api/sectors/us", { params: { query: date ? { date } : {} } })),
    retry: noRetryOn4xx,
    staleTime: 5 * 60_000,
  });
}

export function useSectorLinks(): UseQueryResult<Schemas["SectorLinksOut"]> {
  return useQuery({
    queryKey: ["sectorLinks"],
    queryFn: () => unwrap(api.GET("/api/sectors/links")),
    retry: noRetryOn4xx,
    staleTime: 10 * 60_000,
  });
}

/** PUT the whole link map; the answer replaces the cached map, lists are refetched. */
export function useSaveSectorLinks(): (links: Schemas["SectorLinkIn"][]) => Promise<Schemas["SectorLinksOut"]> {
  const qc = useQueryClient();
  return async (links) => {
    const out = await unwrap(api.PUT("/api/sectors/links", { body: { links } }));
    qc.setQueryData(["sectorLinks"], out);
    void qc.invalidateQueries({ queryKey: ["sectorRecommendations"] });
    void qc.invalidateQueries({ queryKey: ["sectorUs"] });
    void qc.invalidateQueries({ queryKey: ["sectorBacktest"] });
    return out;
  };
}

/** The walk-forward backtest (seconds on the server; cached there per data version). */
export function useSectorBacktest(
  range: { from: string; to: string; topN: number } | null,
): UseQueryResult<Schemas["SectorBacktestOut"]> {
  return useQuery({
    queryKey: ["sectorBacktest", range?.from ?? null, range?.to ?? null, range?.topN ?? null],
    queryFn: () =>
      unwrap(
        api.GET("/api/sectors/backtest", {
          params: { query: { from: range?.from ?? "", to: range?.to ?? "", top_n: range?.topN ?? 5 } },
        }),
      ),
    enabled: !!range,
    retry: noRetryOn4xx,
    staleTime: 30 * 60_000,
  });
}
