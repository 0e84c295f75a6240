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

A stock can have several open gaps: a new one can open while the walk of an older one
runs (its start lies after that walk's live anchor, so the walk does not cover it). Each
is kept until a walk covers it — a walk from the stored anchor ``s`` up to the live
cumulative volume ``u`` closes every gap starting at ``s ≤ cum < u``. (Keeping only the
oldest, as before, let the older walk's close drop the newer gap from disk: a ``kill -9``
before its walk lost it.)
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
    """Open gaps by stock: ``code -> [StoredAnchor]`` (the last trade kept before each),
    oldest first.

    Args:
        directory: where the file lives (the journal's directory).
    """

    def __init__(self, directory: Path) -> None:
        self.path = directory / FILENAME
        self._lock = threading.Lock()
        self._gaps: dict[str, list[StoredAnchor]] = self._load()

    def _load(self) -> dict[str, list[StoredAnchor]]:
        try:
            raw = orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            return {}
        except (OSError, orjson.JSONDecodeError) as exc:
            log.error("pending_gaps_unreadable path=%s error=%s", self.path, exc)
            return {}
        out: dict[str, list[StoredAnchor]] = {}
        if not isinstance(raw, dict):
            log.error("pending_gaps_unreadable path=%s error=not an object", self.path)
            return {}
        for code, entry in raw.items():
            # a list of anchors; a single one is the format before several gaps were kept
            items = entry if isinstance(entry, list) else [entry]
            for a in items:
                with contextlib.suppress(KeyError, TypeError, ValueError):
                    _insert(
                        out.setdefault(code, []),
                        StoredAnchor(
                            datetime.fromisoformat(a["time"]),
                            int(a["price"]),
                            int(a["qty"]),
                            int(a["cum_volume"]),
                            int(a["cum_value"]),
                        ),
                    )
        return {c: v for c, v in out.items() if v}

    def _save_locked(self) -> None:
        doc = {
            code: [
                {
                    "time": a.time.isoformat(),
                    "price": a.price,
                    "qty": a.qty,
                    "cum_volume": a.cum_volume,
                    "cum_value": a.cum_value,
                }
                for a in anchors
            ]
            for code, anchors in self._gaps.items()
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
        """A gap of ``code`` starts after ``anchor``."""
        self.open_many({code: anchor})

    def open_many(self, anchors: dict[str, StoredAnchor]) -> None:
        """Gaps of several stocks at once (a disconnect): one write for all of them."""
        with self._lock:
            changed = False
            for code, anchor in anchors.items():
                changed |= _insert(self._gaps.setdefault(code, []), anchor)
            if changed:
                self._save_locked()

    def close(self, code: str, anchor: StoredAnchor, upto: int | None = None) -> None:
        """The walk from ``anchor`` stored the trades before cumulative volume ``upto``
        (its live anchor; None = only that gap): every gap it covers is done — those
        starting at ``anchor.cum_volume ≤ cum < upto``. A gap before ``anchor`` (an older
        one) or from ``upto`` on (opened while the walk ran) stays open."""
        lo = anchor.cum_volume
        hi = lo + 1 if upto is None else max(upto, lo + 1)
        with self._lock:
            cur = self._gaps.get(code)
            if not cur:
                return
            keep = [a for a in cur if not lo <= a.cum_volume < hi]
            if len(keep) == len(cur):
                return
            if keep:
                self._gaps[code] = keep
            else:
                del self._gaps[code]
            self._save_locked()

    def for_day(self, day: date) -> dict[str, StoredAnchor]:
        """The oldest open gap of each stock on ``day`` (a walk from it covers the newer
        ones too); older days' gaps are dropped: a new day starts at 0."""
        with self._lock:
            changed = False
            for code in list(self._gaps):
                anchors = self._gaps[code]
                today = [a for a in anchors if a.time.date() == day]
                if len(today) != len(anchors):
                    changed = True
                    if today:
                        self._gaps[code] = today
                    else:
                        del self._gaps[code]
            if changed:
                self._save_locked()
            return {c: v[0] for c, v in self._gaps.items()}

    def anchors(self, code: str) -> list[StoredAnchor]:
        """Every open gap of ``code``, oldest first (for status pages and tests)."""
        with self._lock:
            return list(self._gaps.get(code, ()))

    def __len__(self) -> int:
        """Open gaps, all stocks."""
        return sum(len(v) for v in self._gaps.values())


def _insert(anchors: list[StoredAnchor], anchor: StoredAnchor) -> bool:
    """Add ``anchor`` to the sorted ``anchors`` unless a gap from that trade is open."""
    if any(a.cum_volume == anchor.cum_volume and a.time == anchor.time for a in anchors):
        return False
    anchors.append(anchor)
    anchors.sort(key=lambda a: (a.time.date(), a.cum_volume))
    return True
