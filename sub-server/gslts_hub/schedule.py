"""When the hub collects: the KRX calendar and hours (``auto``) or around the clock.

``auto``: on KRX trading days (``gslts_kiwoom.krx`` calendar) the hub connects at 07:50 KST
(before NXT's 08:00 pre-market and KRX's 08:30 pre-open), re-issues the token and re-LOGINs
at 08:25 (a fresh token for the whole session), and stops — flushing everything — at 18:10,
after the KRX after-hours single-price session ends at 18:00. Nothing on holidays.
``always``: collect continuously (the simulator's ``always`` clock).
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Literal

from gslts_kiwoom import krx

START = time(7, 50)
TOKEN_REFRESH = time(8, 25)
STOP = time(18, 10)

ScheduleMode = Literal["auto", "always"]


class Schedule:
    """Pure decisions from a timezone-aware ``now``."""

    def __init__(self, mode: ScheduleMode) -> None:
        self.mode = mode

    def should_collect(self, now: datetime) -> bool:
        if self.mode == "always":
            return True
        local = now.astimezone(krx.KST)
        return krx.is_trading_day(local.date()) and START <= local.time() < STOP

    def token_refresh_due(self, now: datetime, last_refresh_day: object) -> bool:
        """True once per trading day at/after 08:25 (before the open)."""
        if self.mode == "always":
            return False
        local = now.astimezone(krx.KST)
        return (
            local.date() != last_refresh_day
            and TOKEN_REFRESH <= local.time() < STOP
            and krx.is_trading_day(local.date())
        )

    def phase(self, now: datetime) -> str:
        """The KRX phase name (``continuous`` always in ``always`` mode)."""
        if self.mode == "always":
            return krx.Phase.CONTINUOUS.value
        return krx.phase_at(now, "KRX").value

    def ticks_expected(self, now: datetime) -> bool:
        """True when a liquid stock should be trading now (silence = stale).

        Auctions, VI and after-hours single-price sessions trade rarely or only at their
        end; a silent stock then is "quiet", not "stale".
        """
        if self.mode == "always":
            return True
        return krx.phase_at(now, "KRX") == krx.Phase.CONTINUOUS
