"use client";
/**
 * The trading view, /stock/?code=005930 (a query route: a static export cannot have
 * unbounded dynamic routes). Chart, order book, order panel, open orders, positions; a
 * stacked layout on a phone.
 */
import dynamic from "next/dynamic";
import { useSearchParams } from "next/navigation";
import { Suspense, useCallback, useEffect, useMemo, useState } from "react";
import { OpenOrders } from "@/components/OpenOrders";
import { OrderBook } from "@/components/OrderBook";
import { OrderPanel, type Ticket } from "@/components/OrderPanel";
import { Positions } from "@/components/Positions";
import { Watchlist } from "@/components/Watchlist";
import { INTERVALS, type Interval } from "@/lib/candles";
import { OPEN_STATES } from "@/api/types";
import { changePct, direction, dirClass, num, pct, signed } from "@/lib/format";
import {
  useLast,
  useLiveBook,
  useLiveSubscription,
  useOrderBookSnapshot,
  useOrders,
  useReference,
  useStock,
} from "@/lib/hooks";

const CODE_RE = /^[0-9A-Z]{6}$/;

// the chart library draws on a canvas: loaded in the browser only (not at export time).
// In the browser its chunk and the first page of the stock in the address start loading
// when this page's code runs, in parallel with the auth check (chart-ready time).
const loadChart = () => import("@/components/Chart");
if (typeof window !== "undefined") {
  const raw = (new URLSearchParams(window.location.search).get("code") ?? "005930").toUpperCase();
  if (window.location.pathname.startsWith("/stock") && CODE_RE.test(raw)) {
    let interval: Interval = "1m";
    try {
      const saved = localStorage.getItem("gslts.interval") as Interval | null;
      if (saved && INTERVALS.includes(saved)) interval = saved;
    } catch {
      /* no storage */
    }
    void loadChart().then((m) => m.prefetchChart(raw, interval));
  }
}
const Chart = dynamic(() => loadChart().then((m) => m.Chart), {
  ssr: false,
  loading: () => <section className="panel chart-panel chart-loading">차트 불러오는 중…</section>,
});

function StockView() {
  const params = useSearchParams();
  const raw = (params.get("code") ?? "005930").toUpperCase();
  const code = CODE_RE.test(raw) ? raw : null;
  const stock = useStock(code);
  useLiveSubscription(code);
  const last = useLast(code);
  const book = useLiveBook(code);
  const snap = useOrderBookSnapshot(code);
  const open = useOrders("open", code);
  const [ticket, setTicket] = useState<Ticket | null>(null);
  const pick = useCallback((price: number) => setTicket({ price, nonce: Date.now() }), []);

  useEffect(() => {
    if (!code) return;
    try {
      localStorage.setItem("gslts.lastCode", code);
    } catch {
      /* no storage */
    }
  }, [code]);

  const quote = stock.data?.quote;
  const reference = useReference(
    code,
    stock.isSuccess ? (quote?.base_price ?? null) : stock.isError ? null : undefined,
  );
  const price = last?.price ?? quote?.price ?? null;
  const bestAsk = book?.asks[0]?.[0] ?? snap.data?.asks[0]?.price ?? null;
  const bestBid = book?.bids[0]?.[0] ?? snap.data?.bids[0]?.price ?? null;
  const myPrices = useMemo(() => {
    const m = new Map<number, number>();
    for (const o of open.data?.orders ?? []) {
      if (o.stock_code === code && o.price && OPEN_STATES.has(o.state)) {
        m.set(o.price, (m.get(o.price) ?? 0) + o.open_quantity);
      }
    }
    return m;
  }, [open.data, code]);

  useEffect(() => {
    if (stock.data?.name) document.title = `${stock.data.name} ${price ? num(price) : ""} · GSLTS`;
  }, [stock.data?.name, price]);

  if (!code) {
    return <p className="error">종목 코드가 올바르지 않습니다: {raw}</p>;
  }
  const dir = price !== null && reference ? direction(price, reference) : "flat";
  return (
    <div className="trading">
      <div className="stock-head" data-testid="stock-head">
        <h1>
          <span data-testid="stock-name">{stock.data?.name ?? (stock.isError ? "알 수 없는 종목" : "…")}</span>{" "}
          <small className="muted">
            {code} {stock.data?.market ?? ""}
          </small>
        </h1>
        <span className={`big ${dirClass(dir)}`} data-testid="head-price">
          {price !== null ? num(price) : "-"}
        </span>
        {price !== null && reference ? (
          <span className={dirClass(dir)}>
            {signed(price - reference)} ({pct(changePct(price, reference))})
          </span>
        ) : null}
        {stock.data?.order_warning ? <span className="badge badge-warn">투자유의</span> : null}
      </div>
      <div className="grid-main">
        <div className="col-chart">
          <Chart code={code} />
          <OpenOrders code={code} />
        </div>
        <div className="col-book">
          <OrderBook code={code} reference={reference} onPick={pick} myPrices={myPrices} />
        </div>
        <div className="col-side">
          <OrderPanel
            code={code}
            name={stock.data?.name}
            ticket={ticket}
            reference={reference}
            last={price}
            bestAsk={bestAsk}
            bestBid={bestBid}
          />
          <Watchlist current={code} />
        </div>
      </div>
      <Positions />
    </div>
  );
}

export default function StockPage() {
  return (
    <Suspense fallback={<div className="center-note">불러오는 중…</div>}>
      <StockView />
    </Suspense>
  );
}
