"""What the market remembers beyond today's state: the ground truth of every trade of the
run (``GET /_sim/ground-truth``) and the synthetic daily history before the start day
(ka10081, ka10001's 250-day high/low)."""

from __future__ import annotations

import random
from array import array
from collections.abc import Sequence
from datetime import date, datetime

from gslts_kiwoom import krx
from gslts_kiwoom.models import Bar
from gslts_kiwoom.sim._events import MarketTrade, TradeBatch
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
        self._seed = seed
        self._start_day = start_day
        self._days = days
        self._dates: list[date] | None = None
        self._bars: dict[str, list[Bar]] = {}

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

    def bars(self, stock: Stock) -> list[Bar]:
        """A plausible past ending at the snapshot's close (on the tick grid, within each
        day's limits), generated backwards from the base price."""
        cached = self._bars.get(stock.code)
        if cached is not None:
            return cached
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
