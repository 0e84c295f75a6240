"""One Kiwoom budget per app key: the hub and the backend use one key; without Redis each
process keeps to its share (``KIWOOM_RATE_SHARE``, half by default), so both hammering
the API at once never draw a 429 from a server that allows exactly the key's budget.
With the share set to the whole budget (the old behaviour) they do."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gslts_common.kiwoom_client import make_kiwoom_client
from gslts_common.settings import Settings
from tests.e2e.harness import Market

pytestmark = pytest.mark.e2e

RATE = 4.0  # the key's budget in the settings (KIWOOM_RATE_PER_S, as the default) …
#: … a little under what the server allows, as the defaults are under Kiwoom's (4 vs ~5/s):
#: two limiters at exactly the server's rate would collide on network jitter alone
SERVER_RATE = 5.0
CALLS = 20  # per process


@pytest.fixture
def strict_market() -> Iterator[Market]:
    # a server burst of 2 s: a busy machine stalling the server's loop for a moment (the
    # requests queued behind it then arrive together) is absorbed, the sustained rate is not
    m = Market(trades_per_s=0.0, default_rate_per_s=SERVER_RATE, rate_burst=8).start()
    yield m
    m.stop()


def _hammer(market: Market, tmp: Path, share: float) -> int:
    """Two processes' clients (separate limiters) call ka10001 at once; the 429s seen."""
    refused = [0]
    allow = market.sim.allow

    def counting(api_id: str) -> bool:
        ok = allow(api_id)
        if not ok and api_id == "ka10001":
            refused[0] += 1
        return ok

    market.sim.allow = counting  # type: ignore[method-assign]
    settings: dict[str, Any] = {
        "_env_file": None, "kiwoom_mode": "sim", "kiwoom_rest_url": market.rest_url,
        "kiwoom_ws_url": market.ws_url, "kiwoom_rate_per_s": RATE,
        "kiwoom_rate_burst": int(RATE), "kiwoom_rate_share": share, "redis_url": None,
        "data_dir": tmp,
    }  # fmt: skip
    clients = [make_kiwoom_client(Settings(**settings)) for _ in ("hub", "backend")]
    for c in clients:
        c.token()  # log in first: au10001 has its own bucket
    # the simulator's first ka10001 takes seconds (it builds its quotes): requests queued
    # behind it would arrive together, whatever their senders' pacing; warm it up first
    clients[0].get_quote("000660")
    time.sleep(2 * RATE / SERVER_RATE)  # let the server's bucket refill
    refused[0] = 0
    errors: list[BaseException] = []

    def work(client: Any) -> None:
        try:
            for _ in range(CALLS):
                client.get_quote("005930")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for c in clients:
        c.close()
    market.sim.allow = allow  # type: ignore[method-assign]
    assert not errors, errors
    return refused[0]


def test_two_processes_on_one_key_never_exceed_its_budget(
    strict_market: Market, tmp_path: Path
) -> None:
    assert _hammer(strict_market, tmp_path, share=0.5) == 0


def test_without_the_share_two_processes_do_exceed_it(
    strict_market: Market, tmp_path: Path
) -> None:
    """The control: the same load with each process taking the whole budget draws 429s
    (so the test above can fail)."""
    assert _hammer(strict_market, tmp_path, share=1.0) > 0
