"use client";
/**
 * 호가창: 10 asks over 10 bids (asks on a blue tint, bids on a red tint), prices coloured
 * against the reference price, 잔량 bars scaled to the larger side, totals and 순매수잔량,
 * the current price and change in the middle, a 동시호가 badge with 예상체결가/수량 while a
 * call auction collects orders and a VI badge while the stock is interrupted (both from
 * the live stream: `book` messages' expected price, `vi` pushes; lib/bookstate.ts), and the
 * 체결 tape with 체결강도. Clicking a price hands it to the order panel. The first state
 * comes from GET /api/orderbook/{code}, then /ws `book` replaces it (conflated, ≤ 10/s).
 *
 * One-click mode (off by default, armed in two steps): a click on a 매도잔량 cell sells,
 * on a 매수잔량 cell buys, the set quantity at that row's price as a limit order, checked
 * against the fat-finger limits (lib/oneclick.ts) before anything is sent.
 */
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { ApiError, request } from "@/api/client";
import type { Level, NewOrder, Order, Side } from "@/api/types";
import { changePct, direction, dirClass, kstTime, num, pct, signed, won } from "@/lib/format";
import { auctionOf, viLabel, viOf } from "@/lib/bookstate";
import { useLast, useLiveBook, useLiveVi, useOrderBookSnapshot, useOrderTypes, useTape } from "@/lib/hooks";
import { recordPaint } from "@/lib/live";
import { DEFAULT_LIMITS, type FatFingerLimits, LIMITS_KEY, fatFinger, parseLimits } from "@/lib/oneclick";
import { uuid } from "@/lib/uuid";

interface Props {
  code: string;
  reference: number | null;
  onPick: (price: number) => void;
  /** the user's open orders' prices (marked at their level) */
  myPrices?: ReadonlyMap<number, number>;
}

function toLevels(pairs: [number, number][]): Level[] {
  return pairs.map(([price, qty]) => ({ price, qty }));
}

function pad(levels: Level[]): Level[] {
  const out = levels.slice(0, 10);
  while (out.length < 10) out.push({ price: 0, qty: 0 });
  return out;
}

function useOneClick(code: string, last: number | null) {
  const types = useOrderTypes();
  const qc = useQueryClient();
  const [open, setOpen] = useState(false);
  const [armed, setArmed] = useState(false);
  const [qty, setQty] = useState(1);
  const [msg, setMsg] = useState<{ ok: boolean; text: string } | null>(null);
  const [limits, setLimits] = useState<FatFingerLimits>(DEFAULT_LIMITS);
  const available = !!types.data?.some((t) => t.order_type === "limit");
  // the browser's own limits (localStorage), read again each time the mode is opened
  useEffect(() => {
    if (!open) return;
    try {
      setLimits(parseLimits(window.localStorage.getItem(LIMITS_KEY)));
    } catch {
      setLimits(DEFAULT_LIMITS);
    }
  }, [open]);

  async function place(side: Side, price: number) {
    if (!armed) return;
    const refused = fatFinger(price, qty, last, limits);
    if (refused) {
      setMsg({ ok: false, text: refused });
      return;
    }
    const body: NewOrder = {
      stock_code: code,
      side,
      quantity: qty,
      order_type: "limit",
      price,
      stop_price: null,
      venue: "KRX",
      client_order_id: uuid(),
    };
    try {
      await request<Order>("POST", "/api/orders", body);
      setMsg({ ok: true, text: `${side === "buy" ? "매수" : "매도"} ${num(qty)}주 @ ${num(price)}` });
      void qc.invalidateQueries({ queryKey: ["orders"] });
    } catch (e) {
      setMsg({ ok: false, text: e instanceof ApiError ? e.message : String(e) });
    }
  }

  const controls = available ? (
    <span className="oneclick small">
      <label>
        <input
          type="checkbox"
          checked={open}
          data-testid="oneclick-toggle"
          onChange={(e) => {
            setOpen(e.target.checked);
            setArmed(false);
          }}
        />{" "}
        원클릭
      </label>
      {open && (
        <>
          <input
            className="inline"
            inputMode="numeric"
            aria-label="원클릭 수량"
            data-testid="oneclick-qty"
            value={qty || ""}
            onChange={(e) => setQty(Number(e.target.value.replace(/[^0-9]/g, "")) || 0)}
          />
          주{" "}
          <button
            type="button"
            className={armed ? "armed" : ""}
            onClick={() => setArmed((a) => !a)}
            data-testid="oneclick-arm"
          >
            {armed ? "원클릭 ON — 해제" : "활성화"}
          </button>
          <span className="muted" data-testid="oneclick-limits" title="원클릭 주문 한도">
            한도 {num(limits.maxTicks)}호가 · {num(limits.maxQuantity)}주 · {won(limits.maxAmount)}
          </span>
        </>
      )}
      {msg && (
        <span className={msg.ok ? "ok" : "error"} data-testid="oneclick-message">
          {" "}
          {msg.text}
        </span>
      )}
    </span>
  ) : null;
  return { armed, place, controls };
}

export function OrderBook({ code, reference, onPick, myPrices }: Props) {
  const snap = useOrderBookSnapshot(code);
  const liveBook = useLiveBook(code);
  const last = useLast(code);
  const tape = useTape(code);

  const asks = pad(liveBook ? toLevels(liveBook.asks) : (snap.data?.asks ?? []));
  const bids = pad(liveBook ? toLevels(liveBook.bids) : (snap.data?.bids ?? []));
  const totalAsk = liveBook ? liveBook.total_ask : (snap.data?.total_ask_qty ?? 0);
  const totalBid = liveBook ? liveBook.total_bid : (snap.data?.total_bid_qty ?? 0);
  const max = Math.max(1, ...asks.map((l) => l.qty), ...bids.map((l) => l.qty));
  const price = last?.price ?? null;
  const ref = reference ?? null;
  const auction = auctionOf(liveBook, snap.data);
  const snapVi = snap.data?.vi;
  const vi = viLabel(viOf(useLiveVi(code), snapVi ? { ...snapVi, received_ms: snap.dataUpdatedAt } : null));
  const oneClick = useOneClick(code, price);
  // tick-to-screen: the commit that shows a new last price is recorded (window.__gslts)
  useEffect(() => {
    if (last) recordPaint(code, last);
  }, [code, last]);

  let buyVol = 0;
  let sellVol = 0;
  for (const t of tape) {
    if (t.volume > 0) buyVol += t.volume;
    else sellVol -= t.volume;
  }
  const strength = sellVol > 0 ? ((buyVol / sellVol) * 100).toFixed(2) : buyVol > 0 ? "∞" : "-";

  const row = (l: Level, side: "ask" | "bid", i: number) => {
    const cls = l.price && ref ? dirClass(direction(l.price, ref)) : "flat";
    const mine = l.price ? myPrices?.get(l.price) : undefined;
    return (
      <tr key={`${side}${i}`} className={`${side}${l.price && l.price === price ? " at-last" : ""}`}>
        <td
          className={`qty ask-qty${oneClick.armed && l.price ? " oneclick-cell" : ""}`}
          onClick={() => l.price && void oneClick.place("sell", l.price)}
        >
          {side === "ask" && l.qty > 0 && (
            <>
              <span className="bar bar-ask" style={{ width: `${(l.qty / max) * 100}%` }} />
              <span className="n">{num(l.qty)}</span>
            </>
          )}
        </td>
        <td
          className={`price ${cls}${l.price ? " clickable" : ""}`}
          data-testid={`${side}-price`}
          onClick={() => l.price && onPick(l.price)}
        >
          {l.price ? num(l.price) : ""}
          {mine ? <span className="mine" title="내 주문">●{num(mine)}</span> : null}
          {l.price && ref ? <small className="pct">{pct(changePct(l.price, ref))}</small> : null}
        </td>
        <td
          className={`qty bid-qty${oneClick.armed && l.price ? " oneclick-cell" : ""}`}
          onClick={() => l.price && void oneClick.place("buy", l.price)}
        >
          {side === "bid" && l.qty > 0 && (
            <>
              <span className="bar bar-bid" style={{ width: `${(l.qty / max) * 100}%` }} />
              <span className="n">{num(l.qty)}</span>
            </>
          )}
        </td>
      </tr>
    );
  };

  const dir = price !== null && ref ? direction(price, ref) : "flat";
  return (
    <section className="panel book-panel" data-testid="orderbook">
      <div className="panel-title">
        호가 <small className="muted">{liveBook ? "실시간" : snap.data ? `${snap.data.source}` : "…"}</small>
        {auction ? (
          <span className="badge badge-auction" title="동시호가: 예상체결가" data-testid="auction-badge">
            동시호가
          </span>
        ) : null}
        {vi ? (
          <span className="badge badge-vi" title="변동성완화장치 발동: 단일가 매매 중" data-testid="vi-badge">
            {vi}
          </span>
        ) : null}
        {oneClick.controls}
      </div>
      {auction ? (
        <div className="book-expected" data-testid="expected">
          예상체결가 <b data-testid="expected-price">{num(auction.price)}</b>
          {auction.qty !== null ? (
            <>
              {" "}
              · 예상체결량 <b data-testid="expected-qty">{num(auction.qty)}</b>주
            </>
          ) : null}
          {ref ? <span className={dirClass(direction(auction.price, ref))}> ({pct(changePct(auction.price, ref))})</span> : null}
        </div>
      ) : null}
      <table className={`book${oneClick.armed ? " book-armed" : ""}`}>
        <tbody>
          {asks
            .slice()
            .reverse()
            .map((l, i) => row(l, "ask", 9 - i))}
          <tr className="book-mid">
            <td colSpan={3}>
              <span className={`last ${dirClass(dir)}`} data-testid="last-price" key={last?.receivedAt}>
                {price !== null ? num(price) : "-"}
              </span>
              {price !== null && ref ? (
                <span className={dirClass(dir)}>
                  {" "}
                  {signed(price - ref)} ({pct(changePct(price, ref))})
                </span>
              ) : null}
            </td>
          </tr>
          {bids.map((l, i) => row(l, "bid", i))}
        </tbody>
        <tfoot>
          <tr>
            <td className="qty">{num(totalAsk)}</td>
            <td className="muted small">
              잔량합 · 순매수 <span className={dirClass(direction(totalBid - totalAsk))}>{signed(totalBid - totalAsk)}</span>
            </td>
            <td className="qty">{num(totalBid)}</td>
          </tr>
        </tfoot>
      </table>
      <div className="tape" data-testid="tape">
        <div className="panel-title small">
          체결 <span className="muted">체결강도 {strength}%</span>
        </div>
        <ul>
          {tape
            .slice(-12)
            .reverse()
            .map((t, i) => (
              <li key={`${t.time}-${i}`} className={t.volume > 0 ? "up" : t.volume < 0 ? "down" : ""}>
                <span>{kstTime(t.time)}</span>
                <span>{num(t.price)}</span>
                <span>{num(Math.abs(t.volume))}</span>
              </li>
            ))}
        </ul>
      </div>
    </section>
  );
}
