"""The publisher side and the subscriber's record for the bus tests (see
``test_bus_contract.py``): the publisher in-process or in a process of its own
(``publisher.py``), and a :class:`Collector` of what a follower delivered."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import httpx
import redis

from gslts_common.bus import (
    BOOK_CHANNEL,
    GAP_CHANNEL,
    SNAPSHOT_CHANNEL,
    TICK_CHANNEL,
    InProcessBus,
    Subscriber,
    tick_batch,
)
from gslts_common.bus_follow import Follower, RedisFollower, StreamFollower
from tests.conftest import REPO_ROOT

STOCKS = ["005930", "000660", "035420", "035720"]
DEADLINE_S = 90.0


def wait_for(pred: Callable[[], bool], timeout: float = DEADLINE_S, poll: float = 0.05) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(poll)
    return pred()


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------- what a subscriber saw
class Collector:
    """Everything a follower delivered, in order (thread-safe)."""

    def __init__(self) -> None:
        self.items: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        #: set to make the subscriber stop (a slow consumer) at its next tick event
        self.hold: threading.Event | None = None

    def __call__(self, channel: str, event: dict[str, Any]) -> None:
        hold = self.hold
        if hold is not None and channel.startswith(TICK_CHANNEL):
            hold.wait(DEADLINE_S * 2)
        with self._lock:
            self.items.append((channel, event))

    def snapshot_items(self) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            return list(self.items)

    def ticks(self, code: str) -> list[int]:
        """Cumulative volumes of ``code``'s trades, as received."""
        return [
            c
            for ch, ev in self.snapshot_items()
            if ch == TICK_CHANNEL + code
            for c in ev["cum_volume"]
        ]

    def books(self, code: str) -> list[int]:
        return [ev["cum_volume"] for ch, ev in self.snapshot_items() if ch == BOOK_CHANNEL + code]

    def of(self, channel: str) -> list[dict[str, Any]]:
        return [ev for ch, ev in self.snapshot_items() if ch == channel]

    def gaps(self) -> list[dict[str, Any]]:
        return self.of(GAP_CHANNEL)

    def snapshots(self) -> list[dict[str, Any]]:
        return self.of(SNAPSHOT_CHANNEL)

    def index_of(self, event: dict[str, Any]) -> int:
        return next(i for i, (_, ev) in enumerate(self.snapshot_items()) if ev is event)


def latest_state(col: Collector) -> tuple[dict[str, int], dict[str, dict[str, Any]]] | None:
    """What a subscriber knows now: its last snapshot, then the live events after it —
    each stock's last cumulative volume (quote or trade) and its latest book. None before
    any snapshot. (A reconnect during a burst gets a snapshot of that moment; the burst's
    rest then arrives live, so the last snapshot alone is not the latest state.)"""
    items = col.snapshot_items()
    last = max((i for i, (ch, _) in enumerate(items) if ch == SNAPSHOT_CHANNEL), default=None)
    if last is None:
        return None
    snap = items[last][1]
    cums = {code: q["cum_volume"] for code, q in (snap.get("quotes") or {}).items()}
    books = dict(snap.get("books") or {})
    for ch, ev in items[last + 1 :]:
        if ch.startswith(TICK_CHANNEL) and ev["cum_volume"]:
            cums[ch[len(TICK_CHANNEL) :]] = ev["cum_volume"][-1]
        elif ch.startswith(BOOK_CHANNEL):
            books[ch[len(BOOK_CHANNEL) :]] = ev
    return cums, books


def expected(cums: dict[str, list[int]]) -> dict[str, list[int]]:
    return {code: list(range(a, b + 1)) for code, (a, b) in cums.items()}


def merge(*parts: dict[str, list[int]]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for part in parts:
        for code, cums in part.items():
            out.setdefault(code, []).extend(cums)
    return out


def assert_in_order_once(col: Collector, published: dict[str, list[int]]) -> None:
    """Each stock's trades arrived in publish order, none twice, none that was not sent."""
    for code, cums in published.items():
        got = col.ticks(code)
        assert got == sorted(set(got)), f"{code}: out of order or duplicated"
        assert set(got) <= set(cums), f"{code}: trades that were never published"


def assert_all_arrived(col: Collector, published: dict[str, list[int]]) -> None:
    assert_in_order_once(col, published)
    for code, cums in published.items():
        assert col.ticks(code) == cums, f"{code}: missing trades"


def arrived(col: Collector, published: dict[str, list[int]]) -> bool:
    return all(len(col.ticks(c)) >= len(v) for c, v in published.items())


# ---------------------------------------------------------------------- the publisher side
class Side(Protocol):
    name: str

    def publish(self, **body: Any) -> dict[str, Any]: ...
    def follower(self, col: Collector, **kw: Any) -> Follower | _Direct: ...
    def restart(self, cum_base: int) -> None: ...
    def cut_subscribers(self) -> None: ...
    def epoch(self) -> str: ...
    def state(self) -> dict[str, Any]: ...


class _Direct:
    """The in-process transport: a subscriber of the bus itself (the hub's own process)."""

    def __init__(self, bus: InProcessBus, fn: Subscriber) -> None:
        self.bus, self.fn = bus, fn
        self.connected = False
        self._unsub: Callable[[], None] | None = None

    def start(self) -> None:
        self._unsub = self.bus.subscribe(self.fn)
        self.connected = True

    def close(self) -> None:
        if self._unsub:
            self._unsub()


class InProcessSide:
    name = "inprocess"

    def __init__(self) -> None:
        self.bus = InProcessBus()
        self.cum: dict[str, int] = {}

    def publish(self, *, stocks: list[str], batches: int = 1, ticks: int = 1,
                books: bool = True, pad: int = 0) -> dict[str, Any]:  # fmt: skip
        out: dict[str, Any] = {}

        def run() -> None:  # from another thread, as the hub's socket thread publishes
            first = {c: self.cum.get(c, 0) + 1 for c in stocks}
            for _ in range(batches):
                for code in stocks:
                    rows = []
                    for _ in range(ticks):
                        c = self.cum[code] = self.cum.get(code, 0) + 1
                        rows.append([code, "KRX", 1, c, 0.0, 70000, 1, c, 0, 0])
                    self.bus.publish_ticks(code, tick_batch(code, rows))
                    if books:
                        self.bus.publish_book(code, {"code": code, "cum_volume": c})
            out["cums"] = {c: [first[c], self.cum[c]] for c in stocks}

        t = threading.Thread(target=run)
        t.start()
        t.join(DEADLINE_S)
        return out

    def follower(self, col: Collector, **kw: Any) -> _Direct:
        return _Direct(self.bus, col)

    def restart(self, cum_base: int) -> None:
        raise NotImplementedError

    def cut_subscribers(self) -> None:
        raise NotImplementedError

    def epoch(self) -> str:
        return self.bus.epoch

    def state(self) -> dict[str, Any]:
        return {}


class ProcessSide:
    """The publisher in a process of its own: ``stream`` (InProcessBus served over the
    WebSocket stream) or ``redis`` (RedisBus)."""

    def __init__(self, name: str, tmp: Path, redis_url: str | None = None, **args: Any) -> None:
        self.name = name
        self.tmp = tmp
        self.port = _port()
        self.redis_url = redis_url
        self.prefix = f"test-{uuid.uuid4().hex[:10]}:"
        self.args = args
        self.followers: list[Follower] = []
        self.proc: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=DEADLINE_S)
        self.start(cum_base=0)

    def start(self, cum_base: int) -> None:
        cmd = [sys.executable, "-m", "tests.integration.bus.publisher", "--port", str(self.port),
               "--prefix", self.prefix, "--cum-base", str(cum_base)]  # fmt: skip
        if self.redis_url:
            cmd += ["--redis", self.redis_url]
        for k, v in self.args.items():
            cmd += [f"--{k.replace('_', '-')}", str(v)]
        log = open(self.tmp / f"publisher-{self.port}-{cum_base}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        assert wait_for(self._up), "the publisher process did not start"

    def _up(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"publisher exited with {self.proc.returncode}")
        try:
            return self.http.get("/state", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def publish(self, **body: Any) -> dict[str, Any]:
        r = self.http.post("/publish", json=body)
        r.raise_for_status()
        out: dict[str, Any] = r.json()
        if self.redis_url:  # RedisBus publishes from its own thread: until it is out
            assert wait_for(lambda: self.state()["redis_backlog"] == 0)
        return out

    def state(self) -> dict[str, Any]:
        out: dict[str, Any] = self.http.get("/state").json()
        return out

    def epoch(self) -> str:
        return str(self.state()["epoch"])

    def restart(self, cum_base: int) -> None:
        """``kill -9`` and start again on the same port (a crashed hub coming back)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self.start(cum_base)

    def cut_subscribers(self) -> None:
        """Cut every subscriber's connection from the far side."""
        if self.redis_url is None:
            assert self.http.post("/close-subscribers").json()["closed"] >= 1
            return
        r = redis.Redis.from_url(self.redis_url)
        try:
            names = {f.name for f in self.followers}
            ids = [c["id"] for c in r.client_list() if c.get("name") in names]
            assert ids, "the follower's Redis connection is not there"
            for cid in ids:
                r.client_kill_filter(_id=cid)
        finally:
            r.close()

    def follower(self, col: Collector, **kw: Any) -> Follower:
        f: Follower
        name = f"bus-test-{uuid.uuid4().hex[:8]}"
        if self.redis_url:
            f = RedisFollower(self.redis_url, prefix=self.prefix, name=name, **kw)
        else:
            f = StreamFollower(f"http://127.0.0.1:{self.port}", name=name, **kw)
        f.subscribe(col)
        self.followers.append(f)
        return f

    def close(self) -> None:
        for f in self.followers:
            f.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)
        self.http.close()
