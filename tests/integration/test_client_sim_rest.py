"""The REST client against the real simulator over loopback HTTP (uvicorn in a thread).

Covers what mocks cannot: the two halves agreeing on paths, headers, paging, error codes
and the order lifecycle (place → modify → cancel, fills visible in ka10075/ka10076/kt00018).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from gslts_kiwoom import (
    InputError,
    KiwoomClient,
    KiwoomConfig,
    OrderRejectedError,
    OrderType,
    RateLimitError,
    Side,
    krx,
)
from tests.conftest import need_import

# the simulator is gslts-kiwoom's ``sim`` extra: without it these tests are skipped loudly
# (listed in the end-of-run banner), and fail under GSLTS_REQUIRE_SERVICES=1
need_import("uvicorn", "the gslts-kiwoom[sim] extra")
need_import("gslts_kiwoom.sim", "the gslts-kiwoom[sim] extra")

import uvicorn  # noqa: E402

from gslts_kiwoom.sim import SimConfig, Simulator, create_app  # noqa: E402

CODE = "005930"


class _Server:
    def __init__(self, sim: Simulator, port: int) -> None:
        config = uvicorn.Config(create_app(sim), host="127.0.0.1", port=port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> _Server:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("simulator did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def sim_overrides() -> dict[str, Any]:
    """Extra ``SimConfig`` fields (a test parametrizes this to change its simulator)."""
    return {}


@pytest.fixture
def sim(sim_overrides: dict[str, Any]) -> Simulator:
    return Simulator(
        SimConfig(
            ticker=False,
            clock="always",
            page_sizes={"ka10099": 200, "ka10080": 50},
            default_rate_per_s=1000.0,
            rate_burst=1000,
            token_ttl_s=3600.0,
            **sim_overrides,
        )
    )


@pytest.fixture
def url(sim: Simulator, free_port: int) -> Iterator[str]:
    # The KRX calendar behind daily bars (ka10001, ka10081) takes seconds to build once per
    # process (20 s on 2 busy cores): built here, not inside the first request, whose
    # client would time out first.
    sim.market.history_dates()
    with _Server(sim, free_port):
        yield f"http://127.0.0.1:{free_port}"


def _client(url: str, **kw: Any) -> KiwoomClient:
    # a deadline, not an expected duration: a loaded machine must not fail a call
    cfg: dict[str, Any] = {"rate_per_s": 1000.0, "rate_burst": 1000, "timeout_s": 60.0}
    cfg.update({k: kw.pop(k) for k in list(kw) if k in KiwoomConfig.model_fields})
    config = KiwoomConfig.for_mode(
        "sim",
        app_key=SecretStr("sim-app-key-it"),
        secret_key=SecretStr("sim-secret-key-it"),
        rest_url=url,
        **cfg,
    )
    kw.setdefault("backoff_base_s", 0.05)
    return KiwoomClient(config, **kw)


def test_quote_book_and_paging_across_pages(url: str) -> None:
    with _client(url) as client:
        quote = client.get_quote(CODE)
        assert quote.price > 0
        assert quote.lower_limit < quote.price < quote.upper_limit
        book = client.get_order_book(CODE)
        assert len(book.asks) == len(book.bids) == 10
        assert book.asks[0].price > book.bids[0].price > 0
        pages = list(client.iter_pages("ka10099", {"mrkt_tp": "0"}))
        assert len(pages) >= 3
        stocks = client.list_stocks("0")
        codes = [s.code for s in stocks]
        assert len(codes) == len(set(codes)) == sum(len(p.data["list"]) for p in pages)
        assert CODE in codes


def test_token_expiry_mid_run_reissues(sim: Simulator, url: str) -> None:
    with _client(url, token_refresh_margin_s=0.0) as client:
        client.get_quote(CODE)
        first = client.token()
        sim.expire_tokens()  # the server drops every token: next call gets [8005]
        assert client.get_quote(CODE).code == CODE
        assert client.token() != first


def test_second_client_shares_nothing_but_still_works_after_revoke(url: str) -> None:
    with _client(url) as client:
        client.get_quote(CODE)
        client.revoke_token()
        assert client.get_quote(CODE).code == CODE


def test_rate_limit_storm_backs_off_then_succeeds(sim: Simulator, url: str) -> None:
    with _client(url, rate_limit_retries=8) as client:
        sim.set_faults(rate_limit_storm_s=0.4)
        start = time.monotonic()
        assert client.get_quote(CODE).code == CODE
        assert time.monotonic() - start >= 0.3


def test_rate_limit_retries_exhausted(sim: Simulator, url: str) -> None:
    with _client(url, rate_limit_retries=1) as client:
        client.get_quote(CODE)
        sim.set_faults(rate_limit_storm_s=30)
        with pytest.raises(RateLimitError) as exc:
            client.get_quote(CODE)
        assert exc.value.http_status == 429
        sim.set_faults(rate_limit_storm_s=0)


def test_minute_chart_pages_back_in_time(sim: Simulator, url: str) -> None:
    with _client(url) as client:
        one = client.get_minute_chart(CODE, 1)
        more = client.get_minute_chart(CODE, 1, max_pages=3)
        assert len(more) >= len(one)
        assert [c.time for c in more] == sorted(c.time for c in more)


def test_order_lifecycle(url: str) -> None:
    with _client(url) as client:
        quote = client.get_quote(CODE)
        low = quote.lower_limit
        ack = client.buy(CODE, 3, low)
        (resting,) = [o for o in client.open_orders(CODE) if o.order_no == ack.order_no]
        assert (resting.side, resting.open_qty, resting.order_price) == (Side.BUY, 3, low)

        new_price = krx.tick_up(low)
        mod = client.modify_order(ack.order_no, CODE, 3, new_price)
        assert mod.order_no != ack.order_no
        open_now = {o.order_no: o for o in client.open_orders(CODE)}
        assert ack.order_no not in open_now
        assert open_now[mod.order_no].order_price == new_price

        cancel = client.cancel_order(mod.order_no, CODE)  # qty 0 = all
        assert cancel.order_no not in {o.order_no for o in client.open_orders(CODE)}
        assert mod.order_no not in {o.order_no for o in client.open_orders(CODE)}

        filled = client.buy(CODE, 2, order_type=OrderType.MARKET)
        fills = [f for f in client.filled_orders(CODE) if f.order_no == filled.order_no]
        assert fills
        assert sum(f.filled_qty for f in fills) == 2
        holding = {h.code: h for h in client.get_balance().holdings}[CODE]
        assert holding.qty >= 2
        cash = client.get_cash()
        assert 0 < cash.orderable < 100_000_000


def test_bad_inputs_and_rejections(url: str) -> None:
    with _client(url) as client:
        with pytest.raises(InputError):
            client.request("kt10003", {"dmst_stex_tp": "KRX", "orig_ord_no": "0000001"})
        with pytest.raises(InputError):
            client.get_quote("999999")
        with pytest.raises(OrderRejectedError) as exc:
            client.buy(CODE, 10_000_000, order_type=OrderType.MARKET)  # far beyond the cash
        assert exc.value.detail_code == "855056"


@pytest.mark.integration
# every au10001 makes a new token and kills the old one: a client with a private token
# cache would issue its own (counted below) and break the other's
@pytest.mark.parametrize("sim_overrides", [{"token_reissue_invalidates_old": True}])
def test_processes_share_one_token_through_redis(
    sim: Simulator,
    url: str,
    redis_server_url: str,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Clients built by the services' factory with REDIS_URL issue one token between them."""
    import uuid

    import redis

    from gslts_common.kiwoom_client import make_kiwoom_client
    from gslts_common.settings import Settings

    issued: list[str] = []
    issue = sim.issue_token

    def counted(app_key: str) -> Any:
        tok = issue(app_key)
        issued.append(app_key)
        return tok

    monkeypatch.setattr(sim, "issue_token", counted)
    settings = Settings(
        _env_file=None,
        kiwoom_mode="sim",
        kiwoom_rest_url=url,
        kiwoom_app_key=SecretStr(f"shared-{uuid.uuid4().hex}"),
        kiwoom_secret_key=SecretStr("shared-secret"),
        kiwoom_rate_per_s=1000.0,
        kiwoom_rate_burst=1000,
        redis_url=redis_server_url,
        data_dir=tmp_path,
    )
    watcher = redis.Redis.from_url(redis_server_url)
    before = len(watcher.client_list())
    with make_kiwoom_client(settings) as hub_client, make_kiwoom_client(settings) as cli_client:
        assert hub_client.get_quote("005930").name == "삼성전자"
        assert cli_client.get_quote("000660").name == "SK하이닉스"
        assert hub_client.get_quote("000660").name == "SK하이닉스"  # its token still valid
        same = hub_client.token() == cli_client.token()  # compared here: no token in a report
        assert same, "the two clients hold different tokens"
        assert len(watcher.client_list()) >= before + 2
    assert len(issued) == 1  # one au10001 between the two clients
    # closing the clients closes their Redis connections too
    deadline = time.monotonic() + 30
    while len(watcher.client_list()) > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(watcher.client_list()) == before
    watcher.close()
