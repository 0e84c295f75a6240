"""``python -m tests.bench``: figures stamped with their run, a failed benchmark keeps no
figures (old or new), a loss or a run cut short fails the run and says which."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.bench.__main__ import main
from tests.bench._runner import LEGACY_RUN, BenchProblem, is_loss_key


def _ws() -> dict[str, float]:
    return {"ws.items_per_s": 1000.0, "ws.ratio_vs_naive": 10.0}


def _sim_ok() -> dict[str, float]:
    return {"sim.flood_delivered_per_s": 500.0, "sim.flood_lost": 0, "sim.server_dropped": 0}


def _read(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return data


def test_every_figure_is_stamped_with_the_run_that_measured_it(tmp_path: Path) -> None:
    out = tmp_path / "latest.json"
    assert main([], [("bench_ws", _ws), ("bench_sim", _sim_ok)], out) == 0
    data = _read(out)
    (run_id,) = data["runs"]
    run = data["runs"][run_id]
    assert run["started_at"].endswith("Z")
    assert run["benchmarks"]["bench_ws"]["status"] == "ok"
    assert data["figures"]["ws.items_per_s"] == {
        "value": 1000.0,
        "bench": "bench_ws",
        "run": run_id,
    }
    assert {f["run"] for f in data["figures"].values()} == {run_id}


def test_one_benchmark_rerun_keeps_the_others_with_their_own_stamps(tmp_path: Path) -> None:
    out = tmp_path / "latest.json"
    main([], [("bench_ws", _ws), ("bench_sim", _sim_ok)], out)
    first = _read(out)
    (run1,) = first["runs"]
    assert main([], [("bench_ws", lambda: {"ws.items_per_s": 2000.0})], out) == 0
    data = _read(out)
    run2 = data["figures"]["ws.items_per_s"]["run"]
    assert run2 != run1
    assert data["figures"]["ws.items_per_s"]["value"] == 2000.0
    assert "ws.ratio_vs_naive" not in data["figures"]  # not measured in run 2: not kept
    assert data["figures"]["sim.flood_delivered_per_s"]["run"] == run1
    assert set(data["runs"]) == {run1, run2}


def test_a_benchmark_that_raised_loses_its_old_figures_and_fails_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "latest.json"
    main([], [("bench_ws", _ws), ("bench_sim", _sim_ok)], out)
    (run1,) = _read(out)["runs"]

    def broken() -> dict[str, float]:
        raise RuntimeError("websocket did not log in")

    assert main([], [("bench_sim", broken)], out) == 1
    data = _read(out)
    assert not [k for k in data["figures"] if k.startswith("sim.")]  # none kept stale
    assert data["figures"]["ws.items_per_s"]["run"] == run1
    (run2,) = set(data["runs"]) - {run1}
    log = data["runs"][run2]["benchmarks"]["bench_sim"]
    assert log["status"] == "failed"
    assert log["problems"] == ["raised RuntimeError: websocket did not log in"]
    assert "bench_sim: raised RuntimeError: websocket did not log in" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("figures", "problem"),
    [
        ({"ingest.ticks_per_s": 70_000.0, "ingest.lost": 12}, "ingest.lost = 12 (must be 0)"),
        ({"ingest.ticks_per_s": 1.0, "ingest.paced_lost": 3}, "ingest.paced_lost = 3"),
        ({"ingest.ticks_per_s": 1.0, "ingest.server_dropped": 143_615}, "server_dropped"),
        ({"ingest.ticks_per_s": 1.0, "ingest.flood_cum_volume_gaps": 79}, "_gaps = 79"),
    ],
)
def test_a_loss_fails_the_run_and_keeps_no_figures(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    figures: dict[str, float],
    problem: str,
) -> None:
    out = tmp_path / "latest.json"
    assert main([], [("bench_ingest", lambda: figures)], out) == 1
    data = _read(out)
    assert data["figures"] == {}
    (run,) = data["runs"].values()
    log = run["benchmarks"]["bench_ingest"]
    assert log["status"] == "failed"
    assert log["figures"] == figures  # the evidence stays in the run's log
    assert any(problem in p for p in log["problems"])
    printed = capsys.readouterr().out
    assert "1 benchmark(s) FAILED" in printed
    assert "bench_ingest:" in printed
    assert problem in printed


def test_a_run_cut_by_its_deadline_is_reported_incomplete_and_fails(tmp_path: Path) -> None:
    out = tmp_path / "latest.json"
    partial = {"ingest.ticks_per_s": 5_000.0, "ingest.written": 150_000.0, "ingest.lost": 0}

    def cut() -> dict[str, float]:
        raise BenchProblem(["hub run cut by its 300 s deadline: 150,000 of 600,000"], partial)

    assert main([], [("bench_ingest", cut)], out) == 1
    data = _read(out)
    assert data["figures"] == {}
    (run,) = data["runs"].values()
    log = run["benchmarks"]["bench_ingest"]
    assert log["problems"] == ["hub run cut by its 300 s deadline: 150,000 of 600,000"]
    assert log["figures"] == partial


def test_keys_outside_the_benchmark_namespace_fail_it(tmp_path: Path) -> None:
    out = tmp_path / "latest.json"
    assert main([], [("bench_ws", lambda: {"ws.items_per_s": 1.0, "db.x": 2.0})], out) == 1
    assert _read(out)["figures"] == {}


def test_a_flat_results_file_becomes_figures_of_an_unstamped_legacy_run(tmp_path: Path) -> None:
    out = tmp_path / "latest.json"
    flat = {
        "_meta.bench_ws.seconds": 7.8,
        "_meta.python": "3.11.7",
        "ws.items_per_s": 139554,
        "sim.flood_lost": 0,
        "ingest.paced_rate": 10000.0,  # format 1 stored the paced run's target here
    }
    out.write_text(json.dumps(flat), "utf-8")
    assert main([], [("bench_ws", _ws)], out) == 0
    data = _read(out)
    assert data["figures"]["sim.flood_lost"] == {
        "value": 0,
        "bench": "bench_sim",
        "run": LEGACY_RUN,
    }
    assert data["figures"]["ws.items_per_s"]["run"] != LEGACY_RUN
    assert data["runs"][LEGACY_RUN]["started_at"] is None
    assert "ingest.paced_rate" not in data["figures"]  # now the measured rate: not this
    assert data["figures"]["ingest.paced_rate_target"]["value"] == 10000.0


def test_loss_keys() -> None:
    for key in ("ingest.lost", "ingest.paced_lost", "sim.server_dropped", "sim.dropped"):
        assert is_loss_key(key), key
    assert is_loss_key("sim.flood_cum_volume_gaps")
    for key in ("sim.flood_delivered", "ingest.books_received", "ws.items_per_s"):
        assert not is_loss_key(key), key
