"""Append-only, crash-safe tick journal: the hub's source of truth between socket and DB.

Why a journal first: a tick is acknowledged only after it has been handed to the kernel
(``write(2)``), so a ``kill -9`` of the hub loses nothing (the page cache survives the
process); ``fsync`` runs on a timer for power-loss durability. The database writer never
reads ticks from memory: it *tails the journal* from the last committed checkpoint. One
code path therefore covers normal operation, a database outage (the writer falls behind,
the journal grows, memory stays bounded) and a crash (on start the writer simply resumes
from the checkpoint). Re-inserting a batch after a crash between "commit rows" and "write
checkpoint" is harmless: ``tick_data``'s natural key makes inserts idempotent.

On-disk format
--------------
Segment files ``seg-<20-digit start offset>.log`` in one directory. A segment starts with
the 8-byte file header ``GSLTSJ2\\n``; then records ``<u32 magic><u32 length><u32 crc32 of
length+payload><payload>`` (little endian). A *position* is a global byte offset across
segments (segment start + offset in the file); positions need not be contiguous between
segments. The checkpoint file holds the position up to which every record is committed to
the database (written via rename).

A record is either whole or not there
-------------------------------------
* **A failed append** (``ENOSPC``, ``EIO``, a short write) is cut back to the last whole
  record (``ftruncate``) before :class:`JournalWriteError` is raised, so the next append
  continues a clean file. If even the cut fails, the segment is abandoned and the next
  append starts a new one past it; the torn bytes stay behind as the old file's tail.
* **Readers never stop for good at a bad record.** In the newest segment a bad record is
  one still being written: reading stops there and resumes from it next time. A *sealed*
  segment (a newer one exists, so nothing is written to it again) is read past a bad
  record: its torn tail ends it and reading moves on to the next segment, and a bad
  record followed by whole ones (a damaged disk block) is skipped by resynchronising on
  the record magic, the skipped bytes counted and logged.
* **Recovery truncates nothing.** On start the appender does not cut a torn tail (valid
  records might follow it in a damaged file); its first append simply opens a new
  segment past the old file's end.

Segments written by the first version (no file header, 8-byte record headers) are still
read, so a journal left by an older hub is replayed after an upgrade.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

log = logging.getLogger(__name__)

FILE_MAGIC = b"GSLTSJ2\n"
_REC_MAGIC = 0x4A52_5447  # "GTRJ" little endian on disk
_REC = struct.Struct("<III")  # magic, length, crc32(length bytes + payload)
_LEN = struct.Struct("<I")
_MAGIC_BYTES = struct.pack("<I", _REC_MAGIC)
_V1 = struct.Struct("<II")  # version 1: length, crc32(payload)
_MAX_RECORD = 64 * 1024 * 1024
_SEGMENT_PREFIX = "seg-"
_SEGMENT_SUFFIX = ".log"
_CHECKPOINT = "checkpoint"


def _segment_name(start: int) -> str:
    return f"{_SEGMENT_PREFIX}{start:020d}{_SEGMENT_SUFFIX}"


def frame(payload: bytes) -> bytes:
    """One record as it is written to a segment (header + payload)."""
    length = _LEN.pack(len(payload))
    return _REC.pack(_REC_MAGIC, len(payload), zlib.crc32(payload, zlib.crc32(length))) + payload


class JournalWriteError(OSError):
    """An append did not reach the journal (disk full, I/O error); nothing of it is kept
    on disk: the caller still holds the record and decides what to do with it."""


class FileOps:
    """The system calls the appender makes: the seam a fault-injecting test replaces."""

    def open(self, path: Path) -> int:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def write(self, fd: int, data: memoryview) -> int:
        return os.write(fd, data)

    def ftruncate(self, fd: int, size: int) -> None:
        os.ftruncate(fd, size)

    def fsync(self, fd: int) -> None:
        os.fsync(fd)

    def close(self, fd: int) -> None:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class JournalStats:
    """What the status page shows about the journal."""

    end_position: int
    committed_position: int
    segments: int
    fsyncs: int
    #: appends that failed (each was cut back; the caller kept the record)
    write_errors: int = 0
    fsync_errors: int = 0
    #: bytes readers skipped over (damaged records between whole ones)
    skipped_bytes: int = 0
    last_error: str | None = None

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
            writer process, :mod:`gslts_hub.writer_proc`): no appends; the end is
            wherever the appender's newest segment ends now (a record it is still writing
            fails its checks and is read next time).
        ops: the appender's system calls (tests inject faults here).
    """

    def __init__(
        self,
        directory: Path,
        *,
        segment_bytes: int = 64 * 1024 * 1024,
        fsync_interval_s: float = 1.0,
        reader: bool = False,
        ops: FileOps | None = None,
    ) -> None:
        self.directory = directory
        self._reader = reader
        self.directory.mkdir(parents=True, exist_ok=True)
        self._segment_bytes = segment_bytes
        self._fsync_interval_s = fsync_interval_s
        self._ops = ops or FileOps()
        self._lock = threading.Lock()
        self._fsyncs = 0
        self._write_errors = 0
        self._fsync_errors = 0
        self._skipped = 0
        self._last_error: str | None = None
        self._last_fsync = time.monotonic()
        self._dirty = False
        self._committed = self._read_checkpoint()
        if not reader and not (directory / _CHECKPOINT).exists():
            # made now, while there is room: a full disk can then still move it (in place)
            self._write_checkpoint(self._committed)
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
        """The global offset just past the newest segment's bytes (torn or not: nothing is
        truncated; the first append opens a new segment there)."""
        segments = self._segments()
        if not segments:
            return max(self._committed, 0)
        start, path = segments[-1]
        size = path.stat().st_size
        valid = 0
        for end_in_seg, _ in _scan(path, 0):
            valid = end_in_seg
        if valid != size and size > len(FILE_MAGIC):
            log.warning(
                "journal_torn_tail segment=%s whole_bytes=%d file_bytes=%d (a crash or a"
                " failed write mid-record; kept on disk, appends continue in a new segment)",
                path.name,
                valid,
                size,
            )
        return max(start + size, self._committed)

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

        Raises:
            JournalWriteError: the record could not be written (e.g. the disk is full).
                Nothing of it stays in the journal; the next append may succeed.
        """
        if self._reader:
            raise RuntimeError("journal opened as a reader: another process appends")
        if len(payload) > _MAX_RECORD:
            raise ValueError(f"journal record too large: {len(payload)} bytes")
        data = frame(payload)
        with self._lock:
            fd = self._fd
            if fd is None or self._seg_size >= self._segment_bytes:
                fd = self._roll()
            self._write_all(fd, data)
            n = len(data)
            self._seg_size += n
            self._end += n
            self._dirty = True
            if (
                self._fsync_interval_s <= 0
                or time.monotonic() - self._last_fsync >= self._fsync_interval_s
            ):
                self._fsync_locked()
            return self._end

    def _write_all(self, fd: int, data: bytes) -> None:
        """Write every byte or none: a failure is cut back to the last whole record."""
        view = memoryview(data)
        written = 0
        try:
            while written < len(data):
                n = self._ops.write(fd, view[written:])
                if n <= 0:
                    raise OSError(errno.EIO, "write returned 0")
                written += n
        except OSError as exc:
            self._write_errors += 1
            self._last_error = _describe(exc)
            self._cut_back(fd)  # the kernel may have taken part of it before failing
            raise JournalWriteError(exc.errno or errno.EIO, self._last_error) from exc

    def _cut_back(self, fd: int) -> None:
        try:
            self._ops.ftruncate(fd, self._seg_size)
        except OSError as exc:
            # cannot remove the torn bytes: leave this segment (readers stop at its torn
            # tail and move on); the next append starts a new one past anything written
            log.error(
                "journal_cut_back_failed segment=%s error=%s; abandoning the segment",
                _segment_name(self._seg_start),
                _describe(exc),
            )
            try:
                size = os.fstat(fd).st_size
            except OSError:
                size = self._segment_bytes + _MAX_RECORD  # past anything it can hold
            self._end = self._seg_start + max(size, self._seg_size)
            self._close_fd()

    def _roll(self) -> int:
        if self._fd is not None:
            self._fsync_locked()
            self._close_fd()
        start = self._end
        path = self.directory / _segment_name(start)
        try:
            fd = self._ops.open(path)
        except OSError as exc:
            self._write_errors += 1
            self._last_error = _describe(exc)
            raise JournalWriteError(exc.errno or errno.EIO, self._last_error) from exc
        self._fd, self._seg_start, self._seg_size = fd, start, 0
        try:
            size = os.fstat(fd).st_size
        except OSError:
            size = 0
        if size == 0:
            self._write_all(fd, FILE_MAGIC)
            self._seg_size = len(FILE_MAGIC)
            self._end = start + len(FILE_MAGIC)
        else:  # an empty or torn file of this name: start past it
            self._close_fd()
            self._end = start + size
            return self._roll()
        self._fsync_dir()
        return fd

    def _close_fd(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                self._ops.close(fd)
            except OSError as exc:
                log.warning("journal_close_failed error=%s", _describe(exc))

    def _fsync_locked(self) -> None:
        if self._fd is not None and self._dirty:
            try:
                self._ops.fsync(self._fd)
                self._fsyncs += 1
                self._dirty = False
            except OSError as exc:
                # the records are in the kernel (a crash of the hub keeps them) but may not
                # survive a power loss: count and report, retry at the next interval
                self._fsync_errors += 1
                self._last_error = _describe(exc)
                if self._fsync_errors <= 3 or self._fsync_errors % 100 == 0:
                    log.error("journal_fsync_failed error=%s", self._last_error)
        self._last_fsync = time.monotonic()

    def sync(self) -> None:
        """Force everything appended so far to disk."""
        with self._lock:
            self._fsync_locked()

    def _fsync_dir(self) -> None:
        try:
            fd = os.open(self.directory, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError as exc:
            log.warning("journal_dir_fsync_failed error=%s", _describe(exc))
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

    def note_skipped(self, path: Path, start: int, n: int) -> None:
        """A reader skipped ``n`` damaged bytes of ``path`` at ``start`` (resync)."""
        self._skipped += n
        log.error(
            "journal_damaged_bytes_skipped segment=%s offset=%d bytes=%d", path.name, start, n
        )

    def read(self, start: int, max_records: int = 1_000_000) -> Iterator[tuple[int, bytes]]:
        """Records from global position ``start`` up to what has been appended so far.

        Yields ``(position_after_record, payload)``. Stops at the current end (it does
        not wait for new records); call again from the last position to tail.
        """
        end = self.end_position
        count = 0
        segments = self._segments()
        for i, (seg_start, path) in enumerate(segments):
            if count >= max_records:
                return
            # only a sealed segment (a newer one exists: nothing will be written to it
            # again) is resynchronised past a bad record; in the newest one a bad record
            # may be one the appender is writing right now
            sealed = i + 1 < len(segments)
            try:
                seg_size = path.stat().st_size
            except FileNotFoundError:
                continue
            if seg_start + seg_size <= start or seg_start >= end:
                continue
            offset = max(0, start - seg_start)
            for end_in_seg, payload in _scan(path, offset, self if sealed else None):
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
        self._write_checkpoint(position)
        self._committed = position
        segments = self._segments()
        for i, (seg_start, path) in enumerate(segments):
            nxt = segments[i + 1][0] if i + 1 < len(segments) else None
            with self._lock:
                current = seg_start == self._seg_start and self._fd is not None
            if nxt is not None and nxt <= position and not current:
                path.unlink(missing_ok=True)

    def _write_checkpoint(self, position: int) -> None:
        """Atomically via rename; on a full disk (no room for the new file) in place: the
        fixed-width text fits the existing file's block, so no space is needed."""
        text = f"{position:020d}\n"
        path = self.directory / _CHECKPOINT
        tmp = self.directory / (_CHECKPOINT + ".tmp")
        try:
            with open(tmp, "w", encoding="ascii") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            return
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT) or not path.exists():
                raise
            with contextlib.suppress(OSError):
                tmp.unlink()
        with open(path, "r+b") as f:  # one sector: written whole or not at all
            f.write(text.encode("ascii"))
            f.truncate(len(text))
            f.flush()
            os.fsync(f.fileno())

    def stats(self) -> JournalStats:
        return JournalStats(
            end_position=self.end_position,
            committed_position=self._committed,
            segments=len(self._segments()),
            fsyncs=self._fsyncs,
            write_errors=self._write_errors,
            fsync_errors=self._fsync_errors,
            skipped_bytes=self._skipped,
            last_error=self._last_error,
        )

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                self._fsync_locked()
                self._close_fd()


def _describe(exc: OSError) -> str:
    name = errno.errorcode.get(exc.errno or 0, type(exc).__name__)
    return f"{name}: {exc.strerror or exc}"


def _scan(path: Path, offset: int, journal: Any = None) -> Iterator[tuple[int, bytes]]:
    """Whole records of one segment from ``offset``: ``(end_offset_in_segment, payload)``.

    With ``journal`` (a sealed segment) a bad record followed by whole ones is skipped
    (resync on the record magic) and ``journal.note_skipped`` is told; without, reading
    stops at the first bad record.
    """
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below; a generator owns it
    except FileNotFoundError:
        return
    with f:
        head = f.read(len(FILE_MAGIC))
        if head == FILE_MAGIC:
            yield from _scan_v2(f, path, max(offset, len(FILE_MAGIC)), journal)
        elif FILE_MAGIC.startswith(head):
            return  # empty, or its header is still being written
        else:
            yield from _scan_v1(f, offset)


def _scan_v1(f: BinaryIO, offset: int) -> Iterator[tuple[int, bytes]]:
    """Segments of the first journal version: stop at the first bad record."""
    f.seek(offset)
    pos = offset
    while True:
        header = f.read(_V1.size)
        if len(header) < _V1.size:
            return
        length, crc = _V1.unpack(header)
        if length > _MAX_RECORD:
            return
        payload = f.read(length)
        if len(payload) < length or zlib.crc32(payload) != crc:
            return
        pos += _V1.size + length
        yield pos, payload


def _record_at(f: BinaryIO, pos: int) -> bytes | None:
    """The payload of a whole record at ``pos``, or None."""
    f.seek(pos)
    header = f.read(_REC.size)
    if len(header) < _REC.size:
        return None
    magic, length, crc = _REC.unpack(header)
    if magic != _REC_MAGIC or length > _MAX_RECORD:
        return None
    payload = f.read(length)
    if len(payload) < length or zlib.crc32(payload, zlib.crc32(header[4:8])) != crc:
        return None
    return payload


def _scan_v2(f: BinaryIO, path: Path, offset: int, journal: Any) -> Iterator[tuple[int, bytes]]:
    pos = offset
    while True:
        payload = _record_at(f, pos)
        if payload is None:
            nxt = None if journal is None else _resync(f, pos)
            if nxt is None:
                return  # the end, or a record still being written: read it next time
            if journal is not None:
                journal.note_skipped(path, pos, nxt - pos)
            pos = nxt
            continue
        pos += _REC.size + len(payload)
        yield pos, payload


def _resync(f: BinaryIO, bad: int) -> int | None:
    """The offset of the next whole record after the bad one at ``bad``, or None when no
    whole record follows (then ``bad`` is the tail: torn, or still being written)."""
    f.seek(bad + 1)
    rest = f.read()
    i = 0
    while True:
        i = rest.find(_MAGIC_BYTES, i)
        if i < 0:
            return None
        cand = bad + 1 + i
        if _record_at(f, cand) is not None:
            return cand
        i += 1
