"""The book route's lease client (:class:`gslts_backend.market.quotes.InterestClient`)
against the hub's real interest routes and lease table (in process, no Kiwoom): its own
asker name, the TTL fitted to the hub's ``HUB_INTEREST_MAX_TTL_S``, refusals remembered,
and the lease's freshness the route relies on to renew it and to not trust a frozen book.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gslts_backend.market.quotes import InterestClient, book_asker
from gslts_common import errors
from gslts_hub.interest import ASKER_PATTERN, InterestManager, LeaseTable
from gslts_hub.interest_api import interest_router

UNLISTED = "999990"


class Hub:
    """What the interest routes need of the hub: the real manager, a stock list."""

    def __init__(self, max_ttl_s: int) -> None:
        table = LeaseTable(max_codes=5, max_per_asker=5, max_ttl_s=max_ttl_s)
        self.subscribed: list[str] = []
        self.interest = InterestManager(
            table, subscribe=self._subscribe, unsubscribe=lambda codes: None
        )

    def _subscribe(self, codes: list[str]) -> list[str]:
        self.subscribed += codes
        return []

    def validate_code(self, code: str) -> str:
        if code == UNLISTED:
            raise errors.NotFound(f"{code} is not a listed stock")
        return "삼성전자"


def client_for(max_ttl_s: int) -> tuple[InterestClient, Hub, TestClient]:
    hub = Hub(max_ttl_s)
    app = FastAPI()
    errors.install(app)
    app.include_router(interest_router(max_ttl_s))
    app.state.hub = hub
    http = TestClient(app)
    client = InterestClient("http://hub", asker=book_asker("backend"), ttl_s=300)
    client._http.close()
    client._http = http  # the hub's routes in process (a TestClient is an httpx.Client)
    return client, hub, http


@pytest.fixture
def capped() -> Iterator[tuple[InterestClient, Hub]]:
    client, hub, http = client_for(max_ttl_s=120)
    with http:
        yield client, hub


def test_the_book_asker_is_its_own_and_always_valid() -> None:
    assert book_asker("backend") == "backend:book"
    assert book_asker("backend:web-1") == "backend:web-1:book"
    long = "b" * 64  # the longest WS_INTEREST_ASKER
    assert re.match(ASKER_PATTERN, book_asker(long))
    assert book_asker(long) != long


def test_a_hub_with_a_shorter_max_ttl_grants_its_maximum(
    capped: tuple[InterestClient, Hub],
) -> None:
    client, hub = capped
    client.leased["005930"] = 0.0  # as want() marks it before the request
    client._lease("005930")
    assert client.ttl_s == 120
    assert "005930" not in client.refused
    (lease,) = hub.interest.leases("005930")
    assert (lease.asker, lease.ttl_s) == ("backend:book", 120)
    assert hub.subscribed == ["005930"]


def test_a_stock_the_hub_refuses_is_not_asked_again(
    capped: tuple[InterestClient, Hub],
) -> None:
    client, hub = capped
    client.want(UNLISTED)
    assert wait(lambda: UNLISTED in client.refused)
    assert not client.holds(UNLISTED)
    assert not client.live(UNLISTED)
    client.want(UNLISTED)
    assert UNLISTED not in client.leased  # not asked: no request in flight
    assert hub.interest.leases(UNLISTED) == []


def test_freshness_of_a_lease(capped: tuple[InterestClient, Hub]) -> None:
    client, hub = capped
    assert not client.holds("005930")
    assert not client.live("005930")
    client.want("005930")
    assert client.holds("005930")
    assert client.live("005930")
    assert wait(lambda: bool(hub.interest.leases("005930")))
    client.leased["005930"] -= client.ttl_s + 1  # the TTL has passed since the last ask
    assert client.holds("005930")
    assert not client.live("005930")
    client.want("005930")  # asked again: renewed
    assert client.live("005930")
    assert wait(lambda: hub.interest.leases("005930")[0].renewals == 1)


def wait(pred: Callable[[], bool], timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    return bool(pred())
