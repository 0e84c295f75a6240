"""The journal on a real filesystem that fills up (a small tmpfs): a failed append leaves
no torn bytes, what was acknowledged is all there, the checkpoint still moves, and once
committed segments are pruned appends succeed again; a restart reads everything."""

from __future__ import annotations

from pathlib import Path

import pytest

from gslts_hub.journal import Journal, JournalWriteError
from tests.smallfs import fill, small_filesystem


def _payloads(j: Journal, start: int = 0) -> list[bytes]:
    return [p for _, p in j.read(start)]


def test_a_full_disk_loses_no_acknowledged_record(tmp_path: Path) -> None:
    with small_filesystem(tmp_path / "fs", 512) as fs:
        jdir = fs / "journal"
        j = Journal(jdir, segment_bytes=64 * 1024, fsync_interval_s=0)
        reader = Journal(jdir, reader=True)
        acked: list[tuple[int, bytes]] = []
        errors: list[str] = []
        for i in range(2000):
            rec = b"tick-%06d-" % i + b"x" * 900
            try:
                acked.append((j.append(rec), rec))
            except JournalWriteError as exc:
                errors.append(str(exc))
                if len(errors) >= 3:
                    break
        assert len(errors) == 3
        assert all("ENOSPC" in e for e in errors)
        assert len(acked) > 100
        # no torn bytes anywhere: every segment ends on a whole record
        assert _payloads(reader) == [r for _, r in acked]
        assert j.end_position == acked[-1][0]
        # the writer commits with the disk still full (the checkpoint is rewritten in place)
        half = acked[len(acked) // 2][0]
        reader.commit(half)
        assert Journal(jdir, reader=True).committed_position == half
        # committed segments were pruned: there is room again
        after = j.append(b"after-the-prune")
        assert after > acked[-1][0]
        j.close()
        restarted = Journal(jdir)
        assert _payloads(restarted, half) == [r for p, r in acked if p > half] + [
            b"after-the-prune"
        ]
        assert restarted.stats().skipped_bytes == 0
        restarted.close()


def test_the_disk_full_from_the_start_then_cleared(tmp_path: Path) -> None:
    with small_filesystem(tmp_path / "fs", 256) as fs:
        jdir = fs / "journal"
        j = Journal(jdir, fsync_interval_s=0)
        j.append(b"first")
        ballast = fill(fs)
        for _ in range(100):
            try:
                j.append(b"y" * 4000)
            except JournalWriteError:
                break
        with pytest.raises(JournalWriteError, match="ENOSPC"):
            j.append(b"y" * 4000)
        ballast.unlink()
        j.append(b"after-clearing")
        got = _payloads(Journal(jdir, reader=True))
        assert got[0] == b"first"
        assert got[-1] == b"after-clearing"
        assert all(p in (b"first", b"after-clearing", b"y" * 4000) for p in got)
        j.close()
