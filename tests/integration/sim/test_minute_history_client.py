"""The library's REST client pages ka10080 minute history back over real HTTP: N past
sessions, no gap and no overlap between pages, each day's bars adding up to its ka10081
daily bar, and today's bars equal to what the market traded."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, time

from gslts_kiwoom import Candle, krx
from gslts_kiwoom.sim._history import SESSION_MINUTES
from tests.integration.sim.conftest import START, SimServer

Make = Callable[..., SimServer]
DAYS_BACK = 5


def test_client_pages_minute_history_back_n_days(make_server: Make) -> None:
    srv = make_server(history_days=12, trade_universe=3, trades_per_s=30.0)
    code = srv.sim.market._focus[0][0]  # type: ignore[index]  # the most traded stock
    srv.advance(90.0, 1.0)  # today: a minute and a half of live trading
    rest = srv.client()
    history = srv.sim.market.history_dates()
    since = datetime.combine(history[-DAYS_BACK], time(0), krx.KST)

    bars = rest.get_minute_chart(code, 1, since=since)

    # the raw pages behind it: 900 rows each (PROTOCOL §3.2), strictly older page by page
    body = {"stk_cd": code, "tic_scope": "1", "upd_stkpc_tp": "1"}
    labels: list[str] = []
    sizes: list[int] = []
    for page in rest.iter_pages("ka10080", body):
        rows = page.data["stk_min_pole_chart_qry"]
        sizes.append(len(rows))
        labels.extend(r["cntr_tm"] for r in rows)
        if rows[-1]["cntr_tm"] < f"{history[-DAYS_BACK]:%Y%m%d}":
            break
    assert sizes[:-1] == [900] * (len(sizes) - 1)
    assert labels == sorted(set(labels), reverse=True)  # no overlap between pages
    wanted = [t for t in labels if t >= f"{history[-DAYS_BACK]:%Y%m%d}"]
    assert [c.time.strftime("%Y%m%d%H%M%S") for c in bars] == wanted[::-1]

    by_day: dict[str, list[Candle]] = defaultdict(list)
    for c in bars:
        by_day[c.time.strftime("%Y%m%d")].append(c)
    past = [d.strftime("%Y%m%d") for d in history[-DAYS_BACK:]]
    today = START.strftime("%Y%m%d")
    assert sorted(by_day) == sorted([*past, today])
    daily = {
        d.date.strftime("%Y%m%d"): d
        for d in rest.get_daily_chart(code, START.date(), since=history[-DAYS_BACK])
    }
    session = {f"{(m + 1) // 60:02d}{(m + 1) % 60:02d}00" for m in SESSION_MINUTES}
    for ymd in past:
        day = by_day[ymd]
        assert {c.time.strftime("%H%M%S") for c in day} == session  # no gap
        d = daily[ymd]
        assert (day[0].open, day[-1].close) == (d.open, d.close)
        assert (max(c.high for c in day), min(c.low for c in day)) == (d.high, d.low)
        assert sum(c.volume for c in day) == d.volume
    truth = srv.sim.trades(code)
    assert truth
    assert sum(c.volume for c in by_day[today]) == sum(abs(t.volume) for t in truth)

    # base_date: that day and earlier
    earlier = rest.get_minute_chart(code, 1, base_date=history[-3])
    assert earlier[-1].time == datetime.combine(history[-3], time(15, 31), krx.KST)
    assert all(c.time.date() <= history[-3] for c in earlier)
