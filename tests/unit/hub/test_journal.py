"""The tick journal: nothing acknowledged is ever lost, torn tails are cut, commits prune."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gslts_hub.journal import Journal


def _payloads(j: Journal, start: int = 0) -> list[bytes]:
    return [p for _, p in j.read(start)]


def test_append_then_read_in_order(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    positions = [j.append(f"rec-{i}".encode()) for i in range(100)]
    assert positions == sorted(positions)
    assert _payloads(j) == [f"rec-{i}".encode() for i in range(100)]
    # tailing from a position returns only what follows it
    assert _payloads(j, positions[49]) == [f"rec-{i}".encode() for i in range(50, 100)]
    j.close()


def test_reopen_resumes_from_checkpoint_and_keeps_appending(tmp_path: Path) -> None:
    j = Journal(tmp_path, segment_bytes=200)
    pos = [j.append(b"x" * 50 + bytes([i])) for i in range(20)]
    j.commit(pos[9])
    j.close()

    j2 = Journal(tmp_path, segment_bytes=200)
    assert j2.committed_position == pos[9]
    assert j2.end_position == pos[-1]
    assert [p[-1] for p in _payloads(j2, j2.committed_position)] == list(range(10, 20))
    j2.append(b"after-restart")
    assert _payloads(j2, pos[-1]) == [b"after-restart"]
    j2.close()


def test_commit_deletes_only_fully_committed_segments(tmp_path: Path) -> None:
    j = Journal(tmp_path, segment_bytes=50)
    pos = [j.append(b"y" * 60) for _ in range(10)]  # one record per segment
    assert j.stats().segments == 10
    j.commit(pos[4])
    assert j.stats().segments == 5
    assert len(_payloads(j, j.committed_position)) == 5
    assert j.stats().backlog_bytes == pos[-1] - pos[4]
    j.close()


def test_torn_tail_is_cut_and_never_read(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    j.append(b"good-1")
    end = j.append(b"good-2")
    j.close()
    seg = sorted(tmp_path.glob("seg-*.log"))[-1]
    with open(seg, "ab") as f:  # a crash in the middle of a write
        f.write(b"\x10\x00\x00\x00\x00\x00\x00\x00half")
    j2 = Journal(tmp_path)
    assert j2.end_position == end
    assert _payloads(j2) == [b"good-1", b"good-2"]
    j2.append(b"good-3")
    assert _payloads(j2) == [b"good-1", b"good-2", b"good-3"]
    j2.close()


def test_corrupted_record_stops_the_reader(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    j.append(b"aaaa")
    j.append(b"bbbb")
    j.close()
    seg = sorted(tmp_path.glob("seg-*.log"))[-1]
    data = bytearray(seg.read_bytes())
    data[-1] ^= 0xFF  # flip a bit in the last payload: CRC mismatch
    seg.write_bytes(bytes(data))
    assert _payloads(Journal(tmp_path)) == [b"aaaa"]


def test_kill_9_after_append_loses_nothing(tmp_path: Path) -> None:
    """A process killed without any cleanup keeps every record append() returned for."""
    script = textwrap.dedent(
        f"""
        import os, sys
        from pathlib import Path
        from gslts_hub.journal import Journal
        j = Journal(Path({str(tmp_path)!r}), fsync_interval_s=3600)
        for i in range(5000):
            j.append(b"tick-%d" % i)
        sys.stdout.write("appended\\n"); sys.stdout.flush()
        os.kill(os.getpid(), 9)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert proc.returncode == -9
    assert b"appended" in proc.stdout
    got = _payloads(Journal(tmp_path))
    assert len(got) == 5000
    assert got[0] == b"tick-0"
    assert got[-1] == b"tick-4999"


def test_reader_tails_another_appender_without_repairing_its_tail(tmp_path: Path) -> None:
    """The writer process opens the hub's journal as a reader: it sees what the appender
    wrote so far, stops at a record still being written, never truncates, never appends."""
    j = Journal(tmp_path, segment_bytes=120)
    first = [j.append(f"rec-{i}".encode()) for i in range(5)]
    r = Journal(tmp_path, reader=True)
    assert r.end_position == first[-1]
    assert _payloads(r) == [f"rec-{i}".encode() for i in range(5)]
    # a record in flight: its header is there, half its payload is not
    seg = sorted(tmp_path.glob("seg-*.log"))[-1]
    size = seg.stat().st_size
    with open(seg, "ab") as f:
        f.write(b"\x10\x00\x00\x00\x00\x00\x00\x00half")
    assert _payloads(r, first[-1]) == []
    assert seg.stat().st_size == size + 12  # untouched: the appender owns the tail
    with open(seg, "r+b") as f:
        f.truncate(size)
    later = [j.append(f"later-{i}".encode()) for i in range(5)]  # rolls segments too
    assert _payloads(r, first[-1]) == [f"later-{i}".encode() for i in range(5)]
    # the reader commits (checkpoint + pruning); the appender learns the position
    r.commit(later[2])
    j.note_committed(r.committed_position)
    assert j.stats().backlog_bytes == later[-1] - later[2]
    assert _payloads(j, j.committed_position) == [b"later-3", b"later-4"]
    with pytest.raises(RuntimeError, match="reader"):
        r.append(b"nope")
    j.close()
