"""KiwoomWebSocket ↔ simulator WebSocket endpoint over real sockets (PROTOCOL.md §5)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
import websocket

from gslts_kiwoom._ws import (
    KiwoomWebSocket,
    RealtimeLoginError,
    RealtimeRegistrationError,
    SessionTakenOver,
    WsConfig,
)
from gslts_kiwoom.realtime import OrderBook, OrderEvent, OrderState, Trade

from .conftest import SimEnv, echoes_seen

#: Deadline of every wait on a condition (a wait returns as soon as it holds): generous,
#: as CI runs these on 2 busy cores.
DEADLINE_S = 30.0

#: Reconnects fast (short backoff) but never gives up on a slow server early.
FAST = WsConfig(
    backoff_initial_s=0.1,
    backoff_max_s=0.5,
    ack_timeout_s=DEADLINE_S,
    login_timeout_s=DEADLINE_S,
    watchdog_s=DEADLINE_S,
    takeover_delay_s=0.2,
)


def wait_for(pred: Callable[[], bool], timeout: float = DEADLINE_S) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.01)
    return pred()


def next_trade(client: KiwoomWebSocket, code: str, timeout: float = DEADLINE_S) -> Trade | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for ev in client.get_events(0.05):
            if isinstance(ev, Trade) and ev.code == code:
                return ev
    return None


def drain(client: KiwoomWebSocket) -> None:
    while client.get_events(0):
        pass


class Tokens:
    def __init__(self, *tokens: str) -> None:
        self.tokens = list(tokens)
        self.calls: list[bool] = []

    def __call__(self, force_new: bool) -> str:
        self.calls.append(force_new)
        return self.tokens[min(len(self.calls), len(self.tokens)) - 1]


@pytest.fixture
def clients() -> Iterator[list[KiwoomWebSocket]]:
    made: list[KiwoomWebSocket] = []
    yield made
    for c in made:
        c.close()


def start(
    clients: list[KiwoomWebSocket],
    env: SimEnv,
    token: str = "tok-a",  # noqa: S107 - test token of the sim fixture
    config: WsConfig = FAST,
    **kw: Any,
) -> KiwoomWebSocket:
    c = KiwoomWebSocket(env.url, Tokens(token), config, **kw)
    clients.append(c)
    c.start()
    assert c.wait_ready(DEADLINE_S), "client did not log in"
    return c


def test_login_register_and_trades_flow(
    make_sim: Callable[..., SimEnv], clients: list[KiwoomWebSocket]
) -> None:
    env = make_sim()
    c = start(clients, env)
    c.subscribe(["005930"], ["0B", "0D"])
    trade = next_trade(c, "005930")
    assert trade is not None
    assert trade.price == 20800
    assert trade.venue == "KRX"
    assert trade.volume == 10
    assert c.stats.last_login_at is not None
    assert c.stats.last_tick_age("005930") is not None
    assert wait_for(lambda: c.stats.items_by_type["0D"] > 0)
    ((ident, pairs),) = env.hub.sessions()
    assert ident.app_key == "app-a"
    assert pairs == {("0B", "005930"), ("0D", "005930")}


def test_bad_token_fails_then_fresh_token_is_requested(
    make_sim: Callable[..., SimEnv],
    clients: list[KiwoomWebSocket],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    env = make_sim()
    tokens = Tokens("expired-token", "tok-a")
    errors: list[Exception] = []
    c = KiwoomWebSocket(env.url, tokens, FAST, on_error=errors.append)
    clients.append(c)
    c.start()
    assert c.wait_ready(DEADLINE_S)
    # The 8005 failure makes the next LOGIN ask the provider for a new token.
    assert tokens.calls[:2] == [False, True]
    assert c.stats.login_failures == 1
    assert isinstance(errors[0], RealtimeLoginError)
    assert errors[0].token_rejected
    assert "expired-token" not in str(errors[0])
    assert "ws_login_failed" in caplog.text
    assert "expired-token" not in caplog.text
    assert "tok-a" not in caplog.text


def test_ping_echo_keeps_session_alive(
    make_sim: Callable[..., SimEnv], clients: list[KiwoomWebSocket]
) -> None:
    # frequent PINGs, a 10 s allowance: what counts is that the server saw the echoes
    env = make_sim(ping_interval_s=0.05, max_missed_pings=200)
    c = start(clients, env)
    assert wait_for(lambda: c.stats.pings >= 8 and echoes_seen(env.hub))
    assert env.hub.stats["heartbeat_close"] == 0
    assert c.stats.reconnects == 0
    assert c.ready


def test_missing_ping_echo_gets_r10002_and_close(make_sim: Callable[..., SimEnv]) -> None:
    env = make_sim(ping_interval_s=0.05, max_missed_pings=2)  # tight: load only delays it
    ws = websocket.create_connection(env.url, timeout=DEADLINE_S)
    try:
        ws.send('{"trnm":"LOGIN","token":"tok-a"}')
        assert orjson.loads(ws.recv())["return_code"] == 0
        seen: list[dict[str, Any]] = []
        closed = False
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:  # never echo: the server must give up on us
            try:
                frame = ws.recv()
            except websocket.WebSocketConnectionClosedException:
                closed = True
                break
            if not frame:
                closed = True
                break
            seen.append(orjson.loads(frame))
    finally:
        ws.close()
    assert closed
    assert seen[-1]["trnm"] == "SYSTEM"
    assert seen[-1]["code"] == "R10002"
    assert sum(1 for f in seen if f["trnm"] == "PING") >= 2
    assert env.hub.stats["heartbeat_close"] == 1


def test_no_login_gets_r10004(make_sim: Callable[..., SimEnv]) -> None:
    env = make_sim(login_timeout_s=0.2)
    ws = websocket.create_connection(env.url, timeout=DEADLINE_S)
    try:
        frame = orjson.loads(ws.recv())
    finally:
        ws.close()
    assert frame == {"trnm": "SYSTEM", "code": "R10004", "message": frame["message"]}


def test_reg_ack_checked_and_cap_error_surfaced(
    make_sim: Callable[..., SimEnv], clients: list[KiwoomWebSocket]
) -> None:
    env = make_sim(max_items_per_session=3)
    c = start(clients, env)
    c.subscribe(["000001", "000002", "000003"], ["0B"])
    with pytest.raises(RealtimeRegistrationError) as info:
        c.subscribe(["000004", "000005"], ["0B"], owner="other")
    assert info.value.return_code == 1
    assert "등록 종목수 초과" in info.value.return_msg
    # Nothing of the failed call stays wanted; the earlier registrations are intact.
    assert set(c.subscriptions()) == {("0B", "000001"), ("0B", "000002"), ("0B", "000003")}
    ((_, pairs),) = env.hub.sessions()
    assert {i for _, i in pairs} == {"000001", "000002", "000003"}
    assert next_trade(c, "000003") is not None


def test_local_session_limit(
    make_sim: Callable[..., SimEnv], clients: list[KiwoomWebSocket]
) -> None:
    env = make_sim()
    c = start(clients, env, config=WsConfig(max_items_per_session=2, **_fast_kw()))
    with pytest.raises(RealtimeRegistrationError):
        c.subscribe(["000001", "000002", "000003"], ["0B"])
    assert c.subscriptions() == {}


def _fast_kw() -> dict[str, Any]:
    return {
        "backoff_initial_s": 0.1,
        "backoff_max_s": 0.5,
        "ack_timeout_s": DEADLINE_S,
        "watchdog_s": DEADLINE_S,
        "takeover_delay_s": 0.2,
    }


def test_reconnect_restores_every_registration_within_2s(
    make_sim: Callable[..., SimEnv], clients: list[KiwoomWebSocket]
) -> None:
    env = make_sim()
    c = start(clients, env, config=WsConfig(max_items_per_group=2, **_fast_kw()))
    codes = ["005930", "000660", "035420", "035720", "051910"]
    c.subscribe(codes, ["0B"])
    c.subscribe(["005930"], ["0D"])
    c.subscribe([""], ["00"])
    assert {c.group_of(code) for code in codes} == {"1", "2", "3"}  # sharded 2 per group
    ((_, before),) = env.hub.sessions()
    assert next_trade(c, "051910") is not None
    assert env.hub.drop_all() == 1
    t0 = time.monotonic()
    assert wait_for(lambda: c.stats.reconnects >= 1, 2)
    drain(c)
    seen: set[str] = set()
    while seen != set(codes) and time.monotonic() - t0 < 2.0:
        seen.update(ev.code for ev in c.get_events(0.05) if isinstance(ev, Trade))
    assert seen == set(codes), f"data did not flow again for {set(codes) - seen}"
    ((_, after),) = env.hub.sessions()
    assert after == before


def test_watchdog_heals_a_stalled_connection(
    make_sim: Callable[..., SimEnv], clients: list[KiwoomWebSocket]
) -> None:
    env = make_sim(ping_interval_s=0.1)
    cfg = WsConfig(**{**_fast_kw(), "watchdog_s": 0.5})
    c = start(clients, env, config=cfg)
    c.subscribe(["005930"], ["0B"])
    assert next_trade(c, "005930") is not None
    env.hub.stall()
    assert wait_for(lambda: c.stats.watchdog_timeouts >= 1)
    assert c.wait_ready(DEADLINE_S)
    drain(c)
    assert next_trade(c, "005930") is not None


def test_garbage_frames_are_counted_not_fatal(
    make_sim: Callable[..., SimEnv], clients: list[KiwoomWebSocket]
) -> None:
    env = make_sim()
    c = start(clients, env)
    c.subscribe(["005930"], ["0B"])
    assert next_trade(c, "005930") is not None
    env.hub.send_garbage()
    assert wait_for(lambda: len(c.stats.malformed) >= 6)
    assert set(c.stats.malformed) >= {
        "frame:json",
        "frame:not_object",
        "frame:data",
        "item:shape",
        "0B:field:20",
        "frame:trnm:WHAT",
    }
    drain(c)
    assert next_trade(c, "005930") is not None
    assert c.stats.reconnects == 0


def test_takeover_r10001_stops_when_policy_says_so(
    make_sim: Callable[..., SimEnv], clients: list[KiwoomWebSocket]
) -> None:
    env = make_sim()
    errors: list[Exception] = []
    first = start(
        clients,
        env,
        config=WsConfig(**{**_fast_kw(), "reconnect_on_takeover": False}),
        on_error=errors.append,
    )
    second = start(clients, env, token="tok-a2")
    assert wait_for(lambda: first.stats.takeovers == 1)
    assert wait_for(lambda: not first.ready)
    assert any(isinstance(e, SessionTakenOver) for e in errors)
    time.sleep(0.3)
    assert second.ready
    assert first.stats.reconnects == 0
    assert env.hub.stats["takeover"] == 1


def test_takeover_reconnects_by_default(
    make_sim: Callable[..., SimEnv], clients: list[KiwoomWebSocket]
) -> None:
    env = make_sim(single_session_per_app_key=True)
    first = start(clients, env)
    first.subscribe(["005930"], ["0B"])
    other = KiwoomWebSocket(env.url, Tokens("tok-a2"), FAST)
    other.start()
    try:
        assert other.wait_ready(DEADLINE_S)
        assert wait_for(lambda: first.stats.takeovers >= 1)
    finally:
        other.close()
    # With the intruder gone, the first client takes its session back and data resumes.
    assert wait_for(lambda: first.ready)
    drain(first)
    assert next_trade(first, "005930") is not None


def test_refcounted_subscriptions(
    make_sim: Callable[..., SimEnv], clients: list[KiwoomWebSocket]
) -> None:
    env = make_sim()
    c = start(clients, env)
    c.subscribe(["005930", "000660"], ["0B"], owner="hub-universe")
    c.subscribe(["005930"], ["0B"], owner="user-42")
    c.unsubscribe(["005930", "000660"], ["0B"], owner="hub-universe")
    ((_, pairs),) = env.hub.sessions()
    assert pairs == {("0B", "005930")}  # user-42 still wants it
    c.unsubscribe_owner("user-42")
    ((_, pairs),) = env.hub.sessions()
    assert pairs == set()
    assert c.subscriptions() == {}


def test_order_events_only_for_own_account(
    make_sim: Callable[..., SimEnv], clients: list[KiwoomWebSocket]
) -> None:
    env = make_sim()
    c = start(clients, env)
    c.subscribe([""], ["00"])

    def order(account: str, order_no: str) -> dict[str, Any]:
        return {
            "type": "00",
            "name": "주문체결",
            "item": "A005930",
            "values": {
                "9201": account,
                "9203": order_no,
                "9001": "A005930",
                "913": "접수",
                "302": "삼성전자",
                "900": "10",
                "901": "70000",
                "902": "10",
                "903": "0",
                "904": "0000000",
                "905": "+매수",
                "906": "보통",
                "907": "2",
                "908": "090102",
                "919": "0",
            },
        }

    env.feed.push([order("2222222222", "0000009"), order("1111111111", "0000010")])
    got: list[OrderEvent] = []
    assert wait_for(
        lambda: bool(got.extend(e for e in c.get_events(0.05) if isinstance(e, OrderEvent)) or got)
    )
    time.sleep(0.1)
    got.extend(e for e in c.get_events(0.05) if isinstance(e, OrderEvent))
    assert [(e.order_no, e.code, e.state) for e in got] == [
        ("0000010", "005930", OrderState.ACCEPTED)
    ]


def test_callback_consumer_gets_batches(
    make_sim: Callable[..., SimEnv], clients: list[KiwoomWebSocket]
) -> None:
    env = make_sim()
    books: list[OrderBook] = []
    c = start(
        clients, env, on_events=lambda evs: books.extend(e for e in evs if isinstance(e, OrderBook))
    )
    c.subscribe(["005930"], ["0D"])
    assert wait_for(lambda: len(books) >= 2)
    assert books[0].asks[0] == (20850, 100)
    assert books[0].bids[0] == (20800, 200)


def test_subscribe_from_the_socket_thread_is_refused(
    make_sim: Callable[..., SimEnv], clients: list[KiwoomWebSocket]
) -> None:
    env = make_sim()
    outcome: list[BaseException] = []
    holder: list[KiwoomWebSocket] = []

    def on_events(events: list[Any]) -> None:
        if not outcome:
            try:
                holder[0].subscribe(["000660"], ["0B"])
            except RuntimeError as exc:
                outcome.append(exc)

    c = KiwoomWebSocket(env.url, Tokens("tok-a"), FAST, on_events=on_events)
    holder.append(c)
    clients.append(c)
    c.start()
    assert c.wait_ready(DEADLINE_S)
    c.subscribe(["005930"], ["0B"])
    assert wait_for(lambda: bool(outcome))
    assert "on_events" in str(outcome[0])


def test_bare_ping_echoed_and_system_never_echoed(
    make_sim: Callable[..., SimEnv], clients: list[KiwoomWebSocket]
) -> None:
    env = make_sim(ping_interval_s=30)
    c = start(clients, env)
    env.hub.send_garbage(["PING", '{"trnm":"SYSTEM","code":"R10009","message":"공지"}'])
    assert wait_for(lambda: c.stats.pings == 1 and c.stats.system_messages["R10009"] == 1)
    time.sleep(0.1)
    # Echoing SYSTEM gets a session closed by the server (PROTOCOL §5.3); we must not.
    assert env.hub.stats["system_echoed"] == 0
    assert c.ready
    assert c.stats.reconnects == 0
    assert not c.stats.malformed


def test_slow_consumer_drops_are_counted_and_session_survives(
    make_sim: Callable[..., SimEnv], clients: list[KiwoomWebSocket]
) -> None:
    env = make_sim(ping_interval_s=0.05, max_missed_pings=200)
    c = start(clients, env, config=WsConfig(queue_max_batches=2, **_fast_kw()))
    c.subscribe(["005930", "000660"], ["0B"])
    # Nobody reads the queue: batches beyond 2 are dropped, the socket keeps being served
    # (PINGs read and echoed: the server sees the echoes).
    assert wait_for(lambda: c.stats.dropped_items["Trade"] >= 20)
    assert wait_for(lambda: c.stats.pings >= 5 and echoes_seen(env.hub))
    assert env.hub.stats["heartbeat_close"] == 0
    assert c.stats.reconnects == 0
    assert next_trade(c, "005930") is not None


def test_backoff_is_capped_and_jittered() -> None:
    c = KiwoomWebSocket(
        "ws://127.0.0.1:9/x",
        Tokens("t"),
        WsConfig(backoff_initial_s=0.5, backoff_max_s=4.0, backoff_jitter=0.2),
    )
    delays = [c._backoff(a) for a in range(12)]
    assert 0.5 <= delays[0] <= 0.6
    assert 1.0 <= delays[1] <= 1.2
    assert all(4.0 <= d <= 4.8 for d in delays[3:])
