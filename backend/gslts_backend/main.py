"""Run the main server alone: ``python -m gslts_backend`` (what its container runs) or
``gslts backend``. Settings from the environment / ``.env`` (``BackendSettings``)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from gslts_backend.settings import BackendSettings
from gslts_common.logging import configure_logging


def serve(settings: BackendSettings) -> None:
    """Build the app and serve it until SIGINT/SIGTERM."""
    import uvicorn

    from gslts_backend.app import create_app

    uvicorn.run(
        create_app(settings),
        host=settings.backend_host,
        port=settings.backend_port,
        log_level=settings.log_level.lower(),
    )


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m gslts_backend", description="the GSLTS main server")
    p.add_argument(
        "--port", type=int, default=None, help="listen port (default BACKEND_PORT, 8000)"
    )
    p.add_argument("--host", default=None, help="listen address (default BACKEND_HOST, 127.0.0.1)")
    args = p.parse_args(argv)
    overrides = {k: v for k, v in (("backend_host", args.host), ("backend_port", args.port)) if v}
    settings = BackendSettings(**overrides)
    configure_logging(settings.log_level)
    serve(settings)
    return 0
