from __future__ import annotations

from pathlib import Path

import pytest

from gslts_hub.settings import HubSettings


@pytest.fixture
def hub_settings(tmp_path: Path) -> HubSettings:
    return HubSettings(
        _env_file=None,
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'hub.sqlite3'}",
        redis_url=None,
        hub_flush_interval_s=0.05,
    )
