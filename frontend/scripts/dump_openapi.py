"""Write the backend's OpenAPI document (what ``GET /openapi.json`` serves) to a file.

The typed API client (``src/api/schema.d.ts``) is generated from it by openapi-typescript
(``npm run gen:api``); ``tests/unit/frontend/test_api_schema.py`` regenerates both and
fails when they differ from the checked-in files, so a backend change that breaks the
client fails the build. Importing the app builds no service (no database, no Kiwoom).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def openapi_document() -> dict[str, Any]:
    from gslts_backend.app import create_app
    from gslts_backend.settings import BackendSettings

    # settings only shape services, never the API; no .env so the output is the same anywhere
    app = create_app(BackendSettings(_env_file=None))
    doc: dict[str, Any] = app.openapi()
    return doc


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: dump_openapi.py OUT.json\n")
        return 2
    Path(argv[1]).write_text(render(openapi_document()), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
