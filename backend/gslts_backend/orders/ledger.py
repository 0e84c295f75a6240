"""An order's state from what is known about it: the pure function the order service
recomputes after every event (no I/O, so it is tested on its own).

One user order is a *chain* of broker order numbers: the first (``root``) and one per
accepted modify (kt10002 gives the modified quantity a new number; 904 names the number it
came from). A cancel (kt10003) also gets a number of its own, but never working quantity.
Kiwoom reports each number separately, and the number a modify or cancel takes quantity
from gets **no event of its own** (PROTOCOL §5.7/§8.1), so its open quantity is its last
reported one minus what confirmed modifies/cancels took from it after that report.

Sources, each an :class:`Ev` in arrival order (``seq``):

* ``accepted`` / ``fill`` / ``confirmed`` / ``cancelled`` / ``rejected``: the ``00``
  stream (접수 / 체결 / 확인 / 취소 / 거부); ``open_qty`` is FID 902 of that number
* ``acked``: the REST answer of our own request (the number exists; for a new order or a
  modify its quantity is working unless the stream said more)
* ``rest``: a ka10075/ka10076 snapshot of one number (open and cumulative filled quantity):
  authoritative at the time it was taken (reconciliation after a restart or a relay gap)

Fills are counted once per ``fill_no`` whatever the number of times they are relayed; a
snapshot's cumulative quantity is taken when it is more than the fills seen.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

EvType = Literal["accepted", "fill", "confirmed", "cancelled", "rejected", "acked", "rest"]
#: event types that change the ledger (others are stored for the history only)
LEDGER_TYPES: frozenset[str] = frozenset(
    {"accepted", "fill", "confirmed", "cancelled", "rejected", "acked", "rest"}
)


@dataclass(frozen=True, slots=True)
class Ev:
    seq: int
    number: str
    type: str
    open_qty: int | None = None
    fill_no: str | None = None
    fill_qty: int | None = None
    fill_price: int | None = None
    #: ``rest``: the number's cumulative filled quantity
    cum_filled: int | None = None


@dataclass(frozen=True, slots=True)
class Amend:
    """A modify or cancel request of the chain, once the broker gave it a number."""

    number: str
    #: the number it takes quantity from (kt10002/kt10003 ``orig_ord_no``)
    target: str
    action: Literal["modify", "cancel"]
    qty: int


@dataclass(frozen=True, slots=True)
class Summary:
    filled: int
    filled_amount: int
    open: int
    #: the number holding the open quantity (the newest one when several do)
    live_number: str | None
    state: Literal["accepted", "partially_filled", "filled", "cancelled", "rejected"]
    #: every number that holds or held working quantity (root first)
    numbers: tuple[str, ...] = field(default=())


@dataclass(slots=True)
class _Num:
    open: int | None = None
    last_seq: int = 0
    fills: dict[str, tuple[int, int]] = field(default_factory=dict)
    rest_cum: int = 0
    rest_amount: int = 0
    rejected: bool = False

    def filled(self) -> tuple[int, int]:
        qty = sum(q for q, _ in self.fills.values())
        amount = sum(q * p for q, p in self.fills.values())
        if self.rest_cum > qty:
            return self.rest_cum, max(self.rest_amount, amount)
        return qty, amount


def summarize(quantity: int, root: str, amends: Sequence[Amend], events: Iterable[Ev]) -> Summary:
    """The chain's filled, open quantity and state (see the module docstring)."""
    # a number's open quantity less what confirmed modifies/cancels took from it after its
    # last report; a confirmation is the 확인 or our own call's answer, the later of them
    numbers = [root] + [a.number for a in amends if a.action == "modify"]
    nums = {n: _Num() for n in numbers}
    confirmed_at: dict[str, int] = {}
    for ev in sorted(events, key=lambda e: e.seq):
        if ev.type in ("confirmed", "acked"):
            # the latest of the two: a fill reported before the 확인 may still predate it
            confirmed_at[ev.number] = ev.seq
        num = nums.get(ev.number)
        if num is None:
            continue
        reported = ev.type in ("accepted", "fill", "rest") or (
            ev.type == "acked" and num.open is None
        )
        if reported and ev.open_qty is not None:
            num.open = ev.open_qty
            num.last_seq = ev.seq
        elif ev.type in ("cancelled", "rejected"):
            num.open = 0
            num.last_seq = ev.seq
            num.rejected = num.rejected or ev.type == "rejected"
        if ev.type == "fill" and ev.fill_qty:
            key = ev.fill_no or f"seq{ev.seq}"
            num.fills.setdefault(key, (ev.fill_qty, ev.fill_price or 0))
        elif ev.type == "rest" and ev.cum_filled is not None and ev.cum_filled > num.rest_cum:
            num.rest_cum = ev.cum_filled
            num.rest_amount = ev.cum_filled * (ev.fill_price or 0)
    # what confirmed modifies/cancels took from a number after its last report
    for a in amends:
        seq = confirmed_at.get(a.number)
        num = nums.get(a.target)
        if seq is None or num is None or num.open is None or seq <= num.last_seq:
            continue
        num.open = max(0, num.open - a.qty)
    filled = amount = 0
    for num in nums.values():
        q, amt = num.filled()
        filled += q
        amount += amt
    open_total = min(sum(max(n.open or 0, 0) for n in nums.values()), max(0, quantity - filled))
    live = None
    for n in reversed(numbers):
        if (nums[n].open or 0) > 0:
            live = n
            break
    state: Literal["accepted", "partially_filled", "filled", "cancelled", "rejected"]
    if open_total > 0:
        state = "partially_filled" if filled > 0 else "accepted"
    elif filled >= quantity:
        state = "filled"
    elif nums[root].rejected and filled == 0 and len(numbers) == 1:
        state = "rejected"
    elif all(n.open is None for n in nums.values()):
        state = "accepted"  # nothing known yet beyond the number itself
    else:
        state = "cancelled"
    return Summary(filled, amount, open_total, live, state, tuple(numbers))
