"""The dashboard's typed API client is generated from the backend's OpenAPI document
(``frontend/src/api/openapi.json`` → ``schema.d.ts`` by openapi-typescript). Both are
checked in; these tests regenerate them and fail when they differ, so a backend change
that would break the client fails the build instead of the browser.

To fix a failure: ``make frontend-api`` (regenerates both), then ``make frontend`` (the
TypeScript build type-checks the dashboard against the new client) and commit.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

from tests.conftest import REPO_ROOT, missing

FRONTEND = REPO_ROOT / "frontend"
OPENAPI_JSON = FRONTEND / "src" / "api" / "openapi.json"
SCHEMA_TS = FRONTEND / "src" / "api" / "schema.d.ts"
GENERATOR = FRONTEND / "node_modules" / ".bin" / "openapi-typescript"
FIX = "run `make frontend-api` and commit frontend/src/api/openapi.json and schema.d.ts"


def _dump_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "dump_openapi", FRONTEND / "scripts" / "dump_openapi.py"
    )
    assert spec is not None
    assert spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_checked_in_openapi_document_is_the_backends() -> None:
    mod = _dump_module()
    current = mod.render(mod.openapi_document())
    assert OPENAPI_JSON.read_text(encoding="utf-8") == current, (
        f"the backend's OpenAPI document changed since the dashboard's client was generated: {FIX}"
    )


def test_checked_in_typescript_client_is_generated_from_it(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None or not GENERATOR.exists():
        missing("Node 20 and frontend/node_modules (make frontend) to regenerate the client")
    out = tmp_path / "schema.d.ts"
    subprocess.run(
        [str(GENERATOR), str(OPENAPI_JSON), "-o", str(out)],
        cwd=FRONTEND,
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert out.read_text(encoding="utf-8") == SCHEMA_TS.read_text(encoding="utf-8"), (
        f"schema.d.ts is not what openapi-typescript makes of openapi.json: {FIX}"
    )
