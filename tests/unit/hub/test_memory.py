"""The heap trimmer gives a burst's freed memory back (glibc), at most every so often."""

from __future__ import annotations

import sys

import pytest

from gslts_hub.memory import HeapTrimmer
from gslts_hub.writer_proc import memory_kib


def test_trims_at_most_every_interval() -> None:
    now = [0.0]
    t = HeapTrimmer(every_s=30.0, clock=lambda: now[0])
    assert not t.maybe_trim()
    now[0] = 29.9
    assert not t.maybe_trim()
    now[0] = 30.0
    assert t.maybe_trim() == t.available
    assert not t.maybe_trim()


def _rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc and /proc")
def test_a_burst_s_freed_memory_goes_back_to_the_system() -> None:
    now = [0.0]
    t = HeapTrimmer(every_s=1.0, clock=lambda: now[0])
    if not t.available:
        pytest.skip("no malloc_trim in this C library")
    before = _rss_kib()
    # a burst: many mid-sized buffers (malloc, not pymalloc), then all but a few freed
    burst = [bytearray(4000) for _ in range(40_000)]  # ~160 MB
    keep = burst[::5000]
    del burst
    after_free = _rss_kib()
    now[0] = 1.0
    assert t.maybe_trim()
    trimmed = _rss_kib()
    assert keep
    assert memory_kib() > 0
    # without the trim glibc keeps the freed ~140 MB resident (measured: +140 MB, unchanged)
    assert trimmed - before < 50_000, (before, after_free, trimmed)
