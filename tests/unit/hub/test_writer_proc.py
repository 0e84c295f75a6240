"""The parent side of the writer process: what comes over the pipe is mirrored, and a
failing callback does not stop the mirror (it would make a healthy writer look dead)."""

from __future__ import annotations

import multiprocessing as mp
import threading
import time
from dataclasses import fields
from pathlib import Path

from gslts_hub.journal import Journal
from gslts_hub.writer import WriterStats
from gslts_hub.writer_proc import WriterProcess


def _snap(written: int, committed: int) -> dict[str, object]:
    snap: dict[str, object] = {
        f.name: getattr(WriterStats(), f.name)
        for f in fields(WriterStats)
        if f.name not in ("flush_seconds", "commit_latency")
    }
    snap.update(
        ticks_written=written,
        flush_seconds=[0.01],
        commit_latency=[0.2, 0.3],
        candles=(1, 2),
        committed=committed,
        peak_rss_kib=50_000,
    )
    return snap


def test_pump_mirrors_stats_and_survives_a_failing_callback(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j")
    end = journal.append(b"x" * 100)

    def boom(_rows: list[object]) -> None:
        raise RuntimeError("bus down")

    states: list[bool] = []
    w = WriterProcess(
        journal, "sqlite://", on_candles=boom, on_db_state=lambda ok, _e: states.append(ok)
    )
    parent, child = mp.Pipe()
    w._conn = parent
    pump = threading.Thread(target=w._pump_loop, daemon=True)
    pump.start()
    child.send(("candles", ["a bar"]))  # the callback raises: logged, the pump goes on
    child.send(("db", False, "gone"))
    child.send(("stats", _snap(written=7, committed=end)))
    deadline = time.monotonic() + 5
    while w.stats.ticks_written != 7 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert w.stats.ticks_written == 7
    assert list(w.stats.commit_latency)[-2:] == [0.2, 0.3]
    assert w.candle_counts() == (1, 2)
    assert w.peak_rss_kib == 50_000
    assert states == [False]
    assert journal.stats().backlog_bytes == 0  # the child's commit, seen by the appender
    assert w.wait_ready(1)
    assert not w._done.is_set()
    child.close()  # the child went away: the mirror ends
    pump.join(5)
    assert w._done.is_set()
    journal.close()
