"""Run every ``tests/bench/bench_*.py`` and merge its results into ``results/latest.json``.

Each benchmark module exposes ``run() -> dict[str, float]``; keys are namespaced by the
module (``bench_ws`` → ``ws.items_per_s`` …). Every figure is stored with the id of the
run that measured it; running one benchmark replaces only that benchmark's figures. A
benchmark that raised, reported a problem (a run cut by its deadline …) or lost data
(``*.lost``/``*_lost``/``*_dropped``/``*_gaps`` above 0) keeps no figures at all, and the
command exits 1 naming it and why (see ``tests/bench/_runner.py``). ``make bench`` runs
this. Usage: ``python -m tests.bench [name-filter]``.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from tests.bench._runner import failure_report, load, merge, new_run_id, now_utc, run_one

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "latest.json"

Bench = tuple[str, Callable[[], Mapping[str, float]]]


#: benchmarks that are not ``bench_*.py``, run after those: the short soak (a whole KRX
#: day at a high time warp with every fault once, a few minutes; ``make soak`` runs the
#: full day), see ``tests/bench/soak.py``
EXTRA = ("soak",)


def discover(wanted: str) -> list[Bench]:
    names = sorted(p.stem for p in HERE.glob("bench_*.py") if wanted in p.stem)
    names += [n for n in EXTRA if wanted in n]
    return [(n, importlib.import_module(f"tests.bench.{n}").run) for n in names]


def main(
    argv: Sequence[str], benches: Sequence[Bench] | None = None, results: Path = RESULTS
) -> int:
    started = now_utc()
    run_id = new_run_id(started)
    todo = discover(argv[0] if argv else "") if benches is None else list(benches)
    print(f"run {run_id}", flush=True)
    outcomes = []
    for name, fn in todo:
        print(f"== {name}", flush=True)
        out = run_one(name, fn)
        for key, value in out.figures.items():
            print(f"   {key} = {value}", flush=True)
        if not out.ok:
            print(f"   FAILED: {'; '.join(out.problems)}", flush=True)
        outcomes.append(out)
    merged = merge(load(results), outcomes, run_id, started)
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(merged, indent=2) + "\n", "utf-8")
    print(f"wrote {results}")
    failed = failure_report(outcomes)
    if failed:
        print(f"{len(failed)} benchmark(s) FAILED (their figures were not kept):")
        for line in failed:
            print(f"  {line}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
