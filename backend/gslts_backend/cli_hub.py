"""``gslts sub-server``: run the tick hub (collector + API + monitoring page)."""

from __future__ import annotations

import argparse

from gslts_backend.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("sub-server", help="run the tick hub (sub-server)")
    p.add_argument("--port", type=int, default=None, help="listen port (default HUB_PORT, 8001)")
    p.add_argument("--host", default=None, help="listen address (default HUB_HOST, 127.0.0.1)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from gslts_hub.app import create_app
    from gslts_hub.settings import HubSettings

    overrides = {k: v for k, v in (("hub_host", args.host), ("hub_port", args.port)) if v}
    hub_settings = HubSettings(**overrides)  # --host is an allowed Host name, as HUB_HOST is
    app = create_app(hub_settings)
    uvicorn.run(
        app,
        host=hub_settings.hub_host,
        port=hub_settings.hub_port,
        log_level=hub_settings.log_level.lower(),
    )
    return 0
