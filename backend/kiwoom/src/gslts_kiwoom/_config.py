"""Client configuration: which Kiwoom environment to talk to, with which keys and limits."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, SecretStr

KiwoomMode = Literal["sim", "mock", "real"]

#: Default hosts per mode (PROTOCOL.md §1). ``sim`` points at a local simulator.
DEFAULT_REST_URLS: dict[str, str] = {
    "sim": "http://127.0.0.1:8002",
    "mock": "https://mockapi.kiwoom.com",
    "real": "https://api.kiwoom.com",
}
DEFAULT_WS_URLS: dict[str, str] = {
    "sim": "ws://127.0.0.1:8002/api/dostk/websocket",
    "mock": "wss://mockapi.kiwoom.com:10000/api/dostk/websocket",
    "real": "wss://api.kiwoom.com:10000/api/dostk/websocket",
}


class KiwoomConfig(BaseModel):
    """Everything a Kiwoom client needs. Built by services from their settings.

    Secrets are ``SecretStr`` so that ``repr()``/logging never shows them.
    """

    model_config = ConfigDict(frozen=True)

    mode: KiwoomMode = "sim"
    app_key: SecretStr
    secret_key: SecretStr
    rest_url: str = DEFAULT_REST_URLS["sim"]
    ws_url: str = DEFAULT_WS_URLS["sim"]
    #: Per-api-id token bucket: sustained requests per second and burst size.
    rate_per_s: float = 4.0
    rate_burst: int = 4
    #: How many times a rate-limited (HTTP 429 / [1700]) request is retried with backoff.
    rate_limit_retries: int = 5
    timeout_s: float = 10.0
    #: Orders (kt10000–kt10003) in ``real`` mode are refused unless this is True: trading
    #: real money is an explicit opt-in, enforced here so every caller gets it.
    allow_real_orders: bool = False
    #: Re-issue the token this many seconds before ``expires_dt``.
    token_refresh_margin_s: float = 300.0

    @classmethod
    def for_mode(
        cls,
        mode: KiwoomMode,
        *,
        app_key: SecretStr | None,
        secret_key: SecretStr | None,
        rest_url: str | None = None,
        ws_url: str | None = None,
        **kwargs: object,
    ) -> KiwoomConfig:
        """Config for ``mode`` with that mode's default hosts unless overridden.

        Raises:
            ValueError: when the keys are missing (they are required in every mode).
        """
        if (
            app_key is None
            or secret_key is None
            or not app_key.get_secret_value()
            or not (secret_key.get_secret_value())
        ):
            raise ValueError(
                f"KIWOOM_APP_KEY and KIWOOM_SECRET_KEY must be set for KIWOOM_MODE={mode}"
            )
        return cls(
            mode=mode,
            app_key=app_key,
            secret_key=secret_key,
            rest_url=(rest_url or DEFAULT_REST_URLS[mode]).rstrip("/"),
            ws_url=ws_url or DEFAULT_WS_URLS[mode],
            **kwargs,
        )
