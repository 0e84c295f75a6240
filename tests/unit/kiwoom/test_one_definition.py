"""One concept, one definition: the Kiwoom library defines each shared concept once, and
the simulator and the client use that definition (a second copy drifts)."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import gslts_db
import gslts_kiwoom
from gslts_kiwoom import krx, realtime

LIBRARY = Path(gslts_kiwoom.__file__).parent


def _sources() -> dict[str, str]:
    return {
        str(p.relative_to(LIBRARY)): p.read_text(encoding="utf-8")
        for p in sorted(LIBRARY.rglob("*.py"))
    }


def test_kst_is_defined_once_in_krx() -> None:
    where = [
        name
        for name, text in _sources().items()
        if re.search(r"ZoneInfo\(\s*['\"]Asia/Seoul", text)
    ]
    assert where == ["krx.py"]
    assert realtime.KST is krx.KST  # the old import path still works
    # gslts_db may not import the Kiwoom library (independent siblings): its own KST must
    # be the very same zone object (ZoneInfo caches by key)
    assert gslts_db.KST is krx.KST


def test_kst_offset_matches_the_zone() -> None:
    for month in (1, 7):
        offset = datetime(2026, month, 1, tzinfo=krx.KST).utcoffset()
        assert offset is not None
        assert offset.total_seconds() == krx.KST_OFFSET_S
