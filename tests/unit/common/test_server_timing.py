"""Every HTTP answer of both servers says how long the server spent on it."""

from __future__ import annotations

import time

from fastapi import FastAPI
from fastapi.testclient import TestClient

from gslts_common.server_timing import ServerTiming, parse


def test_the_header_carries_the_time_until_the_response_started() -> None:
    app = FastAPI()
    app.add_middleware(ServerTiming)

    @app.get("/slow")
    def slow() -> dict[str, bool]:
        time.sleep(0.05)  # the measured work, not a synchronisation
        return {"ok": True}

    with TestClient(app) as client:
        r = client.get("/slow")
        missing = client.get("/nowhere")
    dur = parse(r.headers["server-timing"])
    assert dur is not None
    assert dur >= 50.0  # at least the work (an upper bound would be a timing test)
    assert parse(missing.headers["server-timing"]) is not None  # errors are timed too


def test_parse_reads_the_app_metric_only() -> None:
    assert parse('db;dur=3.5, app;desc="x";dur=12.25') == 12.25
    assert parse("db;dur=3") is None
    assert parse("app;dur=abc") is None
    assert parse(None) is None
    assert parse("") is None
