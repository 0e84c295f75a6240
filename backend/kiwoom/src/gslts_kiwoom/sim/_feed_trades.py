"""0B 주식체결 entries as pre-serialised JSON text (:data:`~gslts_kiwoom.sim._ws.RawItem`):
the hot path of the feed.

A trade of the per-trade path is formatted whole (:meth:`TradeText.text`); a
:class:`~gslts_kiwoom.sim._events.TradeBatch` of the flood path formats only its changing
fields, the signed prices, change, rate and sign code coming from per-stock caches keyed by
price (a stock trades on few distinct prices). FID 14 is ``MarketTrade.cum_value``
(백만원, truncated); 228 체결강도 is kept per stock from the signed volumes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from gslts_kiwoom import krx
from gslts_kiwoom.sim import _fmt as f
from gslts_kiwoom.sim._events import MarketTrade, TradeBatch
from gslts_kiwoom.sim._ws_session import RawItem

#: Every FID of 0B 주식체결, in the order of the catalogue's dictionary (PROTOCOL §5.7).
TRADE_FIDS: tuple[str, ...] = (
    "20", "10", "11", "12", "27", "28", "15", "13", "14", "16", "17", "18", "25",
    "26", "29", "30", "31", "32", "228", "311", "290", "691", "567", "568", "851",
    "1890", "1891", "1892", "1030", "1031", "1032", "1071", "1072", "1313", "1315",
    "1316", "1314", "1497", "1498", "620", "732", "852", "9081",
)  # fmt: skip
#: The FIDs the model gives a value (the rest are ``""``): time, prices, change, rate,
#: best ask/bid, volumes, OHL, sign code, 체결강도, 장구분 and 거래소구분.
FILLED_FIDS: frozenset[str] = frozenset(
    ("20", "10", "11", "12", "27", "28", "15", "13", "14", "16", "17", "18", "25", "228", "290")
) | {"9081"}


def _fragments(venue: str, session: str = "2") -> tuple[str, str]:
    """``(after_25, after_228)``: the JSON text from the end of FID 25's value to the start
    of 228's, and from the end of 228's value to the end of the entry, in
    :data:`TRADE_FIDS` order: 290 ``session`` (장구분: 1 장전 시간외, 2 장중, 3 장후 시간외),
    9081 ``venue``, every other FID ``""``."""
    i25, i228 = TRADE_FIDS.index("25"), TRADE_FIDS.index("228")
    tail = {"290": session, "9081": venue}
    after_25 = "".join(f',"{fid}":""' for fid in TRADE_FIDS[i25 + 1 : i228])
    after_228 = "".join(f',"{fid}":"{tail.get(fid, "")}"' for fid in TRADE_FIDS[i228 + 1 :])
    return '"' + after_25 + ',"228":"', '"' + after_228 + "}}"


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
            s = self.signed[price] = f.sgn(price, self.base) if price else "0"
        return s

    def fill(self, p: int) -> str:
        base = self.base
        diff = p - base
        head = (
            f'","10":"{f.sgn(p, base)}","11":"{"+" if diff > 0 else ""}{diff}",'
            f'"12":"{f.pct(p, base)}","27":"'
        )
        self.head[p] = head
        self.tail[p] = f.sign_code(p, base, self.lower, self.upper)
        return head


class TradeText:
    """Formats 0B entries; ``limits(code)`` gives a stock's ``(lower, upper)`` limits (for
    the sign code, FID 25); ``venue`` is FID 9081 거래소구분 as sent (``KRX``, the mock
    capture of PROTOCOL §8.1, or the guide's ``1``)."""

    def __init__(
        self,
        limits: Callable[[str], tuple[int, int]],
        venue: str = "KRX",
        session: Callable[[datetime], str] | None = None,
    ) -> None:
        self._limits = limits
        self._after_25, self._after_228 = _fragments(venue)
        #: FID 290 of a per-trade-path trade by its time (None: always 장중); the flood
        #: path runs only in the continuous session
        self._session = session
        self._by_session = {x: _fragments(venue, x) for x in ("1", "2", "3")}
        #: code → [buy-initiated shares, sell-initiated shares] today (FID 228)
        self._strength: dict[str, list[int]] = {}
        self._prefix: dict[str, str] = {}
        self._price_cache: dict[str, _PriceCache] = {}

    def text(self, t: MarketTrade) -> str:
        """The 0B 주식체결 entry of ``t`` as JSON text (PROTOCOL §5.7 FIDs)."""
        code = t.code
        base = t.base_price
        lower, upper = self._limits(code)
        sb = self._strength.get(code)
        if sb is None:
            sb = self._strength[code] = [0, 0]
        v = t.volume
        if v > 0:
            sb[0] += v
        else:
            sb[1] -= v
        strength = f"{sb[0] * 100 / sb[1]:.2f}" if sb[1] else "0.00"
        after_25, after_228 = self._after_25, self._after_228
        if self._session is not None:
            after_25, after_228 = self._by_session[self._session(t.time)]
        prefix = self._prefix.get(code)
        if prefix is None:
            prefix = self._prefix[code] = (
                '{"type":"0B","name":"주식체결","item":"' + code + '","values":{"20":"'
            )
        p = t.price
        diff = p - base
        return (
            f'{prefix}{f.hhmmss(t.time)}","10":"{f.sgn(p, base)}",'
            f'"11":"{"+" if diff > 0 else ""}{diff}","12":"{f.pct(p, base)}",'
            f'"27":"{f.sgn(t.best_ask, base) if t.best_ask else "0"}",'
            f'"28":"{f.sgn(t.best_bid, base) if t.best_bid else "0"}",'
            f'"15":"{"+" if v > 0 else ""}{v}","13":"{t.cum_volume}",'
            f'"14":"{t.cum_value}","16":"{f.sgn(t.open, base)}",'
            f'"17":"{f.sgn(t.high, base)}","18":"{f.sgn(t.low, base)}",'
            f'"25":"{f.sign_code(p, base, lower, upper)}{after_25}{strength}{after_228}'
        )

    def extend(self, b: TradeBatch, append: Callable[[RawItem], None]) -> None:
        """``append`` the 0B entry of every trade of ``b``, in order."""
        code = b.code
        base = b.base_price
        cache = self._price_cache.get(code)
        if cache is None or cache.base != base:
            lower, upper = self._limits(code)
            cache = self._price_cache[code] = _PriceCache(code, base, lower, upper)
        signed = cache.signed
        head = cache.head
        tail = cache.tail
        sb = self._strength.get(code)
        if sb is None:
            sb = self._strength[code] = [0, 0]
        buys, sells = sb
        prefix = cache.prefix
        after_25, after_228 = self._after_25, self._after_228
        o_s = cache.sgn(b.open)
        last_sec = -1
        hms = ""
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
            append(
                (
                    "0B",
                    code,
                    f'{prefix}{hms}{hp}{signed.get(a) or cache.sgn(a)}","28":"'
                    f'{signed.get(bid) or cache.sgn(bid)}","15":"{vs}","13":"{cv}",'
                    f'"14":"{cval // 1_000_000}","16":"{o_s}","17":"'
                    f'{signed.get(h) or cache.sgn(h)}","18":"{signed.get(lo) or cache.sgn(lo)}'
                    f'","25":"{tail[p]}{after_25}'
                    f"{f'{buys * 100 / sells:.2f}' if sells else '0.00'}{after_228}",
                )
            )
        sb[0], sb[1] = buys, sells
