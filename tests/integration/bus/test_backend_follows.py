"""The main server follows the hub's bus from its own process: the hub's stream without
Redis, Redis with it; its health says so, and the latest quotes come with the snapshot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gslts_backend.app import create_app
from gslts_backend.settings import BackendSettings
from tests.integration.bus.harness import STOCKS, ProcessSide, wait_for

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("transport", ["stream", "redis"])
def test_the_backend_follows_the_hub(
    transport: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("redis_server_url") if transport == "redis" else None
    side = ProcessSide(transport, tmp_path, url)
    try:
        before = side.publish(stocks=STOCKS, batches=3, ticks=2)  # known before it starts
        settings = BackendSettings(
            _env_file=None,  # type: ignore[call-arg]
            redis_url=url,
            hub_url=f"http://127.0.0.1:{side.port}",
            hub_bus_prefix=side.prefix,
        )
        app = create_app(settings)
        with TestClient(app) as client:

            def health() -> dict[str, Any]:
                doc: dict[str, Any] = client.get("/api/health").json()
                return doc

            assert wait_for(lambda: health()["status"] == "ok")
            live = app.state.live
            if transport == "redis":  # the keys outlive publishing: the snapshot has them
                assert wait_for(lambda: set(live.quotes) == set(STOCKS))
                assert live.quotes == before["quotes"]
            side.publish(stocks=STOCKS, batches=10, ticks=2)
            assert wait_for(lambda: health()["bus"]["events"].get("tick", 0) == 10 * len(STOCKS))
            doc = health()
            assert doc["bus"]["transport"] == transport
            assert doc["bus"]["events"]["book"] == 10 * len(STOCKS)
            assert doc["bus"]["gaps"] == 0
            assert doc["reasons"] == []
    finally:
        side.close()
