"""What the hub publishes on the bus, shaped from domain types (one place per event kind).

The tick batches come from :func:`gslts_common.bus.tick_batch` (the bus contract). The
stock's latest quote is built inline on the socket thread (:meth:`gslts_hub.ingest.Ingest.
on_events`: one dict per stock per batch, where a call per stock would cost as much as one
per trade); everything else — books, VI states, order and balance events, closed
candles — is shaped here.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from gslts_hub.vi import ViState
from gslts_kiwoom.realtime import KST, BalanceEvent, OrderBook, OrderEvent


def book_event(b: OrderBook) -> dict[str, Any]:
    """A 10-level book (0D) as the bus carries it."""
    return {
        "code": b.code,
        "venue": str(b.venue),
        "time": b.time.isoformat(),
        "asks": b.asks,
        "bids": b.bids,
        "total_ask": b.total_ask,
        "total_bid": b.total_bid,
        "expected_price": b.expected_price,
        "expected_qty": b.expected_qty,
    }


def vi_event(state: ViState) -> dict[str, Any]:
    """A stock's VI state after a 1h 발동/해제 (the bus's ``vi:<code>``)."""
    return {"code": state.code, **state.as_dict()}


def order_event(ev: OrderEvent | BalanceEvent) -> dict[str, Any]:
    """An account event (00 order / 04 balance): its fields, JSON-ready, and its kind."""
    d = asdict(ev)
    d["kind"] = "order" if isinstance(ev, OrderEvent) else "balance"
    for k, v in list(d.items()):
        if isinstance(v, datetime):
            d[k] = v.isoformat()
        elif not isinstance(v, (str, int, type(None))):
            d[k] = str(v)
    return d


def candle_event(r: Any) -> dict[str, Any]:
    """A closed candle row of the writer (``CandleRow``-like: naive KST start time)."""
    return {
        "code": r.stock_code,
        "interval": r.bar_interval,
        "start": r.start_time.replace(tzinfo=KST).isoformat(),
        "open": r.open,
        "high": r.high,
        "low": r.low,
        "close": r.close,
        "volume": r.volume,
        "closed": True,
    }
