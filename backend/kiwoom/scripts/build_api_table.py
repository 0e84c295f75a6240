"""Regenerate ``gslts_kiwoom/_data/apis.json`` from the Kiwoom API catalogue.

The runtime never reads the catalogue (users do not have it); it reads the small table
this script writes: api-id → Korean name, URL path, transport and request field keys.

Usage::

    python backend/kiwoom/scripts/build_api_table.py [path/to/catalogue.json]

The default catalogue path is ``../shared/kiwoom-api/catalogue.json`` next to the repo.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_CATALOGUE = REPO_ROOT.parent / "shared" / "kiwoom-api" / "catalogue.json"
OUTPUT = REPO_ROOT / "backend" / "kiwoom" / "src" / "gslts_kiwoom" / "_data" / "apis.json"


def build(catalogue: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    """The table keyed by api-id, sorted, one entry per catalogue API."""
    table: dict[str, dict[str, object]] = {}
    for api in catalogue:
        api_id = str(api["api_id"])
        path = str(api["path"])
        request = api.get("request") or []
        if not isinstance(request, list):
            raise TypeError(f"{api_id}: 'request' is not a list")
        table[api_id] = {
            "name": str(api["name"]),
            "path": path,
            # Realtime types and condition-search messages travel over the WebSocket.
            "transport": "websocket" if path.endswith("/websocket") else "rest",
            "request": [str(field["key"]) for field in request],
        }
    return dict(sorted(table.items()))


def main(argv: list[str]) -> int:
    source = Path(argv[1]) if len(argv) > 1 else DEFAULT_CATALOGUE
    catalogue = json.loads(source.read_text(encoding="utf-8"))
    table = build(catalogue)
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(
        json.dumps(table, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )
    print(f"wrote {len(table)} APIs to {OUTPUT}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
