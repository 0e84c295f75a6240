"""Run the hub alone: ``python -m gslts_hub`` (what its container runs) or ``gslts
sub-server``. Settings from the environment / ``.env`` (``HubSettings``)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from gslts_common.logging import configure_logging
from gslts_hub.settings import HubSettings


def serve(settings: HubSettings) -> None:
    """Build the app and serve it until SIGINT/SIGTERM (the lifespan drains the journal)."""
    import uvicorn

    from gslts_hub.app import create_app

    uvicorn.run(
        create_app(settings),
        host=settings.hub_host,
        port=settings.hub_port,
        log_level=settings.log_level.lower(),
    )


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m gslts_hub", description="the GSLTS tick hub")
    p.add_argument("--port", type=int, default=None, help="listen port (default HUB_PORT, 8001)")
    p.add_argument("--host", default=None, help="listen address (default HUB_HOST, 127.0.0.1)")
    args = p.parse_args(argv)
    # --host is also an allowed Host name, as HUB_HOST is
    overrides = {k: v for k, v in (("hub_host", args.host), ("hub_port", args.port)) if v}
    settings = HubSettings(**overrides)
    configure_logging(settings.log_level)
    serve(settings)
    return 0
