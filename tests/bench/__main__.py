"""Run every ``tests/bench/bench_*.py`` and merge its results into ``results/latest.json``.

Each benchmark module exposes ``run() -> dict[str, float]``; keys are namespaced
(``ws.items_per_s``…). Keys from earlier runs of other benchmarks are kept, so running
one benchmark does not erase the others' numbers. ``make bench`` runs this.
Usage: ``python -m tests.bench [name-filter]``.
"""

from __future__ import annotations

import importlib
import json
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "latest.json"


def main(argv: list[str]) -> int:
    wanted = argv[0] if argv else ""
    modules = sorted(p.stem for p in HERE.glob("bench_*.py") if wanted in p.stem)
    results: dict[str, object] = {}
    if RESULTS.exists():
        results = json.loads(RESULTS.read_text("utf-8"))
    failed = 0
    for name in modules:
        mod = importlib.import_module(f"tests.bench.{name}")
        print(f"== {name}", flush=True)
        t0 = time.perf_counter()
        try:
            got = mod.run()
        except Exception as exc:  # one broken benchmark must not hide the others
            failed += 1
            print(f"   FAILED: {type(exc).__name__}: {exc}", flush=True)
            continue
        for key, value in got.items():
            print(f"   {key} = {value}", flush=True)
        results.update(got)
        results[f"_meta.{name}.seconds"] = round(time.perf_counter() - t0, 2)
    results["_meta.python"] = platform.python_version()
    results["_meta.machine"] = f"{platform.machine()} cpus={__import__('os').cpu_count()}"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", "utf-8")
    print(f"wrote {RESULTS.relative_to(HERE.parent.parent)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
