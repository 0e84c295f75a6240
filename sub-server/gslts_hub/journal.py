"""Append-only, crash-safe tick journal: the hub's source of truth between socket and DB.

Why a journal first: a tick is acknowledged only after it has been handed to the kernel
(``write(2)``), so a ``kill -9`` of the hub loses nothing (the page cache survives the
process); ``fsync`` runs on a timer for power-loss durability. The database writer never
reads ticks from memory: it *tails the journal* from the last committed checkpoint. One
code path therefore covers normal operation, a database outage (the writer falls behind,
the journal grows, memory stays bounded) and a crash (on start the writer simply resumes
from the checkpoint). Re-inserting a batch after a crash between "commit rows" and "write
checkpoint" is harmless: ``tick_data``'s natural key makes inserts idempotent.

On-disk format: segment files ``seg-<20-digit start offset>.log`` in one directory; a
record is ``<u32 length><u32 crc32><payload>`` (little endian). A *position* is a global
byte offset across segments. A torn record at the tail (crash mid-write) fails its length
or CRC check; the reader stops there and the next append starts a fresh segment, so a torn
tail is never followed by good data in the same file. The checkpoint file holds the global
offset up to which every record is committed to the database (written via rename).
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

_HEADER = struct.Struct("<II")
_MAX_RECORD = 64 * 1024 * 1024
_SEGMENT_PREFIX = "seg-"
_SEGMENT_SUFFIX = ".log"
_CHECKPOINT = "checkpoint"


def _segment_name(start: int) -> str:
    return f"{_SEGMENT_PREFIX}{start:020d}{_SEGMENT_SUFFIX}"


@dataclass(frozen=True, slots=True)
class JournalStats:
    """What the status page shows about the journal."""

    end_position: int
    committed_position: int
    segments: int
    fsyncs: int

    @property
    def backlog_bytes(self) -> int:
        """Bytes appended but not yet committed to the database."""
        return self.end_position - self.committed_position


class Journal:
    """Crash-safe append-only record log with a commit checkpoint.

    One thread appends (``append``); one thread reads (``read``) and commits
    (``commit``). Both are safe to call concurrently with each other.

    Args:
        directory: where segments and the checkpoint live (created if missing).
        segment_bytes: roll to a new segment file after this many bytes.
        fsync_interval_s: at most this long between an append and its ``fsync``;
            0 means fsync on every append (slow, for tests of power-loss semantics).
        reader: open the journal of *another process* to read and commit only (the
            writer process, :mod:`gslts_hub.writer_proc`): no torn-tail repair, no
            appends; the end is wherever the appender's newest segment ends now (a
            record it is still writing fails its length/CRC check and is read next time).
    """

    def __init__(
        self,
        directory: Path,
        *,
        segment_bytes: int = 64 * 1024 * 1024,
        fsync_interval_s: float = 1.0,
        reader: bool = False,
    ) -> None:
        self.directory = directory
        self._reader = reader
        self.directory.mkdir(parents=True, exist_ok=True)
        self._segment_bytes = segment_bytes
        self._fsync_interval_s = fsync_interval_s
        self._lock = threading.Lock()
        self._fsyncs = 0
        self._last_fsync = time.monotonic()
        self._dirty = False
        self._committed = self._read_checkpoint()
        self._end = self._tail_end() if reader else self._recover_end()
        self._fd: int | None = None
        self._seg_start = self._end
        self._seg_size = 0

    # ------------------------------------------------------------------ recovery
    def _segments(self) -> list[tuple[int, Path]]:
        out: list[tuple[int, Path]] = []
        for p in self.directory.glob(f"{_SEGMENT_PREFIX}*{_SEGMENT_SUFFIX}"):
            try:
                start = int(p.name[len(_SEGMENT_PREFIX) : -len(_SEGMENT_SUFFIX)])
            except ValueError:
                continue
            out.append((start, p))
        out.sort()
        return out

    def _read_checkpoint(self) -> int:
        path = self.directory / _CHECKPOINT
        try:
            return int(path.read_text(encoding="ascii").strip() or 0)
        except FileNotFoundError:
            return 0
        except ValueError:
            log.error("journal_checkpoint_unreadable path=%s; replaying from 0", path)
            return 0

    def _recover_end(self) -> int:
        """The global offset just past the last intact record of the newest segment."""
        segments = self._segments()
        if not segments:
            return max(self._committed, 0)
        start, path = segments[-1]
        valid = 0
        for end_in_seg, _ in _scan(path, 0):
            valid = end_in_seg
        size = path.stat().st_size
        if valid != size:
            log.warning(
                "journal_torn_tail segment=%s valid_bytes=%d file_bytes=%d (crash mid-write;"
                " the torn bytes are ignored)",
                path.name,
                valid,
                size,
            )
            with open(path, "r+b") as f:
                f.truncate(valid)
                os.fsync(f.fileno())
        return max(start + valid, self._committed)

    def _tail_end(self) -> int:
        """Reader mode: the global offset where the appender's newest segment ends now."""
        segments = self._segments()
        if not segments:
            return self._committed
        start, path = segments[-1]
        try:
            return max(start + path.stat().st_size, self._committed)
        except FileNotFoundError:
            return self._committed

    # ------------------------------------------------------------------ append side
    def append(self, payload: bytes) -> int:
        """Append one record; returns the global position just past it.

        When this returns, the record is in the kernel: it survives a crash of this
        process. It reaches the disk within ``fsync_interval_s``.
        """
        if self._reader:
            raise RuntimeError("journal opened as a reader: another process appends")
        if len(payload) > _MAX_RECORD:
            raise ValueError(f"journal record too large: {len(payload)} bytes")
        header = _HEADER.pack(len(payload), zlib.crc32(payload))
        with self._lock:
            fd = self._fd
            if fd is None or self._seg_size >= self._segment_bytes:
                fd = self._roll()
            os.write(fd, header + payload)
            n = _HEADER.size + len(payload)
            self._seg_size += n
            self._end += n
            self._dirty = True
            if (
                self._fsync_interval_s <= 0
                or time.monotonic() - self._last_fsync >= self._fsync_interval_s
            ):
                self._fsync_locked()
            return self._end

    def _roll(self) -> int:
        if self._fd is not None:
            self._fsync_locked()
            os.close(self._fd)
        self._seg_start = self._end
        self._seg_size = 0
        path = self.directory / _segment_name(self._seg_start)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._fsync_dir()
        return self._fd

    def _fsync_locked(self) -> None:
        if self._fd is not None and self._dirty:
            os.fsync(self._fd)
            self._fsyncs += 1
            self._dirty = False
        self._last_fsync = time.monotonic()

    def sync(self) -> None:
        """Force everything appended so far to disk."""
        with self._lock:
            self._fsync_locked()

    def _fsync_dir(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # ------------------------------------------------------------------ read side
    @property
    def end_position(self) -> int:
        if self._reader:
            return self._tail_end()
        with self._lock:
            return self._end

    @property
    def committed_position(self) -> int:
        return self._committed

    def note_committed(self, position: int) -> None:
        """The appender's side of a commit made by the writer *process* (which owns the
        checkpoint file): keeps :meth:`stats` backlog figures current."""
        if position > self._committed:
            self._committed = position

    def read(self, start: int, max_records: int = 1_000_000) -> Iterator[tuple[int, bytes]]:
        """Records from global position ``start`` up to what has been appended so far.

        Yields ``(position_after_record, payload)``. Stops at the current end (it does
        not wait for new records); call again from the last position to tail.
        """
        end = self.end_position
        count = 0
        for seg_start, path in self._segments():
            if count >= max_records:
                return
            try:
                seg_size = path.stat().st_size
            except FileNotFoundError:
                continue
            if seg_start + seg_size <= start or seg_start >= end:
                continue
            offset = max(0, start - seg_start)
            for end_in_seg, payload in _scan(path, offset):
                pos = seg_start + end_in_seg
                if pos > end:
                    return
                yield pos, payload
                count += 1
                if count >= max_records:
                    return

    def commit(self, position: int) -> None:
        """Record that everything before ``position`` is safely in the database.

        Segments wholly before the checkpoint are deleted.
        """
        if position <= self._committed:
            return
        tmp = self.directory / (_CHECKPOINT + ".tmp")
        with open(tmp, "w", encoding="ascii") as f:
            f.write(str(position))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.directory / _CHECKPOINT)
        self._committed = position
        segments = self._segments()
        for i, (seg_start, path) in enumerate(segments):
            nxt = segments[i + 1][0] if i + 1 < len(segments) else None
            with self._lock:
                current = seg_start == self._seg_start and self._fd is not None
            if nxt is not None and nxt <= position and not current:
                path.unlink(missing_ok=True)

    def stats(self) -> JournalStats:
        return JournalStats(
            end_position=self.end_position,
            committed_position=self._committed,
            segments=len(self._segments()),
            fsyncs=self._fsyncs,
        )

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                self._fsync_locked()
                os.close(self._fd)
                self._fd = None


def _scan(path: Path, offset: int) -> Iterator[tuple[int, bytes]]:
    """Intact records of one segment from ``offset``: ``(end_offset_in_segment, payload)``."""
    with open(path, "rb") as f:
        f.seek(offset)
        pos = offset
        while True:
            header = f.read(_HEADER.size)
            if len(header) < _HEADER.size:
                return
            length, crc = _HEADER.unpack(header)
            if length > _MAX_RECORD:
                return
            payload = f.read(length)
            if len(payload) < length or zlib.crc32(payload) != crc:
                return
            pos += _HEADER.size + length
            yield pos, payload
