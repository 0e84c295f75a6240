"""Interest leases (:mod:`gslts_hub.interest`): TTL expiry on an injected clock, reference
counting across askers, renewal, release, a crashed asker, the caps and their reasons,
and the manager's subscribe / unsubscribe transitions (also under concurrent askers)."""

from __future__ import annotations

import contextlib
import random
import threading
from collections.abc import Collection

import pytest

from gslts_common.errors import BadInput
from gslts_hub.interest import MAX_LEASES, InterestManager, InterestRefused, LeaseTable


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Subscriptions:
    """The hub's side of the manager: what is subscribed under the interest owner."""

    def __init__(self, refuse: Collection[str] = ()) -> None:
        self.refuse = set(refuse)
        self.held: set[str] = set()
        self.calls: list[tuple[str, list[str]]] = []
        self._lock = threading.Lock()

    def subscribe(self, codes: list[str]) -> list[str]:
        with self._lock:
            self.calls.append(("sub", codes))
            refused = [c for c in codes if c in self.refuse]
            self.held |= set(codes) - set(refused)
            return refused

    def unsubscribe(self, codes: list[str]) -> None:
        with self._lock:
            self.calls.append(("unsub", codes))
            self.held -= set(codes)


def _table(clock: Clock, **caps: int) -> LeaseTable:
    kw = {"max_codes": 20, "max_per_asker": 20, "max_ttl_s": 300, **caps}
    return LeaseTable(clock=clock, **kw)


def _manager(
    clock: Clock, subs: Subscriptions, held: Collection[str] = (), **caps: int
) -> InterestManager:
    return InterestManager(
        _table(clock, **caps),
        subscribe=subs.subscribe,
        unsubscribe=subs.unsubscribe,
        held_elsewhere=lambda: frozenset(held),
    )


def test_a_lease_lives_its_ttl_and_then_expires() -> None:
    clock = Clock()
    t = _table(clock)
    lease = t.acquire("005930", "backend", 30)
    assert (lease.expires_at, lease.renewals) == (clock.now + 30, 0)
    clock.now += 29.9
    assert t.expire(clock.now) == []
    assert t.codes() == ["005930"]
    clock.now += 0.1
    assert t.expire(clock.now) == ["005930"]
    assert t.codes() == []
    assert t.snapshot()["leases"] == 0


def test_renewal_moves_the_expiry_and_keeps_the_grant_time() -> None:
    clock = Clock()
    t = _table(clock)
    first = t.acquire("005930", "backend", 30)
    clock.now += 20
    again = t.acquire("005930", "backend", 30)
    assert again.renewals == 1
    assert again.granted_at == first.granted_at
    assert again.expires_at == clock.now + 30
    clock.now += 29
    assert t.expire(clock.now) == []  # the first lease's 30 s are long past
    assert len(t.leases("005930")) == 1  # a renewal is not a second lease
    assert t.snapshot()["leases"] == 1


def test_the_stock_lives_until_the_last_askers_lease_ends() -> None:
    clock = Clock()
    t = _table(clock)
    t.acquire("005930", "backend", 10)
    t.acquire("005930", "research", 60)
    clock.now += 10
    assert t.expire(clock.now) == []  # backend's ended, research still holds it
    assert [lease.asker for lease in t.leases("005930")] == ["research"]
    assert t.release("005930", "research")
    assert t.codes() == []


def test_release_is_per_asker() -> None:
    t = _table(Clock())
    t.acquire("005930", "backend", 30)
    assert not t.release("005930", "research")  # it holds nothing
    assert not t.release("000660", "backend")
    assert t.codes() == ["005930"]
    assert t.release("005930", "backend")
    assert not t.release("005930", "backend")


def test_ttl_outside_the_bounds_is_bad_input() -> None:
    t = _table(Clock(), max_ttl_s=300)
    with pytest.raises(BadInput, match="HUB_INTEREST_MAX_TTL_S"):
        t.acquire("005930", "backend", 301)
    with pytest.raises(BadInput):
        t.acquire("005930", "backend", 0)
    assert t.codes() == []


def test_the_asker_cap_refuses_with_its_reason_and_renewals_still_pass() -> None:
    t = _table(Clock(), max_per_asker=2)
    t.acquire("005930", "backend", 30)
    t.acquire("000660", "backend", 30)
    with pytest.raises(InterestRefused, match=r"asker cap reached.*HUB_INTEREST_MAX_PER_ASKER"):
        t.acquire("035720", "backend", 30)
    t.acquire("005930", "backend", 30)  # a renewal is no new lease
    t.acquire("035720", "research", 30)  # another asker has its own share
    assert t.codes() == ["000660", "005930", "035720"]


def test_the_interest_cap_counts_only_stocks_not_collected_anyway() -> None:
    t = _table(Clock(), max_codes=2)
    top = {"005930", "000660"}
    t.acquire("005930", "a", 30, held=top)  # in the top 50: costs no registration
    t.acquire("035720", "a", 30, held=top)
    t.acquire("035420", "a", 30, held=top)
    with pytest.raises(InterestRefused, match=r"interest cap 2 reached.*HUB_INTEREST_MAX_CODES"):
        t.acquire("051910", "b", 30, held=top)
    t.acquire("000660", "b", 30, held=top)  # another top stock still passes
    t.acquire("035720", "b", 30, held=top)  # and so does a stock already leased
    snap = t.snapshot(held=top)
    assert snap["codes_counted"] == 2
    assert {s["stock_code"]: s["held_elsewhere"] for s in snap["stocks"]} == {
        "000660": True,
        "005930": True,
        "035420": False,
        "035720": False,
    }


def test_the_lease_table_has_a_total_bound() -> None:
    t = _table(Clock(), max_codes=MAX_LEASES)
    t.max_leases = 3
    for i, asker in enumerate("abc"):
        t.acquire(f"00000{i}", asker, 30)
    with pytest.raises(InterestRefused, match="lease table full"):
        t.acquire("000009", "d", 30)


def test_snapshot_lists_askers_and_the_last_expiry() -> None:
    clock = Clock()
    t = _table(clock)
    t.acquire("005930", "research", 60)
    t.acquire("005930", "backend", 10)
    clock.now += 5
    snap = t.snapshot()
    (stock,) = snap["stocks"]
    assert stock["stock_code"] == "005930"
    assert [a["asker"] for a in stock["askers"]] == ["backend", "research"]
    assert stock["expires_in_s"] == 55.0  # the later lease decides
    assert stock["expires_at"].endswith("+09:00")
    assert (snap["max_codes"], snap["max_per_asker"], snap["max_ttl_s"]) == (20, 20, 300)


# ---------------------------------------------------------------------- the manager
def test_first_lease_subscribes_and_the_last_release_unsubscribes() -> None:
    clock, subs = Clock(), Subscriptions()
    m = _manager(clock, subs)
    m.acquire("005930", "backend", 30)
    m.acquire("005930", "research", 30)  # joins: no second REG
    m.acquire("005930", "backend", 30)  # renewal: none either
    assert subs.calls == [("sub", ["005930"])]
    assert m.release("005930", "backend")
    assert subs.held == {"005930"}  # research still holds it
    assert m.release("005930", "research")
    assert subs.calls[-1] == ("unsub", ["005930"])
    assert subs.held == set()
    assert not m.release("005930", "research")


def test_a_crashed_asker_leaks_nothing() -> None:
    clock, subs = Clock(), Subscriptions()
    m = _manager(clock, subs)
    for code in ("005930", "000660", "035720"):
        m.acquire(code, "crashed", 5)
    m.acquire("000660", "alive", 30)
    clock.now += 5  # "crashed" never renews
    assert m.expire(clock.now) == ["005930", "035720"]
    assert subs.held == {"000660"}
    clock.now += 25
    assert m.expire(clock.now) == ["000660"]
    assert subs.held == set()
    assert m.codes() == []
    assert m.snapshot()["leases"] == 0


def test_a_stock_collected_anyway_is_still_subscribed_and_released_under_interest() -> None:
    """The hub's subscriptions are owner-tagged: the interest owner joins a top-50 stock
    (no REG) and leaves it (no REMOVE while the top 50 holds it). Skipping the join would
    lose the stock when it leaves the top 50 while leased; skipping the release would leak
    the interest owner's hold."""
    clock, subs = Clock(), Subscriptions()
    m = _manager(clock, subs, held={"005930"})
    lease = m.acquire("005930", "backend", 5)
    assert lease.renewals == 0
    assert m.held_elsewhere("005930")
    assert subs.calls == [("sub", ["005930"])]
    clock.now += 5
    assert m.expire(clock.now) == ["005930"]
    assert subs.calls[-1] == ("unsub", ["005930"])


def test_a_refused_registration_grants_no_lease_and_says_why() -> None:
    clock, subs = Clock(), Subscriptions(refuse={"035720"})
    m = _manager(clock, subs)
    with pytest.raises(InterestRefused, match=r"registration cap reached.*035720"):
        m.acquire("035720", "backend", 30)
    assert m.codes() == []
    assert m.snapshot()["leases"] == 0
    m.acquire("005930", "backend", 30)  # the asker's share was not used up
    assert m.codes() == ["005930"]


def test_an_expired_but_unswept_lease_is_granted_anew() -> None:
    clock, subs = Clock(), Subscriptions()
    m = _manager(clock, subs)
    m.acquire("005930", "backend", 5)
    clock.now += 6  # the control loop has not swept yet
    lease = m.acquire("005930", "backend", 5)
    assert lease.renewals == 0  # the old lease had ended: this is a new one …
    assert subs.calls == [("sub", ["005930"]), ("unsub", ["005930"]), ("sub", ["005930"])]
    assert subs.held == {"005930"}  # … and the stock is subscribed


def test_expire_never_waits_for_a_slow_subscribe() -> None:
    clock = Clock()
    entered, proceed = threading.Event(), threading.Event()

    def slow_subscribe(codes: list[str]) -> list[str]:
        entered.set()
        proceed.wait(10)
        return []

    m = InterestManager(_table(clock), subscribe=slow_subscribe, unsubscribe=lambda _: None)
    t = threading.Thread(target=m.acquire, args=("005930", "backend", 5))
    t.start()
    assert entered.wait(10)
    assert m.expire(clock.now + 60) == []  # skipped this round, not blocked
    proceed.set()
    t.join(10)
    assert m.expire(clock.now + 60) == ["005930"]


def test_concurrent_askers_never_leave_a_leased_stock_unsubscribed() -> None:
    """Threads acquire, renew, release and expire at random on a few stocks; afterwards
    the subscribed set is exactly the leased set and the counts add up."""
    clock, subs = Clock(), Subscriptions()
    m = _manager(clock, subs, max_per_asker=3, max_codes=4)
    codes = ["005930", "000660", "035720", "035420", "051910"]
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        rnd = random.Random(seed)
        asker = f"asker-{seed}"
        try:
            for _ in range(400):
                op = rnd.random()
                code = rnd.choice(codes)
                if op < 0.6:
                    with contextlib.suppress(InterestRefused):
                        m.acquire(code, asker, rnd.choice((1, 2, 5)))
                elif op < 0.9:
                    m.release(code, asker)
                else:
                    m.expire(clock.now + rnd.choice((0, 3)))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert not errors, errors
    assert set(m.codes()) == subs.held
    snap = m.snapshot()
    assert snap["leases"] == sum(len(s["askers"]) for s in snap["stocks"])
    assert snap["codes_counted"] <= 4
    for s in snap["stocks"]:
        assert len(s["askers"]) <= 8
    per_asker: dict[str, int] = {}
    for s in snap["stocks"]:
        for a in s["askers"]:
            per_asker[a["asker"]] = per_asker.get(a["asker"], 0) + 1
    assert max(per_asker.values(), default=0) <= 3
    clock.now += 10
    m.expire(clock.now)
    assert m.codes() == []
    assert subs.held == set()
