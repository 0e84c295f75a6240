"""Synthetic worlds for the sector model's tests, built once per session.

The worlds (``gslts_kiwoom.sim.sector_world``) run on the real XNYS/XKRX sessions of
2022-01-03 … 2024-12-30 with a subset of the default link map (every fourth link, so
each test file stays fast); the backtests score 2023–2024 after a year of history.
Seeds are fixed: every figure below is deterministic.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import cache

import pytest

from gslts_backend.sectors.calendars import kr_sessions, us_sessions
from gslts_backend.sectors.model import Bar, Link, bars_from_rows, load_default_links
from gslts_kiwoom.sim.sector_world import WorldKind, make_world

START = date(2022, 1, 1)
END = date(2024, 12, 31)
BT_START = date(2023, 1, 1)

World = tuple[dict[str, list[Bar]], dict[str, list[Bar]]]


@cache
def small_links() -> tuple[Link, ...]:
    return tuple(load_default_links()[::4])


@cache
def world(kind: WorldKind, seed: int) -> World:
    us, kr = make_world(
        kind,
        small_links(),
        START,
        END,
        seed=seed,
        us_days=us_sessions(START, END),
        kr_days=kr_sessions(START, END),
    )
    return (
        {s: bars_from_rows(b) for s, b in us.items()},
        {c: bars_from_rows(b) for c, b in kr.items()},
    )


@pytest.fixture
def make() -> Callable[[WorldKind, int], World]:
    return world
