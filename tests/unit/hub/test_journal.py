"""The tick journal: nothing acknowledged is ever lost, torn tails are cut, commits prune."""

from __future__ import annotations

import errno
import os
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import pytest

from gslts_hub.journal import FILE_MAGIC, FileOps, Journal, JournalWriteError, frame


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


def test_torn_tail_is_never_read_and_never_truncated(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    j.append(b"good-1")
    j.append(b"good-2")
    j.close()
    seg = sorted(tmp_path.glob("seg-*.log"))[-1]
    torn = frame(b"a whole record, cut short")[:-7]
    with open(seg, "ab") as f:  # a crash in the middle of a write
        f.write(torn)
    size = seg.stat().st_size
    j2 = Journal(tmp_path)
    assert seg.stat().st_size == size  # nothing is cut on recovery
    assert _payloads(j2) == [b"good-1", b"good-2"]
    j2.append(b"good-3")  # continues in a new segment, past the torn bytes
    assert _payloads(j2) == [b"good-1", b"good-2", b"good-3"]
    j2.close()
    assert _payloads(Journal(tmp_path)) == [b"good-1", b"good-2", b"good-3"]


def test_a_damaged_record_is_skipped_and_what_follows_is_kept(tmp_path: Path) -> None:
    """A bad record in the middle of a segment (a damaged block, or a torn write followed
    by appends as an older hub did) never hides the whole records after it."""
    j = Journal(tmp_path)
    j.append(b"aaaa")
    j.append(b"bbbb")
    j.append(b"cccc")
    j.close()
    seg = sorted(tmp_path.glob("seg-*.log"))[-1]
    data = bytearray(seg.read_bytes())
    data[len(FILE_MAGIC) + len(frame(b"aaaa")) + 13] ^= 0xFF  # a bit of "bbbb" flips
    seg.write_bytes(bytes(data))
    j2 = Journal(tmp_path)
    # the newest segment may still be being written: a reader stops at the bad record …
    assert _payloads(j2) == [b"aaaa"]
    j2.append(b"dddd")  # … and once it is sealed, resyncs past it
    assert _payloads(j2) == [b"aaaa", b"cccc", b"dddd"]
    assert j2.stats().skipped_bytes == len(frame(b"bbbb"))
    assert seg.read_bytes() == bytes(data)  # and nothing on disk was changed
    j2.close()


def test_segments_of_the_first_journal_version_are_replayed(tmp_path: Path) -> None:
    """A journal left by an older hub (no file header, 8-byte record headers) is read."""
    old = b"".join(struct.pack("<II", len(p), zlib.crc32(p)) + p for p in (b"old-1", b"old-2"))
    (tmp_path / "seg-00000000000000000000.log").write_bytes(old)
    j = Journal(tmp_path)
    assert j.end_position == len(old)
    j.append(b"new-1")
    assert _payloads(j) == [b"old-1", b"old-2", b"new-1"]
    j.close()


class _FullDisk(FileOps):
    """Fails writes with ENOSPC while ``full``; optionally after writing a part first (a
    short write), and optionally refusing the cut-back too."""

    def __init__(self) -> None:
        self.full = False
        self.partial = 0
        self.refuse_truncate = False

    def write(self, fd: int, data: memoryview) -> int:
        if self.full:
            if self.partial:
                n = os.write(fd, data[: min(self.partial, len(data) - 1)])
                self.partial = 0
                return n
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().write(fd, data)

    def ftruncate(self, fd: int, size: int) -> None:
        if self.refuse_truncate:
            raise OSError(errno.EIO, "Input/output error")
        super().ftruncate(fd, size)


def test_a_failed_append_is_cut_back_and_the_next_one_continues(tmp_path: Path) -> None:
    ops = _FullDisk()
    j = Journal(tmp_path, ops=ops)
    reader = Journal(tmp_path, reader=True)
    first = j.append(b"before")
    ops.full, ops.partial = True, 9  # the kernel takes 9 bytes, then the disk is full
    with pytest.raises(JournalWriteError, match="ENOSPC"):
        j.append(b"lost-write")
    assert j.end_position == first
    seg = sorted(tmp_path.glob("seg-*.log"))[-1]
    assert seg.stat().st_size == first  # the torn bytes are gone
    assert j.stats().write_errors == 1
    assert "ENOSPC" in (j.stats().last_error or "")
    ops.full = False
    j.append(b"after")
    # the reader (the writer process) is not stuck at the failed write
    assert _payloads(reader) == [b"before", b"after"]
    j.close()
    assert _payloads(Journal(tmp_path)) == [b"before", b"after"]


def test_when_the_cut_back_fails_too_the_segment_is_abandoned(tmp_path: Path) -> None:
    ops = _FullDisk()
    j = Journal(tmp_path, ops=ops)
    reader = Journal(tmp_path, reader=True)
    j.append(b"before")
    ops.full, ops.partial, ops.refuse_truncate = True, 9, True
    with pytest.raises(JournalWriteError):
        j.append(b"torn")
    ops.full = ops.refuse_truncate = False
    j.append(b"after")  # a new segment, past the torn bytes
    assert len(list(tmp_path.glob("seg-*.log"))) == 2
    assert _payloads(reader) == [b"before", b"after"]
    j.close()
    restarted = Journal(tmp_path)
    assert _payloads(restarted) == [b"before", b"after"]
    restarted.append(b"later")
    assert _payloads(restarted) == [b"before", b"after", b"later"]
    restarted.close()


def test_an_fsync_error_is_counted_not_raised(tmp_path: Path) -> None:
    class _BadFsync(FileOps):
        def fsync(self, fd: int) -> None:
            raise OSError(errno.EIO, "Input/output error")

    j = Journal(tmp_path, fsync_interval_s=0, ops=_BadFsync())
    j.append(b"kept")  # in the kernel: a crash of the hub keeps it
    assert j.stats().fsync_errors >= 1
    assert "EIO" in (j.stats().last_error or "")
    assert _payloads(j) == [b"kept"]
    j.close()


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
    in_flight = frame(b"a record being written")[:-5]
    with open(seg, "ab") as f:
        f.write(in_flight)
    assert _payloads(r, first[-1]) == []
    assert seg.stat().st_size == size + len(in_flight)  # untouched: the appender owns it
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
