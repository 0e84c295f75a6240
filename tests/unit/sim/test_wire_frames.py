"""The simulator's 0B entries against the catalogue's 0B dictionary, both formatting
paths alike, and the client's decoder on full and on sparse entries."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from gslts_kiwoom.realtime import RealtimeDecoder, Trade
from gslts_kiwoom.sim import MarketTrade
from gslts_kiwoom.sim._events import TradeBatch
from gslts_kiwoom.sim._feed_trades import FILLED_FIDS, TRADE_FIDS, TradeText

from .conftest import make_sim

LIMITS = (47_250, 87_700)


def _catalogue_fids(shared_dir: Path, api_id: str) -> list[str]:
    path = shared_dir / "kiwoom-api" / "catalogue.json"
    if not path.is_file():
        pytest.skip(f"{path} is absent: cannot compare with the catalogue")
    (spec,) = [e for e in json.loads(path.read_text("utf-8")) if e["api_id"] == api_id]
    (data,) = [f for f in spec["response"] if f["key"] == "data"]
    (values,) = [f for f in data["fields"] if f["key"] == "values"]
    return [f["key"] for f in values["fields"]]


def test_trade_fids_are_the_catalogue_dictionary_in_its_order(shared_dir: Path) -> None:
    assert list(TRADE_FIDS) == _catalogue_fids(shared_dir, "0B")
    assert set(TRADE_FIDS) >= FILLED_FIDS


def _batch(n: int = 40) -> TradeBatch:
    sim = make_sim(trades_per_s=50_000, trade_universe=1, vi_threshold=0)
    got: list[TradeBatch] = []

    class Catch:
        accepts_batches = True

        def __call__(self, e: object) -> None:
            pass

        def on_batch(self, b: TradeBatch) -> None:
            got.append(b)

    sim.add_listener(Catch())  # type: ignore[arg-type]
    while not got or len(got[0]) < n:
        got.clear()
        sim.step(sim.now + timedelta(seconds=0.1))
    return got[0]


def test_both_paths_format_the_same_entry_with_every_fid() -> None:
    batch = _batch()
    per_trade = TradeText(lambda _c: LIMITS)
    flood = TradeText(lambda _c: LIMITS)
    texts = [per_trade.text(t) for t in batch.trades()]
    raw: list[tuple[str, str, str]] = []
    flood.extend(batch, raw.append)
    assert [r[2] for r in raw] == texts
    for text in texts:
        entry = orjson.loads(text)
        assert entry["type"] == "0B"
        assert list(entry["values"]) == list(TRADE_FIDS)
        empty = {f for f, v in entry["values"].items() if v == ""}
        assert empty == set(TRADE_FIDS) - FILLED_FIDS


def _entry(t: MarketTrade, **values: str) -> dict[str, Any]:
    entry: dict[str, Any] = orjson.loads(TradeText(lambda _c: LIMITS).text(t))
    entry["values"].update(values)
    return entry


def test_decoder_reads_full_entries_and_sparse_ones_alike() -> None:
    (t, *_) = _batch(2).trades()
    full = _entry(t)
    sparse = {**full, "values": {k: full["values"][k] for k in ("20", "10", "15", "13", "9081")}}
    extra = _entry(t, **{"99999": "x", "691": "12.5"})
    dec = RealtimeDecoder()
    dec.set_clock(t.time.timestamp())
    a, b, c = dec.decode_items([full, sparse, extra])
    assert isinstance(a, Trade)
    assert isinstance(b, Trade)
    assert a == c
    assert (a.price, a.volume, a.cum_volume, a.cum_value) == (
        t.price,
        t.volume,
        t.cum_volume,
        t.cum_value,
    )
    assert (b.price, b.volume, b.cum_volume) == (t.price, t.volume, t.cum_volume)
    assert (b.best_ask, b.best_bid, b.strength, b.session) == (0, 0, None, "")
    assert not dec.malformed
