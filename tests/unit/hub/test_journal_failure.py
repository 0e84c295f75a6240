"""The hub on a journal that cannot be written (disk full): nothing received is dropped
silently. Batches wait in bounded memory and are journaled, in order, once the disk takes
writes again; past the bound collection is suspended and says so (health, status, metrics,
one event per state change), and the refused trades become a gap to backfill."""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from prometheus_client import generate_latest

from gslts_hub.hub import Hub
from gslts_hub.journal import FileOps
from gslts_hub.metrics import make_registry
from gslts_hub.rows import decode_record
from gslts_hub.settings import HubSettings
from gslts_kiwoom.realtime import KST, Trade

T0 = datetime(2026, 3, 3, 10, 0, 0, tzinfo=KST)


class FullDisk(FileOps):
    """ENOSPC while ``full`` (after writing a few bytes of the record, as a real short
    write does)."""

    def __init__(self) -> None:
        self.full = False
        self.failed = 0

    def write(self, fd: int, data: memoryview) -> int:
        if self.full:
            self.failed += 1
            if len(data) > 16 and self.failed % 2:
                return os.write(fd, data[:16])  # the kernel took a part, then …
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().write(fd, data)


def _trade(code: str, cum: int) -> Trade:
    return Trade(
        code=code, venue="KRX", trade_date=T0.date(), time=T0.replace(second=cum % 60),
        price=70_000 + cum, change=100, change_rate=Decimal("0.14"), volume=1, cum_volume=cum,
        cum_value=cum * 70_000 // 10**6, open=70_000, high=71_000, low=69_000,
        best_ask=70_100, best_bid=70_000, strength=Decimal("100"), session="2",
    )  # fmt: skip


@pytest.fixture
def disk() -> FullDisk:
    return FullDisk()


class Clock:
    def __init__(self) -> None:
        self.now = T0.timestamp()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hub(hub_settings: HubSettings, disk: FullDisk, clock: Clock) -> Iterator[Hub]:
    # room for a handful of batches in memory, so the bound is reached in the test
    settings = hub_settings.model_copy(update={"hub_journal_spool_mb": 2000 / 2**20})
    h = Hub(settings, connect=False, clock=clock, journal_ops=disk)
    h.start()
    yield h
    h.close()


def _metric(hub: Hub, name: str) -> float:
    text = generate_latest(make_registry(hub)).decode()
    line = next(ln for ln in text.splitlines() if ln.startswith(name + " "))
    return float(line.split()[1])


def _journaled(hub: Hub) -> list[int]:
    return [a[3] for _, p in hub.journal.read(0) for a in decode_record(p)[2]]


def _stored(hub: Hub) -> list[int]:
    with hub.engine.connect() as conn:
        return [
            int(r[0])
            for r in conn.exec_driver_sql("SELECT cum_volume FROM tick_data ORDER BY cum_volume")
        ]


def test_a_full_disk_keeps_batches_refuses_loudly_and_stores_all_kept(
    hub: Hub, disk: FullDisk, clock: Clock
) -> None:
    cum = iter(range(1, 10_000))
    hub.on_events([_trade("005930", next(cum)) for _ in range(3)])
    assert hub.health_reasons() == []
    disk.full = True
    kept: list[int] = []
    refused = 0
    for _ in range(40):  # never raises into the socket thread
        batch = [_trade("005930", next(cum)) for _ in range(5)]
        before = hub.ticks_refused
        hub.on_events(batch)
        if hub.ticks_refused == before:
            kept += [t.cum_volume for t in batch]
        else:
            refused += len(batch)
    # once suspended, even a record that would fit is refused (it would cut the gap short)
    before = hub.ticks_refused
    hub.on_events([_trade("005930", next(cum))])
    assert hub.ticks_refused == before + 1
    refused += 1
    st = hub.status()
    assert st["journal"]["state"] == "suspended"
    assert "ENOSPC" in st["journal"]["last_error"]
    assert st["journal"]["waiting_records"] > 0
    assert kept
    assert refused
    assert st["ticks_refused"] == hub.ticks_refused == refused
    assert hub.ticks_received == 3 + len(kept)  # refused trades are counted apart
    reasons = hub.health_reasons()
    assert any("journal unwritable" in r and "collection suspended" in r for r in reasons)
    assert _metric(hub, "gslts_hub_journal_ok") == 0.0
    assert _metric(hub, "gslts_hub_ticks_refused_total") == refused
    assert _metric(hub, "gslts_hub_journal_write_errors_total") >= 1
    # one event per state change (ok → failing → suspended), not one per batch
    journal_events = [e["message"] for e in st["events"] if e["kind"] == "journal"]
    assert len(journal_events) == 2
    # the refused trades are a gap: the stock's state stops at the last kept trade
    assert hub.stocks["005930"].last_cum == kept[-1]

    disk.full = False
    hub.spool.retry()  # the control loop's call once a second (retry is rate-limited) …
    clock.now += hub.spool.retry_s  # … made due on the hub's clock: the test does not sleep
    hub.spool.retry()
    assert hub.spool.state == "ok"
    hub.on_events([_trade("005930", next(cum))])
    assert hub.health_reasons() == []
    journaled = _journaled(hub)
    assert journaled == sorted(journaled)  # in order, nothing twice
    assert journaled == [1, 2, 3, *kept, journaled[-1]]
    assert hub.flush(timeout=30)
    assert _stored(hub) == journaled
    assert any("writable again" in e["message"] for e in hub.status()["events"])


def test_restart_after_a_full_disk_keeps_every_journaled_tick(
    hub_settings: HubSettings, disk: FullDisk, clock: Clock
) -> None:
    h = Hub(hub_settings, connect=False, clock=clock, journal_ops=disk)
    h.start()
    h.writer.stop(drain=True)  # the database "lags": everything stays in the journal
    h.on_events([_trade("000660", c) for c in range(1, 6)])
    disk.full = True
    h.on_events([_trade("000660", c) for c in range(6, 9)])  # kept in memory
    disk.full = False
    clock.now += h.spool.retry_s  # the retry is due
    h.on_events([_trade("000660", c) for c in range(9, 12)])  # journals what waits first
    h.close()

    again = Hub(hub_settings, connect=False, clock=lambda: T0.timestamp())
    again.start()
    try:
        assert again.flush(timeout=30)
        assert _stored(again) == list(range(1, 12))
        assert again.journal.stats().skipped_bytes == 0
    finally:
        again.close()


def test_a_writer_that_stops_moving_is_reported_stalled(
    hub: Hub, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A running writer whose checkpoint does not move while the backlog waits (what a torn
    record used to cause) turns health red; the database being up rules out an outage."""
    hub.writer.stop(drain=False)
    monkeypatch.setattr(hub.writer, "cycle", lambda block=True: time.sleep(0.02) or False)
    hub.writer.start()
    hub.on_events([_trade("005930", c) for c in range(1, 4)])
    assert hub.writer.running
    assert hub.health_reasons() == []  # the mark is set: not moving since now
    clock.now += hub.settings.hub_writer_stall_s + 1
    reasons = hub.health_reasons()
    assert any(r.startswith("writer stalled") for r in reasons), reasons
    assert hub.status()["journal"]["writer_stall_s"] >= hub.settings.hub_writer_stall_s


def test_status_counts_refusals_in_the_same_units_as_received(hub: Hub, disk: FullDisk) -> None:
    """``ticks_received + ticks_refused`` = every trade the socket delivered."""
    disk.full = True
    sent = 0
    for i in range(100):
        hub.on_events([_trade("005930", 10 * i + k) for k in range(1, 4)])
        sent += 3
    st: dict[str, Any] = hub.status()
    assert st["ticks_received"] + st["ticks_refused"] == sent
    with hub.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM tick_data")).scalar() == 0
