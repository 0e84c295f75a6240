"""What ``python -m tests.bench`` does with the figures: stamp, check, merge, decide.

``results/latest.json`` holds the latest *valid* figures of every benchmark, each stamped
with the run that measured it, plus the log of those runs::

    {"format": 2,
     "figures": {"ws.items_per_s": {"value": 139554, "bench": "bench_ws",
                                    "run": "20261126T020200Z-3f9a"}, ...},
     "runs": {"20261126T020200Z-3f9a": {"started_at": "2026-11-26T02:02:00Z",
              "python": "3.11.7", "machine": "x86_64 cpus=2",
              "benchmarks": {"bench_ws": {"status": "ok", "seconds": 7.8},
                             "bench_sim": {"status": "failed", "seconds": 27.4,
                                           "problems": ["sim.flood_lost = 143615 ..."],
                                           "figures": {...}}}}}}

Running one benchmark replaces that benchmark's figures only. A benchmark that **failed**
— raised, reported a problem (:class:`BenchProblem`: e.g. a run cut by its deadline), or
returned a loss figure above 0 (:func:`loss_problems`) — has its figures *dropped* from
``figures`` (never kept stale under a fresh run); what it measured stays in its run's log
for whoever investigates, and the whole run exits non-zero naming it.
"""

from __future__ import annotations

import json
import os
import platform
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FORMAT = 2
#: the run that stands for figures merged before runs were stamped (format 1 files)
LEGACY_RUN = "legacy-unstamped"
#: format 1 keys whose meaning moved: ``ingest.paced_rate`` held the paced run's target
LEGACY_RENAMES = {"ingest.paced_rate": "ingest.paced_rate_target"}

Figures = dict[str, float]


class BenchProblem(Exception):
    """A benchmark ran, but its figures do not stand (a run cut short by its deadline,
    data lost, a check failed); ``figures`` is what it measured anyway."""

    def __init__(self, problems: Iterable[str], figures: Mapping[str, float] | None = None):
        self.problems = list(problems)
        self.figures = dict(figures or {})
        super().__init__("; ".join(self.problems))


def namespace(bench: str) -> str:
    """``bench_ingest`` → ``ingest``: the prefix of every key the benchmark returns."""
    return bench.removeprefix("bench_")


def is_loss_key(key: str) -> bool:
    """Figures that count lost data (trades missing, items dropped, cumulative-volume
    gaps): anything above 0 fails the benchmark."""
    last = key.rsplit(".", 1)[-1]
    return last in ("lost", "dropped") or last.endswith(("_lost", "_dropped", "_gaps"))


def loss_problems(figures: Mapping[str, float]) -> list[str]:
    return [f"{k} = {v:g} (must be 0)" for k, v in sorted(figures.items()) if is_loss_key(k) and v]


def new_run_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


@dataclass
class Outcome:
    """One benchmark of this run."""

    bench: str
    seconds: float
    figures: Figures = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def run_one(bench: str, fn: Callable[[], Mapping[str, float]]) -> Outcome:
    """Run a benchmark's ``run()`` and judge what came back (never raises)."""
    t0 = time.perf_counter()
    problems: list[str] = []
    figures: Figures = {}
    try:
        figures = dict(fn())
    except BenchProblem as exc:
        figures, problems = exc.figures, list(exc.problems)
    except Exception as exc:  # one broken benchmark must not hide the others
        problems = [f"raised {type(exc).__name__}: {exc}"]
    ns = namespace(bench) + "."
    stray = sorted(k for k in figures if not k.startswith(ns))
    if stray:
        problems.append(f"keys outside {ns}*: {stray}")
    problems += [p for p in loss_problems(figures) if p not in problems]
    return Outcome(bench, round(time.perf_counter() - t0, 2), figures, problems)


def load(path: Path) -> dict[str, Any]:
    """The results file in the current format (an absent file is empty; a format 1 file,
    flat ``key: value``, becomes figures of the :data:`LEGACY_RUN`)."""
    if not path.exists():
        return {"format": FORMAT, "figures": {}, "runs": {}}
    data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    if data.get("format") == FORMAT:
        return data
    figures = {
        LEGACY_RENAMES.get(k, k): {
            "value": v,
            "bench": "bench_" + k.split(".", 1)[0],
            "run": LEGACY_RUN,
        }
        for k, v in data.items()
        if not k.startswith("_meta.")
    }
    legacy: dict[str, Any] = {
        "started_at": None,
        "note": "figures merged before runs were stamped: which run measured each is unknown",
        "python": data.get("_meta.python"),
        "machine": data.get("_meta.machine"),
        "benchmarks": {},
    }
    return {"format": FORMAT, "figures": figures, "runs": {LEGACY_RUN: legacy} if figures else {}}


def merge(
    results: Mapping[str, Any], outcomes: Iterable[Outcome], run_id: str, started_at: datetime
) -> dict[str, Any]:
    """``results`` with this run's outcomes: each benchmark that ran loses its old figures;
    a passing one gets its new figures stamped with ``run_id``; the run is logged; runs no
    figure refers to any more are forgotten."""
    figures: dict[str, Any] = dict(results.get("figures", {}))
    log: dict[str, Any] = {}
    for out in outcomes:
        figures = {k: f for k, f in figures.items() if f.get("bench") != out.bench}
        entry: dict[str, Any] = {"status": "ok" if out.ok else "failed", "seconds": out.seconds}
        if out.ok:
            for k, v in out.figures.items():
                figures[k] = {"value": v, "bench": out.bench, "run": run_id}
        else:
            entry["problems"] = out.problems
            entry["figures"] = out.figures  # what it measured: evidence, not results
        log[out.bench] = entry
    runs = {k: r for k, r in results.get("runs", {}).items() if k != run_id}
    runs[run_id] = {
        "started_at": started_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "python": platform.python_version(),
        "machine": f"{platform.machine()} cpus={os.cpu_count()}",
        "benchmarks": log,
    }
    used = {f["run"] for f in figures.values()} | {run_id}
    return {
        "format": FORMAT,
        "figures": dict(sorted(figures.items())),
        "runs": {k: r for k, r in sorted(runs.items()) if k in used},
    }


def failure_report(outcomes: Iterable[Outcome]) -> list[str]:
    """One line per failed benchmark: its name and every problem."""
    return [f"{o.bench}: {'; '.join(o.problems)}" for o in outcomes if not o.ok]


def now_utc() -> datetime:
    return datetime.now(UTC)
