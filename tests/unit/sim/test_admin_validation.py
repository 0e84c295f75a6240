"""The admin hooks (``/_sim/faults``, ``/_sim/rate``, ``/_sim/ground-truth``) refuse bad
input with a 422 naming the field, change nothing when they refuse, and never answer 5xx.

Each finding of the tester's report has its test; every test then checks that the
simulator still works: ``/_sim/state`` answers, the market trades at the rate it had, REST
calls go through."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from gslts_kiwoom.sim import Simulator, create_app

from .conftest import Api, advance, make_sim

RATE = 40.0
FAULT_KEYS = (
    "expire_tokens",
    "drop_connections",
    "stall",
    "garbage",
    "reject_login",
    "rate_limit_storm_s",
    "delay_ms",
    "order_delay_ms",
    "order_delay_phase",
    "order_delay_api_ids",
    "reject_orders",
)
#: ``faults`` of ``/_sim/state`` with nothing applied
NO_FAULTS = {
    "rate_limit_storm_s": 0.0,
    "delay_ms": 0,
    "order_delay_ms": 0,
    "order_delay_phase": "after",
    "order_delay_api_ids": ["kt10000", "kt10001", "kt10002", "kt10003"],
    "reject_orders": 0,
}
RATE_KEYS = ("trades_per_s", "ticks_per_s", "rate", "codes")


@dataclass
class Admin:
    sim: Simulator
    client: TestClient
    api: Api

    def post(self, path: str, raw: str | bytes) -> Any:
        return self.client.post(path, content=raw, headers={"content-type": "application/json"})

    def refused(self, r: Any, field: str) -> dict[str, Any]:
        """``r`` is a 422 in the simulator's envelope naming ``field``."""
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/json")
        body: dict[str, Any] = r.json()
        assert body["return_code"] == 2
        assert body["error"] == "InvalidAdminInput"
        assert body["field"] == field
        assert body["detail"].startswith(f"{field}: ")
        assert body["return_msg"] == f"입력 값 오류입니다[{body['detail']}]"
        return body

    def still_works(self, rate: float = RATE) -> None:
        """State answers, nothing was applied, the market trades at ``rate``, REST works."""
        r = self.client.get("/_sim/state")
        assert r.status_code == 200, r.text
        state = r.json()
        assert state["trades_per_s"] == rate
        assert state["faults"] == NO_FAULTS
        assert state["tokens"] == 1  # expire_tokens not applied
        gt = self.sim.market.ground_truth
        before = len(gt)
        advance(self.sim, 10.0)
        made = len(gt) - before
        # Poisson(rate x 10 s) with a fixed seed: far from either bound
        assert rate * 10 * 0.5 <= made <= rate * 10 * 1.5, made
        assert self.sim.market._focus is None  # every stock still trades
        self.api.ok("ka10001", "stkinfo", {"stk_cd": "005930"})


@pytest.fixture
def admin() -> Iterator[Admin]:
    sim = make_sim()
    with TestClient(create_app(sim)) as client:
        api = Api(client)
        assert client.post("/_sim/rate", json={"trades_per_s": RATE}).status_code == 200
        yield Admin(sim, client, api)


# --- the findings -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        '{"trades_per_s": "NaN"}',  # the finding: a string float() turned into NaN
        '{"trades_per_s": NaN}',  # Python's json accepts the bare literal too
        '{"trades_per_s": Infinity}',
        '{"trades_per_s": 1e400}',
        '{"trades_per_s": -1}',
        '{"trades_per_s": 1000001}',
        '{"trades_per_s": true}',
        '{"trades_per_s": [5]}',
    ],
)
def test_rate_must_be_a_finite_number_in_range(admin: Admin, raw: str) -> None:
    body = admin.refused(admin.post("/_sim/rate", raw), "trades_per_s")
    assert "0..1000000" in body["detail"]
    admin.still_works()


def test_rate_alias_and_codes_refusals_change_nothing(admin: Admin) -> None:
    admin.refused(admin.post("/_sim/rate", '{"ticks_per_s": NaN}'), "ticks_per_s")
    admin.refused(admin.post("/_sim/rate", '{"rate": "50"}'), "rate")
    admin.refused(admin.post("/_sim/rate", "{}"), "trades_per_s")  # required
    admin.refused(admin.post("/_sim/rate", '{"codes": ["005930"]}'), "trades_per_s")
    admin.refused(admin.post("/_sim/rate", '{"trades_per_s": 5, "rate": 6}'), "rate")
    # a good rate with bad codes: the rate is not applied either
    bad_codes: list[tuple[object, str]] = [
        (["005930", "ZZZZZZ"], "codes[1]"),  # unknown: would leave nothing to trade
        (["005930", "5930"], "codes[1]"),
        (["005930_NX"], "codes[0]"),
        ([5930], "codes[0]"),
        ("005930", "codes"),
        (["005930"] * 3001, "codes"),
    ]
    for codes, field in bad_codes:
        raw = json.dumps({"trades_per_s": 900, "codes": codes})
        admin.refused(admin.post("/_sim/rate", raw), field)
    admin.still_works()
    # the good ones still work
    ok = admin.post("/_sim/rate", json.dumps({"trades_per_s": 60, "codes": ["005930"]}))
    assert ok.json() == {"trades_per_s": 60.0}
    assert admin.sim.market._focus is not None
    assert admin.post("/_sim/rate", '{"rate": 40, "codes": []}').status_code == 200
    admin.still_works()


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('{"rate_limit_storm_s": 1e400}', "rate_limit_storm_s"),  # the finding
        ('{"rate_limit_storm_s": "5"}', "rate_limit_storm_s"),  # the finding: strings
        ('{"rate_limit_storm_s": 3601}', "rate_limit_storm_s"),
        ('{"rate_limit_storm_s": -1}', "rate_limit_storm_s"),
        ('{"delay_ms": "200"}', "delay_ms"),
        ('{"delay_ms": 1e400}', "delay_ms"),
        ('{"delay_ms": 60001}', "delay_ms"),
        ('{"delay_ms": 2.5}', "delay_ms"),
        ('{"order_delay_ms": "200"}', "order_delay_ms"),
        ('{"order_delay_ms": 1e400}', "order_delay_ms"),
        ('{"order_delay_ms": 60001}', "order_delay_ms"),
        ('{"order_delay_ms": -1}', "order_delay_ms"),
        ('{"order_delay_ms": 2.5}', "order_delay_ms"),
        ('{"order_delay_ms": true}', "order_delay_ms"),
        ('{"order_delay_phase": "during"}', "order_delay_phase"),
        ('{"order_delay_phase": 1}', "order_delay_phase"),
        ('{"order_delay_api_ids": []}', "order_delay_api_ids"),
        ('{"order_delay_api_ids": ["ka10001"]}', "order_delay_api_ids[0]"),
        ('{"order_delay_api_ids": "kt10000"}', "order_delay_api_ids"),
        ('{"reject_orders": 1001}', "reject_orders"),
        ('{"reject_orders": -1}', "reject_orders"),
        ('{"reject_orders": 1.5}', "reject_orders"),
        ('{"stall": "true"}', "stall"),
        ('{"stall": 3601}', "stall"),
        ('{"stall": NaN}', "stall"),
        ('{"expire_tokens": 1}', "expire_tokens"),
        ('{"expire_tokens": "yes"}', "expire_tokens"),
        ('{"drop_connections": "false"}', "drop_connections"),
        ('{"reject_login": 1001}', "reject_login"),
        ('{"reject_login": -1}', "reject_login"),
        ('{"reject_login": true}', "reject_login"),
    ],
)
def test_fault_values_are_checked_and_nothing_applied(admin: Admin, raw: str, field: str) -> None:
    admin.refused(admin.post("/_sim/faults", raw), field)
    # the bad key next to good ones: none of them may be applied
    good = {
        "delay_ms": 150,
        "rate_limit_storm_s": 30,
        "expire_tokens": True,
        "reject_login": 2,
        "order_delay_ms": 100,
        "order_delay_phase": "before",
        "order_delay_api_ids": ["kt10000"],
        "reject_orders": 3,
    }
    others = json.dumps({k: v for k, v in good.items() if k != field})
    admin.refused(admin.post("/_sim/faults", others[:-1] + ", " + raw.strip()[1:]), field)
    assert admin.sim.ws_hub._reject_logins == 0
    admin.still_works()


def test_huge_garbage_count_is_refused(admin: Admin) -> None:
    # the finding: 99,999,999 frames were built in memory (12 s), then a 500
    body = admin.refused(
        admin.post("/_sim/faults", '{"garbage": 99999999, "delay_ms": 100}'), "garbage"
    )
    assert "0..1000" in body["detail"]
    admin.refused(admin.post("/_sim/faults", '{"garbage": -1}'), "garbage")
    admin.refused(admin.post("/_sim/faults", '{"garbage": "4"}'), "garbage")
    admin.refused(admin.post("/_sim/faults", '{"garbage": 4.5}'), "garbage")
    assert admin.post("/_sim/faults", '{"garbage": 1000}').status_code == 200
    admin.still_works()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"since_seq": "9" * 30}, "since_seq"),  # the finding: orjson could not write it
        ({"since_seq": str(2**63)}, "since_seq"),
        ({"since_seq": "-1"}, "since_seq"),
        ({"since_seq": "1e3"}, "since_seq"),
        ({"since_seq": "١٢"}, "since_seq"),  # int() reads Arabic-Indic digits; we do not
        ({"limit": "0"}, "limit"),
        ({"limit": "1000001"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"code": "ZZZZZZ"}, "code"),
        ({"code": "x" * 5000}, "code"),
        ({"sinceseq": "1"}, "sinceseq"),
    ],
)
def test_ground_truth_query_is_checked(admin: Admin, query: dict[str, str], field: str) -> None:
    body = admin.refused(admin.client.get("/_sim/ground-truth", params=query), field)
    assert "x" * 100 not in json.dumps(body)
    admin.still_works()


def test_ground_truth_bounds_that_are_allowed(admin: Admin) -> None:
    advance(admin.sim, 2.0)
    top = admin.client.get("/_sim/ground-truth", params={"since_seq": str(2**63 - 1)})
    assert top.status_code == 200
    assert top.json()["rows"] == []
    assert top.json()["next_seq"] == 2**63 - 1
    one = admin.client.get("/_sim/ground-truth", params={"limit": "1", "code": "005930"})
    assert one.status_code == 200
    assert len(one.json()["rows"]) <= 1
    admin.still_works()


# --- the body itself ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "good", "known"),
    [
        ("/_sim/faults", {"delay_ms": 5, "garbage": 1}, FAULT_KEYS),
        ("/_sim/rate", {"trades_per_s": 5}, RATE_KEYS),
    ],
)
def test_unknown_keys_are_refused_with_the_known_ones(
    admin: Admin, path: str, good: dict[str, Any], known: tuple[str, ...]
) -> None:
    raw = json.dumps({**good, "typo" * 50: 1})
    body = admin.refused(admin.post(path, raw), "typo" * 10 + "…")  # the key, cut short
    assert all(key in body["detail"] for key in known)
    assert "typo" * 11 not in json.dumps(body)
    admin.still_works()


@pytest.mark.parametrize("path", ["/_sim/faults", "/_sim/rate"])
@pytest.mark.parametrize(
    "raw", ["[]", '"stall"', "1", "null", "{", "not json", b"\xff\xfe{", "[" * 60_000]
)
def test_body_must_be_a_json_object(admin: Admin, path: str, raw: str | bytes) -> None:
    admin.refused(admin.post(path, raw), "body")
    admin.still_works()


@pytest.mark.parametrize("path", ["/_sim/faults", "/_sim/rate"])
def test_body_size_is_capped_and_input_never_echoed(admin: Admin, path: str) -> None:
    big = json.dumps({"trades_per_s": 5, "codes": ["005930"] * 8000}).encode()
    assert len(big) > 64 * 1024
    body = admin.refused(admin.post(path, big), "body")  # by its content-length
    assert len(json.dumps(body)) < 500
    chunks = iter([big[i : i + 4096] for i in range(0, len(big), 4096)])
    chunked = admin.client.post(path, content=chunks)  # no content-length: counted as read
    assert "content-length" not in chunked.request.headers
    admin.refused(chunked, "body")
    long_value = json.dumps({"garbage": "A" * 50_000, "trades_per_s": "A" * 10_000})
    r = admin.post(path, long_value)
    assert r.status_code == 422
    assert "AAAA" not in r.text
    assert len(r.content) < 1000
    admin.still_works()


def test_zero_stall_is_no_stall_and_good_faults_still_apply(admin: Admin) -> None:
    r = admin.post("/_sim/faults", '{"stall": 0, "garbage": 0, "reject_login": 0}')
    assert r.status_code == 200
    assert "stalled" not in r.json()["ws_faults"]
    r = admin.post("/_sim/faults", '{"delay_ms": 0, "rate_limit_storm_s": 0, "stall": false}')
    assert r.status_code == 200
    admin.still_works()
    assert admin.post("/_sim/faults", "").status_code == 200  # empty body = no change


def test_simulator_methods_check_their_arguments() -> None:
    sim = make_sim()
    for bad in (float("nan"), float("inf"), -1.0, 1e7):
        with pytest.raises(ValueError, match="trades_per_s"):
            sim.set_rate(bad)
    assert sim.market.trades_per_s == 10.0
    with pytest.raises(ValueError, match="rate_limit_storm_s"):
        sim.set_faults(delay_ms=5, rate_limit_storm_s=float("inf"))
    with pytest.raises(ValueError, match="delay_ms"):
        sim.set_faults(rate_limit_storm_s=5, delay_ms=60_001)
    assert (sim.faults.delay_ms, sim.faults.rate_limit_storm_until) == (0, 0.0)
    for kw, name in (
        ({"order_delay_ms": 60_001}, "order_delay_ms"),
        ({"order_delay_ms": True}, "order_delay_ms"),
        ({"order_delay_phase": "during"}, "order_delay_phase"),
        ({"order_delay_api_ids": frozenset({"ka10001"})}, "order_delay_api_ids"),
        ({"order_delay_api_ids": frozenset()}, "order_delay_api_ids"),
        ({"reject_orders": 1001}, "reject_orders"),
    ):
        with pytest.raises(ValueError, match=name):
            sim.set_faults(**{"delay_ms": 7, "reject_orders": 2, **kw})  # type: ignore[arg-type]
    assert (sim.faults.delay_ms, sim.faults.order_delay_ms, sim.broker.refuse_next) == (0, 0, 0)


# --- property: no body ever gives a 5xx ---------------------------------------------------

_leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["005930", "000660", "ZZZZZZ", "NaN", "1e400", "true"])
)
_json = st.recursive(
    _leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
_keys = st.sampled_from(FAULT_KEYS + RATE_KEYS) | st.text(max_size=10)
_bodies = st.one_of(
    st.dictionaries(_keys, _json, max_size=5).map(json.dumps),
    _json.map(json.dumps),
    st.binary(max_size=64),
)
_query_text = st.text(st.characters(codec="utf-8"), max_size=25)
_queries = st.dictionaries(
    st.sampled_from(["since_seq", "limit", "code"]) | _query_text,
    _query_text | st.integers().map(str) | st.sampled_from(["005930", str(2**63)]),
    max_size=3,
)


def test_random_admin_input_never_gives_a_5xx() -> None:
    sim = make_sim()
    with TestClient(create_app(sim)) as client:

        def check(r: Any) -> None:
            assert r.status_code < 500, r.text
            body = r.json()
            if r.status_code != 200:
                assert r.status_code == 422
                assert body["error"] == "InvalidAdminInput"
                assert len(body["field"]) <= 50
                assert len(r.content) < 1000

        @settings(
            max_examples=300,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(path=st.sampled_from(["/_sim/faults", "/_sim/rate"]), raw=_bodies)
        def bodies(path: str, raw: str | bytes) -> None:
            check(client.post(path, content=raw))

        @settings(max_examples=200, deadline=None, database=None)
        @given(query=_queries)
        def queries(query: dict[str, str]) -> None:
            check(client.get("/_sim/ground-truth", params=query))

        bodies()
        queries()
        assert client.get("/_sim/state").status_code == 200
        client.post("/_sim/rate", json={"trades_per_s": RATE, "codes": []})
        before = len(sim.market.ground_truth)
        advance(sim, 5.0)
        assert len(sim.market.ground_truth) > before


# --- the clock (``/_sim/clock``) -----------------------------------------------------------


def test_clock_stops_and_runs_again_without_a_jump(admin: Admin) -> None:
    """Warp 0 stops the simulated clock where it is (a harness comparing a finished day
    keeps the simulated midnight away); another warp runs it on from there, not from where
    the wall clock would have put it."""
    r = admin.client.post("/_sim/clock", json={"time_warp": 0})
    assert r.status_code == 200, r.text
    stopped = admin.sim.clock_time()
    assert r.json() == {"time_warp": 0.0, "now": stopped.isoformat()}
    assert admin.sim.clock_time() == stopped  # it stands still
    assert admin.client.get("/_sim/state").json()["time_warp"] == 0.0
    admin.sim.step()
    gt = admin.sim.market.ground_truth
    before = len(gt)
    admin.sim.step()  # stepping to the stopped clock makes nothing
    assert len(gt) == before
    assert admin.client.post("/_sim/clock", json={"time_warp": 2.5}).status_code == 200
    resumed = admin.sim.clock_time()
    assert stopped <= resumed
    # from the stop, not from the start: far less than the wall time since start × 2.5
    assert (resumed - stopped).total_seconds() < 60
    admin.api.ok("ka10001", "stkinfo", {"stk_cd": "005930"})


@pytest.mark.parametrize(
    "raw",
    ['{"time_warp": NaN}', '{"time_warp": -1}', '{"time_warp": 1e400}',
     '{"time_warp": "0"}', '{"time_warp": 10001}', "{}", '{"time_warp": 1, "x": 2}'],
)  # fmt: skip
def test_clock_refuses_bad_warps_and_changes_nothing(admin: Admin, raw: str) -> None:
    warp = admin.sim.time_warp
    r = admin.post("/_sim/clock", raw)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "InvalidAdminInput"
    assert r.json()["field"] in ("time_warp", "x")
    assert admin.sim.time_warp == warp
    admin.still_works()
