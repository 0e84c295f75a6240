"""Market phases and interruptions: the KRX phase clock behind 0s (``clock="krx"``), the
single-price auction crossings, and the static VI behind 1h.

Pure bookkeeping: these return the events and times; the market applies them.
"""

from __future__ import annotations

import math
from datetime import datetime, time, timedelta

from gslts_kiwoom import krx
from gslts_kiwoom.sim._events import PhaseChange, ViUpdate
from gslts_kiwoom.sim._stock import SimStock

#: KRX phase → 장운영구분 (FID 215) sent in 0s when the phase starts (PROTOCOL §5.7;
#: codes outside the documented list follow legacy OpenAPI+: a 시간외 종가, b 단일가).
PHASE_CODES: dict[krx.Phase, str] = {
    krx.Phase.OPENING_AUCTION: "0",
    krx.Phase.CONTINUOUS: "3",
    krx.Phase.CLOSING_AUCTION: "2",
    krx.Phase.POST_CLOSE_OFF_HOURS: "a",
    krx.Phase.AFTER_HOURS_SINGLE_PRICE: "b",
}
#: Single-price auctions cross at these times (KST): the opening and the closing call.
AUCTION_CROSS_TIMES = (time(9, 0), time(15, 30))
#: KRX's continuous session opens (after the opening call's crossing).
CONTINUOUS_START = time(9, 0)
#: The closing call starts: 조건부지정가 orders still open become market orders (§8.3).
CLOSING_CALL_START = time(15, 20)
#: 시간외단일가 crosses every 10 minutes from 16:10 to 18:00, 12 rounds (PROTOCOL §6.2).
SINGLE_PRICE_CROSS_TIMES = tuple(time(16 + m // 60, m % 60) for m in range(10, 130, 10))
#: NXT's day ends (after-market close, PROTOCOL §6.3): NXT orders still open expire.
NXT_DAY_END = time(20, 0)
#: 장운영구분 codes during which a call auction collects orders (0D FID 23/24 are set).
AUCTION_PHASE_CODES = frozenset({"0", "2"})


def trading_open(clock: str, t: datetime) -> bool:
    """True when continuous matching runs at ``t`` under ``clock`` (``always``/``krx``)."""
    return clock == "always" or krx.phase_at(t, "KRX").is_continuous


def auction_crossings(prev: datetime, now: datetime) -> list[datetime]:
    """The auction crossing times in ``(prev, now]`` of ``now``'s day (KST)."""
    return times_between(prev, now, AUCTION_CROSS_TIMES)


def times_between(prev: datetime, now: datetime, times: tuple[time, ...]) -> list[datetime]:
    """The moments of ``now``'s day (KST) at ``times`` that lie in ``(prev, now]``."""
    out = []
    for t in times:
        at = datetime.combine(now.date(), t, tzinfo=krx.KST)
        if prev < at <= now:
            out.append(at)
    return out


class PhaseClock:
    """The current 장운영구분 code (``""`` before the first phase) and its changes."""

    def __init__(self) -> None:
        self.code = ""

    def advance(self, now: datetime) -> PhaseChange | None:
        """Move to the phase of ``now``; the 0s event when the code changes."""
        phase = krx.phase_at(now, "KRX")
        code = PHASE_CODES.get(phase)
        if code is None:
            if self.code in ("2", "3", "0"):  # 15:30 after the closing auction
                code = "4"
            elif self.code in ("a", "b"):
                code = "9"
        if code is None or code == self.code:
            return None
        self.code = code
        return PhaseChange(code=code, phase=phase.value, time=now)

    @property
    def in_auction(self) -> bool:
        return self.code in AUCTION_PHASE_CODES


class ViMonitor:
    """Static VI: a trade at or beyond ±``threshold`` from the reference price (the day's
    base price, then the last VI's price) stops continuous trading of the stock for
    ``duration_s``; ``threshold`` 0 turns VI off."""

    def __init__(self, threshold: float, duration_s: float) -> None:
        self.threshold = threshold
        self.duration_s = duration_s
        #: stocks whose interruption is running
        self.active: dict[str, SimStock] = {}

    def bounds(self, st: SimStock) -> tuple[float, float]:
        """``(hi, lo)``: a price at or beyond either triggers a VI (the flood path's test)."""
        ref = st.vi_ref or st.base_price
        th = self.threshold
        if th > 0 and ref:
            return ref + ref * th, ref - ref * th
        return math.inf, -1.0

    def check(self, st: SimStock, t: datetime, price: int) -> ViUpdate | None:
        """Trigger a VI when ``price`` (traded at ``t``) breaches the threshold."""
        ref = st.vi_ref or st.base_price
        threshold = self.threshold
        if threshold <= 0 or st.vi_until is not None or not ref:
            return None
        if abs(price - ref) < ref * threshold:
            return None
        st.vi_count += 1
        st.vi_ref = price
        st.vi_until = t + timedelta(seconds=self.duration_s)
        self.active[st.stock.code] = st
        return vi_update(st, t, price, ref, active=True)

    def release(self, now: datetime) -> list[ViUpdate]:
        """End the interruptions due by ``now`` (re-opening at the trigger price)."""
        out = []
        for code, st in list(self.active.items()):
            if st.vi_until is not None and st.vi_until <= now:
                at = st.vi_until
                st.vi_until = None
                del self.active[code]
                out.append(vi_update(st, at, st.vi_ref, st.vi_ref, active=False))
        return out

    def reset(self, st: SimStock) -> None:
        """A new day: no reference, no interruption, count 0."""
        st.vi_ref, st.vi_until, st.vi_count = 0, None, 0
        self.active.pop(st.stock.code, None)


def vi_update(st: SimStock, t: datetime, price: int, ref: int, *, active: bool) -> ViUpdate:
    """The 1h event of a VI of ``st`` triggered (``active``) or released at ``t``."""
    return ViUpdate(
        code=st.stock.code,
        name=st.stock.name,
        market=st.stock.market,
        active=active,
        trigger_price=price,
        reference_price=ref,
        direction=1 if price >= ref else -1,
        count=st.vi_count,
        cum_volume=st.cum_volume,
        cum_value=st.cum_value_krw // 1_000_000,
        time=t,
        release_time=st.vi_until or t,
    )


def single_price_band(close: int, lower: int, upper: int) -> tuple[int, int]:
    """``(low, high)`` prices a 시간외단일가 order may carry: within ±10 % of today's close
    and inside the day's limits (PROTOCOL §6.2), rounded inward to the tick grid."""
    low = krx.round_to_tick(-(-close * 9 // 10), "up")
    high = krx.round_to_tick(close * 11 // 10, "down")
    return max(low, lower), min(high, upper)


def trade_session(t: datetime) -> str:
    """0B FID 290 장구분 of a KRX trade at ``t``: ``1`` before the opening crossing (장전
    시간외), ``3`` after the closing one (장후 시간외, 시간외단일가), ``2`` in between."""
    hm = t.hour * 100 + t.minute
    return "1" if hm < 900 else ("3" if hm >= 1531 or (hm == 1530 and t.second) else "2")
