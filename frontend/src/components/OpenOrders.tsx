"use client";
/**
 * Open orders (live by /ws `order` pushes, refetched after a reconnect): modify price and
 * quantity inline, cancel, cancel-all for the stock; buttons shown by the order's own
 * `actions` (the server decides what its state allows). History tabs with a date filter.
 * A backend without the orders routes (404): "주문 API 준비 중".
 */
import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { ApiError, request } from "@/api/client";
import { type Order, STATE_LABEL } from "@/api/types";
import { kstTime, kstToday, num } from "@/lib/format";
import { useOrders } from "@/lib/hooks";

type Tab = "open" | "filled" | "cancelled" | "all";
const TABS: [Tab, string][] = [
  ["open", "미체결"],
  ["filled", "체결"],
  ["cancelled", "취소"],
  ["all", "전체"],
];

function Row({ o, onError }: { o: Order; onError: (t: string) => void }) {
  const qc = useQueryClient();
  const [editing, setEditing] = useState(false);
  const [price, setPrice] = useState(o.price ?? 0);
  const [qty, setQty] = useState(o.open_quantity);
  // the inline editor starts from the order as it is now (a push may have changed it)
  function startEditing() {
    setPrice(o.price ?? 0);
    setQty(o.open_quantity);
    setEditing(true);
  }
  const [busy, setBusy] = useState(false);

  /** only what changed: a quantity equal to the open one is no quantity change */
  function changes(): { price?: number; quantity?: number } {
    const out: { price?: number; quantity?: number } = {};
    if (price && price !== o.price) out.price = price;
    if (qty && qty !== o.open_quantity) out.quantity = qty;
    return out;
  }

  async function act(method: "PATCH" | "DELETE", body?: unknown) {
    setBusy(true);
    try {
      await request<Order>(method, `/api/orders/${o.id}`, body);
      setEditing(false);
    } catch (e) {
      onError(
        e instanceof ApiError && e.status === 409
          ? "이미 체결되었거나 취소된 주문입니다"
          : e instanceof Error
            ? e.message
            : String(e),
      );
    } finally {
      setBusy(false);
      void qc.invalidateQueries({ queryKey: ["orders"] });
    }
  }

  return (
    <tr data-order-id={String(o.id)} data-state={o.state}>
      <td>{kstTime(o.created_at)}</td>
      <td className={o.side === "buy" ? "up" : "down"}>{o.side === "buy" ? "매수" : "매도"}</td>
      <td>{o.stock_code}</td>
      <td>{o.order_type_label}</td>
      <td className="num" data-testid="order-price-cell">
        {editing ? (
          <input className="inline" inputMode="numeric" data-testid="modify-price" value={price || ""} onChange={(e) => setPrice(Number(e.target.value.replace(/[^0-9]/g, "")) || 0)} />
        ) : o.price ? (
          num(o.price)
        ) : (
          "시장가"
        )}
      </td>
      <td className="num">
        {editing ? (
          <input className="inline" inputMode="numeric" value={qty || ""} onChange={(e) => setQty(Number(e.target.value.replace(/[^0-9]/g, "")) || 0)} />
        ) : (
          num(o.quantity)
        )}
      </td>
      <td className="num">{num(o.filled_quantity)}</td>
      <td data-testid="order-state">{STATE_LABEL[o.state] ?? o.state}</td>
      <td className="actions">
        {editing ? (
          <>
            <button type="button" disabled={busy} onClick={() => act("PATCH", changes())} data-testid="modify-confirm">
              확인
            </button>
            <button type="button" onClick={() => setEditing(false)}>
              닫기
            </button>
          </>
        ) : (
          <>
            {o.actions.modify && (
              <button type="button" disabled={busy} onClick={startEditing} data-testid="order-modify">
                정정
              </button>
            )}
            {o.actions.cancel && (
              <button type="button" disabled={busy} onClick={() => act("DELETE")} data-testid="order-cancel">
                취소
              </button>
            )}
          </>
        )}
      </td>
    </tr>
  );
}

export function OpenOrders({ code }: { code: string | null }) {
  const [tab, setTab] = useState<Tab>("open");
  const [onlyThis, setOnlyThis] = useState(false);
  const [from, setFrom] = useState(kstToday());
  const [to, setTo] = useState(kstToday());
  const [error, setError] = useState<string | null>(null);
  const qc = useQueryClient();
  const range = tab === "open" ? undefined : { from, to };
  const orders = useOrders(tab, onlyThis ? code : null, range);

  if (orders.data === null) {
    return (
      <section className="panel" data-testid="open-orders">
        <div className="panel-title">주문내역</div>
        <p className="notice" data-testid="orders-not-ready">
          주문 API 준비 중
        </p>
      </section>
    );
  }
  const list = orders.data?.orders ?? [];
  const cancellable = list.filter((o) => o.stock_code === code && o.actions.cancel);

  async function cancelAll() {
    setError(null);
    for (const o of cancellable) {
      try {
        await request<Order>("DELETE", `/api/orders/${o.id}`);
      } catch (e) {
        if (!(e instanceof ApiError && e.status === 409)) setError(e instanceof Error ? e.message : String(e));
      }
    }
    void qc.invalidateQueries({ queryKey: ["orders"] });
  }

  return (
    <section className="panel orders-panel" data-testid="open-orders">
      <div className="panel-title">
        <span className="tabs small">
          {TABS.map(([t, label]) => (
            <button type="button" key={t} className={t === tab ? "tab active" : "tab"} onClick={() => setTab(t)}>
              {label}
            </button>
          ))}
        </span>
        <label className="small">
          <input type="checkbox" checked={onlyThis} onChange={(e) => setOnlyThis(e.target.checked)} /> 이 종목만
        </label>
        {tab !== "open" && (
          <span className="small">
            <input type="date" value={from} onChange={(e) => setFrom(e.target.value)} /> ~{" "}
            <input type="date" value={to} onChange={(e) => setTo(e.target.value)} />
          </span>
        )}
        {tab === "open" && cancellable.length > 0 && (
          <button type="button" className="btn-link" onClick={cancelAll} data-testid="cancel-all">
            이 종목 전부 취소 ({cancellable.length})
          </button>
        )}
      </div>
      {error && <p className="error small">{error}</p>}
      {orders.isError && <p className="error small">주문을 불러오지 못했습니다: {String(orders.error)}</p>}
      <table className="grid orders">
        <thead>
          <tr>
            <th>시각</th>
            <th>구분</th>
            <th>종목</th>
            <th>유형</th>
            <th>가격</th>
            <th>수량</th>
            <th>체결</th>
            <th>상태</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {list.map((o) => (
            <Row key={String(o.id)} o={o} onError={setError} />
          ))}
          {orders.data && list.length === 0 && (
            <tr>
              <td colSpan={9} className="muted center">
                {tab === "open" ? "미체결 주문이 없습니다" : "주문이 없습니다"}
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </section>
  );
}
