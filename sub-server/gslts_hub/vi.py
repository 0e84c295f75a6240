"""Per-stock volatility interruption (VI) state from the ``1h`` VI발동/해제 realtime type.

During a VI a stock's continuous trading stops for a single-price call of about two
minutes (KRX static VI: 2 min + a random end of up to 30 s; dynamic VI: 2 min), so a
silent stock then is expected silence, not a stale feed. The hub subscribes ``1h`` for
every stock (item ``""``) and feeds each decoded :class:`~gslts_kiwoom.realtime.ViEvent`
to :meth:`ViTracker.apply`; :meth:`ViTracker.active` answers "is this stock in a VI now".

FID 9068 (VI발동구분): ``1`` triggered, ``2`` released (PROTOCOL §5.7 gives only the name;
the values follow the simulator and the legacy OpenAPI+ convention). Other values are
logged and ignored. A lost release (e.g. the socket reconnected during the VI) must not
leave a stock "in VI" for ever, so a VI also ends on its own ``grace_s`` after its announced
release time (FID 1224), or ``max_vi_s`` after the trigger when no release time was given.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gslts_kiwoom.realtime import ViEvent

log = logging.getLogger(__name__)

VI_TYPE = "1h"
TRIGGERED = "1"
RELEASED = "2"


@dataclass(slots=True)
class ViState:
    """One stock's latest VI (the live one while ``active``)."""

    code: str
    active: bool
    #: 정적 / 동적 / 정적+동적 as sent (FID 1225)
    kind: str
    trigger_price: int | None
    #: KRX time of the trigger (FID 1223) and the (announced, then actual) release (1224)
    triggered_at: datetime | None
    release_at: datetime | None
    #: the day's VI count of the stock (FID 1490)
    count: int | None
    #: "up" / "down" / "" (FID 9069: 1 up, 2 down)
    direction: str
    #: receive-clock epoch after which an unreleased VI is assumed over
    expires_epoch: float

    def as_dict(self) -> dict[str, Any]:
        """The state for the status document (ISO times)."""
        return {
            "active": self.active,
            "kind": self.kind,
            "trigger_price": self.trigger_price,
            "triggered_at": None if self.triggered_at is None else self.triggered_at.isoformat(),
            "release_at": None if self.release_at is None else self.release_at.isoformat(),
            "count": self.count,
            "direction": self.direction,
        }


class ViTracker:
    """VI state per stock (written by the socket thread, read racily by status).

    Args:
        grace_s: a VI still unreleased this long after its announced release time ends.
        max_vi_s: … or this long after the trigger when no release time was announced.
    """

    def __init__(self, *, grace_s: float = 60.0, max_vi_s: float = 600.0) -> None:
        self.grace_s = grace_s
        self.max_vi_s = max_vi_s
        self.states: dict[str, ViState] = {}
        self.triggered = 0
        self.released = 0

    def apply(self, ev: ViEvent, now_epoch: float) -> str | None:
        """Update ``ev.code``'s state; returns a line for the event log, None if ignored.

        Args:
            ev: a decoded 1h VI발동/해제 item.
            now_epoch: receive time (the hub's clock), epoch seconds.
        """
        direction = {"1": "up", "2": "down"}.get(ev.direction, "")
        label = f"{ev.code} {ev.name}".strip()
        if ev.trigger_type == TRIGGERED:
            trig, release = ev.trade_time, ev.release_time
            if release is not None and trig is not None and release > trig:
                # announced release: measured in KRX time, applied to the receive clock
                expires = now_epoch + (release - trig).total_seconds() + self.grace_s
            else:
                release = None  # blank / 000000 / not after the trigger: not announced
                expires = now_epoch + self.max_vi_s
            self.states[ev.code] = ViState(
                ev.code,
                True,
                ev.vi_kind,
                ev.trigger_price,
                trig,
                release,
                ev.count,
                direction,
                expires,
            )
            self.triggered += 1
            detail = [ev.vi_kind or "VI"]
            if ev.trigger_price is not None:
                detail.append(f"{ev.trigger_price:,}원")
            if release is not None:
                detail.append(f"해제 예정 {release:%H:%M:%S}")
            return f"{label} VI 발동 ({', '.join(detail)})"
        if ev.trigger_type == RELEASED:
            prev = self.states.get(ev.code)
            released_at = ev.release_time or ev.trade_time
            self.states[ev.code] = ViState(
                ev.code,
                False,
                ev.vi_kind or (prev.kind if prev is not None else ""),
                ev.trigger_price if prev is None else prev.trigger_price,
                None if prev is None else prev.triggered_at,
                released_at,
                ev.count if ev.count is not None or prev is None else prev.count,
                direction or ("" if prev is None else prev.direction),
                now_epoch,
            )
            self.released += 1
            at = "" if released_at is None else f" {released_at:%H:%M:%S}"
            return f"{label} VI 해제{at}"
        log.info("vi_unknown_trigger_type code=%s type=%s", ev.code, ev.trigger_type[:8])
        return None

    def active(self, code: str, now_epoch: float) -> bool:
        """True while ``code`` is in a VI (triggered, not released, not expired)."""
        st = self.states.get(code)
        return st is not None and st.active and now_epoch < st.expires_epoch

    def get(self, code: str) -> ViState | None:
        return self.states.get(code)
