from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

import gslts_db


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """A migrated embedded SQLite database in a temporary directory."""
    engine = gslts_db.make_engine(f"sqlite:///{tmp_path / 'db' / 'gslts.sqlite3'}")
    gslts_db.upgrade(engine)
    yield engine
    engine.dispose()
