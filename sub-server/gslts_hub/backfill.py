"""Gap backfill after a reconnect, from the tick chart (ka10079 주식틱차트조회요청).

While the socket was down the exchange kept trading. After the reconnect the hub knows two
anchors per stock: the **last tick stored before the gap** (its cumulative volume) and the
**first live tick after it** (cumulative volume, time, price, quantity). ka10079 with
``tic_scope=1`` lists single trades newest first, but without cumulative volume — which is
our trade key — so it is reconstructed by walking back from the live anchor::

    cum(older row) = cum(newer row) − qty(newer row)

down to the last stored tick. When the walk lands exactly on the stored tick's cumulative
volume, *on the stored trade itself* (its second, price and quantity, and the stored trades
of its second before it), the gap *adds up* and every reconstructed trade gets its exact
key (a trade the hub did receive live is then deduplicated by ``INSERT IGNORE``). When it
does not (the chart is missing trades, or reaches back too little) the gap is flagged:
trades whose key cannot be trusted are not stored, and the status page shows the flagged
gap.

The first live trade is found in the chart by (second, price, quantity), which a busy
stock repeats within one second (small lots at the touch). Landing on the right
cumulative volume alone does not tell the right row from a wrong one — quantities are
small, so a walk from a wrong row often adds up too, and then every key in the gap is
shifted (trades stored under other trades' keys, the real keys missing). Hence the check
of the landing row, and a gap whose candidate walks still disagree is flagged.

A stock that never trades again after the reconnect gives no live anchor. For it the hub
**walks forward** (:func:`walk_forward`) from the last stored trade instead: find that trade
in the chart (time, price, quantity), then ``cum(next row) = cum(previous) + qty(next)``.
A forward walk has no second anchor of its own, so it is checked against what is known: the
stored trades of the anchor's second must be the chart rows just before the anchor (several
identical rows in one second → each is tried), and the walk must pass exactly through the
stock's current cumulative volume (ka10001 주식기본정보요청) when that is known.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from gslts_kiwoom import KiwoomClient

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ChartTick:
    """One trade as the tick chart reports it (time to the second, unsigned quantity)."""

    time: datetime
    price: int
    qty: int


@dataclass(frozen=True, slots=True)
class LiveAnchor:
    """The first live trade received after the reconnect."""

    time: datetime
    price: int
    qty: int
    cum_volume: int
    cum_value: int  # KRW million, as 0B reports it
    #: ``(time, price, qty)`` of the live KRX trades that followed it, oldest first: in the
    #: chart the true anchor row is followed by exactly these, which tells it apart from
    #: other rows with the same (second, price, quantity)
    after: tuple[tuple[datetime, int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class BackfillTick:
    """A reconstructed trade: the chart row with its cumulative volume / value."""

    time: datetime
    price: int
    qty: int
    cum_volume: int
    cum_value: int  # KRW million, estimated from the live anchor


@dataclass(slots=True)
class GapResult:
    """Outcome of one stock's gap: what to store, and whether the quantities added up."""

    ticks: list[BackfillTick] = field(default_factory=list)
    consistent: bool = True
    detail: str = ""


def reconstruct_gap(
    rows_newest_first: Sequence[ChartTick],
    first_live: LiveAnchor,
    last_stored_cum: int,
    *,
    stored: StoredAnchor | None = None,
    same_second: Sequence[tuple[int, int]] | None = None,
) -> GapResult:
    """Rebuild the cumulative volume of the trades between two anchors.

    Args:
        rows_newest_first: ka10079 rows (one trade each), newest first, covering the gap.
        first_live: the first live trade after the reconnect.
        last_stored_cum: cumulative volume of the last trade stored before the gap.
        stored: the last stored trade itself: the walk must land on its row (second,
            price, quantity); candidate walks that then still differ flag the gap.
            None = only its cumulative volume is checked (first walk that adds up wins).
        same_second: ``(price, qty)`` of every stored trade in ``stored``'s second, oldest
            first (ending with it): they must be the chart rows up to the landing row.

    Returns:
        The gap's trades oldest first, ``consistent`` False (with ``detail``) when the
        quantities do not add up to exactly the stored anchor, or (with ``stored``) no
        walk or more than one different walk lands on it.
    """
    # Several trades can share (second, price, qty): try each such row as the anchor.
    starts = [
        i
        for i, row in enumerate(rows_newest_first)
        if row.time == first_live.time
        and row.price == first_live.price
        and row.qty == first_live.qty
    ]
    if not starts:
        return GapResult([], False, "the first live trade is not in the tick chart")
    if len(starts) > 1 and first_live.after:
        # the true row is followed in the chart by the live trades that came next; the
        # chart was fetched after they happened, so it should hold them all (strict) — if
        # no candidate passes that (a chart lagging the feed), as far as the chart reaches;
        # if none passes either, the chart disagrees with the feed: keep every candidate
        after = first_live.after
        starts = (
            [i for i in starts if _followed_by(rows_newest_first, i, after, strict=True)]
            or [i for i in starts if _followed_by(rows_newest_first, i, after, strict=False)]
            or starts
        )
    if first_live.cum_volume - first_live.qty == last_stored_cum:
        return GapResult([], True, "no trade was missed")
    results = []
    for start in starts:
        res = _walk(rows_newest_first, start, first_live, last_stored_cum, stored, same_second)
        if res.consistent and stored is None:
            return res
        results.append(res)
    good = [r for r in results if r.consistent]
    if not good:
        return results[0]
    if any(g.ticks != good[0].ticks for g in good[1:]):
        return GapResult(
            [], False, f"ambiguous first live trade: {len(good)} walks land on the stored one"
        )
    return good[0]


def _followed_by(
    rows_newest_first: Sequence[ChartTick],
    start: int,
    after: Sequence[tuple[datetime, int, int]],
    *,
    strict: bool,
) -> bool:
    """True when the rows newer than ``start`` begin with ``after``; ``strict=False``: as
    far as the chart reaches."""
    for k, (t, p, q) in enumerate(after):
        j = start - 1 - k
        if j < 0:
            return not strict
        r = rows_newest_first[j]
        if r.time != t or r.price != p or r.qty != q:
            return False
    return True


def _walk(
    rows_newest_first: Sequence[ChartTick],
    start: int,
    first_live: LiveAnchor,
    last_stored_cum: int,
    stored: StoredAnchor | None = None,
    same_second: Sequence[tuple[int, int]] | None = None,
) -> GapResult:
    cum, qty, price = first_live.cum_volume, first_live.qty, first_live.price
    value = first_live.cum_value * 1_000_000
    out: list[BackfillTick] = []
    overshoot = False
    landing: int | None = None  # the row the walk gives the stored cumulative volume
    for i in range(start + 1, len(rows_newest_first)):
        row = rows_newest_first[i]
        row_cum = cum - qty
        row_value = value - price * qty
        if row_cum <= last_stored_cum:
            overshoot = row_cum < last_stored_cum
            landing = i
            break
        out.append(
            BackfillTick(row.time, row.price, row.qty, row_cum, max(0, row_value) // 1_000_000)
        )
        cum, qty, price, value = row_cum, row.qty, row.price, row_value
    else:
        if cum - qty != last_stored_cum:
            out.reverse()
            missing = cum - qty - last_stored_cum
            return GapResult(
                out, False, f"the tick chart does not reach back: {missing} shares unaccounted"
            )
    if overshoot:
        excess = last_stored_cum - (cum - qty)
        return GapResult(
            [], False, f"quantities do not add up: {excess} shares more than the gap holds"
        )
    if stored is not None:
        bad = _landing_mismatch(rows_newest_first, landing, stored, same_second)
        if bad:
            return GapResult([], False, bad)
    out.reverse()
    return GapResult(out, True, f"{len(out)} trades")


def _landing_mismatch(
    rows_newest_first: Sequence[ChartTick],
    landing: int | None,
    stored: StoredAnchor,
    same_second: Sequence[tuple[int, int]] | None,
) -> str:
    """Why the walk's landing row is not the stored trade ('' = it is)."""
    if landing is None:
        return "the last stored trade is not in the tick chart"
    row = rows_newest_first[landing]
    if (row.time, row.price, row.qty) != (stored.time, stored.price, stored.qty):
        return "the walk adds up but lands on another trade than the last stored one"
    if same_second is not None:
        oldest_first = list(reversed(rows_newest_first))
        if not _stored_second_matches(
            oldest_first, len(rows_newest_first) - 1 - landing, same_second
        ):
            return "the walk lands on the stored trade but its second differs"
    return ""


@dataclass(frozen=True, slots=True)
class StoredAnchor:
    """The last trade stored before a gap."""

    time: datetime
    price: int
    qty: int
    cum_volume: int
    cum_value: int  # KRW million


def walk_forward(
    rows_newest_first: Sequence[ChartTick],
    last: StoredAnchor,
    *,
    same_second: Sequence[tuple[int, int]] | None = None,
    close_cum: int | None = None,
) -> GapResult:
    """Rebuild the trades after the last stored one, oldest first (no live anchor).

    Args:
        rows_newest_first: ka10079 rows (one trade each) since the stored anchor's second.
        last: the last trade stored before the gap.
        same_second: ``(price, qty)`` of every stored trade in ``last``'s second, oldest
            first (ending with ``last``): they must be the chart rows up to the anchor.
        close_cum: the stock's cumulative volume now (ka10001, fetched *before* the chart):
            the walk must hit it exactly.

    Returns:
        The trades after ``last``; ``consistent`` False (nothing to store) when the anchor is
        not in the chart, no candidate anchor passes the checks, or several do and disagree.
    """
    rows = list(reversed(rows_newest_first))
    starts = [
        i
        for i, r in enumerate(rows)
        if r.time == last.time and r.price == last.price and r.qty == last.qty
    ]
    if not starts:
        return GapResult([], False, "the last stored trade is not in the tick chart")
    good: list[GapResult] = []
    reasons: list[str] = []
    for start in starts:
        if same_second is not None and not _stored_second_matches(rows, start, same_second):
            reasons.append("stored trades of the anchor second differ")
            continue
        cum, value = last.cum_volume, last.cum_value * 1_000_000
        ticks: list[BackfillTick] = []
        hit = close_cum is None or close_cum == cum
        for r in rows[start + 1 :]:
            cum += r.qty
            value += r.price * r.qty
            ticks.append(BackfillTick(r.time, r.price, r.qty, cum, value // 1_000_000))
            hit = hit or cum == close_cum
        if not hit:
            reasons.append(f"the walk misses the current volume {close_cum} (ends at {cum})")
            continue
        good.append(GapResult(ticks, True, f"{len(ticks)} trades (forward)"))
    if not good:
        return GapResult([], False, "; ".join(sorted(set(reasons))))
    if any(g.ticks != good[0].ticks for g in good[1:]):
        return GapResult([], False, f"ambiguous anchor: {len(good)} candidates fit")
    return good[0]


def _stored_second_matches(
    rows_oldest_first: Sequence[ChartTick], start: int, same_second: Sequence[tuple[int, int]]
) -> bool:
    """The stored trades of the anchor's second are the chart rows ending at ``start``."""
    n = len(same_second)
    if n > start + 1:
        return False
    window = rows_oldest_first[start + 1 - n : start + 1]
    second = rows_oldest_first[start].time
    return all(
        r.time == second and (r.price, r.qty) == pq
        for r, pq in zip(window, same_second, strict=True)
    )


def fetch_tick_chart(
    client: KiwoomClient,
    code: str,
    since: datetime,
    *,
    until: datetime | None = None,
    keep_newer: int = 0,
) -> list[ChartTick]:
    """Single-trade rows of ``code`` at or after ``since``, newest first (ka10079).

    With ``until`` (a gap's live anchor) rows after that second are dropped as the pages
    arrive, but for the ``keep_newer`` just after it (the live trades that followed the
    anchor, which tell its row apart): the chart is read from now back to the gap, and a
    walk over an old gap of a busy stock would otherwise hold every trade since — hundreds
    of thousands of rows — to keep the few hundred of the gap.
    """
    newer: deque[ChartTick] = deque(maxlen=keep_newer)  # the oldest rows after ``until``
    rows: list[ChartTick] = []
    for page in client.iter_tick_chart(code, since=since):
        for c in page:
            if c.time < since:
                continue
            tick = ChartTick(c.time, c.close, abs(c.volume))
            if until is not None and c.time > until:
                newer.append(tick)
            else:
                rows.append(tick)
    return [*newer, *rows] if newer else rows
