"""The hub's OpenAPI document is its contract: schemathesis generates requests from it
(examples, coverage probes incl. undeclared methods, fuzzing) and every answer must match
what the document declares — status, media type, headers, body schema — with no 5xx.

The hub runs on SQLite in a tmp dir (``connect=False``) with ticks and listed stocks
seeded, so the 200 paths are reached too; Kiwoom's ka10001 (the stock check of an unknown
code) is a fake that knows no stock. Bounded: a fixed number of examples, derandomized.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from gslts_db import StockMaster, TickRow, insert_ticks
from gslts_hub.app import create_app
from gslts_hub.hub import Hub
from gslts_hub.settings import HubSettings
from gslts_kiwoom.realtime import KST
from tests.unit.kiwoom.fakes import Clock, FakeKiwoom, make_client, reply

DAY = datetime.now(KST).replace(hour=9, minute=0, second=0, microsecond=0)
MAX_EXAMPLES = 40


def _ticks(n: int) -> list[TickRow]:
    return [
        TickRow("005930", DAY.date(), "KRX", 1 + i, DAY + timedelta(seconds=i),
                DAY + timedelta(seconds=i, milliseconds=3), 70_000 + i, 1 if i % 2 else -1, i)
        for i in range(n)
    ]  # fmt: skip


def _no_such_stock(_: Any, body: dict[str, Any]) -> Any:
    msg = f"입력 값 오류입니다[1902:존재하지 않는 종목코드입니다. 종목코드={body.get('stk_cd')}]"
    return reply({"return_code": 2, "return_msg": msg})


def _settings(tmp: Path) -> HubSettings:
    return HubSettings(
        _env_file=None,
        data_dir=tmp,
        database_url=f"sqlite:///{tmp / 'hub.sqlite3'}",
        redis_url=None,
        hub_flush_interval_s=0.05,
        hub_allowed_hosts="testserver",  # the host name of schemathesis' ASGI client
    )


#: the app requests go to: one without a hub (enough to serve /openapi.json at import),
#: then the one :func:`running_hub` starts
_served: list[Any] = [create_app(_settings(Path("unused")))]


async def _asgi(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        # the hub's lifespan is run by the fixture (schemathesis would keep one to exit)
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.complete"})
        return
    await _served[-1](scope, receive, send)


# pytest 9.2 broke schemathesis' lazy ``from_fixture`` (it sets ``node._nodeid``): the
# document is loaded at import, the hub behind it is started by a fixture
schema = schemathesis.openapi.from_asgi(
    "/openapi.json",
    _asgi,
    config=SchemathesisConfig.from_dict(
        {
            "operations": [
                {
                    # Two rules of a schema-valid tick query that JSON Schema cannot state:
                    # ``cursor`` is opaque (only one this API returned is valid) and
                    # ``end_time`` must be after ``start_time``. Both are a 422.
                    "include-path": "/api/tick-data/{stock_code}",
                    "checks": {
                        "positive_data_acceptance": {"expected-statuses": ["2xx", "404", "422"]}
                    },
                }
            ]
        }
    ),
)


@pytest.fixture(scope="module", autouse=True)
def running_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    fake = FakeKiwoom(Clock())
    fake.handlers["ka10001"] = _no_such_stock
    app = create_app(
        _settings(tmp_path_factory.mktemp("hub")),
        hub_factory=lambda s: Hub(s, connect=False, client=make_client(fake)),
    )
    with TestClient(app, base_url="http://127.0.0.1") as client:  # runs (and ends) the hub
        hub: Hub = app.state.hub
        with hub.engine.begin() as conn:
            insert_ticks(conn, _ticks(30))
            conn.execute(
                StockMaster.__table__.insert(),  # type: ignore[attr-defined]
                [{"stock_code": c, "name": n, "chosung": "", "market": "KOSPI", "updated_at": DAY}
                 for c, n in (("005930", "삼성전자"), ("000660", "SK하이닉스"))],
            )  # fmt: skip
        assert client.post("/api/watchlist", json={"stock_code": "000660"}).status_code == 201
        _served.append(app)
        try:
            yield
        finally:
            _served.pop()


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_matches_the_openapi_document(case: Any) -> None:
    response = case.call_and_validate()
    _seen.setdefault(f"{case.method} {case.path}", set()).add(response.status_code)


#: statuses each operation answered above (the next test checks the run was not vacuous)
_seen: dict[str, set[int]] = {}


def test_the_run_reached_the_success_paths() -> None:
    if not _seen:
        pytest.skip("run together with test_every_answer_matches_the_openapi_document")
    want = {
        "GET /api/tick-data/{stock_code}": 200,
        "GET /api/status": 200,
        "GET /api/health": 200,
        "GET /metrics": 200,
        "GET /api/watchlist": 200,
        "POST /api/watchlist": 201,
        "DELETE /api/watchlist/{stock_code}": 204,
        "PUT /api/interest/{stock_code}": 201,
        "DELETE /api/interest/{stock_code}": 204,
        "GET /api/interest": 200,
    }
    missed = {op: sorted(_seen.get(op, ())) for op, status in want.items()
              if status not in _seen.get(op, ())}  # fmt: skip
    assert not missed, missed
    assert 422 in _seen["GET /api/tick-data/{stock_code}"]  # and the rejections
