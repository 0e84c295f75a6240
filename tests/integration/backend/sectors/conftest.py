"""Fixtures of the sector link's data/API tests: a simulator whose sector world is planted
(or has no relation at all), served over HTTP; a fresh MariaDB schema filled from it the
way production fills it (the US feed over ``/_sim/us-daily``, the Korean side with ka10081
through the real :class:`~gslts_kiwoom.KiwoomClient`); the backend app on that schema."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from pydantic import SecretStr

from gslts_backend.app import create_app
from gslts_backend.auth.passwords import hash_password
from gslts_backend.sectors import importers
from gslts_backend.sectors.model import load_default_links
from gslts_backend.sectors.service import SectorService
from gslts_backend.settings import BackendSettings
from gslts_db import User, make_engine, upgrade
from gslts_kiwoom.sim import Simulator
from tests.e2e.harness import free_port, own_schema
from tests.integration.sim.conftest import START, SimServer, make_config

USERS: sa.Table = User.__table__  # type: ignore[assignment]
ADMIN_PASSWORD = "Kx9-admin-sector-7Qm2"
VIEWER_PASSWORD = "Kx9-viewer-sector-7Qm2"
TRADER_PASSWORD = "Kx9-trader-sector-7Qm2"
#: KRX sessions of synthetic history the world covers (the model needs 120 to rank)
HISTORY_DAYS = 360
PAIRS = tuple((lk.us_symbol, lk.kr_code) for lk in load_default_links())


@dataclass
class World:
    kind: str
    sim: Simulator
    srv: SimServer
    url: str
    engine: sa.Engine
    fetched: importers.FetchResult
    history: list[date]


def _world(kind: str, mysql_server_url: str) -> Iterator[World]:
    sim = Simulator(
        make_config(
            sector_world=kind,
            sector_links=PAIRS,
            history_days=HISTORY_DAYS,
            trade_universe=3,
        )
    )
    srv = SimServer(sim, free_port())
    srv.start()
    try:
        with own_schema(mysql_server_url) as url:
            engine = make_engine(url)
            upgrade(engine)
            history = sim.market.history_dates()
            us = importers.SimUsProvider(srv.rest_url)
            client = srv.client()
            try:
                SectorService(engine).ensure_seeded()
                fetched = importers.fetch(
                    engine, history[0], START.date(), us, importers.KiwoomKrProvider(client)
                )
            finally:
                us.close()
                client.close()
            try:
                yield World(kind, sim, srv, url, engine, fetched, history)
            finally:
                engine.dispose()
    finally:
        srv.stop()


@pytest.fixture(scope="package")
def planted(mysql_server_url: str) -> Iterator[World]:
    yield from _world("planted", mysql_server_url)


@pytest.fixture(scope="package")
def none_world(mysql_server_url: str) -> Iterator[World]:
    yield from _world("none", mysql_server_url)


@pytest.fixture(scope="package")
def reversed_world(mysql_server_url: str) -> Iterator[World]:
    yield from _world("reversed", mysql_server_url)


def backend_settings(w: World, data_dir: Path, **kw: Any) -> BackendSettings:
    base: dict[str, Any] = {
        "data_dir": data_dir,
        "kiwoom_mode": "sim",
        "kiwoom_rest_url": w.srv.rest_url,
        "kiwoom_ws_url": w.srv.ws_url,
        "kiwoom_rate_per_s": 1000,
        "kiwoom_rate_burst": 1000,
        "redis_url": None,
        "database_url": w.url,
        "hub_url": f"http://127.0.0.1:{free_port()}",
        "gslts_admin_password": SecretStr(ADMIN_PASSWORD),
    }
    base.update(kw)
    return BackendSettings(_env_file=None, **base)


def add_user(engine: sa.Engine, username: str, role: str, password: str) -> None:
    with engine.begin() as conn:
        exists = conn.execute(sa.select(USERS.c.id).where(USERS.c.username == username)).first()
        if exists is None:
            conn.execute(
                sa.insert(USERS).values(
                    username=username,
                    password_hash=hash_password(password),
                    role=role,
                    is_active=True,
                    created_at=datetime.now(UTC),
                )
            )


def bearer(api: TestClient, username: str, password: str) -> dict[str, str]:
    r = api.post(
        "/api/auth/login", json={"username": username, "password": password, "token": "bearer"}
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


@dataclass
class Api:
    client: TestClient
    admin: dict[str, str]
    viewer: dict[str, str]
    trader: dict[str, str]


def api_on(w: World, data_dir: Path) -> Iterator[Api]:
    add_user(w.engine, "sector-viewer", "viewer", VIEWER_PASSWORD)
    add_user(w.engine, "sector-trader", "trader", TRADER_PASSWORD)
    app = create_app(backend_settings(w, data_dir), frontend_dir=None)
    with TestClient(app) as client:
        yield Api(
            client,
            bearer(client, "admin", ADMIN_PASSWORD),
            bearer(client, "sector-viewer", VIEWER_PASSWORD),
            bearer(client, "sector-trader", TRADER_PASSWORD),
        )


@pytest.fixture(scope="package")
def planted_api(planted: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    yield from api_on(planted, tmp_path_factory.mktemp("planted"))


@pytest.fixture(scope="package")
def none_api(none_world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    yield from api_on(none_world, tmp_path_factory.mktemp("none"))


@pytest.fixture(scope="package")
def reversed_api(reversed_world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    yield from api_on(reversed_world, tmp_path_factory.mktemp("reversed"))
