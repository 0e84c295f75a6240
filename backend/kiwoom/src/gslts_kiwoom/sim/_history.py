"""What the market remembers beyond today's state: the ground truth of every trade of the
run (``GET /_sim/ground-truth``), the synthetic daily history before the start day
(ka10081, ka10001's 250-day high/low) and the 1-minute bars of those days (ka10080).

A synthetic day's minute bars (:func:`synthetic_minutes`) are drawn from its daily bar, so
they agree with it: the first bar opens at the day's open, the last closes at its close,
the highest high and lowest low are the day's, and the volumes add up to the day's volume.
They cover a KRX regular session: one bar per minute of the continuous session
(09:00–15:19) and one for the closing call at 15:30, as the live model records them (a
stock with fewer shares traded than that gets one bar per share, on minutes drawn at
random). Deterministic per seed, stock and day.
"""

from __future__ import annotations

import math
import random
from array import array
from collections import OrderedDict
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from gslts_kiwoom import krx
from gslts_kiwoom.models import Bar
from gslts_kiwoom.sim._events import MarketTrade, TradeBatch
from gslts_kiwoom.sim._sector_feed import SectorFeed
from gslts_kiwoom.sim._stock import stable_seed
from gslts_kiwoom.sim._universe import Stock


class GroundTruth:
    """Every trade the simulator made, in emission order, stored column-wise (~45 bytes a
    trade) so a long flood fits in memory. Row ``i`` has global sequence number ``i + 1``.
    Beyond ``cap`` rows, trades are counted in ``dropped`` instead of kept."""

    def __init__(self, codes: Sequence[str], cap: int) -> None:
        self.codes = list(codes)
        self._index = {c: i for i, c in enumerate(self.codes)}
        self.cap = cap
        self.dropped = 0
        self.code = array("I")
        self.time_us = array("q")
        self.price = array("q")
        self.volume = array("q")
        self.cum_volume = array("q")
        self.seq = array("q")

    def __len__(self) -> int:
        return len(self.code)

    def add(self, t: MarketTrade) -> None:
        if len(self.code) >= self.cap:
            self.dropped += 1
            return
        self.code.append(self._index[t.code])
        self.time_us.append(int(t.time.timestamp() * 1_000_000))
        self.price.append(t.price)
        self.volume.append(t.volume)
        self.cum_volume.append(t.cum_volume)
        self.seq.append(t.seq)

    def add_batch(self, b: TradeBatch) -> None:
        """Append a :class:`TradeBatch` (flood path) column by column."""
        n = len(b.price)
        room = self.cap - len(self.code)
        if n > room:
            self.dropped += n - max(room, 0)
            n = max(room, 0)
            if not n:
                return
        self.code.extend(array("I", (self._index[b.code],)) * n)
        if n == len(b.price):
            self.time_us.extend(b.time_us)
            self.price.extend(b.price)
            self.volume.extend(b.volume)
            self.cum_volume.extend(b.cum_volume)
        else:
            self.time_us.extend(b.time_us[:n])
            self.price.extend(b.price[:n])
            self.volume.extend(b.volume[:n])
            self.cum_volume.extend(b.cum_volume[:n])
        self.seq.extend(range(b.seq0 + 1, b.seq0 + n + 1))

    def rows(
        self, since_seq: int = 0, limit: int | None = None, code: str | None = None
    ) -> list[tuple[int, str, int, int, int, int, int]]:
        """``(gseq, code, time_us, price, volume, cum_volume, stock_seq)`` after
        ``since_seq``, oldest first, at most ``limit`` rows (optionally one ``code``)."""
        n = len(self.code)
        want = self._index.get(code, -1) if code else None
        out: list[tuple[int, str, int, int, int, int, int]] = []
        i = max(0, since_seq)
        while i < n and (limit is None or len(out) < limit):
            ci = self.code[i]
            if want is None or ci == want:
                out.append(
                    (
                        i + 1,
                        self.codes[ci],
                        self.time_us[i],
                        self.price[i],
                        self.volume[i],
                        self.cum_volume[i],
                        self.seq[i],
                    )
                )
            i += 1
        return out


class SyntheticHistory:
    """Deterministic daily bars for the ``days`` trading days (XKRX calendar) before
    ``start_day``, ending at each stock's snapshot close; built per stock on first use."""

    def __init__(self, seed: int, start_day: date, days: int) -> None:
        #: the sector link's world: the history of its linked stocks follows it
        self.sector: SectorFeed | None = None
        self._seed = seed
        self._start_day = start_day
        self._days = days
        self._dates: list[date] | None = None
        self._bars: dict[str, list[Bar]] = {}
        self._by_day: dict[str, dict[date, Bar]] = {}

    def dates(self) -> list[date]:
        """Trading days of the synthetic history, oldest first (before the start day)."""
        if self._dates is None:
            days: list[date] = []
            day = self._start_day
            while len(days) < self._days:
                day = krx.previous_trading_day(day)
                days.append(day)
            self._dates = days[::-1]
        return self._dates

    def bar_on(self, stock: Stock, day: date) -> Bar | None:
        """The synthetic daily bar of ``stock`` on ``day``; None outside the history."""
        by_day = self._by_day.get(stock.code)
        if by_day is None:
            by_day = self._by_day[stock.code] = {b.start.date(): b for b in self.bars(stock)}
        return by_day.get(day)

    def bars(self, stock: Stock) -> list[Bar]:
        """A plausible past ending at the snapshot's close (on the tick grid, within each
        day's limits), generated backwards from the base price."""
        cached = self._bars.get(stock.code)
        if cached is not None:
            return cached
        if self.sector is not None:
            linked = self.sector.kr_history(stock.code, stock.volume, stock.base_price)
            if linked is not None:
                self._bars[stock.code] = linked
                return linked
        rng = random.Random(stable_seed(self._seed + 1, stock.code))  # noqa: S311 (simulation, not crypto)
        dates = self.dates()
        closes = [stock.base_price]
        for _ in range(len(dates)):
            r = max(-0.12, min(0.12, rng.gauss(0.0003, 0.022)))
            prev = krx.round_to_tick(max(1, round(closes[-1] / (1 + r))))
            lower, upper = krx.price_limits(prev)
            if not lower <= closes[-1] <= upper:
                prev = closes[-1]
            closes.append(prev)
        closes.reverse()  # closes[i] is the base price of dates[i]; closes[-1] = base
        bars: list[Bar] = []
        for i, day in enumerate(dates):
            base, close = closes[i], closes[i + 1]
            lower, upper = krx.price_limits(base)
            op = krx.round_to_tick(round(base * (1 + rng.gauss(0, 0.006))))
            op = min(max(op, lower), upper)
            hi = krx.round_to_tick(round(max(op, close) * (1 + abs(rng.gauss(0, 0.01)))), "up")
            lo = krx.round_to_tick(round(min(op, close) * (1 - abs(rng.gauss(0, 0.01)))), "down")
            hi = min(max(hi, op, close), upper)
            lo = max(min(lo, op, close), lower)
            vol = max(1, int(stock.volume * rng.lognormvariate(0, 0.5)))
            bars.append(
                Bar(
                    start=datetime(day.year, day.month, day.day, tzinfo=krx.KST),
                    open=op,
                    high=hi,
                    low=lo,
                    close=close,
                    volume=vol,
                    value=vol * (op + close + hi + lo) // 4,
                    base_price=base,
                )
            )
        self._bars[stock.code] = bars
        return bars


#: Bar starts (minutes after midnight, KST) of a synthetic session: the continuous session
#: 09:00–15:19 and the closing call, which crosses at 15:30 (its bar starts there, as the
#: live model records the crossing).
SESSION_MINUTES: tuple[int, ...] = (*range(9 * 60, 15 * 60 + 20), 15 * 60 + 30)


def synthetic_minutes(day: Bar, seed: int, code: str) -> list[Bar]:
    """The 1-minute bars of a past day of ``code``, oldest first, consistent with its daily
    bar ``day`` (open, high, low, close and volume; see the module docstring).

    The price path is a random walk pinned to the open and the close (a Brownian bridge)
    scaled to the day's range, clamped into it and put on the tick grid; the bars nearest
    the day's extremes get the day's high and low as wicks. Volume follows the usual
    U-shape of a KRX day (busy open and close, a large closing call).
    """
    if day.volume <= 0:
        return []
    d = day.start.date()
    rng = random.Random(stable_seed(seed + 2, f"{code}:{d:%Y%m%d}"))  # noqa: S311 (simulation)
    slots = SESSION_MINUTES
    n = max(1, min(len(slots), day.volume))
    everyone = range(len(slots))
    chosen = list(everyone) if n == len(slots) else sorted(rng.sample(everyone, n))
    lo, hi = day.low, day.high
    # the path: points p[0] = open … p[n] = close; bar i runs from p[i] to p[i + 1]
    walk = [0.0]
    for _ in range(n):
        walk.append(walk[-1] + rng.gauss(0.0, 1.0))
    bridge = [w - walk[-1] * k / n for k, w in enumerate(walk)]
    spread = (max(bridge) - min(bridge)) or 1.0
    amp = (hi - lo) * rng.uniform(0.6, 1.1) / spread
    path = [day.open]
    for k in range(1, n):
        x = day.open + (day.close - day.open) * k / n + bridge[k] * amp
        path.append(min(max(krx.round_to_tick(max(1, round(x))), lo), hi))
    path.append(day.close)
    opens, closes = path[:-1], path[1:]
    highs = [max(o, c) for o, c in zip(opens, closes, strict=True)]
    lows = [min(o, c) for o, c in zip(opens, closes, strict=True)]
    for i in range(n):
        if rng.random() < 0.3:
            highs[i] = min(krx.tick_up(highs[i]), hi)
        if rng.random() < 0.3:
            lows[i] = max(krx.tick_down(lows[i]), lo)
    highs[max(range(n), key=lambda i: (highs[i], -i))] = hi
    lows[min(range(n), key=lambda i: (lows[i], i))] = lo
    volumes = _split_volume(rng, day.volume, [slots[i] for i in chosen])
    midnight = day.start.replace(hour=0, minute=0, second=0, microsecond=0)
    bars: list[Bar] = []
    cum = 0
    for i, slot in enumerate(chosen):
        o, h, low, c, v = opens[i], highs[i], lows[i], closes[i], volumes[i]
        cum += v
        start = midnight + timedelta(minutes=slots[slot])
        bars.append(Bar(start, o, h, low, c, v, v * (o + h + low + c) // 4, 0, cum, day.base_price))
    return bars


def _split_volume(rng: random.Random, total: int, minutes: list[int]) -> list[int]:
    """``total`` shares over bars starting at ``minutes`` (at least one each, exact sum):
    U-shaped weights with noise, the closing call (15:30) a large share."""
    first, last = SESSION_MINUTES[0], SESSION_MINUTES[-2]
    weights = []
    for m in minutes:
        if m > last:  # the closing call
            w = 25.0 * rng.lognormvariate(0.0, 0.3)
        else:
            w = 1.0 + 2.0 * math.exp(-(m - first) / 30) + 1.2 * math.exp(-(last - m) / 30)
            w *= rng.lognormvariate(0.0, 0.6)
        weights.append(w)
    spare = total - len(minutes)
    scale = spare / sum(weights)
    shares = [w * scale for w in weights]
    out = [1 + int(x) for x in shares]
    # the shares lost to truncation go to the bars that lost the most
    short = total - sum(out)
    for i in sorted(range(len(out)), key=lambda i: int(shares[i]) - shares[i])[:short]:
        out[i] += 1
    return out


class MinuteCache:
    """The synthetic minute bars of recently asked days (a page of ka10080 spans about 2–3
    days; paging back asks each day once or twice): at most ``size`` days kept."""

    def __init__(self, seed: int, size: int = 64) -> None:
        self._seed = seed
        self._size = size
        self._days: OrderedDict[tuple[str, date], list[Bar]] = OrderedDict()

    def get(self, code: str, day: Bar) -> list[Bar]:
        """The bars of ``day`` (a daily bar of ``code``), oldest first; do not change them."""
        key = (code, day.start.date())
        bars = self._days.get(key)
        if bars is None:
            bars = self._days[key] = synthetic_minutes(day, self._seed, code)
            while len(self._days) > self._size:
                self._days.popitem(last=False)
        else:
            self._days.move_to_end(key)
        return bars
