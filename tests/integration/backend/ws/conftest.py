"""Fixtures of the browser-stream tests: a database schema of their own (real MariaDB) and
the hub's bus served by the bus tests' publisher process (the hub's real stream)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import own_schema
from tests.integration.bus.harness import ProcessSide


@pytest.fixture(scope="module")
def backend_db(mysql_server_url: str) -> Iterator[str]:
    with own_schema(mysql_server_url) as url:
        yield url


@pytest.fixture
def publisher(tmp_path: Path) -> Iterator[ProcessSide]:
    side = ProcessSide("stream", tmp_path)
    try:
        yield side
    finally:
        side.close()
