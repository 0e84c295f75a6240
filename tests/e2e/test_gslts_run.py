"""``gslts run`` owns its children: SIGTERM (a service manager, ``docker stop``) stops
every one of them cleanly, the hub's journal drained into the database, and none
outlives a ``kill -9`` of ``gslts run`` itself; and the backend it starts gets the hub's
live data with no Redis. Runs the embedded defaults (simulator, SQLite, no Redis), as
``make run`` does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gslts_hub.journal import Journal
from tests.e2e.harness import child_pids, free_port, wait_for

pytestmark = pytest.mark.e2e


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _descendants(pid: int) -> list[int]:
    out: list[int] = []
    todo = [pid]
    while todo:
        kids = child_pids(todo.pop())
        out += kids
        todo += kids
    return out


class Run:
    def __init__(self, tmp: Path) -> None:
        self.data = tmp / "data"
        self.hub_port = free_port()
        self.backend_port = free_port()
        prefixes = ("HUB_", "KIWOOM_", "SIM_", "BACKEND_")
        env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
        env.update(
            KIWOOM_MODE="sim", SIM_PORT=str(free_port()), HUB_PORT=str(self.hub_port),
            BACKEND_PORT=str(self.backend_port), DATA_DIR=str(self.data), REDIS_URL="",
            DATABASE_URL="",
        )  # fmt: skip
        self.log = open(tmp / "run.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gslts_cli.cli", "run"],
            cwd=tmp,  # no developer .env
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def status(self) -> dict[str, object] | None:
        try:
            return httpx.get(f"http://127.0.0.1:{self.hub_port}/api/status", timeout=5).json()  # type: ignore[no-any-return]
        except httpx.HTTPError:
            return None

    def backend_health(self) -> dict[str, Any] | None:
        try:
            url = f"http://127.0.0.1:{self.backend_port}/api/health"
            return httpx.get(url, timeout=5).json()  # type: ignore[no-any-return]
        except httpx.HTTPError:
            return None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Run]:
    r = Run(tmp_path)
    yield r
    r.stop()


def _collecting(run: Run) -> bool:
    st = run.status()
    return bool(st) and int(st.get("ticks_written") or 0) > 0  # type: ignore[union-attr, call-overload]


def test_sigterm_stops_every_child_and_drains_the_journal(run: Run) -> None:
    assert wait_for(lambda: _collecting(run), 120), (run.data.parent / "run.log").read_text()
    family = _descendants(run.proc.pid)
    assert len(child_pids(run.proc.pid)) >= 3  # simulator, hub and backend
    run.proc.send_signal(signal.SIGTERM)
    assert run.proc.wait(60) == 0
    assert wait_for(lambda: not any(_alive(p) for p in family), 30), [
        p for p in family if _alive(p)
    ]
    j = Journal(run.data / "journal", reader=True)
    assert j.committed_position == j.end_position  # everything journaled is in the database
    log = (run.data.parent / "run.log").read_text(errors="replace")
    assert "SIGTERM: stopping everything" in log


def test_a_killed_gslts_run_leaves_no_child_behind(run: Run) -> None:
    assert wait_for(lambda: _collecting(run), 120), (run.data.parent / "run.log").read_text()
    family = _descendants(run.proc.pid)
    assert family
    run.proc.kill()  # SIGKILL: no handler runs in gslts run
    run.proc.wait(10)
    assert wait_for(lambda: not any(_alive(p) for p in family), 60), [
        p for p in family if _alive(p)
    ]


def test_the_backend_gets_the_hubs_live_data_without_redis(run: Run) -> None:
    """``make run`` has no Redis: the backend follows the hub's bus stream, across the
    process boundary, and says so in its health."""

    def following() -> bool:
        h = run.backend_health()
        return bool(h) and h["status"] == "ok" and h["bus"]["events"].get("tick", 0) > 0  # type: ignore[index]

    assert wait_for(following, 120), (run.data.parent / "run.log").read_text()
    h = run.backend_health()
    assert h is not None
    assert h["bus"]["transport"] == "stream"
    assert h["bus"]["source"] == f"http://127.0.0.1:{run.hub_port}"
    log = (run.data.parent / "run.log").read_text(errors="replace")
    assert f"main server        http://127.0.0.1:{run.backend_port}/api/health" in log
