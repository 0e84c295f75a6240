"""Restart gap after a ``kill -9``: the gap starts at the last trade the *previous* process
kept (database or journal backlog), and the first live trade of the new process closes it,
even when that trade arrives while ``subscribe()`` still waits for the REG ack.

Regression: the hub used to read the gap start from the database *after* subscribing. When
the first live frame beat that read, the stock was skipped (its live state was set) or its
gap start was one of the new process's own live ticks: the restart gap was never filled.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from gslts_hub.collector import OWNER_TOP
from gslts_hub.hub import Hub
from gslts_hub.journal import Journal
from gslts_hub.rows import encode_record, trade_to_array
from gslts_hub.settings import HubSettings
from gslts_kiwoom.models import Candle
from gslts_kiwoom.realtime import KST, Trade

CODE = "005930"


def _trades(n: int) -> list[Trade]:
    """``n`` trades of one stock today, one per second, 10 + i shares each."""
    t0 = datetime.now(KST).replace(microsecond=0) - timedelta(seconds=n + 5)
    out, cum = [], 0
    for i in range(n):
        qty = 10 + i
        cum += qty
        out.append(
            Trade(
                code=CODE,
                venue="KRX",
                trade_date=t0.date(),
                time=t0 + timedelta(seconds=i),
                price=70_000 + i,
                change=0,
                change_rate=Decimal("0"),
                volume=qty if i % 2 else -qty,
                cum_volume=cum,
                cum_value=0,
                open=70_000,
                high=70_000 + i,
                low=70_000,
                best_ask=0,
                best_bid=0,
                strength=None,
                session="2",
            )
        )
    return out


class _ChartClient:
    """ka10079 주식틱차트조회요청 of the market: every trade, one row each."""

    def __init__(self, trades: list[Trade]) -> None:
        self.trades = trades

    def iter_tick_chart(self, code: str, *, since: datetime) -> Iterator[list[Candle]]:
        yield self._rows(code, since)[::-1]  # one page, newest first

    def _rows(self, code: str, since: datetime) -> list[Candle]:
        return [
            Candle(t.time, t.price, t.price, t.price, t.price, abs(t.volume))
            for t in self.trades
            if t.code == code and t.time >= since
        ]

    def close(self) -> None:
        pass


class _RacingSocket:
    """A WebSocket whose first live frame (and the writer's commit of it) lands while
    ``subscribe()`` still waits for the REG ack — what a loaded machine does."""

    def __init__(self, hub: Hub, frame: list[Trade]) -> None:
        self.hub = hub
        self.frame = frame

    def subscribe(self, items: Iterable[str], types: Iterable[str], owner: str) -> None:
        written = self.hub.writer.stats.ticks_written
        self.hub.on_events(list(self.frame))
        deadline = time.monotonic() + 5
        while self.hub.writer.stats.ticks_written < written + len(self.frame):
            assert time.monotonic() < deadline, "the writer did not store the live frame"
            time.sleep(0.01)

    def close(self) -> None:
        pass


def _stored_cums(hub: Hub) -> list[int]:
    with hub.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT cum_volume FROM tick_data WHERE stock_code = :c ORDER BY cum_volume",
            {"c": CODE},
        )
        return [int(r[0]) for r in rows]


def _settle(hub: Hub) -> None:
    deadline = time.monotonic() + 5
    while hub.journal.stats().backlog_bytes or hub.writer.flush_lag_s():
        assert time.monotonic() < deadline, "the writer did not catch up"
        time.sleep(0.01)


def test_restart_gap_is_filled_when_the_first_live_frame_beats_the_subscribe(
    hub_settings: HubSettings,
) -> None:
    market = _trades(30)
    # the previous process: trades 0-9 in the database, 10-14 only in its journal (killed
    # before the writer got to them), 15-24 traded while no hub ran, 25-29 arrive live
    first = Hub(hub_settings, connect=False)
    first.start()
    first.on_events(market[:10])
    _settle(first)
    first.close()
    journal = Journal(hub_settings.journal_dir())
    journal.append(encode_record(time.time(), [trade_to_array(t) for t in market[10:15]], []))
    journal.close()

    hub = Hub(hub_settings, connect=False, client=_ChartClient(market))  # type: ignore[arg-type]
    hub.start()
    try:
        hub.collector.ws = _RacingSocket(hub, market[25:27])  # type: ignore[assignment]
        hub.collector.subscribe([CODE], OWNER_TOP)
        hub.on_events(market[27:])

        hub.gaps.flush_following(0.0, all_=True)  # skip the wait for more live trades
        code, stored, live = hub.gaps.queue.get_nowait()  # the gap the first live tick closed
        assert code == CODE
        assert stored.cum_volume == market[14].cum_volume  # the journal backlog counts
        assert live is not None
        assert live.cum_volume == market[25].cum_volume
        assert hub.backfill_gap(code, stored.cum_volume, stored.time, live, stored=stored) == 10
        _settle(hub)
        assert _stored_cums(hub) == [t.cum_volume for t in market]
        assert hub.backfill.gaps_flagged == 0
    finally:
        hub.close()


def test_restart_anchor_is_the_last_stored_trade_when_the_journal_is_caught_up(
    hub_settings: HubSettings,
) -> None:
    market = _trades(12)
    first = Hub(hub_settings, connect=False)
    first.start()
    first.on_events(market[:6])
    _settle(first)
    first.close()

    hub = Hub(hub_settings, connect=False, client=_ChartClient(market))  # type: ignore[arg-type]
    hub.start()
    try:
        hub.collector.ws = _RacingSocket(hub, market[9:10])  # type: ignore[assignment]
        hub.collector.subscribe([CODE], OWNER_TOP)
        hub.gaps.flush_following(0.0, all_=True)  # skip the wait for more live trades
        code, stored, live = hub.gaps.queue.get_nowait()
        assert (stored.cum_volume, stored.time, stored.price, stored.qty) == (
            market[5].cum_volume,
            market[5].time,
            market[5].price,
            abs(market[5].volume),
        )
        assert live is not None
        assert hub.backfill_gap(code, stored.cum_volume, stored.time, live, stored=stored) == 3
        _settle(hub)
        assert _stored_cums(hub) == [t.cum_volume for t in market[:10]]
        with hub.engine.connect() as conn:
            sources: dict[int, str] = dict(
                conn.execute(
                    sa.text("SELECT cum_volume, source FROM tick_data WHERE stock_code = :c"),
                    {"c": CODE},
                ).all()
            )
        assert [sources[t.cum_volume] for t in market[6:9]] == ["backfill"] * 3
    finally:
        hub.close()
