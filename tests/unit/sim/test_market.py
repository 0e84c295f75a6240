"""The market model: ticks, limits, cumulative volume, book consistency, determinism."""

from __future__ import annotations

import json
from collections import Counter

from gslts_kiwoom import krx, realtime
from gslts_kiwoom.realtime import RealtimeDecoder
from gslts_kiwoom.sim import BookUpdate, MarketEvent, MarketTrade

from .conftest import START, advance, make_sim


def test_trades_respect_tick_grid_limits_and_cumulative_volume() -> None:
    sim = make_sim(trades_per_s=200)
    events: list[MarketEvent] = []
    sim.add_listener(events.append)
    advance(sim, 120)
    trades = [e for e in events if isinstance(e, MarketTrade)]
    assert len(trades) > 10_000
    last_cum: dict[str, int] = {}
    last_seq: dict[str, int] = {}
    for t in trades:
        lower, upper = krx.price_limits(t.base_price)
        assert krx.is_valid_price(t.price), t
        assert lower <= t.price <= upper
        assert t.volume != 0
        assert t.cum_volume > last_cum.get(t.code, 0)
        assert t.cum_volume - last_cum.get(t.code, t.cum_volume - abs(t.volume)) == abs(t.volume)
        assert t.seq > last_seq.get(t.code, 0)
        assert t.low <= t.price <= t.high
        last_cum[t.code] = t.cum_volume
        last_seq[t.code] = t.seq
    assert any(t.volume > 0 for t in trades)
    assert any(t.volume < 0 for t in trades)


def test_book_consistent_with_last_trade() -> None:
    sim = make_sim(trades_per_s=200)
    books: dict[str, BookUpdate] = {}
    last: dict[str, MarketTrade] = {}

    def listen(e: MarketEvent) -> None:
        if isinstance(e, BookUpdate):
            books[e.code] = e
        elif isinstance(e, MarketTrade):
            last[e.code] = e

    sim.add_listener(listen)
    advance(sim, 60)
    one_tick = 0
    for code, book in books.items():
        assert book.asks
        assert book.bids
        best_ask, best_bid = book.asks[0].price, book.bids[0].price
        assert best_ask > best_bid
        assert [lv.price for lv in book.asks] == sorted(lv.price for lv in book.asks)
        assert [lv.price for lv in book.bids] == sorted(
            (lv.price for lv in book.bids), reverse=True
        )
        assert len(book.asks) <= 10
        assert len(book.bids) <= 10
        assert all(krx.is_valid_price(lv.price) and lv.qty > 0 for lv in book.asks + book.bids)
        trade = last[code]
        # the last trade printed at (or inside) the touch it traded against
        assert (
            best_bid - krx.tick_size(best_bid) <= trade.price <= best_ask + krx.tick_size(best_ask)
        )
        one_tick += krx.tick_up(best_bid) == best_ask
    assert one_tick / len(books) > 0.5  # mostly one tick apart


def test_activity_follows_real_trading_value() -> None:
    sim = make_sim(trades_per_s=50)
    advance(sim, 300, step=5)
    counts = {code: len(sim.trades(code)) for code in ("005930", "000040")}
    # 삼성전자 traded ~664bn KRW that day, KR모터스 ~0.15bn
    assert counts["005930"] > 20
    assert counts["000040"] <= 2


def test_deterministic_for_a_seed() -> None:
    def run(seed: int) -> list[tuple[str, int, int]]:
        sim = make_sim(seed=seed, trades_per_s=50)
        events: list[MarketEvent] = []
        sim.add_listener(events.append)
        advance(sim, 30)
        return [(e.code, e.price, e.volume) for e in events if isinstance(e, MarketTrade)]

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_minute_and_daily_bars() -> None:
    sim = make_sim(trades_per_s=100)
    advance(sim, 180, step=2)
    st = sim.market.state("005930")
    bars = list(st.minute_bars)
    assert len(bars) >= 3
    trades = sim.trades("005930")
    assert sum(b.volume for b in bars) == sum(abs(t.volume) for t in trades)
    daily = sim.market.daily_bars("005930")
    assert len(daily) == 301  # 300 synthetic days + today
    for b in daily:
        lower, upper = krx.price_limits(b.base_price)
        assert lower <= b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high <= upper
        assert krx.is_valid_price(b.close)
        assert krx.is_trading_day(b.start.date())
    # history ends at the snapshot close, which is today's base price
    assert daily[-2].close == st.base_price == 67500


def test_day_rollover_makes_close_the_new_base() -> None:
    from datetime import timedelta

    sim = make_sim(trades_per_s=200)
    advance(sim, 30)
    sim.step(sim.now.replace(hour=23, minute=59, second=0))
    st = sim.market.state("005930")
    close = st.last
    sim.step(sim.now + timedelta(minutes=2))  # 00:01 next day
    nxt = sim.market.state("005930")
    assert nxt.day == START.date() + timedelta(days=1)
    assert nxt.base_price == close
    assert (nxt.lower, nxt.upper) == krx.price_limits(close)
    bars = {b.start.date(): b for b in sim.market.daily_bars("005930")}
    assert bars[START.date()].close == close


def test_krx_clock_no_trades_on_holiday() -> None:
    from datetime import datetime, timedelta

    sim = make_sim(clock="krx", start_time=datetime(2026, 9, 25, 10, 0, tzinfo=krx.KST))
    assert sim.step(sim.now + timedelta(seconds=60)) == 0
    sim2 = make_sim(clock="krx", start_time=datetime(2026, 9, 28, 10, 0, tzinfo=krx.KST))
    assert sim2.step(sim2.now + timedelta(seconds=60)) > 0


def test_cum_value_is_krw_million_in_events_on_the_wire_and_in_the_client() -> None:
    """One unit for ``cum_value`` (백만원, truncated like FID 14): the simulator's MarketTrade, the
    0B it streams and the client's decoded MarketTrade carry the same number."""
    sim = make_sim(trades_per_s=200)
    events: list[MarketEvent] = []
    sim.add_listener(events.append)
    advance(sim, 30)
    trades = [e for e in events if isinstance(e, MarketTrade)]
    code = Counter(t.code for t in trades).most_common(1)[0][0]
    mine = [t for t in trades if t.code == code]
    exact = sim.market.state(code).cum_value_krw  # the model keeps exact KRW
    assert exact > 1_000_000
    for t in reversed(mine):
        assert t.cum_value == exact // 1_000_000
        exact -= t.price * abs(t.volume)
    decoder = RealtimeDecoder()
    decoder.set_clock(mine[-1].time.timestamp())
    (got,) = decoder.decode_items([json.loads(sim.feed.trade_text(mine[-1]))])
    assert isinstance(got, realtime.Trade)
    assert got.cum_value == mine[-1].cum_value
