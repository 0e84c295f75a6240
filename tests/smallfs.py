"""A real, small filesystem for disk-full tests: a tmpfs mounted for one test (root only).

CI runs as root, so these tests run there; elsewhere they are skipped with the loud
service banner, or fail under ``GSLTS_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import services_required

SKIP_PREFIX = "SERVICE UNAVAILABLE"


@contextlib.contextmanager
def small_filesystem(path: Path, size_kib: int) -> Iterator[Path]:
    """Mount a ``size_kib`` tmpfs at ``path`` for the block; unmounted afterwards."""
    path.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kib}k,mode=0700", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        msg = f"{SKIP_PREFIX}: a small tmpfs cannot be mounted here ({proc.stderr.strip()})"
        if services_required():
            pytest.fail(msg + " — GSLTS_REQUIRE_SERVICES=1 makes this a failure", pytrace=False)
        pytest.skip(msg)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def fill(directory: Path, leave_kib: int = 0) -> Path:
    """Fill the filesystem of ``directory`` with a ballast file, leaving ``leave_kib`` free;
    returns the ballast (delete it to give the space back)."""
    ballast = directory / "ballast"
    chunk = b"\0" * 4096
    with open(ballast, "wb") as f:
        while True:
            st = os.statvfs(directory)
            free = st.f_bavail * st.f_frsize
            if free <= leave_kib * 1024 + 4096:
                break
            try:
                f.write(chunk)
                f.flush()
            except OSError:
                break
    return ballast
