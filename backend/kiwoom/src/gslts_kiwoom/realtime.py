"""Realtime (WebSocket ``REAL``) domain types and decoders — the wire → domain boundary.

Kiwoom pushes ``{"trnm":"REAL","data":[{"type":"0B","name":"주식체결","item":"005930",
"values":{"20":"165208","10":"-20800",…}}, …]}`` (PROTOCOL.md §5.5). This module turns each
``data`` entry into a broker-neutral, frozen event:

============  ==========================  ===============
type          Kiwoom title                event
============  ==========================  ===============
``0B``        주식체결 (trade)             :class:`Trade`
``0D``        주식호가잔량 (10-level book) :class:`OrderBook`
``00``        주문체결 (order / fill)      :class:`OrderEvent`
``04``        잔고 (balance)               :class:`BalanceEvent`
``0J``        업종지수 (index)             :class:`IndexTick`
``0s``        장시작시간 (market phase)    :class:`MarketPhase`
``1h``        VI발동/해제                  :class:`ViEvent`
other         —                           :class:`RawRealtime` (values kept as strings)
============  ==========================  ===============

Parsing rules (PROTOCOL.md §3.4): prices carry a *direction* sign versus the previous close
(``"-78800"`` is 78,800 KRW), so prices are ``abs(int(s))``; changes keep their sign; the
unchanged direction may be a leading space (``int()``/``Decimal()`` strip whitespace);
account-type codes may be ``A``-prefixed (stripped); trade volume FID 15 is signed
(+ buy-initiated, − sell-initiated); 0B FID 9081 (venue) comes as ``1``/``2`` or as
``KRX``/``NXT`` (PROTOCOL §8.1), both read. Entries may carry every FID of their dictionary
(mostly ``""``, as real frames do) or only some: unknown FIDs are ignored, absent optional
ones read as ``None``/``0``.

Dates: 0B/0D/0J/00 carry only ``HHMMSS``. The caller supplies the receive clock and the
decoder stamps the KST calendar date of that clock. **Midnight edge:** a frame stamped late
in the evening (hour >= 18) but received after midnight (receive hour < 6) is dated the
previous day, so a 23:59:59 tick delivered at 00:00:01 keeps its own day. KRX and NXT do not
trade across midnight (NXT closes 20:00), so in practice only delayed frames hit this.

Malformed input never raises: each problem is counted per reason in
:attr:`RealtimeDecoder.malformed` and logged (first few per reason, then every 1000th,
truncated to ~200 characters). An essential field that cannot be parsed drops that one item
(e.g. a 0B without a price); an optional field falls back to ``None``/``0`` and is counted.

Performance: the decoder is on the tick hot path (target >= 50k 0B items/s per core). Each
type has a straight-line fast path (plain ``int()`` on the FID strings, a per-second cache
of the aware ``datetime`` for each ``HHMMSS``, slotted frozen dataclasses); only when it
raises does the slow, field-by-field path run to find and count what was wrong.
``change_rate``/``strength`` are :class:`~decimal.Decimal` — C-accelerated construction from
the wire string costs ~0.1 µs, cheap enough to keep exact percentages.
"""

from __future__ import annotations

import logging
import time as _time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from operator import itemgetter
from typing import Any, TypeAlias, TypeVar, cast

import orjson

from gslts_kiwoom.krx import KST  # re-exported for old imports; use gslts_kiwoom.krx.KST
from gslts_kiwoom.models import Exchange, Side

__all__ = [
    "KST",
    "BalanceEvent",
    "IndexTick",
    "MarketPhase",
    "OrderBook",
    "OrderEvent",
    "OrderState",
    "RawRealtime",
    "RealtimeDecoder",
    "RealtimeEvent",
    "Trade",
    "ViEvent",
    "decode_real",
]

log = logging.getLogger(__name__)


_LOG_FIRST = 10
_LOG_EVERY = 1000
_TRUNCATE = 200

_DECODE_ERRORS = (KeyError, ValueError, TypeError, InvalidOperation, AttributeError, IndexError)


class OrderState(StrEnum):
    """주문상태 (FID 913) of a realtime 00 event."""

    ACCEPTED = "접수"
    FILLED = "체결"
    CONFIRMED = "확인"
    CANCELLED = "취소"
    REJECTED = "거부"
    #: A state text we do not know (counted as malformed ``00:state``); see ``state_raw``.
    UNKNOWN = "?"


@dataclass(frozen=True, slots=True)
class Trade:
    """One trade tick (0B 주식체결).

    ``(trade_date, venue, code, cum_volume)`` identifies a trade (ARCHITECTURE §5).
    """

    code: str
    venue: Exchange
    trade_date: date
    #: Trade time, timezone-aware KST.
    time: datetime
    price: int
    #: Change versus the previous close, signed KRW (FID 11).
    change: int
    #: Change versus the previous close, signed percent (FID 12).
    change_rate: Decimal
    #: This trade's volume; positive = buy-initiated, negative = sell-initiated (FID 15).
    volume: int
    cum_volume: int
    #: Cumulative traded value in **KRW million** (백만원, FID 14).
    cum_value: int
    open: int
    high: int
    low: int
    best_ask: int
    best_bid: int
    #: 체결강도 in percent (FID 228); ``None`` when absent/blank.
    strength: Decimal | None
    #: 장구분 (FID 290) as sent: ``1`` pre-market after-hours, ``2`` regular, ``3`` after.
    session: str


@dataclass(frozen=True, slots=True)
class OrderBook:
    """10-level order book snapshot (0D 주식호가잔량).

    ``asks[0]`` is the best ask (lowest), ``bids[0]`` the best bid (highest); all ten levels
    are kept as sent (an empty level is ``(0, 0)``).
    """

    code: str
    venue: Exchange
    time: datetime
    asks: tuple[tuple[int, int], ...]
    bids: tuple[tuple[int, int], ...]
    total_ask: int
    total_bid: int
    #: Per-level KRX / NXT quantities (FID 6044…6085) when the feed carries them.
    krx_ask_qty: tuple[int, ...] | None
    krx_bid_qty: tuple[int, ...] | None
    nxt_ask_qty: tuple[int, ...] | None
    nxt_bid_qty: tuple[int, ...] | None
    #: Expected auction price / quantity (FID 23 / 24); ``None`` outside auctions or blank.
    expected_price: int | None
    expected_qty: int | None


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """Order / fill event of the logged-in account (00 주문체결)."""

    account: str
    order_no: str
    #: Original order for modify/cancel; ``None`` when FID 904 is blank or all zeros.
    orig_order_no: str | None
    code: str
    name: str
    state: OrderState
    state_raw: str
    side: Side | None
    #: 주문구분 text without the colour sign, e.g. ``매수``, ``매도정정``, ``매수취소``.
    order_kind: str
    #: 매매구분 text, e.g. ``보통``, ``시장가``.
    trade_type: str
    qty: int
    price: int
    open_qty: int
    #: 체결누계금액 (FID 903), KRW.
    filled_amount: int
    fill_no: str | None
    #: This fill's price and quantity (FID 914/915, falling back to 910/911).
    fill_price: int | None
    fill_qty: int | None
    time: datetime
    #: 거부사유 (FID 919); ``None`` when blank or ``0``.
    reject_reason: str | None
    #: 거래소구분 (FID 2134: 0 SOR/통합, 1 KRX, 2 NXT); ``None`` when absent.
    exchange: Exchange | None
    fee: int
    tax: int


@dataclass(frozen=True, slots=True)
class BalanceEvent:
    """Holding change of the logged-in account (04 잔고, name ``현물잔고``).

    The frame has no time FID; ``received_at`` is the receive clock.
    """

    account: str
    code: str
    name: str
    price: int
    holding_qty: int
    avg_price: int
    total_purchase: int
    orderable_qty: int
    today_net_buy_qty: int
    #: 매도/매수구분 (FID 946) as sent.
    side_raw: str
    today_sell_pnl: int
    best_ask: int
    best_bid: int
    base_price: int
    pnl_rate: Decimal | None
    realized_pnl: int
    realized_pnl_rate: Decimal | None
    received_at: datetime


@dataclass(frozen=True, slots=True)
class IndexTick:
    """Sector/market index tick (0J 업종지수); item is the sector code, e.g. ``001``."""

    code: str
    time: datetime
    value: Decimal
    change: Decimal
    change_rate: Decimal
    volume: int
    cum_volume: int
    #: Cumulative traded value in **KRW million** (백만원, FID 14), as for :class:`Trade`.
    cum_value: int
    open: Decimal
    high: Decimal
    low: Decimal


#: Known 장운영구분 (FID 215) codes: PROTOCOL.md §5.7 plus the spec label for 0s.
MARKET_PHASE_MEANINGS: Mapping[str, str] = {
    "0": "KRX 장시작전 알림",
    "2": "KRX 장마감 알림",
    "3": "KRX 장시작",
    "4": "KRX 장마감",
    "8": "KRX 정규장마감",
    "9": "KRX 전체장마감",
    "a": "시간외 종가매매 시작",
    "P": "NXT 프리마켓 개시",
    "Q": "NXT 프리마켓 종료",
    "R": "NXT 메인마켓 개시",
    "S": "NXT 메인마켓 종료",
    "T": "NXT 애프터마켓 단일가 개시",
    "U": "NXT 애프터마켓 개시",
    "V": "NXT 종가매매 종료",
    "W": "NXT 애프터마켓 종료",
}


@dataclass(frozen=True, slots=True)
class MarketPhase:
    """Market-phase event (0s 장시작시간). Unknown codes are kept with ``meaning=None``."""

    code: str
    meaning: str | None
    time: datetime
    #: 장시작예상잔여시간 (FID 214) as sent.
    remaining_raw: str


@dataclass(frozen=True, slots=True)
class ViEvent:
    """Volatility interruption trigger/release (1h VI발동/해제). Codes kept raw."""

    code: str
    name: str
    cum_volume: int
    #: Cumulative traded value in **KRW million** (백만원, FID 14), as for :class:`Trade`.
    cum_value: int
    trigger_type: str
    market: str
    pre_open: str
    trigger_price: int | None
    trade_time: datetime | None
    release_time: datetime | None
    vi_kind: str
    static_ref_price: int | None
    dynamic_ref_price: int | None
    static_deviation: Decimal | None
    dynamic_deviation: Decimal | None
    trigger_rate: Decimal | None
    count: int | None
    direction: str


@dataclass(frozen=True, slots=True)
class RawRealtime:
    """A realtime type without a dedicated decoder; ``values`` are the wire strings by FID."""

    type: str
    item: str
    values: Mapping[str, str]


RealtimeEvent: TypeAlias = (
    Trade | OrderBook | OrderEvent | BalanceEvent | IndexTick | MarketPhase | ViEvent | RawRealtime
)

_ASK_PRICE = tuple(str(f) for f in range(41, 51))
_BID_PRICE = tuple(str(f) for f in range(51, 61))
_ASK_QTY = tuple(str(f) for f in range(61, 71))
_BID_QTY = tuple(str(f) for f in range(71, 81))
_KRX_ASK = tuple(str(f) for f in range(6044, 6054))
_KRX_BID = tuple(str(f) for f in range(6054, 6064))
_NXT_ASK = tuple(str(f) for f in range(6066, 6076))
_NXT_BID = tuple(str(f) for f in range(6076, 6086))
# one C call fetches a side's ten values (the fast path's ``map(int, …)`` converts them
# without a Python-level loop: the ladders of a 0D took 12.7 instead of 15.3 µs)
_get_ask_price, _get_bid_price = itemgetter(*_ASK_PRICE), itemgetter(*_BID_PRICE)
_get_ask_qty, _get_bid_qty = itemgetter(*_ASK_QTY), itemgetter(*_BID_QTY)
_get_krx_ask, _get_krx_bid = itemgetter(*_KRX_ASK), itemgetter(*_KRX_BID)
_get_nxt_ask, _get_nxt_bid = itemgetter(*_NXT_ASK), itemgetter(*_NXT_BID)
_T = TypeVar("_T")
_EXCHANGE: dict[str, Exchange] = {"0": "SOR", "1": "KRX", "2": "NXT"}
_STATES = {s.value: s for s in OrderState}


def _fast_factory(cls: type[_T]) -> Callable[..., _T]:
    """Positional constructor for a frozen slotted dataclass, ~5x faster than ``cls(...)``.

    A frozen dataclass ``__init__`` sets every field through ``object.__setattr__`` (about
    3 µs for a 17-field :class:`Trade`, most of the per-tick budget). Here a plain slotted
    twin with the identical slot layout is initialised with ordinary attribute stores and
    its ``__class__`` is then switched to ``cls`` — a layout-compatible assignment CPython
    allows. The result is a genuine, immutable ``cls`` instance (equality, hash, pickling
    and ``FrozenInstanceError`` behave as usual; a unit test checks this).
    """
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    if tuple(names) != tuple(getattr(cls, "__slots__", ())):
        raise TypeError(f"{cls.__name__}: slots do not match fields")
    src = f"def __init__(self, {', '.join(names)}):\n" + "".join(
        f"    self.{n} = {n}\n" for n in names
    )
    ns: dict[str, Any] = {}
    exec(src, ns)  # noqa: S102 - generated from the dataclass's own field names
    twin = type(f"_{cls.__name__}Writer", (object,), {"__slots__": tuple(names)})
    twin.__init__ = ns["__init__"]  # type: ignore[misc]

    def make(*args: Any) -> _T:
        obj = twin(*args)
        obj.__class__ = cls
        return cast(_T, obj)

    return make


#: 0B FID 9081 거래소구분 → venue. The guide's example sends ``1`` (KRX, §5.7), the mock
#: capture ``KRX`` (§8.1); NXT is read as ``2`` / ``NXT`` by the codes of 00 FID 2134/2135.
#: Anything else (blank, ``0``, ``통합``, not a string) is KRX; an ``_NX`` item is NXT
#: whatever the FID says.
_TRADE_VENUES: dict[str, Exchange] = {"1": "KRX", "KRX": "KRX", "2": "NXT", "NXT": "NXT"}


def _split_item(item: str, exchange_fid: object) -> tuple[str, Exchange]:
    """Code without ``A`` prefix / ``_NX``/``_AL`` suffix, and the venue it implies: the
    ``_NX`` suffix, else FID 9081 (``exchange_fid``, numeric or text), else KRX."""
    if item.endswith("_NX"):
        return item[:-3], "NXT"
    if item.endswith("_AL"):
        item = item[:-3]
    if item[:1] == "A" and len(item) == 7:
        item = item[1:]
    if not isinstance(exchange_fid, str):
        return item, "KRX"
    return item, _TRADE_VENUES.get(exchange_fid.strip().upper(), "KRX")


def _strip_a(code: str) -> str:
    code = code.strip()
    return code[1:] if code[:1] == "A" and len(code) == 7 else code


_new_trade = _fast_factory(Trade)
_new_book = _fast_factory(OrderBook)
_new_raw = _fast_factory(RawRealtime)


class _Bad(Exception):
    """Internal: an essential field failed; carries the malformed reason."""


class RealtimeDecoder:
    """Stateful decoder of REAL ``data`` entries (counts, time cache, current date).

    One decoder per receive thread; it is not thread-safe.

    Args:
        clock: returns the receive time as epoch seconds (tests inject a fixed clock).
        defer: realtime types handed over undecoded, as :class:`RawRealtime` (still
            counted and timestamped), for a consumer that keeps only some of them — e.g. the
            latest 0D book per stock of a batch — and decodes those with :meth:`decode`.
    """

    def __init__(
        self, clock: Callable[[], float] = _time.time, defer: frozenset[str] = frozenset()
    ) -> None:
        self._clock = clock
        #: Items decoded per realtime type.
        self.items_by_type: Counter[str] = Counter()
        #: Malformed frames/items/fields per reason, e.g. ``0B:field:10``.
        self.malformed: Counter[str] = Counter()
        self._date = date(1970, 1, 1)
        self._early = False
        self._now = datetime(1970, 1, 1, tzinfo=KST)
        self._next_tick = 0.0
        self._tcache: dict[str, datetime] = {}
        self._epoch = 0.0
        self._icache: dict[tuple[str, str | None], tuple[str, Exchange]] = {}
        #: wire text → Decimal of 0B rates/strengths (Decimals are immutable: shared safely)
        self._dcache: dict[str, Decimal] = {}
        #: Receive time (epoch s) of the last decoded item per wire item (``005930``,
        #: ``005930_NX``, ``001``…): the per-stock "last tick age" health signal.
        self.last_seen: dict[str, float] = {}
        self._decoders: dict[str, Callable[[str, Mapping[str, str]], RealtimeEvent | None]] = {
            "0B": self._trade,
            "0D": self._book,
            "00": self._order,
            "04": self._balance,
            "0J": self._index,
            "0s": self._phase,
            "1h": self._vi,
        }
        self._all_decoders = dict(self._decoders)
        for typ in defer:
            self._decoders.pop(typ, None)

    def decode(self, raw: RawRealtime) -> RealtimeEvent | None:
        """Decode a deferred item (see ``defer``) as :meth:`decode_items` would have, with
        the clock of the batch it came in; ``None`` when malformed (counted)."""
        fn = self._all_decoders.get(raw.type)
        return raw if fn is None else fn(raw.item, raw.values)

    # -- clock ------------------------------------------------------------------------
    def set_clock(self, epoch_s: float) -> None:
        """Use ``epoch_s`` (receive time) to date the next items. Cheap when unchanged."""
        self._epoch = epoch_s
        if epoch_s < self._next_tick and epoch_s >= self._next_tick - 1.0:
            return
        self._next_tick = int(epoch_s) + 1.0
        now = datetime.fromtimestamp(epoch_s, KST)
        self._now = now
        early = now.hour < 6
        d = now.date()
        if d != self._date or early != self._early:
            self._date = d
            self._early = early
            self._tcache.clear()

    @property
    def trade_date(self) -> date:
        """KST date currently stamped on items (from the last :meth:`set_clock`)."""
        return self._date

    def _hms(self, hhmmss: str) -> datetime:
        """Aware KST datetime for ``HHMMSS`` on the receive date (midnight rule applied)."""
        ts = self._tcache.get(hhmmss)
        if ts is not None:
            return ts
        s = hhmmss.strip()
        if len(s) != 6 or not s.isdigit():
            raise ValueError(hhmmss)
        h, m, sec = int(s[:2]), int(s[2:4]), int(s[4:])
        d = self._date
        if self._early and h >= 18:
            d = d - timedelta(days=1)
        ts = datetime(d.year, d.month, d.day, h, m, sec, tzinfo=KST)
        if len(self._tcache) < 100_000:
            self._tcache[hhmmss] = ts
        return ts

    def _decimal(self, text: str) -> Decimal:
        """``Decimal(text)``, remembered for the fast path (raises like ``Decimal``)."""
        d = Decimal(text)
        decs = self._dcache
        if len(decs) >= 10_000:
            decs.clear()
        decs[text] = d
        return d

    def _split_cached(self, key: tuple[str, str | None]) -> tuple[str, Exchange]:
        split = _split_item(*key)
        if not split[0]:
            raise ValueError(key[0])
        if len(self._icache) < 50_000:
            self._icache[key] = split
        return split

    # -- bookkeeping ------------------------------------------------------------------
    def count_malformed(self, reason: str, raw: object) -> None:
        """Count one malformed frame/item/field and log it (rate-limited, truncated)."""
        self.malformed[reason] += 1
        n = self.malformed[reason]
        if n <= _LOG_FIRST or n % _LOG_EVERY == 0:
            text = raw if isinstance(raw, str) else repr(raw)
            log.warning(
                "realtime_malformed reason=%s count=%d raw=%.*s", reason, n, _TRUNCATE, text
            )

    # -- entry points -----------------------------------------------------------------
    def decode_frame(self, raw: bytes | str) -> list[RealtimeEvent]:
        """Parse one REAL frame's text and decode its items (non-REAL → ``[]``)."""
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            self.count_malformed("frame:json", raw[:_TRUNCATE])
            return []
        if not isinstance(obj, dict):
            self.count_malformed("frame:not_object", raw[:_TRUNCATE])
            return []
        if obj.get("trnm") != "REAL":
            return []
        return self.decode_items(obj.get("data"))

    def decode_items(self, data: object) -> list[RealtimeEvent]:
        """Decode a REAL frame's ``data`` list (call :meth:`set_clock` first)."""
        if not isinstance(data, list):
            self.count_malformed("frame:data", data)
            return []
        out: list[RealtimeEvent] = []
        decoders = self._decoders
        counts = self.items_by_type
        seen = self.last_seen
        now = self._epoch
        for entry in data:
            try:
                typ = entry["type"]
                item = entry["item"]
                values = entry["values"]
            except (KeyError, TypeError):
                self.count_malformed("item:shape", entry)
                continue
            if type(values) is not dict:
                # One client defends against values arriving as a one-element list [T1].
                if isinstance(values, list) and len(values) == 1 and isinstance(values[0], dict):
                    values = values[0]
                else:
                    self.count_malformed("item:values", entry)
                    continue
            if type(item) is not str or type(typ) is not str:
                self.count_malformed("item:shape", entry)
                continue
            seen[item] = now
            fn = decoders.get(typ)
            if fn is None:
                out.append(_new_raw(typ, item, values))
                counts[typ] += 1
                continue
            ev = fn(item, values)
            if ev is not None:
                out.append(ev)
                counts[typ] += 1
        return out

    # -- field helpers (slow path) ----------------------------------------------------
    def _f_int(
        self, typ: str, v: Mapping[str, Any], fid: str, *, signed: bool, need: bool
    ) -> int | None:
        s = v.get(fid)
        try:
            n = int(s)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            if s is None or (isinstance(s, str) and not s.strip()):
                if need:
                    self.count_malformed(f"{typ}:missing:{fid}", v)
                    raise _Bad from None
                return None
            self.count_malformed(f"{typ}:field:{fid}", v)
            if need:
                raise _Bad from None
            return None
        return n if signed else abs(n)

    def _f_dec(
        self, typ: str, v: Mapping[str, Any], fid: str, *, absolute: bool = False
    ) -> Decimal | None:
        s = v.get(fid)
        if s is None or (isinstance(s, str) and not s.strip()):
            return None
        try:
            d = Decimal(s)
        except (TypeError, ValueError, InvalidOperation):
            self.count_malformed(f"{typ}:field:{fid}", v)
            return None
        if not d.is_finite():
            self.count_malformed(f"{typ}:field:{fid}", v)
            return None
        return abs(d) if absolute else d

    def _f_time(self, typ: str, v: Mapping[str, Any], fid: str, *, need: bool) -> datetime | None:
        s = v.get(fid)
        if not isinstance(s, str) or not s.strip() or s.strip() == "000000":
            if need:
                self.count_malformed(f"{typ}:missing:{fid}", v)
                raise _Bad
            return None
        try:
            return self._hms(s)
        except ValueError:
            self.count_malformed(f"{typ}:field:{fid}", v)
            if need:
                raise _Bad from None
            return None

    def _need_int(self, typ: str, v: Mapping[str, Any], fid: str, *, signed: bool) -> int:
        n = self._f_int(typ, v, fid, signed=signed, need=True)
        if n is None:  # pragma: no cover - need=True raises instead
            raise _Bad
        return n

    def _need_time(self, typ: str, v: Mapping[str, Any], fid: str) -> datetime:
        ts = self._f_time(typ, v, fid, need=True)
        if ts is None:  # pragma: no cover - need=True raises instead
            raise _Bad
        return ts

    @staticmethod
    def _f_str(v: Mapping[str, Any], fid: str) -> str:
        s = v.get(fid)
        return s.strip() if isinstance(s, str) else ""

    # -- 0B 주식체결 ------------------------------------------------------------------
    def _trade(self, item: str, v: Mapping[str, str]) -> Trade | None:
        try:
            key = (item, v.get("9081"))
            split = self._icache.get(key)
            if split is None:
                split = self._split_cached(key)
            code, venue = split
            t = v["20"]
            ts = self._tcache.get(t)
            if ts is None:
                ts = self._hms(t)
            # rates/strengths repeat from tick to tick: a dict hit instead of a Decimal parse
            decs = self._dcache
            s12 = v["12"]
            rate = decs.get(s12)
            if rate is None:
                rate = self._decimal(s12)
            s228 = v.get("228")
            strength = None
            if s228:
                strength = decs.get(s228)
                if strength is None:
                    strength = self._decimal(s228)
            return _new_trade(
                code,
                venue,
                self._date,
                ts,
                abs(int(v["10"])),
                int(v["11"]),
                rate,
                int(v["15"]),
                int(v["13"]),
                int(v["14"]),
                abs(int(v["16"])),
                abs(int(v["17"])),
                abs(int(v["18"])),
                abs(int(v["27"])),
                abs(int(v["28"])),
                strength,
                v.get("290", ""),
            )
        except _DECODE_ERRORS:
            return self._trade_slow(item, v)

    def _trade_slow(self, item: str, v: Mapping[str, Any]) -> Trade | None:
        T = "0B"
        try:
            if not item:
                self.count_malformed("0B:item", v)
                return None
            code, venue = _split_item(item, v.get("9081"))
            ts = self._need_time(T, v, "20")
            price = self._need_int(T, v, "10", signed=False)
            volume = self._need_int(T, v, "15", signed=True)
            cum = self._need_int(T, v, "13", signed=False)
        except _Bad:
            return None

        def opt(fid: str, signed: bool = False) -> int:
            n = self._f_int(T, v, fid, signed=signed, need=False)
            return 0 if n is None else n

        rate = self._f_dec(T, v, "12")
        return Trade(
            code,
            venue,
            self._date,
            ts,
            price,
            opt("11", True),
            Decimal(0) if rate is None else rate,
            volume,
            cum,
            opt("14"),
            opt("16"),
            opt("17"),
            opt("18"),
            opt("27"),
            opt("28"),
            self._f_dec(T, v, "228"),
            self._f_str(v, "290"),
        )

    # -- 0D 주식호가잔량 ---------------------------------------------------------------
    def _book(self, item: str, v: Mapping[str, str]) -> OrderBook | None:
        try:
            code, venue = _split_item(item, None)
            t = v["21"]
            ts = self._tcache.get(t)
            if ts is None:
                ts = self._hms(t)
            a_p, a_q = map(abs, map(int, _get_ask_price(v))), map(int, _get_ask_qty(v))
            b_p, b_q = map(abs, map(int, _get_bid_price(v))), map(int, _get_bid_qty(v))
            asks = tuple(zip(a_p, a_q, strict=True))
            bids = tuple(zip(b_p, b_q, strict=True))
            krx_a = krx_b = nxt_a = nxt_b = None
            if v.get("6044"):
                krx_a = tuple(map(int, _get_krx_ask(v)))
                krx_b = tuple(map(int, _get_krx_bid(v)))
            if v.get("6066"):
                nxt_a = tuple(map(int, _get_nxt_ask(v)))
                nxt_b = tuple(map(int, _get_nxt_bid(v)))
            s23 = v.get("23")
            s24 = v.get("24")
            return _new_book(
                code,
                venue,
                ts,
                asks,
                bids,
                int(v["121"]),
                int(v["125"]),
                krx_a,
                krx_b,
                nxt_a,
                nxt_b,
                abs(int(s23)) if s23 and s23.strip() else None,
                int(s24) if s24 and s24.strip() else None,
            )
        except _DECODE_ERRORS:
            return self._book_slow(item, v)

    def _book_slow(self, item: str, v: Mapping[str, Any]) -> OrderBook | None:
        T = "0D"
        try:
            if not item:
                self.count_malformed("0D:item", v)
                return None
            code, venue = _split_item(item, None)
            ts = self._need_time(T, v, "21")
        except _Bad:
            return None

        def n(fid: str, signed: bool = False) -> int:
            x = self._f_int(T, v, fid, signed=signed, need=False)
            return 0 if x is None else x

        def levels(fids: Sequence[str]) -> tuple[int, ...] | None:
            if not self._f_str(v, fids[0]):
                return None
            return tuple(n(f) for f in fids)

        return OrderBook(
            code,
            venue,
            ts,
            tuple((n(p), n(q)) for p, q in zip(_ASK_PRICE, _ASK_QTY, strict=True)),
            tuple((n(p), n(q)) for p, q in zip(_BID_PRICE, _BID_QTY, strict=True)),
            n("121"),
            n("125"),
            levels(_KRX_ASK),
            levels(_KRX_BID),
            levels(_NXT_ASK),
            levels(_NXT_BID),
            self._f_int(T, v, "23", signed=False, need=False),
            self._f_int(T, v, "24", signed=False, need=False),
        )

    # -- 00 주문체결 (not hot: one slow-but-thorough path) -------------------------------
    def _order(self, item: str, v: Mapping[str, Any]) -> OrderEvent | None:
        T = "00"
        try:
            order_no = self._f_str(v, "9203")
            if not order_no:
                self.count_malformed("00:missing:9203", v)
                return None
            ts = self._need_time(T, v, "908")
            qty = self._need_int(T, v, "900", signed=False)
        except _Bad:
            return None
        state_raw = self._f_str(v, "913")
        state = _STATES.get(state_raw)
        if state is None:
            self.count_malformed("00:state", v)
            state = OrderState.UNKNOWN
        side_raw = self._f_str(v, "907")
        kind = self._f_str(v, "905").lstrip("+-")
        side: Side | None
        if side_raw == "1":
            side = Side.SELL
        elif side_raw == "2" or "매수" in kind:
            side = Side.BUY
        elif "매도" in kind:
            side = Side.SELL
        else:
            side = None
        orig = self._f_str(v, "904")
        fill_no = self._f_str(v, "909")
        fill_price = self._f_int(T, v, "914", signed=False, need=False)
        if not fill_price:
            fill_price = self._f_int(T, v, "910", signed=False, need=False)
        fill_qty = self._f_int(T, v, "915", signed=False, need=False)
        if not fill_qty:
            fill_qty = self._f_int(T, v, "911", signed=False, need=False)
        reject = self._f_str(v, "919")
        code = _strip_a(self._f_str(v, "9001") or item)

        def n(fid: str) -> int:
            x = self._f_int(T, v, fid, signed=False, need=False)
            return 0 if x is None else x

        return OrderEvent(
            account=self._f_str(v, "9201"),
            order_no=order_no,
            orig_order_no=orig if orig.strip("0") else None,
            code=code,
            name=self._f_str(v, "302"),
            state=state,
            state_raw=state_raw,
            side=side,
            order_kind=kind,
            trade_type=self._f_str(v, "906"),
            qty=qty,
            price=n("901"),
            open_qty=n("902"),
            filled_amount=n("903"),
            fill_no=fill_no if fill_no.strip("0") else None,
            fill_price=fill_price or None,
            fill_qty=fill_qty or None,
            time=ts,
            reject_reason=reject if reject not in ("", "0") else None,
            exchange=_EXCHANGE.get(self._f_str(v, "2134")),
            fee=n("938"),
            tax=n("939"),
        )

    # -- 04 잔고 ----------------------------------------------------------------------
    def _balance(self, item: str, v: Mapping[str, Any]) -> BalanceEvent | None:
        T = "04"
        code = _strip_a(self._f_str(v, "9001") or item)
        if not code:
            self.count_malformed("04:missing:9001", v)
            return None

        def n(fid: str, signed: bool = False) -> int:
            x = self._f_int(T, v, fid, signed=signed, need=False)
            return 0 if x is None else x

        return BalanceEvent(
            account=self._f_str(v, "9201"),
            code=code,
            name=self._f_str(v, "302"),
            price=n("10"),
            holding_qty=n("930"),
            avg_price=n("931"),
            total_purchase=n("932"),
            orderable_qty=n("933"),
            today_net_buy_qty=n("945", True),
            side_raw=self._f_str(v, "946"),
            today_sell_pnl=n("950", True),
            best_ask=n("27"),
            best_bid=n("28"),
            base_price=n("307"),
            pnl_rate=self._f_dec(T, v, "8019"),
            realized_pnl=n("990", True),
            realized_pnl_rate=self._f_dec(T, v, "991"),
            received_at=self._now,
        )

    # -- 0J 업종지수 -------------------------------------------------------------------
    def _index(self, item: str, v: Mapping[str, Any]) -> IndexTick | None:
        T = "0J"
        try:
            ts = self._need_time(T, v, "20")
            value = self._f_dec(T, v, "10", absolute=True)
            if value is None:
                self.count_malformed("0J:missing:10", v)
                return None
        except _Bad:
            return None
        zero = Decimal(0)

        def d(fid: str, absolute: bool = False) -> Decimal:
            x = self._f_dec(T, v, fid, absolute=absolute)
            return zero if x is None else x

        def n(fid: str, signed: bool = False) -> int:
            x = self._f_int(T, v, fid, signed=signed, need=False)
            return 0 if x is None else x

        return IndexTick(
            code=item.strip(),
            time=ts,
            value=value,
            change=d("11"),
            change_rate=d("12"),
            volume=n("15", True),
            cum_volume=n("13"),
            cum_value=n("14"),
            open=d("16", True),
            high=d("17", True),
            low=d("18", True),
        )

    # -- 0s 장시작시간 -----------------------------------------------------------------
    def _phase(self, item: str, v: Mapping[str, Any]) -> MarketPhase | None:
        code = self._f_str(v, "215")
        if not code:
            self.count_malformed("0s:missing:215", v)
            return None
        try:
            ts = self._need_time("0s", v, "20")
        except _Bad:
            return None
        meaning = MARKET_PHASE_MEANINGS.get(code)
        if meaning is None:
            log.info("market_phase_unknown code=%s", code[:8])
        return MarketPhase(code, meaning, ts, self._f_str(v, "214"))

    # -- 1h VI발동/해제 ----------------------------------------------------------------
    def _vi(self, item: str, v: Mapping[str, Any]) -> ViEvent | None:
        T = "1h"
        code = _strip_a(self._f_str(v, "9001") or item)
        if not code:
            self.count_malformed("1h:missing:9001", v)
            return None

        def n(fid: str) -> int | None:
            return self._f_int(T, v, fid, signed=False, need=False)

        return ViEvent(
            code=code,
            name=self._f_str(v, "302"),
            cum_volume=n("13") or 0,
            cum_value=n("14") or 0,
            trigger_type=self._f_str(v, "9068"),
            market=self._f_str(v, "9008"),
            pre_open=self._f_str(v, "9075"),
            trigger_price=n("1221"),
            trade_time=self._f_time(T, v, "1223", need=False),
            release_time=self._f_time(T, v, "1224", need=False),
            vi_kind=self._f_str(v, "1225"),
            static_ref_price=n("1236"),
            dynamic_ref_price=n("1237"),
            static_deviation=self._f_dec(T, v, "1238"),
            dynamic_deviation=self._f_dec(T, v, "1239"),
            trigger_rate=self._f_dec(T, v, "1489"),
            count=n("1490"),
            direction=self._f_str(v, "9069"),
        )


_default_decoder: RealtimeDecoder | None = None


def decode_real(
    frame: Mapping[str, Any], *, received_at: datetime | None = None
) -> list[RealtimeEvent]:
    """Decode one parsed REAL frame (``{"trnm":"REAL","data":[…]}``) into events.

    Convenience entry point backed by a module-level :class:`RealtimeDecoder` (not
    thread-safe; long-running consumers should own a decoder and read its counters).

    Args:
        frame: the parsed JSON object of the frame.
        received_at: receive time that dates ``HHMMSS`` fields (default: now).

    Returns:
        The decoded events; ``[]`` for a non-REAL frame. Malformed items are skipped and
        counted, never raised.
    """
    global _default_decoder
    if _default_decoder is None:
        _default_decoder = RealtimeDecoder()
    dec = _default_decoder
    dec.set_clock(received_at.timestamp() if received_at is not None else _time.time())
    if frame.get("trnm") != "REAL":
        return []
    return dec.decode_items(frame.get("data"))
