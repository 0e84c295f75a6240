"""What the simulator's WebSocket frames look like on the wire, read raw (no client
library in between): every 0B entry carries the whole 0B FID dictionary, the unused FIDs
as ``""`` as real frames do, on the per-trade and on the flood path; and the library's
decoder reads those frames into the ground truth."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gslts_kiwoom.realtime import RealtimeDecoder, Trade
from gslts_kiwoom.sim._feed_trades import FILLED_FIDS, TRADE_FIDS
from tests.integration.sim.conftest import RawSession, SimServer

Make = Callable[..., SimServer]


def _codes(srv: SimServer, n: int) -> list[str]:
    codes, _ = srv.sim.market._focus or (srv.sim.market.codes, [])
    return list(codes[:n])


@pytest.mark.parametrize(
    ("rate", "universe"),
    [(30.0, 3), (20_000.0, 20)],
    ids=["per-trade path", "flood path"],
)
def test_0b_entries_carry_every_fid_of_the_dictionary(
    make_server: Make, rate: float, universe: int
) -> None:
    srv = make_server(trades_per_s=rate, trade_universe=universe, ws_items_per_frame=50)
    raw = RawSession(srv)
    try:
        raw.register(_codes(srv, universe), ["0B"])
        srv.advance(2.0 if rate > 1000 else 20.0)
        total = len(srv.sim.market.ground_truth)
        assert total > 300
        trades = raw.entries(lambda e: len(e) >= total)
    finally:
        raw.close()
    assert len(trades) == total
    for e in trades:
        values = e["values"]
        assert list(values) == list(TRADE_FIDS), values
        assert all(isinstance(v, str) for v in values.values())
        assert all(values[f] for f in FILLED_FIDS), values
        assert {f for f, v in values.items() if v == ""} == set(TRADE_FIDS) - FILLED_FIDS
    # the client's decoder reads the full frames into exactly the ground truth
    dec = RealtimeDecoder()
    dec.set_clock(srv.sim.now.timestamp())
    decoded = [ev for text in raw.frames for ev in dec.decode_frame(text)]
    assert not dec.malformed
    truth = srv.sim.market.ground_truth.rows()
    assert [(t.code, t.cum_volume, t.price, t.volume) for t in decoded if isinstance(t, Trade)] == [
        (r[1], r[5], r[3], r[4]) for r in truth
    ]


@pytest.mark.parametrize(
    ("overrides", "sent"),
    [({}, "KRX"), ({"ws_trade_exchange": "1"}, "1")],
    ids=["default: the mock capture", "the guide's example"],
)
def test_0b_exchange_fid_is_configurable_and_decoded_as_krx_either_way(
    make_server: Make, overrides: dict[str, str], sent: str
) -> None:
    srv = make_server(**overrides)
    raw = RawSession(srv)
    try:
        raw.register(_codes(srv, 3), ["0B"])
        srv.advance(10.0)
        total = len(srv.sim.market.ground_truth)
        entries = raw.entries(lambda e: len(e) >= total)
    finally:
        raw.close()
    assert total > 0
    assert {e["values"]["9081"] for e in entries} == {sent}
    dec = RealtimeDecoder()
    dec.set_clock(srv.sim.now.timestamp())
    trades = [t for text in raw.frames for t in dec.decode_frame(text)]
    assert len(trades) == total
    assert {t.venue for t in trades if isinstance(t, Trade)} == {"KRX"}
