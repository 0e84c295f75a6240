"""``gslts sim`` flags reach the simulator's configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

import gslts_kiwoom.sim
from gslts_cli.cli import main
from gslts_kiwoom.sim import SimConfig


@pytest.mark.parametrize(("argv", "sent"), [([], "KRX"), (["--ws-trade-exchange", "1"], "1")])
def test_ws_trade_exchange_flag(
    argv: list[str], sent: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    seen: list[SimConfig] = []
    monkeypatch.setattr(gslts_kiwoom.sim, "serve", seen.append)
    assert main(["sim", *argv]) == 0
    (config,) = seen
    assert config.ws_trade_exchange == sent
