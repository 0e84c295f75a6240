"""The socket thread's per-stock-per-frame path (``Hub.on_events``) ends in exactly the
journal records, bus messages, quotes and per-stock state of the per-trade path it replaced:
frames decoded from wire text by the real 0B decoder, with several stocks per frame, NXT
items, malformed items, books, a frame spanning midnight and a pending restart gap."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from gslts_common.bus import QUOTE_KEY, TICK_CHANNEL, tick_batches
from gslts_hub.hub import Hub
from gslts_hub.rows import decode_record
from gslts_hub.settings import HubSettings
from gslts_kiwoom.realtime import KST, RealtimeDecoder, RealtimeEvent

RECV = datetime(2026, 3, 3, 10, 0, 5, tzinfo=KST).timestamp()


def _item(item: str, hms: str, price: int, qty: int, cum: int, nx: bool = False) -> dict[str, Any]:
    v = {"20": hms, "10": f"-{price}", "11": "-200", "12": "-0.28", "15": f"{qty:+d}",
         "13": str(cum), "14": str(cum * price // 10**6), "16": "70000", "17": "71000",
         "18": "69000", "27": f"+{price + 100}", "28": f"-{price}", "228": "101.5",
         "290": "2"}  # fmt: skip
    if nx:
        v["9081"] = "2"
    return {"type": "0B", "name": "주식체결", "item": item, "values": v}


def _book(item: str, hms: str) -> dict[str, Any]:
    v = {"21": hms, "121": "500", "125": "700"}
    for i in range(10):
        v[str(41 + i)] = str(70_100 + 100 * i)
        v[str(51 + i)] = str(70_000 - 100 * i)
        v[str(61 + i)] = str(10 + i)
        v[str(71 + i)] = str(20 + i)
    return {"type": "0D", "name": "주식호가잔량", "item": item, "values": v}


FRAMES: list[list[dict[str, Any]]] = [
    [_item("005930", "100001", 70_000, 10, 10), _item("000660", "100001", 150_000, -3, 3),
     _item("005930", "100002", 70_100, -2, 12), _item("005930_NX", "100002", 70_200, 4, 7),
     _book("005930", "100002")],
    [_item("005930_NX", "100003", 70_300, 1, 8)],  # NXT only: the KRX state stays
    [{"type": "0B", "item": "005930", "values": {"20": "100004"}},  # no price: dropped
     {"item": "000660"},  # no type: dropped
     _item("A000660", "100004", 150_100, 5, 8), _item("000660", "10000x", 1, 1, 9),
     _item("035720", "100004", 50_000, 1, 1, nx=True), _item("035720", "100005", 50_100, 2, 3)],
    [_item("000660", "100006", 150_200, 1, 9)],
]  # fmt: skip


def _decode(frames: list[list[dict[str, Any]]], recv: float) -> list[list[RealtimeEvent]]:
    dec = RealtimeDecoder()
    out = []
    for f in frames:
        dec.set_clock(recv)
        out.append(dec.decode_items(f))
    return out


@pytest.fixture
def hubs(hub_settings: HubSettings, tmp_path: Any) -> Iterator[tuple[Hub, Hub]]:
    ref_settings = hub_settings.model_copy(update={"data_dir": tmp_path / "ref"})
    made = []
    for s in (hub_settings, ref_settings):
        h = Hub(s, connect=False, clock=lambda: RECV)
        h.start()
        made.append(h)
    # the reference walks trade by trade (the path the grouped one replaced)
    ref = made[1]
    ref.ingest.apply_groups = lambda by_code, day, now: ref.ingest.apply_trades(  # type: ignore[method-assign]
        [t for ts, _ in by_code.values() for t in ts], now
    )
    yield made[0], made[1]
    for h in made:
        h.close()


def _run(hub: Hub, events: list[list[RealtimeEvent]]) -> tuple[list[bytes], list[Any]]:
    records: list[bytes] = []
    append = hub.journal.append

    def capture(payload: bytes) -> int:
        records.append(payload)
        return append(payload)

    hub.journal.append = capture  # type: ignore[method-assign]
    published: list[Any] = []
    hub.bus.subscribe(lambda ch, ev: published.append((ch, ev)))
    for evs in events:
        hub.on_events(evs)
    return records, published


def _state(hub: Hub) -> dict[str, Any]:
    return {c: dataclasses.asdict(st) for c, st in hub.stocks.items()}


def _quotes(hub: Hub, codes: set[str]) -> dict[str, Any]:
    return {c: hub.bus.get_quote(c) for c in codes}


def test_grouped_path_matches_the_per_trade_path(hubs: tuple[Hub, Hub]) -> None:
    fast, ref = hubs
    events = _decode(FRAMES, RECV)
    got = _run(fast, events)
    want = _run(ref, events)
    assert got == want
    assert _state(fast) == _state(ref)
    codes = set(fast.stocks)
    assert codes == {"005930", "000660", "035720"}
    assert _quotes(fast, codes) == _quotes(ref, codes)
    assert fast.ticks_received == ref.ticks_received == 9
    # independent of the reference hub: every journaled trade is on the bus once, per stock
    records, published = got
    ticks = [a for r in records for a in decode_record(r)[2]]
    assert len(ticks) == 9
    expected: list[tuple[str, Any]] = []
    for r in records:
        expected += [(TICK_CHANNEL + c, ev) for c, ev in tick_batches(decode_record(r)[2]).items()]
    assert [(ch, ev) for ch, ev in published if ch.startswith(TICK_CHANNEL)] == expected
    sam = fast.stocks["005930"]
    assert (sam.ticks_today, sam.last_price, sam.last_cum) == (4, 70_300, 12)  # NXT last
    assert fast.stocks["035720"].last_cum == 3
    assert fast.bus.get_quote("005930")["venue"] == "NXT"  # type: ignore[index]
    assert not QUOTE_KEY.startswith(TICK_CHANNEL)


def test_a_frame_spanning_midnight_counts_like_the_per_trade_path(hubs: tuple[Hub, Hub]) -> None:
    fast, ref = hubs
    late = datetime(2026, 3, 3, 23, 59, 59, tzinfo=KST).timestamp()
    day1 = _decode([[_item("005930", "235959", 70_000, 1, 1)]], late)[0]
    day2 = _decode([[_item("005930", "000001", 70_100, 1, 1)]], late + 2)[0]
    for h in (fast, ref):
        h.on_events(day1 + day2 + day2)  # one batch dated across two days
    assert _state(fast) == _state(ref)
    assert fast.stocks["005930"].ticks_today == 2


def test_a_pending_gap_is_anchored_on_the_first_live_krx_trade(hubs: tuple[Hub, Hub]) -> None:
    fast, _ = hubs
    from gslts_hub.backfill import StoredAnchor

    stored = StoredAnchor(datetime(2026, 3, 3, 9, 59, tzinfo=KST), 69_900, 1, 5, 0)
    fast.gaps.await_first["005930"] = (stored, RECV)
    fast.on_events(_decode(FRAMES[:1], RECV)[0])
    fast.gaps.flush_following(0.0, all_=True)  # skip the wait for more live trades
    code, anchor_stored, live = fast.gaps.queue.get_nowait()
    assert (code, anchor_stored) == ("005930", stored)
    assert live is not None
    assert (live.cum_volume, live.qty) == (10, 10)
    assert fast.stocks["005930"].last_cum == 12
