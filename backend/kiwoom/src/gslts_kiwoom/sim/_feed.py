"""Market events → Kiwoom REAL ``data`` entries (PROTOCOL.md §5.7) for the WebSocket hub.

:class:`WireFeed` is a simulator listener and a :class:`~gslts_kiwoom.sim._ws.RealFeed`.
Events are turned into wire entries only for what some session registered (so the
thousands of untraded/unwatched stocks cost nothing), buffered, and handed to the hub in
one batch per :meth:`WireFeed.flush` (end of every market step and of every REST call).

Hot path: ``0B`` entries are pre-serialised JSON text (:data:`~gslts_kiwoom.sim._ws.RawItem`)
built from a per-stock template; percentages use integer arithmetic, not ``Decimal``.

Formats chosen where PROTOCOL.md is silent (documented in the package docstring too):
FID 14 (cumulative value) is ``MarketTrade.cum_value`` (백만원, truncated); 0J FID 13/14 are
thousands of shares / 백만원 like ka20001; 1h FID 9068 is ``1`` triggered / ``2`` released,
9008 ``101`` KOSPI / ``201`` KOSDAQ, 1225 ``정적``; 00/04 FID 9001 is the plain code as on the
mock server (``ws_account_code_prefix="A"`` for the live reports' ``A005930``); 00 FID 10010
(시간외단일가 현재가) is the last price, REST-signed (`` 269000`` in the capture, §8.1).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from gslts_kiwoom.models import Side
from gslts_kiwoom.sim import _fmt as f
from gslts_kiwoom.sim._events import (
    BookUpdate,
    HoldingUpdate,
    MarketEvent,
    MarketTrade,
    OrderUpdate,
    PhaseChange,
    TradeBatch,
    ViUpdate,
    us_to_datetime,
)
from gslts_kiwoom.sim._feed_index import IndexFeed
from gslts_kiwoom.sim._feed_trades import TradeText
from gslts_kiwoom.sim._orders import kind_text
from gslts_kiwoom.sim._sessions import trade_session
from gslts_kiwoom.sim._ws_session import RawItem, RealListener

if TYPE_CHECKING:
    from gslts_kiwoom.sim._market import Market
    from gslts_kiwoom.sim._ws import SimWsHub

Entry = Mapping[str, Any] | RawItem

#: order venue → 00 FID 2134 거래소구분 / 2135 거래소구분명 / 2136 SOR여부 (PROTOCOL §5.7;
#: KRX measured as 1 / KRX / N, §8.1)
_VENUE_FID = {"KRX": ("1", "KRX", "N"), "NXT": ("2", "NXT", "N"), "SOR": ("0", "통합", "Y")}


class WireFeed:
    """Simulator listener producing REAL entries for a :class:`SimWsHub` (a ``RealFeed``).

    Args:
        market: the market (read for books, limits and indices; called under its lock).
        account: the simulated account (00/04 entries carry it in FID 9201).
    """

    def __init__(self, market: Market, account: str) -> None:
        self.market = market
        self.account = account
        self.hub: SimWsHub | None = None
        self._listeners: list[RealListener] = []
        self._buf: list[Entry] = []
        self._lock = threading.Lock()
        self._wanted: dict[str, frozenset[str]] = {}
        self._wanted_version = -1
        session = trade_session if market.config.clock == "krx" else None
        self._trades = TradeText(self._limits, market.config.ws_trade_exchange, session)
        self._code_prefix = market.config.ws_account_code_prefix
        self._index = IndexFeed(market.universe)
        #: counters for ``GET /_sim/state``
        self.entries = 0

    # --- RealFeed -----------------------------------------------------------------------
    def add_listener(self, listener: RealListener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    # --- registrations ------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read which (type, item) pairs sessions registered (cheap when unchanged)."""
        hub = self.hub
        if hub is None:
            return
        version = hub.subscriptions_version
        if version == self._wanted_version:
            return
        self._wanted_version = version
        pairs: dict[str, set[str]] = {}
        for _ident, regs in hub.sessions():
            for typ, item in regs:
                pairs.setdefault(typ, set()).add(item)
        self._wanted = {t: frozenset(i) for t, i in pairs.items()}

    def wants(self, typ: str, item: str = "") -> bool:
        items = self._wanted.get(typ)
        return bool(items) and (item in items or "" in items)  # type: ignore[operator]

    # --- the listener -------------------------------------------------------------------
    def __call__(self, event: MarketEvent) -> None:
        if type(event) is MarketTrade:
            self._on_trade(event)
        elif type(event) is BookUpdate:
            if self.wants("0D", event.code):
                self._buf.append(self.book_entry(event))
        elif isinstance(event, OrderUpdate):
            if event.order.account == self.account:
                self._buf.append(self.order_entry(event))
        elif isinstance(event, HoldingUpdate):
            if event.account == self.account:
                self._buf.append(self.holding_entry(event))
        elif isinstance(event, ViUpdate):
            if self.wants("1h", event.code):
                self._buf.append(self.vi_entry(event))
        elif isinstance(event, PhaseChange) and self.wants("0s"):
            self._buf.append(
                {
                    "type": "0s",
                    "name": "장시작시간",
                    "item": "",
                    "values": {"215": event.code, "20": f.hhmmss(event.time), "214": "000000"},
                }
            )

    def flush(self) -> int:
        """Hand buffered entries (and changed indices) to the hub; returns how many."""
        self.refresh()
        self._index.update()
        if "0J" in self._wanted:
            self._buf.extend(
                self._index.take_entries(lambda code: self.wants("0J", code), self.market.now)
            )
        if not self._buf:
            return 0
        buf, self._buf = self._buf, []
        self.entries += len(buf)
        for listener in list(self._listeners):
            listener(buf)
        return len(buf)

    # --- 0B -------------------------------------------------------------------------------
    def _limits(self, code: str) -> tuple[int, int]:
        st = self.market.peek(code)
        return (st.lower, st.upper) if st is not None else (0, 1 << 62)

    def _on_trade(self, t: MarketTrade) -> None:
        code = t.code
        if self._index.is_member(code):
            q = abs(t.volume)
            self._index.track(code, t.price, q, q * t.price, t.time)
        items = self._wanted.get("0B")
        if not items or code not in items:
            return
        self._buf.append(("0B", code, self._trades.text(t)))

    def trade_text(self, t: MarketTrade) -> str:
        """The 0B 주식체결 entry of ``t`` as JSON text (PROTOCOL §5.7 FIDs)."""
        return self._trades.text(t)

    def on_batch(self, b: TradeBatch) -> None:
        """The flood path: a stock's trades of one step (:class:`TradeBatch`) → 0B entries."""
        code = b.code
        if self._index.is_member(code):
            qty = b.cum_volume[-1] - b.cum_volume[0] + abs(b.volume[0])
            value = b.cum_value_krw[-1] - b.cum_value_krw[0] + b.price[0] * abs(b.volume[0])
            self._index.track(code, b.price[-1], qty, value, us_to_datetime(b.time_us[-1]))
        items = self._wanted.get("0B")
        if not items or code not in items:
            return
        self._trades.extend(b, self._buf.append)

    # --- 0D -------------------------------------------------------------------------------
    def book_entry(self, b: BookUpdate) -> dict[str, Any]:
        """0D 주식호가잔량: 10 levels each side (empty levels ``0``), totals, KRX split."""
        base = b.base_price
        v: dict[str, str] = {"21": f.hhmmss(b.time)}
        tot_a = tot_b = 0
        for i in range(10):
            a = b.asks[i] if i < len(b.asks) else None
            d = b.bids[i] if i < len(b.bids) else None
            v[str(41 + i)] = f.sgn(a.price, base) if a else "0"
            v[str(51 + i)] = f.sgn(d.price, base) if d else "0"
            aq = a.qty if a else 0
            bq = d.qty if d else 0
            tot_a += aq
            tot_b += bq
            v[str(61 + i)] = v[str(6044 + i)] = str(aq)
            v[str(71 + i)] = v[str(6054 + i)] = str(bq)
        v["121"] = v["6064"] = str(tot_a)
        v["125"] = v["6065"] = str(tot_b)
        v["128"] = str(tot_b - tot_a)
        v["138"] = str(tot_a - tot_b)
        v["13"] = str(b.cum_volume)
        auction = self.market.in_auction
        if auction and b.asks and b.bids:
            # indicative crossing price of a call auction: the last price
            st = self.market.peek(b.code)
            last = st.last if st is not None else base
            v["23"] = f.sgn(last, base)
            v["24"] = str(min(tot_a, tot_b))
        else:
            v["23"] = v["24"] = ""
        v["215"] = self.market.phase_code or "3"
        return {"type": "0D", "name": "주식호가잔량", "item": b.code, "values": v}

    # --- 00 / 04 ----------------------------------------------------------------------------
    def order_entry(self, u: OrderUpdate) -> dict[str, Any]:
        """00 주문체결 for one order event (접수 / 체결 / 확인 / 취소 / 거부): every FID of the
        00 dictionary in the catalogue's order; 909–915 ``""`` unless it is a fill."""
        o = u.order
        st = self.market.peek(o.code)
        base = st.base_price if st is not None else 0
        kind = kind_text(o.kind, o.side)
        venue, venue_name, sor = _VENUE_FID.get(o.venue, ("1", "KRX", "N"))
        filled = u.status == "체결"
        values = {
            "9201": o.account,
            "9203": o.ord_no,
            "9205": "",
            "9001": self._code_prefix + o.code,
            "912": "JJ",
            "913": u.status,
            "302": o.name,
            "900": str(o.qty),
            "901": str(o.price),
            "902": str(o.open_qty),
            "903": str(o.filled_value),
            "904": o.orig_ord_no,
            "905": kind,
            "906": o.trade_type.label,
            "907": "2" if o.side == Side.BUY else "1",
            "908": f.hhmmss(u.time),
            "909": u.fill_no if filled else "",
            "910": str(u.fill_price) if filled else "",
            "911": str(o.filled_qty) if filled else "",
            "10": f.sgn(st.last, base) if st is not None else "0",
            "27": f.sgn(st.best_ask, base) if st is not None and st.best_ask else "0",
            "28": f.sgn(st.best_bid, base) if st is not None and st.best_bid else "0",
            "914": str(u.fill_price) if filled else "",
            "915": str(u.fill_qty) if filled else "",
            "938": str(o.commission),
            "939": str(o.tax),
            "919": u.reject_reason or "0",
            "920": "",
            "921": "",
            "922": "00",
            "923": "",
            "10010": f.signed(st.last, base) if st is not None else "",
            "2134": venue,
            "2135": venue_name,
            "2136": sor,
        }
        return {"type": "00", "name": "주문체결", "item": o.code, "values": values}

    def holding_entry(self, h: HoldingUpdate) -> dict[str, Any]:
        """04 현물잔고 after a fill."""
        st = self.market.peek(h.code)
        base = h.base_price
        rate = f.pct(h.current_price, h.avg_price) if h.qty and h.avg_price else "0.00"
        values = {
            "9201": h.account,
            "9001": self._code_prefix + h.code,
            "917": "00",
            "916": "00000000",
            "302": h.name,
            "10": f.sgn(h.current_price, base),
            "930": str(h.qty),
            "931": str(h.avg_price),
            "932": str(h.purchase_amount),
            "933": str(h.orderable_qty),
            "945": "",
            "946": "2" if h.side == Side.BUY else "1",
            "950": str(h.today_realized_pnl),
            "27": f.sgn(st.best_ask, base) if st is not None and st.best_ask else "0",
            "28": f.sgn(st.best_bid, base) if st is not None and st.best_bid else "0",
            "307": str(base),
            "8019": rate,
            "990": str(h.today_realized_pnl),
            "991": "0.00",
        }
        return {"type": "04", "name": "현물잔고", "item": h.code, "values": values}

    # --- 1h ---------------------------------------------------------------------------------
    def vi_entry(self, e: ViUpdate) -> dict[str, Any]:
        """1h VI발동/해제 (static VI only)."""
        st = self.market.peek(e.code)
        base = st.base_price if st is not None else e.reference_price
        values = {
            "9001": e.code,
            "302": e.name,
            "13": str(e.cum_volume),
            "14": str(e.cum_value),
            "9068": "1" if e.active else "2",
            "9008": "101" if e.market == "KOSPI" else "201",
            "9075": "0",
            "1221": str(e.trigger_price),
            "1223": f.hhmmss(e.time),
            "1224": f.hhmmss(e.release_time),
            "1225": "정적",
            "1236": str(e.reference_price),
            "1237": "0",
            "1238": f.pct(e.trigger_price, e.reference_price),
            "1239": "0.00",
            "1489": f.pct(e.trigger_price, base),
            "1490": str(e.count),
            "9069": "1" if e.direction > 0 else "2",
            "1279": "",
        }
        return {"type": "1h", "name": "VI발동/해제", "item": e.code, "values": values}

    # --- 0J ---------------------------------------------------------------------------------
    def index_level(self, code: str) -> int:
        """The index level in hundredths (for tests and ``/_sim/state``)."""
        return self._index.level(code)
