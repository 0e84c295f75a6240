"""The order chain's state from its events (gslts_backend.orders.ledger), without I/O."""

from __future__ import annotations

from gslts_backend.orders.ledger import Amend, Ev, summarize


def evs(*items: tuple[str, str, dict[str, object]]) -> list[Ev]:
    return [Ev(i + 1, n, t, **kw) for i, (n, t, kw) in enumerate(items)]  # type: ignore[arg-type]


def test_accepted_then_partial_then_full_fill() -> None:
    e = evs(
        ("N", "acked", {"open_qty": 10}),
        ("N", "accepted", {"open_qty": 10}),
        ("N", "fill", {"open_qty": 6, "fill_no": "1", "fill_qty": 4, "fill_price": 100}),
    )
    s = summarize(10, "N", [], e)
    assert (s.state, s.filled, s.open, s.filled_amount, s.live_number) == (
        "partially_filled", 4, 6, 400, "N"
    )  # fmt: skip
    e.append(Ev(9, "N", "fill", open_qty=0, fill_no="2", fill_qty=6, fill_price=101))
    s = summarize(10, "N", [], e)
    assert (s.state, s.filled, s.open, s.filled_amount) == ("filled", 10, 0, 400 + 606)


def test_a_fill_relayed_twice_counts_once() -> None:
    fill = {"open_qty": 6, "fill_no": "7", "fill_qty": 4, "fill_price": 100}
    s = summarize(
        10,
        "N",
        [],
        evs(("N", "accepted", {"open_qty": 10}), ("N", "fill", fill), ("N", "fill", fill)),
    )
    assert (s.filled, s.open) == (4, 6)


def test_the_stream_before_our_answer_is_not_undone_by_the_answer() -> None:
    e = evs(
        ("N", "accepted", {"open_qty": 10}),
        ("N", "fill", {"open_qty": 0, "fill_no": "1", "fill_qty": 10, "fill_price": 5}),
        ("N", "acked", {"open_qty": 10}),  # the REST answer came last
    )
    assert summarize(10, "N", [], e).state == "filled"


def test_a_modify_moves_the_open_quantity_to_its_number() -> None:
    amends = [Amend("M", "N", "modify", 6)]
    e = evs(
        ("N", "accepted", {"open_qty": 10}),
        ("N", "fill", {"open_qty": 6, "fill_no": "1", "fill_qty": 4, "fill_price": 100}),
        ("M", "accepted", {"open_qty": 6}),
        ("M", "confirmed", {}),
        ("M", "fill", {"open_qty": 1, "fill_no": "2", "fill_qty": 5, "fill_price": 99}),
    )
    s = summarize(10, "N", amends, e)
    assert (s.state, s.filled, s.open, s.live_number) == ("partially_filled", 9, 1, "M")
    assert s.filled_amount == 400 + 495


def test_a_cancel_confirmed_after_a_fill_it_followed() -> None:
    # our answer (acked) came before the relayed fill that happened before the cancel;
    # the 확인 comes after the fill: the cancel takes what the fill left
    amends = [Amend("C", "N", "cancel", 10)]
    e = evs(
        ("N", "accepted", {"open_qty": 10}),
        ("C", "acked", {}),
        ("N", "fill", {"open_qty": 6, "fill_no": "1", "fill_qty": 4, "fill_price": 100}),
        ("C", "accepted", {"open_qty": 10}),
        ("C", "confirmed", {}),
    )
    s = summarize(10, "N", amends, e)
    assert (s.state, s.filled, s.open) == ("cancelled", 4, 0)


def test_a_partial_cancel_leaves_the_rest_working() -> None:
    amends = [Amend("C", "N", "cancel", 3)]
    e = evs(("N", "accepted", {"open_qty": 10}), ("C", "acked", {}), ("C", "confirmed", {}))
    s = summarize(10, "N", amends, e)
    assert (s.state, s.open, s.live_number) == ("accepted", 7, "N")
    # a later fill on N reports N's open after the cancel: nothing is taken twice
    e.append(Ev(10, "N", "fill", open_qty=5, fill_no="1", fill_qty=2, fill_price=1))
    s = summarize(10, "N", amends, e)
    assert (s.state, s.filled, s.open) == ("partially_filled", 2, 5)


def test_an_exchange_cancel_of_an_ioc_rest() -> None:
    e = evs(
        ("N", "accepted", {"open_qty": 10}),
        ("N", "fill", {"open_qty": 7, "fill_no": "1", "fill_qty": 3, "fill_price": 100}),
        ("N", "cancelled", {"open_qty": 0}),
    )
    s = summarize(10, "N", [], e)
    assert (s.state, s.filled, s.open) == ("cancelled", 3, 0)


def test_a_rejection_on_the_stream() -> None:
    s = summarize(10, "N", [], evs(("N", "accepted", {"open_qty": 10}), ("N", "rejected", {})))
    assert (s.state, s.open) == ("rejected", 0)


def test_a_snapshot_after_a_lost_relay_is_the_truth() -> None:
    # the stream stopped after 접수; ka10075/ka10076 later say 8 filled, 2 open
    e = evs(
        ("N", "accepted", {"open_qty": 10}),
        ("N", "rest", {"open_qty": 2, "cum_filled": 8, "fill_price": 100}),
    )
    s = summarize(10, "N", [], e)
    assert (s.state, s.filled, s.open, s.filled_amount) == ("partially_filled", 8, 2, 800)
    # the relayed fills arriving late do not count the same shares again
    e.append(Ev(5, "N", "fill", open_qty=2, fill_no="1", fill_qty=8, fill_price=100))
    assert summarize(10, "N", [], e).filled == 8


def test_open_never_exceeds_what_is_not_filled() -> None:
    e = evs(
        ("N", "acked", {"open_qty": 10}),
        ("N", "rest", {"open_qty": 10, "cum_filled": 4, "fill_price": 1}),
    )
    s = summarize(10, "N", [], e)
    assert (s.filled, s.open) == (4, 6)
