"""Holes in the live stream, and gaps that outlive the process that found them.

A KRX trade carries the day's cumulative volume: a trade whose cumulative volume minus its
own quantity is past the previous trade's means the trades between never arrived (the
soak's flood: the upstream dropped 37k items under load, and the hub stored the rest as if
nothing had happened). Such a hole is a gap like a reconnect's: filled from ka10079.

And a gap is kept on disk until its walk is done: the soak's ``kill -9`` during an open
gap lost 508 trades, because the restarted hub anchored on the newest stored trade (after
the gap) and never looked back.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator

import pytest

from gslts_hub.collector import OWNER_TOP
from gslts_hub.hub import Hub
from gslts_hub.pending_gaps import PendingGaps
from gslts_hub.settings import HubSettings
from gslts_kiwoom.realtime import Trade
from tests.unit.hub.test_restart_anchor import (
    CODE,
    _ChartClient,
    _settle,
    _stored_cums,
    _trades,
)


class _Chart(_ChartClient):
    """ka10079 as the market has it, and what ``/api/status`` asks a client."""

    token_cache = rate_limiter = None

    def token_expires_at(self) -> None:
        return None


def _walk_the_gap(hub: Hub) -> int:
    """Hand the open gap to the walk (as the backfill thread does); trades added."""
    hub.gaps.flush_following(0.0, all_=True)  # skip the wait for more live trades
    code, stored, live = hub.gaps.queue.get_nowait()
    assert code == CODE
    assert live is not None
    added = hub.backfill_gap(code, stored.cum_volume, stored.time, live, stored=stored)
    hub.gaps.done(code, stored, live.cum_volume)  # what the backfill worker does after it
    return added


@pytest.mark.parametrize(
    "batches",
    [
        pytest.param(lambda m: [m[:10], m[15:]], id="hole-between-batches"),
        pytest.param(lambda m: [m[:10] + m[15:]], id="hole-inside-a-batch"),
        pytest.param(lambda m: [m[:10], m[15:17], m[17:]], id="hole-then-more-batches"),
    ],
)
def test_a_hole_in_the_stream_is_filled_from_ka10079(
    hub_settings: HubSettings, batches: object
) -> None:
    market = _trades(30)
    hub = Hub(hub_settings, connect=False, client=_Chart(market))  # type: ignore[arg-type]
    hub.start()
    try:
        for batch in batches(market):  # type: ignore[operator]
            hub.on_events(list(batch))
        assert hub.stream_gaps == 1
        # open on disk until the walk is done: a restart now would still walk it
        opened = PendingGaps(hub_settings.journal_dir()).for_day(market[0].trade_date)
        assert opened[CODE].cum_volume == market[9].cum_volume
        assert _walk_the_gap(hub) == 5
        _settle(hub)
        assert _stored_cums(hub) == [t.cum_volume for t in market]
        assert hub.backfill.gaps_flagged == 0
        assert len(PendingGaps(hub_settings.journal_dir())) == 0
        st = hub.status()
        assert st["stream_gaps"] == 1
        assert st["pending_gaps"] == 0
        hub.control.report_counters()
        assert any("holes in the live stream" in e["message"] for e in hub.events)
    finally:
        hub.close()


def test_a_gap_that_opens_while_an_older_one_is_walked_stays_open_on_disk(
    hub_settings: HubSettings,
) -> None:
    """The soak's 2026-12-03 loss: a second hole opened while the first one's walk ran;
    closing the first walk deleted the stock's entry, so the second lived only in memory
    and a ``kill -9`` before its walk forgot it."""
    market = _trades(40)
    hub = Hub(hub_settings, connect=False, client=_Chart(market))  # type: ignore[arg-type]
    hub.start()
    try:
        hub.on_events(market[:10])
        hub.on_events(market[15:20])  # hole 1: trades 10-14
        hub.gaps.flush_following(0.0, all_=True)
        code, stored, live = hub.gaps.queue.get_nowait()  # the backfill thread took it …
        hub.on_events(market[25:30])  # … and hole 2 (20-24) opened while it walked
        assert hub.stream_gaps == 2
        assert hub.backfill_gap(code, stored.cum_volume, stored.time, live, stored=stored) == 5
        hub.gaps.done(code, stored, live.cum_volume)  # walk 1 is done: hole 2 is not
        left = PendingGaps(hub_settings.journal_dir())  # what a restart now would read
        assert [a.cum_volume for a in left.anchors(CODE)] == [market[19].cum_volume]
        assert left.for_day(market[0].trade_date)[CODE].cum_volume == market[19].cum_volume
        assert _walk_the_gap(hub) == 5  # hole 2's own walk closes it
        _settle(hub)
        assert _stored_cums(hub) == [t.cum_volume for t in market[:30]]
        assert len(PendingGaps(hub_settings.journal_dir())) == 0
    finally:
        hub.close()


def test_a_resent_older_trade_is_not_a_hole(hub_settings: HubSettings) -> None:
    market = _trades(20)
    hub = Hub(hub_settings, connect=False, client=_ChartClient(market))  # type: ignore[arg-type]
    hub.start()
    try:
        hub.on_events(market[:10])
        hub.on_events([market[4]])  # a duplicate (e.g. resent after a reconnect)
        hub.on_events(market[10:])
        assert hub.stream_gaps == 0
        assert not hub.gaps.following
        assert hub.gaps.queue.empty()
        assert len(hub.pending_gaps) == 0
    finally:
        hub.close()


def test_the_check_can_be_switched_off(hub_settings: HubSettings) -> None:
    market = _trades(20)
    settings = hub_settings.model_copy(update={"hub_stream_gap_check": False})
    hub = Hub(settings, connect=False, client=_ChartClient(market))  # type: ignore[arg-type]
    hub.start()
    try:
        hub.on_events(market[:5])
        hub.on_events(market[9:])
        assert hub.stream_gaps == 0
        assert hub.gaps.queue.empty()
        assert not hub.gaps.following
    finally:
        hub.close()


class _Socket:
    def subscribe(self, items: Iterable[str], types: Iterable[str], owner: str) -> None:
        pass

    def close(self) -> None:
        pass


def test_a_gap_open_when_the_hub_dies_is_walked_by_the_next_one(
    hub_settings: HubSettings,
) -> None:
    """The soak's loss: a disconnect gap, live trades after it stored, then ``kill -9``
    before the walk. The next hub must start its walk at the gap, not at the newest
    stored trade."""
    market = _trades(40)
    first = Hub(hub_settings, connect=False)
    first.start()
    first.on_events(market[:10])
    first.gaps.mark_all(time.time())  # the socket dropped: a gap after trade 9
    first.on_events(market[15:25])  # reconnected: the live trades after the gap are stored
    _settle(first)
    first.close()  # … and it died before the walk (nothing closed the gap)

    hub = Hub(hub_settings, connect=False, client=_ChartClient(market))  # type: ignore[arg-type]
    hub.start()
    try:
        assert any("left open by the previous process" in e["message"] for e in hub.events)
        hub.collector.ws = _Socket()  # type: ignore[assignment]
        hub.collector.subscribe([CODE], OWNER_TOP)
        hub.on_events(market[30:])  # the restart gap: 25-29 traded while no hub ran
        hub.gaps.flush_following(0.0, all_=True)
        code, stored, live = hub.gaps.queue.get_nowait()
        assert stored.cum_volume == market[9].cum_volume  # the old gap's start wins
        assert live is not None
        # one walk covers both gaps: 10-14, 15-24 again (no-ops by the natural key), 25-29
        assert hub.backfill_gap(code, stored.cum_volume, stored.time, live, stored=stored) == 20
        hub.gaps.done(code, stored, live.cum_volume)
        _settle(hub)
        assert _stored_cums(hub) == [t.cum_volume for t in market]
        assert len(PendingGaps(hub_settings.journal_dir())) == 0
    finally:
        hub.close()


class _FailingChart(_ChartClient):
    def __init__(self, trades: list[Trade]) -> None:
        super().__init__(trades)
        self.calls = 0

    def iter_tick_chart(self, code: str, *, since: object) -> Iterator[list[object]]:  # type: ignore[override]
        self.calls += 1
        raise OSError("refused")


def test_a_failed_walk_is_tried_again_then_left_open_for_the_next_start(
    hub_settings: HubSettings,
) -> None:
    market = _trades(20)
    now = [time.time()]
    hub = Hub(
        hub_settings,
        connect=False,
        client=_FailingChart(market),  # type: ignore[arg-type]
        clock=lambda: now[0],
    )
    hub.start()
    try:
        hub.on_events(market[:5])
        hub.on_events(market[9:])
        hub.gaps.flush_following(0.0, all_=True)
        item = hub.gaps.queue.get_nowait()
        for attempt in range(1, 4):
            hub.gaps.retry(item)
            hub.gaps.queue_retries(now[0])
            assert hub.gaps.queue.empty(), "not before its time"
            now[0] += 10.0 * attempt + 0.1
            hub.gaps.queue_retries(now[0])
            assert hub.gaps.queue.get_nowait() == item
        hub.gaps.retry(item)  # the fourth failure: given up, the gap stays open on disk
        assert any("not filled after 3 attempts" in e["message"] for e in hub.events)
        assert CODE in PendingGaps(hub_settings.journal_dir()).for_day(market[0].trade_date)
    finally:
        hub.close()


def test_malformed_input_and_rest_rate_limiting_show_in_status_and_events(
    hub_settings: HubSettings,
) -> None:
    """The soak's garbage and 429-storm faults were invisible in /api/status."""
    from gslts_kiwoom._rest import ClientStats

    client = _Chart([])
    client.stats = ClientStats(calls=10)  # type: ignore[attr-defined]
    hub = Hub(hub_settings, connect=False, client=client)  # type: ignore[arg-type]
    hub.start()
    try:
        hub.control.report_counters()
        quiet = len(hub.events)
        hub.books.decoder.malformed["0D:fields"] += 3  # what the decoder counts
        client.stats.rate_limited += 2  # type: ignore[attr-defined]
        hub.control.report_counters()
        said = [e["message"] for e in list(hub.events)[quiet:]]
        assert any("3 malformed" in m and "0D:fields=3" in m for m in said), said
        assert any("rate limited 2 times" in m for m in said), said
        hub.control.report_counters()  # nothing new: no new event
        assert len(hub.events) == quiet + 2
        st = hub.status()
        assert st["malformed"] == {"0D:fields": 3}
        assert st["rest"]["rate_limited"] == 2
        assert st["rest"]["calls"] == 10
    finally:
        hub.close()


def test_a_long_gap_fill_is_journaled_in_bounded_records(
    hub_settings: HubSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flood's hole can be tens of thousands of trades: never one huge record."""
    from gslts_hub import backfill_worker
    from gslts_hub.rows import decode_record

    monkeypatch.setattr(backfill_worker, "BACKFILL_RECORD_TRADES", 2)
    market = _trades(30)
    hub = Hub(hub_settings, connect=False, client=_Chart(market))  # type: ignore[arg-type]
    hub.start()
    try:
        hub.on_events(market[:10])
        hub.on_events(market[15:])
        assert _walk_the_gap(hub) == 5
        sizes = [
            len(ticks)
            for _, payload in hub.journal.read(0)
            for _, source, ticks, _ in [decode_record(payload)]
            if source == "backfill"
        ]
        assert sizes == [2, 2, 1]
        _settle(hub)
        assert _stored_cums(hub) == [t.cum_volume for t in market]
    finally:
        hub.close()
