"""One logging set-up for every process (CLI, hub, backend, the hub's writer child)."""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def configure_logging(level: str | int = "INFO") -> None:
    """Key-value log lines on stderr at ``level``; httpx's per-request INFO lines are
    silenced (the Kiwoom client logs one structured line per call itself)."""
    if isinstance(level, str):
        level = level.upper()
    logging.basicConfig(level=level, format=FORMAT)
    logging.getLogger("httpx").setLevel(logging.WARNING)
