"""The synthetic world: deterministic, the market factors included, the timing rule
identical to the model's calendars."""

from __future__ import annotations

from datetime import date

import pytest

from gslts_backend.sectors import calendars as cal
from gslts_kiwoom.sim import sector_world
from gslts_kiwoom.sim.sector_world import make_world, planted_betas, session_windows

LINKS = [("SOXX", "005930"), ("SOXX", "000660"), ("LIT", "373220")]


def test_deterministic_by_seed() -> None:
    a = make_world("planted", LINKS, date(2024, 1, 1), date(2024, 3, 31), seed=4)
    b = make_world("planted", LINKS, date(2024, 1, 1), date(2024, 3, 31), seed=4)
    c = make_world("planted", LINKS, date(2024, 1, 1), date(2024, 3, 31), seed=5)
    assert a == b
    assert a != c


@pytest.mark.parametrize("kind", ["planted", "none", "reversed"])
def test_bars_of_every_instrument(kind: sector_world.WorldKind) -> None:
    us_days = cal.us_sessions(date(2024, 1, 1), date(2024, 3, 31))
    kr_days = cal.kr_sessions(date(2024, 1, 1), date(2024, 3, 31))
    us, kr = make_world(
        kind, LINKS, date(2024, 1, 1), date(2024, 3, 31), us_days=us_days, kr_days=kr_days
    )
    assert set(us) == {"SOXX", "LIT", "EWY", "SPY"}
    assert set(kr) == {"005930", "000660", "373220"}
    assert [b[0] for b in us["EWY"]] == us_days
    assert [b[0] for b in kr["005930"]] == kr_days
    for bars in (*us.values(), *kr.values()):
        for day, o, h, lo, c, v in bars:
            assert lo <= min(o, c) <= max(o, c) <= h
            assert v > 0
            assert isinstance(day, date)


def test_planted_betas_in_range() -> None:
    betas = planted_betas(LINKS, 9, (0.1, 0.25))
    assert set(betas) == set(LINKS)
    assert all(0.1 <= b <= 0.25 for b in betas.values())


def test_unknown_kind() -> None:
    with pytest.raises(ValueError, match="unknown world kind"):
        make_world("sideways", LINKS, date(2024, 1, 1), date(2024, 1, 31))  # type: ignore[arg-type]


def test_the_worlds_timing_rule_is_the_models() -> None:
    us = cal.us_sessions(date(2015, 1, 1), date(2026, 12, 31))
    kr = cal.kr_sessions(date(2015, 1, 5), date(2026, 12, 31))
    mine = [(w[0], w[-1] + 1) if w else None for w in session_windows(kr, us)]
    model = [(lo, hi) if hi > lo else None for lo, hi in cal.us_session_windows(kr, us)]
    assert mine == model
