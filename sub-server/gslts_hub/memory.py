"""Giving freed heap back to the operating system (glibc ``malloc_trim``).

The hub's buffers are bounded (the journal spool, the bus stream's ring, the Redis
publish queue, socket batches), but under a burst (a flood of trades, a long gap walk)
they reach their bounds with large short-lived allocations from several threads. glibc
keeps the freed memory in its per-thread arenas, so the process's resident size stays at
the burst's peak and a memory leak cannot be told from an old peak. ``malloc_trim(0)``
returns the free pages; called at most every ``TRIM_EVERY_S`` from a thread that is not
on the ingest path (the control loop, the writer's report loop), it costs a few
milliseconds. On a C library without it (musl, macOS) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

TRIM_EVERY_S = 30.0


def _load_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        fn = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_size_t]
    fn.restype = ctypes.c_int
    return fn


_trim = _load_trim()


class HeapTrimmer:
    """``maybe_trim()`` calls ``malloc_trim(0)`` when ``every_s`` have passed."""

    def __init__(
        self, every_s: float = TRIM_EVERY_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.every_s = every_s
        self._clock = clock
        self._last = clock()
        self.trims = 0

    @property
    def available(self) -> bool:
        return _trim is not None

    def maybe_trim(self) -> bool:
        now = self._clock()
        if _trim is None or now - self._last < self.every_s:
            return False
        self._last = now
        _trim(0)
        self.trims += 1
        return True
