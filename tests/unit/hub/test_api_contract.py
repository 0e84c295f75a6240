"""The hub API holds its contract at the edges: extreme dates, huge bodies, hostile Host
headers, malformed codes, duplicates, paging of CSV, and errors that are always the one
JSON shape (short, never echoing the input, never a 500 or plain text)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from gslts_db import StockMaster, TickRow, WatchlistItem, insert_ticks
from gslts_hub.app import create_app
from gslts_hub.hub import Hub
from gslts_hub.settings import HubSettings
from gslts_hub.watchlist import WatchlistStore, WatchlistUnavailable
from gslts_kiwoom import KiwoomClient
from gslts_kiwoom.realtime import KST
from tests.unit.kiwoom.fakes import Clock, FakeKiwoom, make_client, make_config, reply

DAY = datetime(2026, 3, 3, 9, 0, tzinfo=KST)
BASE = "http://127.0.0.1:8001"
WS = "ws://127.0.0.1:8001/ws/status"


def _ticks(n: int) -> list[TickRow]:
    return [
        TickRow("005930", DAY.date(), "KRX", 100 + i, DAY + timedelta(seconds=i),
                DAY + timedelta(seconds=i, milliseconds=5), 70_000 + i, 1, i)
        for i in range(n)
    ]  # fmt: skip


def _unknown_stock(_: Any, body: dict[str, Any]) -> httpx.Response:
    return reply(
        {"return_code": 2, "return_msg": "입력 값 오류입니다[1902:존재하지 않는 종목코드입니다]"}
    )


def _app(settings: HubSettings, fake: FakeKiwoom | None = None) -> FastAPI:
    if fake is None:
        fake = FakeKiwoom(Clock())
        fake.handlers["ka10001"] = _unknown_stock
    kiwoom = make_client(fake)
    return create_app(settings, hub_factory=lambda s: Hub(s, connect=False, client=kiwoom))


def _seed(hub: Hub) -> None:
    with hub.engine.begin() as conn:
        insert_ticks(conn, _ticks(25))
        conn.execute(
            sa.insert(StockMaster),
            [{"stock_code": c, "name": n, "chosung": "", "market": "KOSPI", "updated_at": DAY}
             for c, n in (("005930", "삼성전자"), ("000660", "SK하이닉스"))],
        )  # fmt: skip


@pytest.fixture
def client(hub_settings: HubSettings) -> Iterator[TestClient]:
    app = _app(hub_settings)
    with TestClient(app, base_url=BASE) as c:
        _seed(app.state.hub)
        yield c


def _hub(c: TestClient) -> Hub:
    hub: Hub = c.app.state.hub  # type: ignore[attr-defined]
    return hub


def _is_error(r: httpx.Response, status: int, name: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text[:300])
    assert r.headers["content-type"] == "application/json"
    body: dict[str, Any] = r.json()
    assert set(body) == {"error", "detail"}
    if name is not None:
        assert body["error"] == name
    return body


# ------------------------------------------------------------------ extreme dates
@pytest.mark.parametrize(
    "params",
    [
        {"start_time": "9999-12-31T00:00:00"},
        {"start_time": "0001-01-01T00:00:00+14:00"},
        {"end_time": "0001-01-01T00:00:00+14:00"},
        {"start_time": "0001-01-01T00:00:00+14:00", "end_time": "9999-12-31T23:59:59-23:59"},
        {"start_time": "9999-12-31T23:59:59.999999-23:59", "format": "csv"},
    ],
)
def test_extreme_dates_are_an_answer_not_a_500(client: TestClient, params: dict[str, str]) -> None:
    r = client.get("/api/tick-data/005930", params=params)
    assert r.status_code == 200, r.text[:300]
    if params.get("format") != "csv":
        ticks = r.json()["ticks"]
        # the whole history lies inside 0001..9999: every stored tick, else none
        assert len(ticks) in (0, 25)


def test_the_widest_window_returns_every_tick(client: TestClient) -> None:
    r = client.get(
        "/api/tick-data/005930",
        params={"start_time": "0001-01-01T00:00:00+14:00", "end_time": "9999-12-31T23:59:59Z"},
    )
    assert [t["cum_volume"] for t in r.json()["ticks"]] == list(range(100, 125))


@pytest.mark.parametrize("value", ["2026-13-01T00:00:00", "0000-01-01T00:00:00", "0.5", "now"])
def test_a_time_that_is_no_time_is_a_422(client: TestClient, value: str) -> None:
    body = _is_error(client.get("/api/tick-data/005930", params={"start_time": value}), 422)
    assert body["detail"].startswith("start_time")


def test_only_an_end_time_means_the_day_before_it(client: TestClient) -> None:
    r = client.get("/api/tick-data/005930", params={"end_time": "2026-03-03T09:00:10+09:00"})
    assert [t["cum_volume"] for t in r.json()["ticks"]] == list(range(100, 110))


# ------------------------------------------------------------------ request bodies
def _scope(path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8001"), (b"content-type", b"application/json"),
                    *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8001),
        "state": {},
    }  # fmt: skip


def _asgi_post(
    app: FastAPI, chunks: Iterator[bytes], headers: list[tuple[bytes, bytes]]
) -> tuple[int, dict[str, str], bytes, int]:
    """POST through the ASGI interface with a body that arrives chunk by chunk; returns
    status, headers, body and how many chunks the app pulled."""
    pulled = 0
    done = False
    out: dict[str, Any] = {"body": b""}

    async def receive() -> dict[str, Any]:
        nonlocal pulled, done
        if done:
            return {"type": "http.disconnect"}
        chunk = next(chunks, None)
        if chunk is None:
            done = True
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += 1
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
            out["headers"] = {k.decode(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            out["body"] += message.get("body", b"")

    asyncio.run(app(_scope("/api/watchlist", headers), receive, send))
    return out["status"], out["headers"], out["body"], pulled


def _endless(chunk: int, total: int) -> Iterator[bytes]:
    yield b'{"stock_code": "005930", "note": "'
    for _ in range(total // chunk):
        yield b"x" * chunk


def test_a_streamed_body_without_length_is_cut_off_at_the_limit(client: TestClient) -> None:
    app: FastAPI = client.app  # type: ignore[assignment]
    chunk = 16 * 1024
    status, headers, body, pulled = _asgi_post(
        app, _endless(chunk, 8 * 1024 * 1024), [(b"transfer-encoding", b"chunked")]
    )
    assert status == 413
    assert json.loads(body)["error"] == "ContentTooLarge"
    assert headers["connection"] == "close"
    # 64 KiB allowed: the app stopped reading right after the chunk that passed it
    assert pulled <= 64 * 1024 // chunk + 2, pulled


def test_a_declared_length_over_the_limit_is_refused_unread(client: TestClient) -> None:
    app: FastAPI = client.app  # type: ignore[assignment]
    status, _, body, pulled = _asgi_post(
        app, _endless(65536, 300 * 1024 * 1024), [(b"content-length", b"314572800")]
    )
    assert status == 413
    assert json.loads(body) == {
        "error": "ContentTooLarge",
        "detail": "request body over 65536 bytes",
    }
    assert pulled == 0


def test_the_body_limit_is_a_setting(hub_settings: HubSettings) -> None:
    app = _app(hub_settings.model_copy(update={"hub_max_body_bytes": 100}))
    with TestClient(app, base_url=BASE) as c:
        _seed(app.state.hub)
        small = c.post("/api/watchlist", json={"stock_code": "005930"})
        assert small.status_code == 201
        big = c.post("/api/watchlist", json={"stock_code": "000660", "note": "x" * 120})
        _is_error(big, 413, "ContentTooLarge")
        assert [i["stock_code"] for i in c.get("/api/watchlist").json()["items"]] == ["005930"]


class _Uvicorn:
    def __init__(self, app: FastAPI, port: int) -> None:
        import uvicorn

        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> _Uvicorn:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            assert self.thread.is_alive(), "uvicorn exited"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def _read_response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        part = sock.recv(65536)
        if not part:
            break
        data += part
    head, _, rest = data.partition(b"\r\n\r\n")
    length = next(
        (
            int(h.split(b":")[1])
            for h in head.split(b"\r\n")
            if h.lower().startswith(b"content-length")
        ),
        0,
    )
    while len(rest) < length:
        part = sock.recv(65536)
        if not part:
            break
        rest += part
    return head + b"\r\n\r\n" + rest


def test_a_real_server_answers_a_huge_chunked_upload_early(
    hub_settings: HubSettings, free_port: int
) -> None:
    """Over a socket (uvicorn): 413 arrives while the client is still sending; it never
    has to send the 300 MB the tester sent."""
    app = _app(hub_settings)
    with _Uvicorn(app, free_port), socket.create_connection(("127.0.0.1", free_port)) as sock:
        sock.sendall(
            b"POST /api/watchlist HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"x" * 65536
        frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
        sent = 0
        sock.settimeout(60)
        # send until the answer is there (or the server closed); 300 MB would be the bug
        while sent < 300 * 1024 * 1024:
            try:
                sock.setblocking(False)
                if sock.recv(1, socket.MSG_PEEK):
                    break
            except BlockingIOError:
                pass
            finally:
                sock.settimeout(60)
            try:
                sock.sendall(frame)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        answer = _read_response(sock)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["error"] == "ContentTooLarge"
    assert sent < 64 * 1024 * 1024, sent  # socket buffers, not the whole upload


def test_a_real_server_refuses_a_declared_huge_body_before_it_is_sent(
    hub_settings: HubSettings, free_port: int
) -> None:
    app = _app(hub_settings)
    with _Uvicorn(app, free_port), socket.create_connection(("127.0.0.1", free_port)) as sock:
        sock.settimeout(60)
        sock.sendall(
            b"POST /api/watchlist HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 314572800\r\n\r\n"
        )
        answer = _read_response(sock)  # no body byte sent: the answer must come anyway
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


# ------------------------------------------------------------------ watchlist contract
def test_a_duplicate_add_answers_200_with_what_is_stored(client: TestClient) -> None:
    first = client.post("/api/watchlist", json={"stock_code": "005930", "note": "first"})
    assert first.status_code == 201
    again = client.post("/api/watchlist", json={"stock_code": "005930", "note": "second"})
    assert again.status_code == 200
    assert again.json() == first.json()  # the stored note and time, not the new ones
    assert again.json()["note"] == "first"
    items = client.get("/api/watchlist").json()["items"]
    assert items == [first.json()]


@pytest.mark.parametrize("code", ["005930\n", "005930 ", " 005930", "00593", "0059300", "a05930"])
def test_only_a_whole_six_character_code_is_accepted(client: TestClient, code: str) -> None:
    _is_error(client.post("/api/watchlist", json={"stock_code": code}), 422, "BadInput")
    _is_error(client.delete(f"/api/watchlist/{quote(code, safe='')}"), 422)
    _is_error(client.get(f"/api/tick-data/{quote(code, safe='')}"), 422)
    with _hub(client).engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(WatchlistItem)).scalar() == 0
    assert _hub(client).watchlist == set()


def test_a_code_with_capitals_is_a_stock_code(client: TestClient) -> None:
    r = client.post("/api/watchlist", json={"stock_code": "0088M0"})
    _is_error(r, 404, "NotFound")  # well-formed, asked Kiwoom: not listed


def test_kiwoom_unreachable_is_a_503_not_unknown(hub_settings: HubSettings) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    kiwoom = KiwoomClient(make_config(), transport=httpx.MockTransport(down))
    app = create_app(hub_settings, hub_factory=lambda s: Hub(s, connect=False, client=kiwoom))
    with TestClient(app, base_url=BASE) as c:
        r = c.post("/api/watchlist", json={"stock_code": "123450"})
        body = _is_error(r, 503, "Unavailable")
        assert "TransportError" in body["detail"]
        assert r.headers["retry-after"] == "1"


def test_an_empty_post_names_the_missing_body(client: TestClient) -> None:
    body = _is_error(client.post("/api/watchlist"), 422, "BadInput")
    assert body["detail"] == "body: Field required"
    body = _is_error(client.post("/api/watchlist", json={}), 422)
    assert body["detail"].startswith("stock_code: Field required")


# ------------------------------------------------------------------ CSV paging
def test_csv_honours_limit_and_gives_the_next_cursor_in_a_header(client: TestClient) -> None:
    params: dict[str, Any] = {"start_time": DAY.isoformat(), "format": "csv", "limit": 10}
    seen: list[int] = []
    pages = 0
    while True:
        r = client.get("/api/tick-data/005930", params=params)
        assert r.status_code == 200
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert len(rows) <= 10
        seen += [int(row["cum_volume"]) for row in rows]
        pages += 1
        nxt = r.headers.get("x-next-cursor")
        if nxt is None:
            break
        params["cursor"] = nxt
        assert pages < 10
    assert pages == 3
    assert seen == list(range(100, 125))


def test_json_pages_carry_the_cursor_in_the_header_too(client: TestClient) -> None:
    r = client.get("/api/tick-data/005930", params={"start_time": DAY.isoformat(), "limit": 5})
    assert r.headers["x-next-cursor"] == r.json()["next_cursor"]


# ------------------------------------------------------------------ errors stay short
@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("GET", "/api/tick-data/" + "9" * 60_000, {}),
        ("DELETE", "/api/watchlist/" + "A" * 60_000, {}),
        ("GET", "/api/tick-data/005930", {"params": {"cursor": "Q" * 60_000}}),
        ("GET", "/api/tick-data/005930", {"params": {"start_time": "2" * 60_000}}),
        ("GET", "/api/tick-data/005930", {"params": {"format": "x" * 60_000}}),
        ("POST", "/api/watchlist", {"json": {"stock_code": "0" * 60_000}}),
        ("POST", "/api/watchlist", {"json": {"stock_code": "005930", "note": "n" * 60_000}}),
        ("POST", "/api/watchlist", {"json": ["x" * 60_000]}),
        ("POST", "/api/watchlist", {"content": b"{" + b"x" * 60_000,
                                    "headers": {"content-type": "application/json"}}),
    ],
)  # fmt: skip
def test_a_422_never_echoes_the_input(
    client: TestClient, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    r = client.request(method, path, **kwargs)
    _is_error(r, 422, "BadInput")
    assert len(r.content) < 700, r.text[:800]


# ------------------------------------------------------------------ Host (DNS rebinding)
@pytest.mark.parametrize("host", ["evil.example", "evil.example:8001", "127.0.0.1.evil.example",
                                  "localhost.evil.example:8001", ""])  # fmt: skip
def test_a_foreign_host_is_refused(client: TestClient, host: str) -> None:
    for path in ("/api/status", "/api/watchlist", "/", "/openapi.json"):
        body = _is_error(client.get(path, headers={"host": host}), 400, "HostNotAllowed")
        assert "HUB_ALLOWED_HOSTS" in body["detail"] or "no Host" in body["detail"]
    r = client.post("/api/watchlist", json={"stock_code": "005930"}, headers={"host": host})
    _is_error(r, 400, "HostNotAllowed")
    assert _hub(client).watchlist == set()


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.1:8001", "localhost:8001",
                                  "LOCALHOST", "[::1]:8001", "[::1]"])  # fmt: skip
def test_loopback_names_are_allowed(client: TestClient, host: str) -> None:
    assert client.get("/api/health", headers={"host": host}).status_code == 200


def test_allowed_hosts_come_from_the_settings(hub_settings: HubSettings) -> None:
    settings = hub_settings.model_copy(
        update={"hub_allowed_hosts": "sub-server, hub.lan", "hub_host": "192.168.0.5"}
    )
    with TestClient(_app(settings), base_url=BASE) as c:
        for host in ("sub-server:8001", "hub.lan", "192.168.0.5:8001", "localhost"):
            assert c.get("/api/health", headers={"host": host}).status_code == 200, host
        _is_error(c.get("/api/health", headers={"host": "other.lan"}), 400, "HostNotAllowed")


def test_a_bind_all_hub_host_is_not_an_allowed_name(hub_settings: HubSettings) -> None:
    bind_all = "0.0.0.0"  # noqa: S104 - the value under test, nothing binds here
    assert bind_all not in hub_settings.model_copy(update={"hub_host": bind_all}).allowed_hosts()
    star = hub_settings.model_copy(update={"hub_allowed_hosts": "*"})
    with TestClient(_app(star), base_url=BASE) as c:
        assert c.get("/api/health", headers={"host": "anything.example"}).status_code == 200


def test_the_status_websocket_checks_the_host_too(client: TestClient) -> None:
    with (
        pytest.raises(WebSocketDisconnect),
        client.websocket_connect(WS, headers={"host": "evil.example"}) as ws,
    ):
        ws.receive_bytes()
    with client.websocket_connect(WS) as ws:
        assert "uptime_s" in json.loads(ws.receive_bytes())


def test_the_status_websocket_refuses_a_page_of_another_site(client: TestClient) -> None:
    """The Host is legitimate (the browser connects to 127.0.0.1) but the page is not."""
    with (
        pytest.raises(WebSocketDisconnect),
        client.websocket_connect(WS, headers={"origin": "https://evil.example"}) as ws,
    ):
        ws.receive_bytes()
    with client.websocket_connect(WS, headers={"origin": "http://127.0.0.1:8001"}) as ws:
        assert "uptime_s" in json.loads(ws.receive_bytes())


# ------------------------------------------------------------------ methods
@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/api/watchlist", "GET, HEAD, POST"),
        ("PUT", "/api/health", "GET, HEAD"),
        ("GET", "/api/watchlist/005930", "DELETE"),
        ("POST", "/metrics", "GET, HEAD"),
    ],
)
def test_a_405_says_what_is_allowed(client: TestClient, method: str, path: str, allow: str) -> None:
    r = client.request(method, path)
    _is_error(r, 405, "MethodNotAllowed")
    assert r.headers["allow"] == allow


@pytest.mark.parametrize(
    "path", ["/api/health", "/api/status", "/metrics", "/api/watchlist", "/api/tick-data/005930"]
)
def test_head_answers_like_get_without_a_body(client: TestClient, path: str) -> None:
    get = client.get(path)
    head = client.head(path)
    assert head.status_code == get.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]


def test_an_unknown_path_is_the_json_404(client: TestClient) -> None:
    _is_error(client.get("/api/nothing-here"), 404, "NotFound")


# ------------------------------------------------------------------ failures inside
def test_a_database_outage_is_a_503(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def gone(*_: object) -> None:
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("password=hunter2 host gone"))

    monkeypatch.setattr(_hub(client).watch_store, "entries", gone)
    body = _is_error(client.get("/api/watchlist"), 503, "Unavailable")
    assert "hunter2" not in body["detail"]


def test_a_bug_is_a_json_500_without_details(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> None:
        raise RuntimeError("secret-ish internals")

    monkeypatch.setattr(_hub(client), "status", broken)
    quiet = TestClient(client.app, base_url=BASE, raise_server_exceptions=False)
    body = _is_error(quiet.get("/api/status"), 500, "InternalError")
    assert "secret" not in body["detail"]


# ------------------------------------------------------------------ OpenAPI
def test_openapi_declares_the_real_error_shape_and_media_types(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert "ValidationError" not in schemas
    ref = {"$ref": "#/components/schemas/ErrorBody"}
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            for status, resp in op["responses"].items():
                if status.startswith("4"):
                    assert resp["content"]["application/json"]["schema"] == ref, (path, method)
    tick = doc["paths"]["/api/tick-data/{stock_code}"]["get"]
    code = next(p for p in tick["parameters"] if p["name"] == "stock_code")
    assert code["schema"]["pattern"] == "^[0-9][0-9A-Z]{5}$"
    assert schemas["WatchlistIn"]["properties"]["stock_code"]["pattern"] == "^[0-9][0-9A-Z]{5}$"
    assert set(tick["responses"]["200"]["content"]) == {"application/json", "text/csv"}
    metrics = doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert set(metrics) == {"text/plain"}
    post = doc["paths"]["/api/watchlist"]["post"]["responses"]
    assert {"200", "201", "404", "413", "422"} <= set(post)


# ------------------------------------------------------------------ retried writes
class _Deadlock(Exception):
    def __init__(self) -> None:
        super().__init__(1213, "Deadlock found when trying to get lock")


def test_a_deadlocked_write_is_retried_then_reported(hub_settings: HubSettings) -> None:
    engine = sa.create_engine(f"sqlite:///{hub_settings.data_dir / 'w.sqlite3'}")
    sleeps: list[float] = []
    store = WatchlistStore(engine, attempts=3, sleep=sleeps.append)
    calls = 0

    def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise sa.exc.OperationalError("DELETE", {}, _Deadlock())
        return "done"

    assert store._write(flaky) == "done"
    assert calls == 3
    assert len(sleeps) == 2
    assert sleeps[1] > sleeps[0] * 0.5  # backoff grows (jittered)

    def always() -> str:
        raise sa.exc.OperationalError("DELETE", {}, _Deadlock())

    with pytest.raises(WatchlistUnavailable, match="deadlock"):
        store._write(always)

    def other() -> str:
        raise sa.exc.OperationalError("SELECT", {}, Exception("no such table"))

    with pytest.raises(sa.exc.OperationalError):  # not a lock error: not retried
        store._write(other)
    engine.dispose()
