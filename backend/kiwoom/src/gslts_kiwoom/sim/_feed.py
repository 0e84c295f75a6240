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
9008 ``101`` KOSPI / ``201`` KOSDAQ, 1225 ``정적``; 00/04 FID 9001 is ``A``-prefixed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from gslts_kiwoom import krx
from gslts_kiwoom.models import Side
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
from gslts_kiwoom.sim._indexes import INDEXES  # the same definitions as ka20001
from gslts_kiwoom.sim._ws import RawItem, RealListener

if TYPE_CHECKING:
    from gslts_kiwoom.sim._market import Market
    from gslts_kiwoom.sim._ws import SimWsHub

Entry = Mapping[str, Any] | RawItem

_VENUE_FID = {"KRX": ("1", "KRX"), "NXT": ("2", "NXT"), "SOR": ("0", "SOR")}


def sgn(price: int, base: int) -> str:
    """A price signed versus the previous close (``+``/``-``, unchanged without sign)."""
    if price > base:
        return f"+{price}"
    if price < base:
        return f"-{price}"
    return str(price)


def pct(value: int, base: int) -> str:
    """Signed percent change with 2 decimals, rounded half-up, in integer arithmetic."""
    if not base:
        return "0.00"
    d = value - base
    x = (abs(d) * 20000 + base) // (2 * base)
    if x == 0:
        return "0.00"
    return f"{'+' if d > 0 else '-'}{x // 100}.{x % 100:02d}"


def _sign_code(price: int, base: int, lower: int, upper: int) -> str:
    if price == base:
        return "3"
    if price > base:
        return "1" if price >= upper else "2"
    return "4" if price <= lower else "5"


def _hms(t: datetime) -> str:
    return f"{t.hour:02d}{t.minute:02d}{t.second:02d}"


class _PriceCache:
    """Per-stock 0B fragments by price (valid for one base price and one day's limits)."""

    __slots__ = ("base", "head", "lower", "prefix", "signed", "tail", "upper")

    def __init__(self, code: str, base: int, lower: int, upper: int) -> None:
        self.base, self.lower, self.upper = base, lower, upper
        self.prefix = '{"type":"0B","name":"주식체결","item":"' + code + '","values":{"20":"'
        #: price → signed text (27/28/16/17/18); 0 (an empty book side) → "0"
        self.signed: dict[int, str] = {0: "0"}
        #: price → '","10":…,"11":…,"12":…,"27":"' (the fields fixed by the price)
        self.head: dict[int, str] = {}
        #: price → FID 25 (sign code)
        self.tail: dict[int, str] = {}

    def sgn(self, price: int) -> str:
        s = self.signed.get(price)
        if s is None:
            s = self.signed[price] = sgn(price, self.base) if price else "0"
        return s

    def fill(self, p: int) -> str:
        base = self.base
        diff = p - base
        head = (
            f'","10":"{sgn(p, base)}","11":"{"+" if diff > 0 else ""}{diff}",'
            f'"12":"{pct(p, base)}","27":"'
        )
        self.head[p] = head
        self.tail[p] = _sign_code(p, base, self.lower, self.upper)
        return head


@dataclass(slots=True)
class _Index:
    code: str
    base_x100: int  # level at reference prices, in hundredths
    ref: int  # Σ shares × snapshot price
    prev: int  # Σ shares × previous close
    cur: int  # Σ shares × last price
    open_x100: int = 0
    high_x100: int = 0
    low_x100: int = 0
    volume: int = 0
    #: value traded by the members today, exact KRW (FID 14 sends it in 백만원)
    value_krw: int = 0
    dirty: bool = False
    last_t: datetime | None = None

    def level(self, cur: int) -> int:
        return self.base_x100 * cur // self.ref if self.ref else 0


def _dec(x100: int, signed_vs: int | None = None) -> str:
    s = f"{abs(x100) // 100}.{abs(x100) % 100:02d}"
    if signed_vs is None:
        return ("-" if x100 < 0 else ("+" if x100 > 0 else "")) + s
    if x100 > signed_vs:
        return "+" + s
    if x100 < signed_vs:
        return "-" + s
    return s


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
        self._strength: dict[str, list[int]] = {}
        self._prefix: dict[str, str] = {}
        self._indexes: dict[str, _Index] = {}
        self._members: dict[str, list[tuple[_Index, int]]] = {}
        self._last_price: dict[str, int] = {}
        #: code → [last price, shares, KRW, time] traded since the last flush
        self._moved: dict[str, list[Any]] = {}
        self._price_cache: dict[str, _PriceCache] = {}
        self._build_indexes()
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
                    "values": {"215": event.code, "20": _hms(event.time), "214": "000000"},
                }
            )

    def flush(self) -> int:
        """Hand buffered entries (and changed indices) to the hub; returns how many."""
        self.refresh()
        if self._moved:
            self._update_indexes()
        if self._indexes and "0J" in self._wanted:
            for ix in self._indexes.values():
                if ix.dirty:
                    ix.dirty = False
                    if self.wants("0J", ix.code):
                        self._buf.append(self.index_entry(ix))
        if not self._buf:
            return 0
        buf, self._buf = self._buf, []
        self.entries += len(buf)
        for listener in list(self._listeners):
            listener(buf)
        return len(buf)

    # --- 0B -------------------------------------------------------------------------------
    def _on_trade(self, t: MarketTrade) -> None:
        code = t.code
        if code in self._members:
            # index arithmetic once per stock per flush (see _update_indexes), not per trade
            moved = self._moved.get(code)
            if moved is None:
                self._moved[code] = [t.price, abs(t.volume), abs(t.volume) * t.price, t.time]
            else:
                q = abs(t.volume)
                moved[0] = t.price
                moved[1] += q
                moved[2] += q * t.price
                moved[3] = t.time
        items = self._wanted.get("0B")
        if not items or code not in items:
            return
        self._buf.append(("0B", code, self.trade_text(t)))

    def on_batch(self, b: TradeBatch) -> None:
        """The flood path: a stock's trades of one step (:class:`TradeBatch`) → 0B entries.

        Only changing fields are formatted; signed prices, change, rate and sign code come
        from per-stock caches keyed by price (a stock trades on few distinct prices)."""
        code = b.code
        if code in self._members:
            moved = self._moved.get(code)
            qty = b.cum_volume[-1] - b.cum_volume[0] + abs(b.volume[0])
            value = b.cum_value_krw[-1] - b.cum_value_krw[0] + b.price[0] * abs(b.volume[0])
            t_last = us_to_datetime(b.time_us[-1])
            if moved is None:
                self._moved[code] = [b.price[-1], qty, value, t_last]
            else:
                moved[0] = b.price[-1]
                moved[1] += qty
                moved[2] += value
                moved[3] = t_last
        items = self._wanted.get("0B")
        if not items or code not in items:
            return
        base = b.base_price
        cache = self._price_cache.get(code)
        if cache is None or cache.base != base:
            st = self.market.peek(code)
            lower, upper = (st.lower, st.upper) if st is not None else (0, 1 << 62)
            cache = self._price_cache[code] = _PriceCache(code, base, lower, upper)
        signed = cache.signed
        head = cache.head
        tail = cache.tail
        sb = self._strength.get(code)
        if sb is None:
            sb = self._strength[code] = [0, 0]
        buys, sells = sb
        prefix = cache.prefix
        o_s = cache.sgn(b.open)
        last_sec = -1
        hms = ""
        out = self._buf
        for t, p, v, cv, cval, h, lo, a, bid in zip(
            b.time_us,
            b.price,
            b.volume,
            b.cum_volume,
            b.cum_value_krw,
            b.high,
            b.low,
            b.best_ask,
            b.best_bid,
            strict=True,
        ):
            sec = t // 1_000_000
            if sec != last_sec:
                last_sec = sec
                sod = (sec + krx.KST_OFFSET_S) % 86_400
                hms = f"{sod // 3600:02d}{sod // 60 % 60:02d}{sod % 60:02d}"
            if v > 0:
                buys += v
                vs = f"+{v}"
            else:
                sells -= v
                vs = str(v)
            hp = head.get(p)
            if hp is None:
                hp = cache.fill(p)
            out.append(
                (
                    "0B",
                    code,
                    f'{prefix}{hms}{hp}{signed.get(a) or cache.sgn(a)}","28":"'
                    f'{signed.get(bid) or cache.sgn(bid)}","15":"{vs}","13":"{cv}",'
                    f'"14":"{cval // 1_000_000}","16":"{o_s}","17":"'
                    f'{signed.get(h) or cache.sgn(h)}","18":"{signed.get(lo) or cache.sgn(lo)}'
                    f'","25":"{tail[p]}","228":"'
                    f"{f'{buys * 100 / sells:.2f}' if sells else '0.00'}"
                    '","290":"2","9081":"1"}}',
                )
            )
        sb[0], sb[1] = buys, sells

    def _update_indexes(self) -> None:
        moved, self._moved = self._moved, {}
        for code, (price, qty, value, t) in moved.items():
            old = self._last_price.get(code)
            if old is None:
                old = self.market.universe[code].base_price
            self._last_price[code] = price
            for ix, shares in self._members[code]:
                ix.cur += shares * (price - old)
                ix.volume += qty
                ix.value_krw += value
                ix.dirty = True
                ix.last_t = t
        for ix in self._indexes.values():
            if ix.dirty:
                lv = ix.level(ix.cur)
                if not ix.open_x100:
                    ix.open_x100 = ix.high_x100 = ix.low_x100 = lv
                ix.high_x100 = max(ix.high_x100, lv)
                ix.low_x100 = min(ix.low_x100, lv)

    def trade_text(self, t: MarketTrade) -> str:
        """The 0B 주식체결 entry of ``t`` as JSON text (PROTOCOL §5.7 FIDs)."""
        code = t.code
        base = t.base_price
        st = self.market.peek(code)
        lower, upper = (st.lower, st.upper) if st is not None else (0, 1 << 62)
        sb = self._strength.get(code)
        if sb is None:
            sb = self._strength[code] = [0, 0]
        v = t.volume
        if v > 0:
            sb[0] += v
        else:
            sb[1] -= v
        strength = f"{sb[0] * 100 / sb[1]:.2f}" if sb[1] else "0.00"
        prefix = self._prefix.get(code)
        if prefix is None:
            prefix = self._prefix[code] = (
                '{"type":"0B","name":"주식체결","item":"' + code + '","values":{"20":"'
            )
        p = t.price
        diff = p - base
        return (
            f'{prefix}{_hms(t.time)}","10":"{sgn(p, base)}",'
            f'"11":"{"+" if diff > 0 else ""}{diff}","12":"{pct(p, base)}",'
            f'"27":"{sgn(t.best_ask, base) if t.best_ask else "0"}",'
            f'"28":"{sgn(t.best_bid, base) if t.best_bid else "0"}",'
            f'"15":"{"+" if v > 0 else ""}{v}","13":"{t.cum_volume}",'
            f'"14":"{t.cum_value}","16":"{sgn(t.open, base)}",'
            f'"17":"{sgn(t.high, base)}","18":"{sgn(t.low, base)}",'
            f'"25":"{_sign_code(p, base, lower, upper)}","228":"{strength}",'
            f'"290":"2","9081":"1"}}}}'
        )

    # --- 0D -------------------------------------------------------------------------------
    def book_entry(self, b: BookUpdate) -> dict[str, Any]:
        """0D 주식호가잔량: 10 levels each side (empty levels ``0``), totals, KRX split."""
        base = b.base_price
        v: dict[str, str] = {"21": _hms(b.time)}
        tot_a = tot_b = 0
        for i in range(10):
            a = b.asks[i] if i < len(b.asks) else None
            d = b.bids[i] if i < len(b.bids) else None
            v[str(41 + i)] = sgn(a.price, base) if a else "0"
            v[str(51 + i)] = sgn(d.price, base) if d else "0"
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
            v["23"] = sgn(last, base)
            v["24"] = str(min(tot_a, tot_b))
        else:
            v["23"] = v["24"] = ""
        v["215"] = self.market.phase_code or "3"
        return {"type": "0D", "name": "주식호가잔량", "item": b.code, "values": v}

    # --- 00 / 04 ----------------------------------------------------------------------------
    def order_entry(self, u: OrderUpdate) -> dict[str, Any]:
        """00 주문체결 for one order event (접수 / 체결 / 확인 / 취소 / 거부)."""
        o = u.order
        st = self.market.peek(o.code)
        base = st.base_price if st is not None else 0
        side_word = "매수" if o.side == Side.BUY else "매도"
        if o.kind == "new":
            kind = ("+" if o.side == Side.BUY else "-") + side_word
        else:
            kind = side_word + ("정정" if o.kind == "modify" else "취소")
        venue, venue_name = _VENUE_FID.get(o.venue, ("1", "KRX"))
        filled = u.status == "체결"
        values = {
            "9201": o.account,
            "9203": o.ord_no,
            "9205": "",
            "9001": "A" + o.code,
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
            "908": _hms(u.time),
            "909": u.fill_no if filled else "",
            "910": str(u.fill_price) if filled else "",
            "911": str(o.filled_qty) if filled else "",
            "914": str(u.fill_price) if filled else "",
            "915": str(u.fill_qty) if filled else "",
            "10": sgn(st.last, base) if st is not None else "0",
            "27": sgn(st.best_ask, base) if st is not None and st.best_ask else "0",
            "28": sgn(st.best_bid, base) if st is not None and st.best_bid else "0",
            "938": str(o.commission),
            "939": str(o.tax),
            "919": u.reject_reason or "0",
            "920": "",
            "921": "",
            "922": "00",
            "923": "",
            "2134": venue,
            "2135": venue_name,
            "2136": "N",
        }
        return {"type": "00", "name": "주문체결", "item": o.code, "values": values}

    def holding_entry(self, h: HoldingUpdate) -> dict[str, Any]:
        """04 현물잔고 after a fill."""
        st = self.market.peek(h.code)
        base = h.base_price
        rate = pct(h.current_price, h.avg_price) if h.qty and h.avg_price else "0.00"
        values = {
            "9201": h.account,
            "9001": "A" + h.code,
            "917": "00",
            "916": "00000000",
            "302": h.name,
            "10": sgn(h.current_price, base),
            "930": str(h.qty),
            "931": str(h.avg_price),
            "932": str(h.purchase_amount),
            "933": str(h.orderable_qty),
            "945": "",
            "946": "2" if h.side == Side.BUY else "1",
            "950": str(h.today_realized_pnl),
            "27": sgn(st.best_ask, base) if st is not None and st.best_ask else "0",
            "28": sgn(st.best_bid, base) if st is not None and st.best_bid else "0",
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
            "1223": _hms(e.time),
            "1224": _hms(e.release_time),
            "1225": "정적",
            "1236": str(e.reference_price),
            "1237": "0",
            "1238": pct(e.trigger_price, e.reference_price),
            "1239": "0.00",
            "1489": pct(e.trigger_price, base),
            "1490": str(e.count),
            "9069": "1" if e.direction > 0 else "2",
            "1279": "",
        }
        return {"type": "1h", "name": "VI발동/해제", "item": e.code, "values": values}

    # --- 0J ---------------------------------------------------------------------------------
    def _build_indexes(self) -> None:
        universe = tuple(self.market.universe.values())
        for d in INDEXES:
            members = d.members(universe)
            ref = sum(s.listed_shares * s.base_price for s in members)
            ix = _Index(d.code, int(d.base_level * 100), ref, ref, ref)
            for s in members:
                self._members.setdefault(s.code, []).append((ix, s.listed_shares))
            self._indexes[d.code] = ix

    def index_entry(self, ix: _Index) -> dict[str, Any]:
        """0J 업종지수 of an index whose members traded since the last flush."""
        lv = ix.level(ix.cur)
        prev = ix.level(ix.prev)
        diff = lv - prev
        values = {
            "20": _hms(ix.last_t or self.market.now),
            "10": _dec(lv, prev),
            "11": _dec(diff),
            "12": pct(lv, prev),
            "15": "0",
            "13": str(ix.volume // 1000),
            "14": str(ix.value_krw // 1_000_000),
            "16": _dec(ix.open_x100 or lv, prev),
            "17": _dec(ix.high_x100 or lv, prev),
            "18": _dec(ix.low_x100 or lv, prev),
            "25": "2" if diff > 0 else ("5" if diff < 0 else "3"),
            "26": "0",
        }
        return {"type": "0J", "name": "업종지수", "item": ix.code, "values": values}

    def index_level(self, code: str) -> int:
        """The index level in hundredths (for tests and ``/_sim/state``)."""
        ix = self._indexes[code]
        return ix.level(ix.cur)
