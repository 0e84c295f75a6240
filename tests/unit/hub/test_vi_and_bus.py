"""Per-stock VI state (1h VI발동/해제) → stock health, and every tick on the bus."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from gslts_common.bus import TICK_CHANNEL, VI_CHANNEL
from gslts_hub.hub import Hub
from gslts_hub.settings import HubSettings
from gslts_hub.stocks import StockState
from gslts_hub.vi import ViTracker
from gslts_kiwoom.realtime import KST, Trade, ViEvent

T0 = datetime(2026, 3, 3, 10, 0, 5, tzinfo=KST)
NOW = T0.timestamp()


def _vi(
    code: str, kind: str, at: datetime, release: datetime | None, price: int = 77_000
) -> ViEvent:
    return ViEvent(
        code=code,
        name="삼성전자",
        cum_volume=1000,
        cum_value=70,
        trigger_type=kind,
        market="101",
        pre_open="0",
        trigger_price=price,
        trade_time=at,
        release_time=release,
        vi_kind="정적",
        static_ref_price=70_000,
        dynamic_ref_price=None,
        static_deviation=Decimal("10.00"),
        dynamic_deviation=None,
        trigger_rate=Decimal("10.00"),
        count=1,
        direction="1",
    )


def _trade(code: str, cum: int, qty: int = 5, price: int = 70_000) -> Trade:
    return Trade(
        code, "KRX", T0.date(), T0, price, 0, Decimal("0.00"), qty, cum, cum * price // 10**6,
        price, price, price, price + 100, price, None, "2",
    )  # fmt: skip


def test_vi_is_active_from_trigger_to_release_and_logged() -> None:
    vi = ViTracker(grace_s=60)
    assert not vi.active("005930", NOW)
    msg = vi.apply(_vi("005930", "1", T0, T0 + timedelta(minutes=2)), NOW)
    assert msg is not None
    assert "VI 발동" in msg
    assert "77,000원" in msg
    assert "10:02:05" in msg
    assert vi.active("005930", NOW + 100)
    assert not vi.active("000660", NOW + 100)  # per stock
    st = vi.get("005930")
    assert st is not None
    assert st.as_dict()["release_at"] == (T0 + timedelta(minutes=2)).isoformat()
    msg = vi.apply(
        _vi("005930", "2", T0 + timedelta(minutes=2), T0 + timedelta(minutes=2, seconds=17)),
        NOW + 137,
    )
    assert msg is not None
    assert "VI 해제 10:02:22" in msg
    assert not vi.active("005930", NOW + 138)
    st = vi.get("005930")
    assert st is not None
    assert not st.active
    assert st.triggered_at == T0  # the trigger is kept with the actual release time
    assert st.release_at == T0 + timedelta(minutes=2, seconds=17)


def test_lost_release_ends_the_vi_after_its_announced_time_plus_grace() -> None:
    vi = ViTracker(grace_s=60, max_vi_s=600)
    vi.apply(_vi("005930", "1", T0, T0 + timedelta(minutes=2)), NOW)
    assert vi.active("005930", NOW + 179)
    assert not vi.active("005930", NOW + 181)
    vi.apply(_vi("000660", "1", T0, None), NOW)  # no release time announced
    assert vi.active("000660", NOW + 599)
    assert not vi.active("000660", NOW + 601)


def test_unknown_trigger_type_is_ignored() -> None:
    vi = ViTracker()
    assert vi.apply(_vi("005930", "9", T0, None), NOW) is None
    assert not vi.active("005930", NOW)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hub(hub_settings: HubSettings, clock: Clock) -> Iterator[Hub]:
    h = Hub(hub_settings, connect=False, clock=clock)
    h.start()
    yield h
    h.close()


def test_stock_in_vi_reports_vi_then_ok_and_the_event_log_shows_it(hub: Hub, clock: Clock) -> None:
    health = hub.status_view.stock_health
    hub.on_events([_trade("005930", 100)])
    st = hub.stocks["005930"]
    assert health(st, NOW + 1, expected=True) == "ok"
    hub.on_events([_vi("005930", "1", T0, T0 + timedelta(minutes=2))])
    # silent for longer than hub_stale_after_s, during the continuous session: still "vi"
    assert health(st, NOW + 119, expected=True) == "vi"
    assert health(StockState("000660"), NOW, expected=True) == "no_data"
    hub.on_events([_vi("005930", "2", T0 + timedelta(minutes=2), T0 + timedelta(minutes=2))])
    assert health(st, NOW + 121, expected=True) == "stale"
    clock.now = NOW + 121
    hub.on_events([_trade("005930", 200)])
    assert health(st, NOW + 122, expected=True) == "ok"
    kinds = [(e["kind"], e["message"]) for e in hub.status()["events"] if e["kind"] == "vi"]
    assert [("VI 발동" in m, "VI 해제" in m) for _, m in kinds] == [(True, False), (False, True)]


def test_a_vi_trigger_and_its_release_go_out_on_the_bus(hub: Hub) -> None:
    got: list[tuple[str, dict[str, Any]]] = []
    hub.bus.subscribe(lambda ch, ev: got.append((ch, ev)))
    hub.on_events([_vi("005930", "1", T0, T0 + timedelta(minutes=2))])
    hub.on_events([_vi("005930", "9", T0, None)])  # ignored: nothing published
    hub.on_events([_vi("005930", "2", T0 + timedelta(minutes=2), T0 + timedelta(minutes=2))])
    vis = [(ch, ev) for ch, ev in got if ch.startswith(VI_CHANNEL)]
    assert [ch for ch, _ in vis] == [VI_CHANNEL + "005930"] * 2
    trig, rel = (ev for _, ev in vis)
    assert trig == {
        "code": "005930",
        "active": True,
        "kind": "정적",
        "trigger_price": 77_000,
        "triggered_at": T0.isoformat(),
        "release_at": (T0 + timedelta(minutes=2)).isoformat(),
        "count": 1,
        "direction": "up",
    }
    assert rel["active"] is False
    assert rel["triggered_at"] == T0.isoformat()


def test_every_trade_of_a_frame_is_published_once_per_stock(hub: Hub) -> None:
    got: list[tuple[str, dict[str, Any]]] = []
    hub.bus.subscribe(lambda ch, ev: got.append((ch, ev)))
    frame = [_trade("005930", 10, 10), _trade("000660", 3, 3, 150_000), _trade("005930", 12, -2),
             _trade("005930", 20, 8, 70_100)]  # fmt: skip
    hub.on_events(frame)
    ticks = [(ch, ev) for ch, ev in got if ch.startswith(TICK_CHANNEL)]
    assert [ch for ch, _ in ticks] == [TICK_CHANNEL + "005930", TICK_CHANNEL + "000660"]
    sam = ticks[0][1]
    assert sam["n"] == 3
    assert sam["source"] == "live"
    assert sam["cum_volume"] == [10, 12, 20]
    assert sam["volume"] == [10, -2, 8]
    assert sam["price"] == [70_000, 70_000, 70_100]
    assert sam["trade_date"] == ["2026-03-03"] * 3
    assert sam["time"] == [T0.timestamp()] * 3
    assert sam["venue"] == ["KRX"] * 3
    assert ticks[1][1]["cum_volume"] == [3]
    quote = hub.bus.get_quote("005930")
    assert quote is not None
    assert (quote["price"], quote["cum_volume"], quote["volume"]) == (70_100, 20, 8)


def test_the_quote_carries_the_base_price_and_the_days_range(hub: Hub) -> None:
    """기준가 = price − the change versus the previous close (FID 11): what the backend's
    /api/stocks quote and the watchlist's change % use for a stock the hub collects."""
    t = Trade(
        "005930", "KRX", T0.date(), T0, 70_500, 500, Decimal("0.71"), 3, 30, 2,
        69_900, 71_000, 69_500, 70_600, 70_500, None, "2",
    )  # fmt: skip
    hub.on_events([t])
    quote = hub.bus.get_quote("005930")
    assert quote is not None
    assert (quote["base_price"], quote["open"], quote["high"], quote["low"]) == (
        70_000,
        69_900,
        71_000,
        69_500,
    )


def _raw_book(code: str, hms: str, best_ask: int) -> Any:
    from gslts_kiwoom.realtime import RawRealtime

    v = {"21": hms, "121": "100", "125": "100", "23": "", "24": ""}
    for i in range(10):
        v[str(41 + i)] = f"+{best_ask + 100 * i}"
        v[str(51 + i)] = f"+{best_ask - 100 * (i + 1)}"
        v[str(61 + i)] = v[str(71 + i)] = "10"
    return RawRealtime("0D", code, v)


def test_books_are_rate_limited_per_stock_and_the_latest_always_follows(
    hub_settings: HubSettings,
) -> None:
    """A burst of deferred 0D books: the bus gets at most one book per stock per
    HUB_BOOK_PUBLISH_S — always the newest — the held-back newest follows once its turn
    comes (or on the control loop's flush when the feed goes quiet); storage samples at
    HUB_BOOK_SAMPLE_S; superseded books are never decoded."""
    clock = [NOW]
    h = Hub(hub_settings, connect=False, clock=lambda: clock[0])
    h.start()
    got: list[tuple[str, int]] = []
    h.bus.subscribe(
        lambda ch, ev: got.append((ev["code"], ev["asks"][0][0])) if "book" in ch else None
    )
    try:
        # 0.00 s: two books of 005930 and one of 000660 in one batch → the latest of each
        h.on_events(
            [
                _raw_book("005930", "100005", 70_100),
                _raw_book("005930", "100005", 70_200),
                _raw_book("000660", "100005", 180_000),
            ]
        )
        assert got == [("005930", 70_200), ("000660", 180_000)]
        assert h.books_received == 3
        assert h.books_journaled == 2  # one stored sample per stock
        # 0.03 s and 0.06 s: too soon for 005930 — held back, the newer replacing the older
        for dt, ask in ((0.03, 70_300), (0.06, 70_400)):
            clock[0] = NOW + dt
            h.on_events([_raw_book("005930", "100005", ask)])
        assert got[2:] == []
        # 0.12 s: a trade-only batch; its turn has come → the newest held-back book goes out
        clock[0] = NOW + 0.12
        h.on_events([_trade("000660", 100)])
        assert got[2:] == [("005930", 70_400)]
        # a last book, then silence: the control loop's flush publishes it
        clock[0] = NOW + 0.15
        h.on_events([_raw_book("005930", "100006", 70_500)])
        assert got[3:] == []
        h.flush_books(NOW + 1.0)
        assert got[3:] == [("005930", 70_500)]
        h.flush_books(NOW + 2.0)
        assert got[4:] == []  # nothing twice
        assert h.books_journaled == 2  # within HUB_BOOK_SAMPLE_S: no more stored samples
        clock[0] = NOW + 1.2
        h.on_events([_raw_book("005930", "100006", 70_600)])
        assert h.books_journaled == 3
        assert got[4:] == [("005930", 70_600)]
    finally:
        h.close()
