"""End-to-end plumbing: the simulator market (REST + live WebSocket on one port), ground
truth, a pausable TCP proxy (database outages) and hub runners (in-process or
``gslts sub-server``).

The market is :class:`gslts_kiwoom.sim.Simulator` (its ticker thread makes trades) served by
its own app: ka10032 ranking, ka10079 tick chart, au10001 tokens and the ``0B``/``0D``
WebSocket; faults go through its public ``POST /_sim/faults``. :class:`MarketFeed` records
every trade through the simulator's listener API: the ground truth the tests compare with.

Hubs under test see only the settings a test gives them: an in-process hub gets
:class:`IsolatedHubSettings` (no ``.env``, no environment variables), a ``gslts sub-server``
subprocess a clean environment of explicit settings and an empty working directory, so a
developer's ``.env`` or exported ``HUB_*``/``KIWOOM_*`` variables never change what a test
proves.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import uvicorn
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from gslts_db import make_engine
from gslts_hub.settings import HubSettings
from gslts_kiwoom.krx import KST
from gslts_kiwoom.sim import SimConfig, Simulator, Trade, create_app

#: What a hub subprocess inherits from the test's environment: enough to run a program,
#: nothing that is a setting (every setting is passed explicitly, see :class:`HubProcess`).
_PASSTHROUGH_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")


class IsolatedHubSettings(HubSettings):
    """:class:`HubSettings` built from the values passed in only: no ``.env`` file and no
    environment variables are read (the field defaults fill the rest)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def isolated_settings(env: Mapping[str, str]) -> IsolatedHubSettings:
    """In-process hub settings from ``hub_env``-style ``NAME=value`` pairs (an empty
    ``REDIS_URL`` means no Redis), isolated from ``.env`` and the environment."""
    kwargs: dict[str, Any] = {k.lower(): v for k, v in env.items()}
    kwargs["redis_url"] = env.get("REDIS_URL") or None
    return IsolatedHubSettings(_env_file=None, **kwargs)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MarketFeed:
    """Records every trade the simulator makes (the ground truth), via its listener API."""

    def __init__(self, sim: Simulator) -> None:
        self._lock = threading.Lock()
        self.trades: list[Trade] = []
        sim.add_listener(self._on_event)

    def _on_event(self, ev: object) -> None:
        if type(ev) is Trade:
            with self._lock:
                self.trades.append(ev)

    def truth(self, codes: Sequence[str] | None = None) -> list[Trade]:
        with self._lock:
            out = list(self.trades)
        if codes is not None:
            want = set(codes)
            out = [t for t in out if t.code in want]
        return out


class Market:
    """Simulator REST + WebSocket on one uvicorn port (in a thread)."""

    def __init__(self, trades_per_s: float = 300.0, **sim_overrides: Any) -> None:
        cfg: dict[str, Any] = {
            "trades_per_s": trades_per_s,
            "tick_interval_s": 0.05,
            "default_rate_per_s": 50.0,
            "rate_burst": 50,
            "trade_history": 50_000,
            "seed": 7,
            "ws_ping_s": 1.0,
        }
        cfg.update(sim_overrides)
        self.sim = Simulator(SimConfig(**cfg))
        self.feed = MarketFeed(self.sim)
        self._issued: set[int] = set()
        issue = self.sim.issue_token

        def counted(app_key: str) -> Any:
            tok = issue(app_key)
            self._issued.add(hash(tok.token))
            return tok

        self.sim.issue_token = counted  # type: ignore[method-assign]
        app = create_app(self.sim)  # REST + the simulator's live WebSocket on one port
        self.port = free_port()
        self.rest_url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/api/dostk/websocket"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", ws_ping_interval=None
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, daemon=True, name="e2e-market")

    @property
    def tokens_issued(self) -> int:
        """Distinct au10001 tokens the simulator handed out (a re-issue of a still valid
        token counts once; with ``token_reissue_invalidates_old`` every issue is new)."""
        return len(self._issued)

    def start(self) -> Market:
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("market server did not start")
            time.sleep(0.02)
        return self

    def halt_trading(self) -> None:
        """Stop the market (no more trades); the servers stay up."""
        self.sim.stop()

    def stop(self) -> None:
        self.sim.stop()
        self.server.should_exit = True
        self._thread.join(10)

    # -- faults ------------------------------------------------------------------------
    def fault(self, **body: Any) -> dict[str, Any]:
        """``POST /_sim/faults`` (the simulator's public fault switch)."""
        import httpx

        r = httpx.post(self.rest_url + "/_sim/faults", json=body, timeout=10)
        r.raise_for_status()
        out: dict[str, Any] = r.json()
        return out

    def trade_only(self, codes: Sequence[str], trades_per_s: float = 300.0) -> None:
        """``POST /_sim/rate`` with ``codes``: only those stocks trade from now on."""
        import httpx

        body = {"trades_per_s": trades_per_s, "codes": list(codes)}
        httpx.post(self.rest_url + "/_sim/rate", json=body, timeout=10).raise_for_status()

    def drop_connections(self) -> int:
        """Close every WebSocket session; returns how many there were (the fault hit)."""
        return int(self.fault(drop_connections=True)["ws_faults"]["dropped"])

    def stall(self) -> None:
        self.fault(stall=True)

    def unstall(self) -> None:
        self.fault(stall=False)

    def expire_tokens(self) -> None:
        """Every token dies; open sessions are dropped so the hub must re-LOGIN."""
        self.fault(expire_tokens=True, drop_connections=True)


class PausableProxy:
    """A loopback TCP proxy (asyncio, own thread) that can simulate a database outage.

    ``pause()`` cuts every open connection and refuses new ones (accept + close) until
    ``resume()``: to the hub it looks like MariaDB went away. ``stall()`` keeps connections
    open but swallows everything sent through them until ``resume()`` (a hung server).
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.paused = False
        self.stalled = False
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="e2e-proxy")

    def start(self) -> PausableProxy:
        self._thread.start()
        self._ready.wait(5)
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def main() -> None:
            server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
            self._ready.set()
            async with server:
                await server.serve_forever()

        with contextlib.suppress(asyncio.CancelledError, RuntimeError):
            self._loop.run_until_complete(main())

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.paused:
            writer.close()
            return
        try:
            ur, uw = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, uw))

        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            try:
                while data := await r.read(65536):
                    if self.stalled:
                        continue  # a hung server: requests vanish, no answer comes
                    w.write(data)
                    await w.drain()
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                self._writers.discard(w)
                with contextlib.suppress(RuntimeError):  # loop already closed at stop()
                    w.close()

        await asyncio.gather(pipe(reader, uw), pipe(ur, writer))

    def pause(self) -> None:
        def cut() -> None:
            self.paused = True
            for w in list(self._writers):
                w.transport.abort()
            self._writers.clear()

        self._loop.call_soon_threadsafe(cut)
        time.sleep(0.1)

    def stall(self) -> None:
        self.stalled = True

    def resume(self) -> None:
        self.paused = False
        self.stalled = False

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


@contextlib.contextmanager
def own_schema(mysql_url: str) -> Iterator[str]:
    """A fresh database on the server for one test; yields its URL; dropped afterwards."""
    name = f"gslts_e2e_{uuid.uuid4().hex[:8]}"
    root = make_engine(sa.make_url(mysql_url)._replace(database=None))
    with root.begin() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
    try:
        yield sa.make_url(mysql_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with root.begin() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        root.dispose()


def hub_env(market: Market, db_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for a hub pointed at ``market`` (fast test timings)."""
    env = {
        "KIWOOM_MODE": "sim",
        "KIWOOM_REST_URL": market.rest_url,
        "KIWOOM_WS_URL": market.ws_url,
        "KIWOOM_RATE_PER_S": "20",
        "KIWOOM_RATE_BURST": "20",
        "DATABASE_URL": db_url,
        "DATA_DIR": str(data_dir),
        "REDIS_URL": "",
        "HUB_SCHEDULE": "always",
        "HUB_UNIVERSE_SIZE": "12",
        "HUB_UNIVERSE_EXIT_RANK": "30",
        "HUB_UNIVERSE_REFRESH_S": "600",
        "HUB_WS_WATCHDOG_S": "3",
        "HUB_FLUSH_INTERVAL_S": "0.2",
        "HUB_JOURNAL_FSYNC_S": "0.5",
    }
    env.update(extra)
    return env


def child_pids(pid: int) -> list[int]:
    """PIDs of ``pid``'s direct children (Linux ``/proc``)."""
    out: list[int] = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # "pid (comm) state ppid ...": comm may hold spaces, so split after the ")"
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(stat.parent.name))
    return out


def _zombie(pid: int) -> bool:
    with contextlib.suppress(OSError, IndexError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    return True


class HubProcess:
    """``gslts sub-server`` as a subprocess (so a test can ``kill -9`` it).

    It runs with a clean environment (a few process basics from :data:`_PASSTHROUGH_ENV`
    plus ``env``, the port and the log level) in an empty working directory next to the
    log, so neither a developer's ``.env`` nor their exported settings reach it.
    """

    def __init__(self, env: Mapping[str, str], port: int, log_path: Path) -> None:
        basics = {k: os.environ[k] for k in _PASSTHROUGH_ENV if k in os.environ}
        self.env = {**basics, **env, "HUB_PORT": str(port), "LOG_LEVEL": "INFO"}
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self.cwd = log_path.parent / f"{log_path.stem}-cwd"
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        exe = Path(sys.executable).with_name("gslts")
        return [str(exe), "sub-server", "--port", str(self.port)]

    def popen_kwargs(self) -> dict[str, Any]:
        """The environment and working directory the hub runs with (the directory made)."""
        self.cwd.mkdir(parents=True, exist_ok=True)
        return {"env": self.env, "cwd": self.cwd}

    def start(self, timeout: float = 30.0) -> HubProcess:
        import httpx

        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, **self.popen_kwargs()
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hub exited: {self.log_path.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/api/status", timeout=2).status_code == 200:
                    return self
            time.sleep(0.2)
        raise RuntimeError(f"hub did not start: {self.log_path.read_text()[-3000:]}")

    def status(self) -> dict[str, Any]:
        import httpx

        r = httpx.get(self.url + "/api/status", timeout=5)
        r.raise_for_status()
        out: dict[str, Any] = r.json()
        return out

    def kill9(self, children_grace_s: float = 10.0) -> list[int]:
        """``kill -9`` the hub; returns the PIDs of its child processes (the writer process)
        still alive ``children_grace_s`` later — they must notice and exit on their own."""
        assert self.proc is not None
        kids = child_pids(self.proc.pid)
        self.proc.kill()
        self.proc.wait(10)
        deadline = time.monotonic() + children_grace_s
        while kids and time.monotonic() < deadline:
            kids = [k for k in kids if Path(f"/proc/{k}").exists() and not _zombie(k)]
            time.sleep(0.1)
        return kids

    def terminate(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@dataclass(frozen=True)
class Comparison:
    """Stored ticks vs ground truth for the collected stocks.

    ``missing``/``unexpected``/``mismatched`` are ``(code, cum_volume)`` keys; ``unstored``
    the collected stocks with ground-truth trades and not one stored row (their trades are
    all in ``missing`` too).
    """

    expected: int
    stored: int
    missing: list[tuple[str, int]]
    unexpected: list[tuple[str, int]]
    mismatched: list[tuple[str, int]]
    duplicates: int
    unstored: list[str]


def stored_ticks(engine: sa.Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(
            conn.exec_driver_sql(
                "SELECT stock_code, venue, trade_date, cum_volume, trade_time, price, volume, "
                "source FROM tick_data"
            )
        )


def trade_second(t: Trade) -> datetime:
    """The trade's time as the hub can know it: naive KST, whole seconds (0B FID 20 and
    ka10079 ``cntr_tm`` carry no fraction), as ``tick_data.trade_time`` stores it."""
    return t.time.astimezone(KST).replace(tzinfo=None, microsecond=0)


def compare(engine: sa.Engine, truth: Sequence[Trade], codes: Sequence[str]) -> Comparison:
    """Every ground-truth trade of each collected stock must be stored exactly once with
    the same day, trade time (whole seconds), price and quantity (a backfilled trade
    carries no direction, so its quantity is compared unsigned).

    A stored stock is expected from its first stored trade on (the hub starts collecting
    at some moment); a collected stock with ground-truth trades and nothing stored is
    expected whole, so it fails as ``missing`` (and is named in ``unstored``) instead of
    dropping out of the comparison."""
    want = set(codes)
    rows = [r for r in stored_ticks(engine) if r.stock_code in want]
    truth = [t for t in truth if t.code in want]
    keys = [(r.stock_code, r.venue, r.trade_date, r.cum_volume) for r in rows]
    stored = {(r.stock_code, r.cum_volume): r for r in rows}
    first: dict[str, int] = {}
    for r in rows:
        first[r.stock_code] = min(first.get(r.stock_code, r.cum_volume), r.cum_volume)
    unstored = sorted({t.code for t in truth} - set(first))
    expected = {
        (t.code, t.cum_volume): t
        for t in truth
        if t.code not in first or t.cum_volume >= first[t.code]
    }
    missing = sorted(k for k in expected if k not in stored)
    unexpected = sorted(k for k in stored if k not in expected)
    mismatched = []
    for k, t in expected.items():
        r = stored.get(k)
        if r is None:
            continue
        vol_ok = r.volume == t.volume if r.source == "live" else abs(r.volume) == abs(t.volume)
        same_time = r.trade_date == t.time.astimezone(KST).date() and (
            r.trade_time == trade_second(t)
        )
        if r.price != t.price or not vol_ok or not same_time:
            mismatched.append(k)
    return Comparison(
        expected=len(expected),
        stored=len(rows),
        missing=missing,
        unexpected=unexpected,
        mismatched=sorted(mismatched),
        duplicates=len(keys) - len(set(keys)),
        unstored=unstored,
    )


def stored_sources(engine: sa.Engine) -> dict[tuple[str, int], str]:
    """``(code, cum_volume)`` → ``source`` of every stored trade."""
    return {(r.stock_code, int(r.cum_volume)): r.source for r in stored_ticks(engine)}


def wait_for(pred: Callable[[], bool], timeout: float, poll: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(poll)
    return pred()


_LOG_FIELDS = re.compile(r"(\w+)=(\S+)")


def _log_lines(log_text: str, kind: str) -> list[dict[str, str]]:
    """``key=value`` fields of the hub log lines of one kind (e.g. ``backfill_gap``)."""
    out = []
    for line in log_text.splitlines():
        if f" {kind} " in line or line.rstrip().endswith(f" {kind}"):
            out.append(dict(_LOG_FIELDS.findall(line.split(f" {kind} ", 1)[-1])))
    return out


def loss_report(
    res: Comparison, truth: Sequence[Trade], marks: Mapping[str, int], log_text: str
) -> str:
    """What a developer needs to act on missing trades, per stock and run of consecutive
    missing trades: their cumulative volumes and times, where they lie relative to the
    ``marks`` (name → number of ground-truth trades recorded at that moment, e.g. the kill
    and the restart), the restart gap's anchors (seeded = last trade the previous process
    kept; live = first trade received after the restart) and the backfill result, all from
    the hub's log."""
    if not res.missing:
        return "nothing missing"
    index = {(t.code, t.cum_volume): i for i, t in enumerate(truth)}
    seeded = {d["code"]: d for d in _log_lines(log_text, "backfill_anchor_seeded")}
    gaps = {d["code"]: d for d in _log_lines(log_text, "backfill_gap_anchors")}
    filled = {d["code"]: d for d in _log_lines(log_text, "backfill_gap")}
    order = sorted(marks.items(), key=lambda kv: kv[1])

    def phase(i: int) -> str:
        before = [name for name, n in order if n <= i]
        after = [name for name, n in order if n > i]
        return f"after {before[-1] if before else 'start'}" + (
            f", before {after[0]}" if after else ""
        )

    lines = [f"{len(res.missing)} of {res.expected} trades missing; marks {dict(marks)}"]
    by_code: dict[str, list[int]] = {}
    for code, cum in res.missing:
        by_code.setdefault(code, []).append(cum)
    for code, cums in sorted(by_code.items()):
        seed, gap, fill = seeded.get(code), gaps.get(code), filled.get(code)
        wrong = sum(1 for c, _ in res.unexpected if c == code)
        lines.append(
            f"{code}: {len(cums)} missing, {wrong} stored under keys no trade has; "
            f"seeded anchor cum={seed and seed.get('cum')}; "
            f"gap stored_cum={gap and gap.get('stored_cum')} first live "
            f"cum={gap and gap.get('live_cum')}; backfill "
            f"ticks={fill and fill.get('ticks')} consistent={fill and fill.get('consistent')}"
        )
        stock = sorted((t for t in truth if t.code == code), key=lambda t: t.cum_volume)
        pos = {t.cum_volume: k for k, t in enumerate(stock)}
        runs: list[list[int]] = []
        for cum in sorted(cums):
            if runs and pos.get(cum, -9) == pos.get(runs[-1][-1], -9) + 1:
                runs[-1].append(cum)
            else:
                runs.append([cum])
        for run in runs:
            first = stock[pos[run[0]]] if run[0] in pos else None
            last = stock[pos[run[-1]]] if run[-1] in pos else None

            def where(c: int, code: str = code) -> str:
                i = index.get((code, c))
                return "?" if i is None else phase(i)

            rel = []
            for name, d, key in (("seeded", seed, "cum"), ("live", gap, "live_cum")):
                if d is not None and key in d:
                    a = int(d[key])
                    rel.append(f"{'≤' if run[-1] <= a else '>'}{name}")
            lines.append(
                f"  cum {run[0]}..{run[-1]} ({len(run)} trades, "
                f"{first.time.time() if first else '?'}..{last.time.time() if last else '?'}): "
                f"first {where(run[0])}; last {where(run[-1])}; {' '.join(rel)}"
            )
    return "\n".join(lines)
