"""Settings shared by every GSLTS service, loaded once from the environment / ``.env``.

One pydantic-settings class holds what all processes need (Kiwoom mode and keys, database,
Redis). Services subclass it to add their own knobs. Libraries (``gslts_kiwoom``,
``gslts_db``) never read the environment: the services build config objects from this
class and pass them in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from gslts_kiwoom import KiwoomConfig, KiwoomMode

DEFAULT_SIM_PORT = 8002
DEFAULT_DATA_DIR = Path("var")


class Settings(BaseSettings):
    """Every setting is documented in ``.env.example`` (a test checks they agree)."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        # `KEY=` in .env (as in .env.example) means "not set", not "empty string"
        env_ignore_empty=True,
    )

    kiwoom_mode: KiwoomMode = Field(default="sim", description="sim | mock | real")
    kiwoom_app_key: SecretStr | None = None
    kiwoom_secret_key: SecretStr | None = None
    kiwoom_rest_url: str | None = None
    kiwoom_ws_url: str | None = None
    kiwoom_rate_per_s: float = 4.0
    kiwoom_rate_burst: int = 4
    #: this process's share of the per-key budget above when it cannot share one bucket
    #: through Redis (no REDIS_URL, or Redis away): the hub and the backend use one app key,
    #: half each by default, so together they never exceed it
    kiwoom_rate_share: float = Field(default=0.5, gt=0, le=1)
    kiwoom_timeout_s: float = 10.0
    kiwoom_allow_real_orders: bool = False

    sim_port: int = DEFAULT_SIM_PORT
    #: Where clients find the simulator in ``sim`` mode (compose: the ``simulator`` service).
    sim_host: str = "127.0.0.1"
    sim_clock: Literal["always", "krx"] = "always"
    #: market-wide trades per second of ``gslts sim`` / ``make run``, spread over the
    #: listings by their real trading value: 400 looks like KRX at midday (the top stocks
    #: trade several times a second); ``gslts sim --rate`` overrides it
    sim_trades_per_s: float = Field(default=400.0, ge=0, le=1_000_000)
    #: When set, the simulator accepts only this app key / secret pair (else any non-empty).
    sim_app_key: SecretStr | None = None
    sim_secret_key: SecretStr | None = None
    sim_token_ttl_s: float = 86400.0
    #: the simulator's sector-link world (``GET /_sim/us-daily`` and the linked stocks'
    #: daily history): ``planted`` relation, ``none`` at all, or ``reversed`` in time
    sim_sector_world: Literal["planted", "none", "reversed"] = "planted"

    database_url: str | None = None
    redis_url: str | None = None
    data_dir: Path = DEFAULT_DATA_DIR
    log_level: str = "INFO"

    def resolved_database_url(self) -> str:
        """DATABASE_URL, or the embedded SQLite file under DATA_DIR (zero-setup default)."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'gslts.sqlite3').resolve()}"

    def kiwoom_config(self) -> KiwoomConfig:
        """The Kiwoom client configuration for the selected mode.

        In ``sim`` mode with no keys configured, a fixed local pair is used: the simulator
        accepts any non-empty pair unless it was configured with specific keys.
        """
        app_key = self.kiwoom_app_key
        secret = self.kiwoom_secret_key
        if self.kiwoom_mode == "sim":
            app_key = app_key or SecretStr("sim-app-key")
            secret = secret or SecretStr("sim-secret-key")
        rest_url = self.kiwoom_rest_url
        ws_url = self.kiwoom_ws_url
        if self.kiwoom_mode == "sim":
            rest_url = rest_url or f"http://{self.sim_host}:{self.sim_port}"
            ws_url = ws_url or f"ws://{self.sim_host}:{self.sim_port}/api/dostk/websocket"
        return KiwoomConfig.for_mode(
            self.kiwoom_mode,
            app_key=app_key,
            secret_key=secret,
            rest_url=rest_url,
            ws_url=ws_url,
            rate_per_s=self.kiwoom_rate_per_s,
            rate_burst=self.kiwoom_rate_burst,
            timeout_s=self.kiwoom_timeout_s,
            allow_real_orders=self.kiwoom_allow_real_orders,
        )
