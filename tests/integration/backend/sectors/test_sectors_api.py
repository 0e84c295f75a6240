"""The sector link end to end on the real MariaDB and the real simulator: the US feed
(``/_sim/us-daily``) and the ka10081 backfill through the real client land in the tables
exactly as served; the API ranks a planted world's stocks by what was planted and finds
its relation significant, finds nothing in a world without one, and enforces auth, roles
and validation in the one error shape."""

from __future__ import annotations

import math
from datetime import date

import pytest
import sqlalchemy as sa

from gslts_backend.sectors import store
from gslts_backend.sectors.calendars import kr_sessions
from gslts_kiwoom.sim.sector_world import planted_betas
from tests.integration.backend.sectors.conftest import PAIRS, Api, World

pytestmark = pytest.mark.integration


def _corr(a: list[float], b: list[float]) -> float:
    n = len(a)
    ma, mb = sum(a) / n, sum(b) / n
    cov = sum((x - ma) * (y - mb) for x, y in zip(a, b, strict=True))
    va = sum((x - ma) ** 2 for x in a)
    vb = sum((y - mb) ** 2 for y in b)
    return cov / math.sqrt(va * vb)


def _last_session(w: World) -> date:
    """The last KRX session of the synthetic history (its US sessions have closed)."""
    return [d for d in w.history if kr_sessions(d, d)][-1]


# --- data -------------------------------------------------------------------------------


def test_ka10081_backfill_stores_what_the_simulator_serves(planted: World) -> None:
    listed = planted.sim.market.universe
    codes = sorted({kr for _, kr in PAIRS if kr in listed})
    unlisted = sorted({kr for _, kr in PAIRS if kr not in listed})
    # a linked stock the market does not list: Kiwoom's 1902, reported, the rest stored
    assert sorted(f.split(":")[0] for f in planted.fetched.failures) == unlisted
    assert all("1902" in f for f in planted.fetched.failures)
    assert planted.fetched.kr.symbols == len(codes)
    with planted.engine.connect() as conn:
        kr = store.kr_bars(conn)
    for code in codes[:: max(1, len(codes) // 8)]:
        served = [
            (b.start.date(), b.open, b.high, b.low, b.close, b.volume)
            for b in planted.sim.market.daily_bars(code)
            if kr_sessions(b.start.date(), b.start.date())
        ]
        got = [(b.day, b.open, b.high, b.low, b.close, b.volume) for b in kr[code]]
        assert got == served, code
    with planted.engine.connect() as conn:
        sources = {s for (s,) in conn.execute(sa.text("SELECT DISTINCT source FROM kr_daily_bars"))}
    assert sources == {"ka10081"}


def test_us_feed_is_stored_as_served(planted: World) -> None:
    feed = planted.sim.market.sector_feed
    assert feed is not None
    with planted.engine.connect() as conn:
        us = store.us_bars(conn)
        kinds = {i.symbol: i.kind for i in store.instruments(conn)}
    assert set(us) == set(feed.symbols)
    assert kinds["EWY"] == "market"
    assert kinds["SOXX"] == "etf"
    served = feed.us_bars("SOXX", planted.history[0], date.max, planted.sim.clock_time())
    assert [(b.day, round(b.close, 6)) for b in us["SOXX"]] == [
        (d, c) for d, _, _, _, c, _ in served
    ]


# --- auth and validation ----------------------------------------------------------------


def test_routes_need_a_login(planted_api: Api) -> None:
    c = planted_api.client
    for path in ("/api/sectors/links", "/api/sectors/us", "/api/sectors/recommendations"):
        r = c.get(path)
        assert r.status_code == 401, path
        assert r.json()["error"] == "Unauthorized"


def test_viewer_reads_but_cannot_edit_links(planted_api: Api) -> None:
    c = planted_api.client
    r = c.get("/api/sectors/links", headers=planted_api.viewer)
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == len(PAIRS)
    assert {(i["us_symbol"], i["kr_code"]) for i in body["items"]} == set(PAIRS)
    r = c.put("/api/sectors/links", headers=planted_api.viewer, json={"links": body["items"]})
    assert r.status_code == 403
    assert r.json()["error"] == "Forbidden"


def test_put_links_validates_in_the_one_error_shape(planted_api: Api) -> None:
    c, h = planted_api.client, planted_api.trader
    bad = {"links": [{"us_symbol": "SOXX", "kr_code": "005930", "confidence": "X"}]}
    r = c.put("/api/sectors/links", headers=h, json=bad)
    assert r.status_code == 422
    assert r.json()["error"] == "BadInput"
    assert r.json()["field"] == "links.0.confidence"
    long = {
        "links": [
            {"us_symbol": "SOXX", "kr_code": "005930", "confidence": "H", "rationale": "x" * 501}
        ]
    }
    r = c.put("/api/sectors/links", headers=h, json=long)
    assert r.status_code == 422
    assert r.json()["field"] == "links.0.rationale"
    dup = {"links": [{"us_symbol": "SOXX", "kr_code": "005930", "confidence": "H"}] * 2}
    r = c.put("/api/sectors/links", headers=h, json=dup)
    assert r.status_code == 422
    assert "duplicate" in r.json()["detail"]


def test_put_links_round_trips(planted_api: Api) -> None:
    c, h = planted_api.client, planted_api.trader
    items = c.get("/api/sectors/links", headers=h).json()["items"]
    edited = [dict(i) for i in items]
    edited[0]["rationale"] = "[H] edited by the test"
    r = c.put("/api/sectors/links", headers=h, json={"links": edited})
    assert r.status_code == 200, r.text
    assert r.json()["items"][0]["rationale"] == "[H] edited by the test"
    r = c.put("/api/sectors/links", headers=h, json={"links": items})  # back as it was
    assert r.status_code == 200
    assert r.json()["items"] == items


def test_bad_dates_are_422(planted_api: Api) -> None:
    c, h = planted_api.client, planted_api.viewer
    r = c.get("/api/sectors/recommendations", params={"date": "2026-09-27"}, headers=h)  # a Sunday
    assert r.status_code == 422
    assert r.json()["field"] == "date"
    r = c.get("/api/sectors/recommendations", params={"date": "yesterday"}, headers=h)
    assert r.status_code == 422
    assert r.json()["error"] == "BadInput"
    r = c.get("/api/sectors/backtest", params={"from": "2026-09-01", "to": "2026-01-01"}, headers=h)
    assert r.status_code == 422


# --- recommendations --------------------------------------------------------------------


def test_recommendations_follow_the_planted_relation(planted: World, planted_api: Api) -> None:
    c, h = planted_api.client, planted_api.viewer
    day = _last_session(planted)
    r = c.get("/api/sectors/recommendations", params={"date": day.isoformat()}, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["computed"] is True, body["note"]
    assert body["stored"] is True, body["note"]
    assert body["us_sessions"], "a US session feeds the day"
    items = body["items"]
    assert len(items) == len({kr for _, kr in PAIRS if kr in planted.sim.market.universe})
    assert [i["rank"] for i in items] == list(range(1, len(items) + 1))
    gaps = [i["expected_gap"] for i in items]
    assert gaps == sorted(gaps, reverse=True)
    # the fitted gap betas recover the planted ones
    planted_b = planted_betas(PAIRS, planted.sim.config.seed)
    fitted, truth, ses = [], [], []
    for i in items:
        for d in i["drivers"]:
            assert d["beta_se"] is not None
            assert d["beta_se"] > 0
            ses.append(d["beta_se"])
            fitted.append(d["beta"])
            truth.append(planted_b[(d["us_symbol"], i["kr_code"])])
            assert d["us_name"]
        assert i["history_days"] >= 120
        assert i["explanation"]
    z = [abs(f - t) / se for f, t, se in zip(fitted, truth, ses, strict=True)]
    bias = sum(fitted) / len(fitted) - sum(truth) / len(truth)
    # within their stated uncertainty (mean |error|/SE of a normal error is 0.8), shrunk a
    # little toward zero, and ordered like the planted ones (0.1-0.25: a narrow spread)
    assert sum(z) / len(z) < 1.5
    assert -0.07 < bias < 0.02
    assert _corr(fitted, truth) > 0.3
    # the ranking is what the planted relation says of last night's moves
    implied = [
        sum(planted_b[(d["us_symbol"], i["kr_code"])] * d["signal"] for d in i["drivers"])
        for i in items
    ]
    assert _corr(gaps, implied) > 0.8
    top = items[0]
    assert top["expected_gap"] > 0
    assert sum(d["contribution"] for d in top["drivers"]) > 0
    # read back as stored the second time
    again = c.get(
        "/api/sectors/recommendations", params={"date": day.isoformat()}, headers=h
    ).json()
    assert again["computed"] is False
    assert again["stored"] is True
    assert [i["kr_code"] for i in again["items"]] == [i["kr_code"] for i in items]
    assert again["items"][0]["drivers"] == items[0]["drivers"]


def test_us_moves_compound_since_the_previous_session(planted: World, planted_api: Api) -> None:
    c, h = planted_api.client, planted_api.viewer
    day = _last_session(planted)
    body = c.get("/api/sectors/us", params={"date": day.isoformat()}, headers=h).json()
    sessions = [date.fromisoformat(d) for d in body["us_sessions"]]
    assert sessions
    with planted.engine.connect() as conn:
        us = store.us_bars(conn)
    by_symbol = {i["symbol"]: i for i in body["items"]}
    for sym in ("SOXX", "EWY", "XLE"):
        bars = us[sym]
        before = [b for b in bars if b.day < sessions[0]][-1]
        last = next(b for b in bars if b.day == sessions[-1])
        assert by_symbol[sym]["change"] == pytest.approx(last.close / before.close - 1, abs=1e-12)
    assert by_symbol["SOXX"]["links"] == sum(1 for us_, _ in PAIRS if us_ == "SOXX")


def test_unknown_data_is_404(planted_api: Api) -> None:
    c, h = planted_api.client, planted_api.viewer
    r = c.get("/api/sectors/recommendations", params={"date": "2015-03-03"}, headers=h)
    assert r.status_code in (200, 404)
    if r.status_code == 200:  # a day before any data: nothing ranked, nothing stored
        assert r.json()["items"] == []
        assert r.json()["stored"] is False


# --- backtest ---------------------------------------------------------------------------


def _backtest(api: Api, w: World) -> dict[str, object]:
    days = [d for d in w.history if kr_sessions(d, d)]
    r = api.client.get(
        "/api/sectors/backtest",
        params={
            "from": days[150].isoformat(),
            "to": days[-1].isoformat(),
            "top_n": 5,
            "permutations": 100,
        },
        headers=api.viewer,
    )
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


def test_backtest_finds_the_planted_relation_and_caches(planted: World, planted_api: Api) -> None:
    body = _backtest(planted_api, planted)
    ic = body["ic_gap"]
    assert isinstance(ic, dict)
    assert ic["value"] > 0.1
    assert ic["p_value"] <= 0.05
    assert body["cached"] is False
    again = _backtest(planted_api, planted)
    assert again["cached"] is True
    assert again["ic_gap"] == ic
    assert again["data_version"] == body["data_version"]


def test_backtest_of_a_world_without_relation_finds_nothing(
    none_world: World, none_api: Api
) -> None:
    body = _backtest(none_api, none_world)
    ic = body["ic_gap"]
    assert isinstance(ic, dict)
    assert ic["p_value"] > 0.05, ic
    mt = body["multiple_testing"]
    assert isinstance(mt, dict)
    assert mt["significant_holm"] == 0


def test_backtest_of_a_reversed_world_finds_nothing(
    reversed_world: World, reversed_api: Api
) -> None:
    """Korea drives the *following* US session: through the ka10081 backfill and the
    stored feed, a pipeline that respects the timing must not call that predictive."""
    body = _backtest(reversed_api, reversed_world)
    ic = body["ic_gap"]
    assert isinstance(ic, dict)
    assert ic["p_value"] > 0.05, ic
    assert abs(ic["value"]) < 0.05
