"""E2E fixtures: a running simulator market, an own MariaDB schema, an in-process hub (its
settings from the test alone: no ``.env``, no environment, see ``harness.isolated_settings``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from gslts_db import make_engine
from gslts_hub.hub import Hub
from tests.e2e.harness import Market, hub_env, isolated_settings, own_schema

#: kept for the e2e modules that build their hub's settings themselves
_settings = isolated_settings


@pytest.fixture
def market() -> Iterator[Market]:
    m = Market().start()
    yield m
    m.stop()


@pytest.fixture
def db_url(mysql_server_url: str) -> Iterator[str]:
    with own_schema(mysql_server_url) as url:
        yield url


@pytest.fixture
def db_engine(db_url: str) -> Iterator[sa.Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def make_hub(market: Market, db_url: str, tmp_path: Path) -> Iterator[Callable[..., Hub]]:
    hubs: list[Hub] = []

    def make(database_url: str | None = None, **extra: str) -> Hub:
        env = hub_env(market, database_url or db_url, tmp_path / "data", **extra)
        hub = Hub(isolated_settings(env))
        hub.start()
        hubs.append(hub)
        return hub

    yield make
    for h in hubs:
        h.close()
