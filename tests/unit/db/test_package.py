from __future__ import annotations

import re
from pathlib import Path

import gslts_db


def test_all_lists_exactly_the_public_names() -> None:
    public = {n for n in vars(gslts_db) if not n.startswith("_")}
    modules = {"archive", "engine", "errors", "migrate", "models", "partitions", "store"}
    assert set(gslts_db.__all__) == public - modules


def test_library_never_reads_the_environment_or_imports_services() -> None:
    pkg = Path(gslts_db.__file__).parent
    for path in pkg.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"os\.environ|getenv", text), path
        services = r"^\s*(from|import) (fastapi|gslts_common|gslts_backend|gslts_hub|gslts_cli)"
        assert not re.search(services, text, re.M), path
