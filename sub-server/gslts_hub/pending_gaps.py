"""Gaps not yet filled, kept on disk so that a restart does not forget them.

A gap (a disconnect, a suspended journal, a hole in the cumulative volume of the stream)
is closed by a ka10079 walk from the last trade kept before it. Until that walk has
stored its trades, the gap lives only in the hub's memory — a ``kill -9`` in between
used to lose it: the restarted hub anchored on the newest stored trade, *after* the gap,
and never looked back (the soak found 508 trades lost that way). This store writes each
open gap's start anchor to a small JSON file beside the journal (atomically, on every
change; gaps are rare) and hands them back at start, where the older anchor wins over the
newest stored trade: the walk from it covers the old gap and the restart gap at once
(trades already stored between them are no-ops by the natural key).
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
from datetime import date, datetime
from pathlib import Path

import orjson

from gslts_hub.backfill import StoredAnchor

log = logging.getLogger(__name__)

FILENAME = "pending-gaps.json"


class PendingGaps:
    """Open gaps by stock: ``code -> StoredAnchor`` (the last trade kept before it).

    Args:
        directory: where the file lives (the journal's directory).
    """

    def __init__(self, directory: Path) -> None:
        self.path = directory / FILENAME
        self._lock = threading.Lock()
        self._gaps: dict[str, StoredAnchor] = self._load()

    def _load(self) -> dict[str, StoredAnchor]:
        try:
            raw = orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            return {}
        except (OSError, orjson.JSONDecodeError) as exc:
            log.error("pending_gaps_unreadable path=%s error=%s", self.path, exc)
            return {}
        out: dict[str, StoredAnchor] = {}
        for code, a in raw.items():
            with contextlib.suppress(KeyError, TypeError, ValueError):
                out[code] = StoredAnchor(
                    datetime.fromisoformat(a["time"]),
                    int(a["price"]),
                    int(a["qty"]),
                    int(a["cum_volume"]),
                    int(a["cum_value"]),
                )
        return out

    def _save_locked(self) -> None:
        doc = {
            code: {
                "time": a.time.isoformat(),
                "price": a.price,
                "qty": a.qty,
                "cum_volume": a.cum_volume,
                "cum_value": a.cum_value,
            }
            for code, a in self._gaps.items()
        }
        try:
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".gaps-", suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                f.write(orjson.dumps(doc))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:  # a full disk: the gap is still in memory and backfilled
            log.warning("pending_gaps_not_saved error=%s", exc)
            with contextlib.suppress(OSError, UnboundLocalError):
                os.unlink(tmp)

    def open(self, code: str, anchor: StoredAnchor) -> None:
        """A gap of ``code`` starts after ``anchor`` (an older open gap is kept: it covers
        this one)."""
        self.open_many({code: anchor})

    def open_many(self, anchors: dict[str, StoredAnchor]) -> None:
        """Gaps of several stocks at once (a disconnect): one write for all of them."""
        with self._lock:
            changed = False
            for code, anchor in anchors.items():
                old = self._gaps.get(code)
                if old is not None and old.cum_volume <= anchor.cum_volume:
                    continue
                self._gaps[code] = anchor
                changed = True
            if changed:
                self._save_locked()

    def close(self, code: str, anchor: StoredAnchor) -> None:
        """The walk from ``anchor`` stored its trades: that gap (and none older) is done."""
        with self._lock:
            cur = self._gaps.get(code)
            if cur is None or cur.cum_volume < anchor.cum_volume:
                return  # an older gap is still open
            del self._gaps[code]
            self._save_locked()

    def for_day(self, day: date) -> dict[str, StoredAnchor]:
        """Open gaps of ``day`` (older days' gaps are dropped: a new day starts at 0)."""
        with self._lock:
            stale = [c for c, a in self._gaps.items() if a.time.date() != day]
            for c in stale:
                del self._gaps[c]
            if stale:
                self._save_locked()
            return dict(self._gaps)

    def __len__(self) -> int:
        return len(self._gaps)
