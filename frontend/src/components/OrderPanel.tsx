"use client";
/**
 * Order panel (POST /api/orders): buy/sell, every order type the
 * API offers with the fields each needs, a price stepper by the KRX tick of the band,
 * shortcuts (현재가, 매도/매수 1호가, 상한가, 하한가), quantity presets of 가능수량 on a 현금
 * (미수불가) or 최대 (미수발생) basis — the backend's kt00011 figures for the price typed in
 * (GET /api/account/orderable); sells from the sellable quantity — the estimated amount
 * with fee and tax, a confirmation
 * step, and the server's validation errors shown at their field. Should the orders routes
 * be absent (404: a backend without them) it says "주문 API 준비 중" and sends nothing.
 */
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useMemo, useState } from "react";
import { ApiError, request } from "@/api/client";
import type { NewOrder, Order, OrderType, Side } from "@/api/types";
import { num, won } from "@/lib/format";
import { orderableQuery, useAccount, useOrderable, useOrderTypes, useSession } from "@/lib/hooks";
import { type Basis, estimateOrder, presetFor } from "@/lib/pnl";
import { isValidPrice, priceLimits, roundToTick, tickDown, tickUp } from "@/lib/ticks";
import { uuid } from "@/lib/uuid";

/** the fields the panel shows an error at (others: under the order button) */
const SHOWN_FIELDS = new Set(["order_type", "venue", "price", "stop_price", "quantity"]);

export interface Ticket {
  price: number;
  nonce: number;
}

interface Props {
  code: string;
  name?: string;
  ticket: Ticket | null;
  reference: number | null;
  last: number | null;
  bestAsk: number | null;
  bestBid: number | null;
}

export function OrderPanel({ code, name, ticket, reference, last, bestAsk, bestBid }: Props) {
  const types = useOrderTypes();
  const account = useAccount();
  const session = useSession();
  const qc = useQueryClient();
  const [side, setSide] = useState<Side>("buy");
  const [typeName, setTypeName] = useState("limit");
  const [price, setPrice] = useState<number>(0);
  const [stop, setStop] = useState<number>(0);
  const [qty, setQty] = useState<number>(1);
  const [venue, setVenue] = useState("KRX");
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [fieldErr, setFieldErr] = useState<Record<string, string>>({});
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const [basis, setBasis] = useState<Basis>("cash");
  /** the price the shown 가능수량 is for: the typed price once it rests for 300 ms */
  const [askPrice, setAskPrice] = useState(0);

  useEffect(() => {
    if (ticket) {
      setPrice(ticket.price);
      setConfirming(false);
    }
  }, [ticket]);
  useEffect(() => {
    setPrice(0);
    setConfirming(false);
    setMessage(null);
  }, [code]);
  useEffect(() => {
    if (!price && last) setPrice(last);
  }, [last, price]);

  const list: OrderType[] = types.data ?? [];
  const type = list.find((t) => t.order_type === typeName) ?? list[0];
  const venues: readonly string[] = type?.venues ?? ["KRX"];
  const venueShown = venues.includes(venue) ? venue : (venues[0] ?? "KRX");
  const [lower, upper] = reference ? priceLimits(reference) : [null, null];
  const holding = account.data?.holdings.find((h) => h.stock_code === code);
  const sellable = holding?.sellable_quantity ?? 0;
  const cash = account.data?.orderable_cash ?? 0;
  const priceForAmount = type?.needs_price ? price : (last ?? price);
  const est = useMemo(() => estimateOrder(side, priceForAmount || 0, qty || 0), [side, priceForAmount, qty]);
  const refused = session.data && !session.data.orders_allowed ? session.data.orders_refused_reason : null;
  // 가능수량 is for the price typed in; a market buy is sized at the upper limit (as the
  // broker checks it), a price that does not move with every trade
  const amountPrice = (type?.needs_price ? price : (upper ?? last)) || 0;
  useEffect(() => {
    const t = setTimeout(() => setAskPrice(amountPrice), 300);
    return () => clearTimeout(t);
  }, [amountPrice]);
  const orderable = useOrderable(code, "buy", askPrice, side === "buy" && !!types.data);

  if (types.isLoading) {
    return (
      <section className="panel order-panel" data-testid="order-panel">
        <div className="panel-title">주문</div>
        <p className="muted">불러오는 중…</p>
      </section>
    );
  }
  if (types.data === null || types.isError) {
    return (
      <section className="panel order-panel" data-testid="order-panel">
        <div className="panel-title">주문</div>
        <p className="notice" data-testid="orders-not-ready">
          {types.isError ? "주문 유형을 불러오지 못했습니다" : "주문 API 준비 중"}
        </p>
        <p className="muted small">주문 기능은 백엔드의 주문 API가 준비되면 활성화됩니다.</p>
      </section>
    );
  }

  function step(dir: 1 | -1) {
    const p = price > 0 ? roundToTick(price, dir > 0 ? "down" : "up") : (last ?? 0);
    setPrice(dir > 0 ? tickUp(p) : tickDown(p));
  }

  /** a preset: for a buy, the orderable quantity at exactly this price (asked now when
   * the shown one is for another price); sells: the sellable quantity */
  async function preset(percent: number) {
    const at = amountPrice;
    let o = orderable.data?.price === at ? orderable.data : null;
    if (side === "buy" && !o && at > 0) {
      try {
        o = await qc.fetchQuery(orderableQuery(code, "buy", at));
      } catch {
        o = null; // 현금 falls back to the account's orderable cash
      }
    }
    const q = presetFor(side, percent, basis, at, o, cash, sellable);
    if (q !== null) setQty(q);
  }

  function check(): Record<string, string> {
    const errs: Record<string, string> = {};
    if (!Number.isInteger(qty) || qty <= 0) errs.quantity = "수량을 입력하세요";
    if (type?.needs_price) {
      if (!isValidPrice(price)) errs.price = "호가 단위에 맞는 가격을 입력하세요";
      else if (lower && upper && (price < lower || price > upper)) errs.price = "가격 제한폭을 벗어났습니다";
    }
    if (type?.needs_stop_price && !isValidPrice(stop)) errs.stop_price = "조건 가격을 입력하세요";
    if (side === "sell" && qty > sellable) errs.quantity = `매도 가능 수량은 ${num(sellable)}주입니다`;
    return errs;
  }

  async function submit() {
    if (!type) return;
    setBusy(true);
    setMessage(null);
    const body: NewOrder = {
      stock_code: code,
      side,
      quantity: qty,
      // the names come from GET /api/orders/types (typed as plain strings there)
      order_type: type.order_type as NewOrder["order_type"],
      price: type.needs_price ? price : null,
      stop_price: type.needs_stop_price ? stop : null,
      venue: venueShown as NewOrder["venue"],
      client_order_id: uuid(),
    };
    try {
      const order = await request<Order>("POST", "/api/orders", body);
      setMessage({ ok: true, text: `주문 접수: ${order.order_type_label} ${num(order.quantity)}주` });
      setConfirming(false);
      void qc.invalidateQueries({ queryKey: ["orders"] });
      void qc.invalidateQueries({ queryKey: ["account"] });
    } catch (e) {
      setConfirming(false);
      if (e instanceof ApiError) {
        if (e.status === 422 && e.field) {
          // shown at its field; a field the panel has no place for shows under the button
          setFieldErr({ [SHOWN_FIELDS.has(e.field) ? e.field : "general"]: e.message });
        }
        else if (e.status === 404) setMessage({ ok: false, text: "주문 API 준비 중" });
        else setMessage({ ok: false, text: e.message });
      } else setMessage({ ok: false, text: "서버에 연결할 수 없습니다" });
    } finally {
      setBusy(false);
    }
  }

  const sideLabel = side === "buy" ? "매수" : "매도";
  return (
    <section className={`panel order-panel side-${side}`} data-testid="order-panel">
      <div className="tabs">
        <button type="button" className={side === "buy" ? "tab buy active" : "tab buy"} onClick={() => setSide("buy")}>
          매수
        </button>
        <button type="button" className={side === "sell" ? "tab sell active" : "tab sell"} onClick={() => setSide("sell")}>
          매도
        </button>
      </div>
      {refused && <p className="error small">{refused}</p>}
      <label className="field">
        <span>유형</span>
        <select
          value={type?.order_type}
          onChange={(e) => {
            setTypeName(e.target.value);
            setFieldErr({});
          }}
          data-testid="order-type"
        >
          {list.map((t) => (
            <option key={t.order_type} value={t.order_type}>
              {t.label}
            </option>
          ))}
        </select>
        <select value={venueShown} onChange={(e) => setVenue(e.target.value)} aria-label="거래소">
          {venues.map((v) => (
            <option key={v}>{v}</option>
          ))}
        </select>
      </label>
      {(fieldErr.order_type || fieldErr.venue) && (
        <p className="field-error" data-testid="order-type-error">
          {fieldErr.order_type ?? fieldErr.venue}
        </p>
      )}
      {type?.needs_price && (
        <>
          <label className="field">
            <span>가격</span>
            <button type="button" className="step" onClick={() => step(-1)} aria-label="한 호가 아래">
              −
            </button>
            <input
              inputMode="numeric"
              value={price ? num(price) : ""}
              onChange={(e) => setPrice(Number(e.target.value.replace(/[^0-9]/g, "")) || 0)}
              data-testid="order-price"
            />
            <button type="button" className="step" onClick={() => step(1)} aria-label="한 호가 위">
              +
            </button>
          </label>
          {fieldErr.price && <p className="field-error">{fieldErr.price}</p>}
          <div className="shortcuts">
            <button type="button" onClick={() => last && setPrice(last)}>현재가</button>
            <button type="button" onClick={() => bestAsk && setPrice(bestAsk)}>매도1호가</button>
            <button type="button" onClick={() => bestBid && setPrice(bestBid)}>매수1호가</button>
            <button type="button" onClick={() => upper && setPrice(upper)}>상한가</button>
            <button type="button" onClick={() => lower && setPrice(lower)}>하한가</button>
          </div>
        </>
      )}
      {type?.needs_stop_price && (
        <>
          <label className="field">
            <span>조건가</span>
            <input
              inputMode="numeric"
              value={stop ? num(stop) : ""}
              onChange={(e) => setStop(Number(e.target.value.replace(/[^0-9]/g, "")) || 0)}
            />
          </label>
          {fieldErr.stop_price && <p className="field-error">{fieldErr.stop_price}</p>}
        </>
      )}
      <label className="field">
        <span>수량</span>
        <input
          inputMode="numeric"
          value={qty ? num(qty) : ""}
          onChange={(e) => setQty(Number(e.target.value.replace(/[^0-9]/g, "")) || 0)}
          data-testid="order-qty"
        />
        <span className="muted small">주</span>
      </label>
      {fieldErr.quantity && <p className="field-error">{fieldErr.quantity}</p>}
      <div className="shortcuts">
        {[10, 25, 50, 100].map((p) => (
          <button
            type="button"
            key={p}
            data-testid={`preset-${p}`}
            onClick={() => void preset(p)}
          >
            {p}%
          </button>
        ))}
      </div>
      {side === "buy" && (
        <div className="basis small" data-testid="preset-basis">
          <label>
            <input
              type="radio"
              name={`basis-${code}`}
              checked={basis === "cash"}
              onChange={() => setBasis("cash")}
              data-testid="basis-cash"
            />{" "}
            현금(미수불가){" "}
            <b data-testid="orderable-cash">{orderable.data ? `${num(orderable.data.cash_qty)}주` : "-"}</b>
          </label>
          <label>
            <input
              type="radio"
              name={`basis-${code}`}
              checked={basis === "max"}
              onChange={() => setBasis("max")}
              data-testid="basis-max"
            />{" "}
            최대(미수발생){" "}
            <b data-testid="orderable-max">{orderable.data ? `${num(orderable.data.max_qty)}주` : "-"}</b>
          </label>
        </div>
      )}
      <dl className="estimate">
        <div>
          <dt>{side === "buy" ? "주문가능(현금)" : "매도가능"}</dt>
          <dd>{!account.data ? "…" : side === "buy" ? won(cash) : `${num(sellable)}주`}</dd>
        </div>
        <div>
          <dt>주문금액</dt>
          <dd>{won(est.amount)}</dd>
        </div>
        <div>
          <dt>수수료{side === "sell" ? "+세금" : ""}</dt>
          <dd>{won(est.commission + est.tax)}</dd>
        </div>
        <div>
          <dt>{side === "buy" ? "필요금액" : "예상수령"}</dt>
          <dd>
            <b>{won(est.total)}</b>
          </dd>
        </div>
      </dl>
      {fieldErr.general && (
        <p className="field-error" data-testid="order-general-error">
          {fieldErr.general}
        </p>
      )}
      {!confirming ? (
        <button
          type="button"
          className={`btn btn-${side}`}
          disabled={busy || !!refused}
          data-testid="order-submit"
          onClick={() => {
            const errs = check();
            setFieldErr(errs);
            if (Object.keys(errs).length === 0) setConfirming(true);
          }}
        >
          {sideLabel}
        </button>
      ) : (
        <div className="confirm" data-testid="order-confirm">
          <p>
            {name ?? code} {type?.label} {type?.needs_price ? `${num(price)}원` : ""} {num(qty)}주 {sideLabel}
            하시겠습니까?
          </p>
          <button type="button" className={`btn btn-${side}`} onClick={submit} disabled={busy} data-testid="order-confirm-yes">
            {busy ? "전송 중…" : `${sideLabel} 확인`}
          </button>
          <button type="button" className="btn" onClick={() => setConfirming(false)}>
            취소
          </button>
        </div>
      )}
      {message && (
        <p className={message.ok ? "ok" : "error"} role="status" data-testid="order-message">
          {message.text}
        </p>
      )}
    </section>
  );
}
