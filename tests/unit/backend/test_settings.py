"""Settings: every field is documented in .env.example, and secrets never leak in repr."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import SecretStr

from gslts_backend.settings import BackendSettings
from gslts_common.settings import Settings
from gslts_hub.settings import HubSettings
from tests.conftest import REPO_ROOT

#: every settings class of every service: .env.example documents their union
ALL_SETTINGS: tuple[type[Settings], ...] = (Settings, HubSettings, BackendSettings)


def _field_names() -> set[str]:
    return {name.upper() for cls in ALL_SETTINGS for name in cls.model_fields}


def _documented_names() -> set[str]:
    text = (REPO_ROOT / ".env.example").read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))


def test_every_setting_is_documented_in_env_example() -> None:
    missing = _field_names() - _documented_names()
    assert not missing, f".env.example does not document: {sorted(missing)}"


def _compose_names() -> set[str]:
    """Variables docker-compose.yml interpolates, and Compose's own (COMPOSE_PROFILES):
    documented in .env.example without being settings (tests/unit/deploy checks them)."""
    text = (REPO_ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    return {"COMPOSE_PROFILES", *re.findall(r"\$\{([A-Z][A-Z0-9_]*)", text)}


def test_env_example_names_only_real_settings() -> None:
    stale = _documented_names() - _field_names() - _compose_names()
    assert not stale, f".env.example documents unknown settings: {sorted(stale)}"


def test_secrets_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIWOOM_APP_KEY", "appkey-very-secret")
    monkeypatch.setenv("KIWOOM_SECRET_KEY", "secret-very-secret")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert isinstance(settings.kiwoom_app_key, SecretStr)
    text = repr(settings) + str(settings.kiwoom_config())
    assert "very-secret" not in text


def test_sim_mode_defaults_to_local_simulator(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KIWOOM_MODE", "KIWOOM_APP_KEY", "KIWOOM_SECRET_KEY", "KIWOOM_REST_URL"):
        monkeypatch.delenv(name, raising=False)
    cfg = Settings(_env_file=None, sim_port=9123).kiwoom_config()  # type: ignore[call-arg]
    assert cfg.mode == "sim"
    assert cfg.rest_url == "http://127.0.0.1:9123"
    assert cfg.ws_url == "ws://127.0.0.1:9123/api/dostk/websocket"


def test_real_mode_without_keys_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KIWOOM_APP_KEY", raising=False)
    monkeypatch.delenv("KIWOOM_SECRET_KEY", raising=False)
    settings = Settings(_env_file=None, kiwoom_mode="real")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="KIWOOM_APP_KEY"):
        settings.kiwoom_config()


def test_real_mode_uses_kiwoom_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIWOOM_APP_KEY", "a")
    monkeypatch.setenv("KIWOOM_SECRET_KEY", "b")
    cfg = Settings(_env_file=None, kiwoom_mode="real").kiwoom_config()  # type: ignore[call-arg]
    assert cfg.rest_url == "https://api.kiwoom.com"
    assert cfg.ws_url.startswith("wss://api.kiwoom.com:10000/")


def test_env_example_copied_to_env_gives_working_defaults(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`cp .env.example .env` must work: empty `KEY=` lines mean "not set"."""
    for cls in ALL_SETTINGS:
        for name in cls.model_fields:
            monkeypatch.delenv(name.upper(), raising=False)
    env = tmp_path / ".env"
    env.write_text((REPO_ROOT / ".env.example").read_text(encoding="utf-8"), encoding="utf-8")
    hub = HubSettings(_env_file=env)  # type: ignore[call-arg]
    assert hub.kiwoom_mode == "sim"
    assert hub.sim_app_key is None
    assert hub.database_url is None
    assert hub.hub_journal_dir is None
    assert hub.kiwoom_config().rest_url == "http://127.0.0.1:8002"


def test_sim_host_only_applies_in_sim_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """compose sets SIM_HOST=simulator; a real-mode user must still reach api.kiwoom.com."""
    monkeypatch.delenv("KIWOOM_REST_URL", raising=False)
    monkeypatch.setenv("KIWOOM_APP_KEY", "a")
    monkeypatch.setenv("KIWOOM_SECRET_KEY", "b")
    sim = Settings(_env_file=None, sim_host="simulator").kiwoom_config()  # type: ignore[call-arg]
    assert sim.rest_url == "http://simulator:8002"
    real = Settings(  # type: ignore[call-arg]
        _env_file=None, sim_host="simulator", kiwoom_mode="real"
    ).kiwoom_config()
    assert real.rest_url == "https://api.kiwoom.com"
