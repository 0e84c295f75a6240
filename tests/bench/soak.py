"""The tick hub through a whole simulated KRX trading day, with faults on a schedule.

``make soak`` runs the full day (at least 10M trades); ``make bench`` runs the short form
(:func:`run`: 1M trades, every fault once, a few minutes). By hand::

    python -m tests.bench.soak                 # the full day (as make soak)
    python -m tests.bench.soak --short         # the short form (as make bench)
    python -m tests.bench.soak --short --ticks 200000 --warp 200 --faults "10:00 db"

Every knob is a flag (``--help``) and an environment variable ``SOAK_<NAME>`` (e.g.
``SOAK_TICKS=300000``); flags win.

What runs (2 cores: the market, the hub, its writer and MariaDB share them)
--------------------------------------------------------------------------
* **The simulator** in its own process (``SimConfig`` + ``serve``, as ``gslts sim`` but
  with the knobs a day needs: ground truth for every trade of the day, a ka10079 history
  deep enough for the gaps the faults make, the bulk trade path at every rate). Clock
  ``krx``: pre-open, the 08:30-09:00 opening auction (crossing at 09:00), the continuous
  session with static VIs (``--vi-threshold``), the 15:20-15:30 closing auction (crossing at
  15:30) and the close. Trades are spread over the ``--stocks`` most traded stocks.
* **The hub** as ``gslts sub-server`` (``tests/e2e/harness.py`` ``HubProcess``: a clean
  environment, so it can be ``kill -9``-ed and restarted) on its own MariaDB schema
  reached through a ``PausableProxy`` (the database outage), a private ``redis-server``
  (``tests/redis_server.py``: the Redis restart) and its journal on a real tmpfs
  (``tests/smallfs.py``: the disk filling up; needs root). It collects the top
  ``--universe`` stocks by trading value, which includes every traded stock.

Which day
---------
The hub dates a trade by the day it *receives* it (KST, real clock: FID 20 carries only
HHMMSS), and its writer counts "today" by the real clock too. So the simulated day is
**today** (KST): the market starts at today ``--start`` (08:20) and runs, warped, to
``--end`` (15:40). If today is not a KRX trading day the simulator process alone is told
that it is (``krx.is_trading_day`` patched in that process, so its ``krx`` clock still
plays the phases); the hub runs ``HUB_SCHEDULE=always`` either way (its own schedule
follows the real clock, which is not in the simulated session). A run that would cross KST
midnight is refused: the hub's day would change under it.

The faults (``--faults``: ``"HH:MM name, ..."`` in simulated time, run in order; a fault
whose time has passed runs as soon as the previous one is over)
------------------------------------------------------------------------------------------
``drop`` (every ``--drop-every-min`` simulated minutes: the WebSocket connections are
closed), ``stall`` (``--stall-s``: no frames, not even PINGs, so the hub's watchdog must
act), ``garbage`` (``--garbage-frames`` broken frames), ``token`` (every token revoked,
the connection dropped: the re-LOGIN must get a new one), ``db`` (``--db-outage-s``
database outage through the proxy), ``redis`` (redis-server killed for ``--redis-down-s``
and started again), ``storm`` (every REST call answers 429 for ``--storm-s``; the
connection is dropped at its start, so the hub's gap backfill must go through it),
``disk`` (the journal's filesystem filled to the last byte for ``--disk-full-s``, then
cleared; ``--spool-mb`` is small so collection suspends and the gap is backfilled),
``kill9`` (the hub process ``kill -9``-ed, the market trading on for ``--kill-down-s``, a
new hub started on the same journal and database) and ``flood`` (``--flood-ticks-per-s``
trades per wall second, above the writer's capacity, for ``--flood-s``).

What is checked (any failure: exit 1, each reason printed)
----------------------------------------------------------
* Ground truth (``GET /_sim/ground-truth``, every trade of the day) against ``tick_data``
  for the collected stocks with the harness's ``compare``: 0 missing, 0 duplicates, 0
  stored under a key no trade has, 0 mismatched; at least ``--ticks`` stored.
* ``tick_count_today`` of ``/api/status`` equals ``COUNT(*)`` of today in ``tick_data``.
* Resident memory and open file descriptors of the hub and of its writer child, sampled
  every ``--sample-s`` (1 s): per hub process, the median of the last ``--window-s`` is
  within ``--growth-bound-pct`` (10 %) of the median of the ``--window-s`` after
  ``--warmup-s`` of trading (counted from the later of the process's start and the
  09:00 open: the bounded buffers fill only once trades flow). A process that did not
  live two windows past its warm-up (the one killed at 10:00 in the short form) is not
  judged; at least one must be. The control loop and the writer trim the C heap every
  30 s (``gslts_hub.memory``), so a burst's peak does not stay resident.
* No writer stall (``journal.writer_stall_s`` below ``HUB_WRITER_STALL_S`` while the
  database is up; no "writer stalled" health reason).
* Every fault survived (the hub healthy again within ``--recover-s``; after ``kill9`` no
  writer left behind) and visible in ``/api/status`` while it lasted (what it said is
  recorded per fault in the summary).

Output: the summary JSON (``--summary``; per fault: when, what status said, recovery
time), the ``soak.*`` figures merged into ``tests/bench/results/latest.json`` (``make
soak`` and ``python -m tests.bench.soak``; ``make bench`` merges them through its runner)
and the plot of the day (``--plot``, ``tests/bench/soak_plot.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

import httpx
import orjson
import sqlalchemy as sa

from gslts_db import make_engine
from gslts_kiwoom.krx import KST

try:  # the simulator's trade event (renamed MarketTrade; Trade is the old name)
    from gslts_kiwoom.sim import MarketTrade as Trade
except ImportError:  # pragma: no cover - an older simulator
    from gslts_kiwoom.sim import Trade  # type: ignore[assignment]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
RESULTS = HERE / "results" / "latest.json"
MYSQL_URL = os.environ.get("BENCH_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/")

#: the continuous session (09:00-15:20) in simulated seconds: the base rate is spread on it
CONTINUOUS_S = 6 * 3600 + 20 * 60
CLOSING_AUCTION = dtime(15, 20)
FAULTS = ("drop", "stall", "garbage", "token", "db", "redis", "storm", "disk", "kill9", "flood")
#: the one-off faults of a day (the drops come every --drop-every-min on top)
DEFAULT_FAULTS = (
    "09:40 stall, 10:00 kill9, 10:40 garbage, 11:10 token, 11:40 db, 12:40 redis, "
    "13:10 storm, 13:40 disk, 14:20 flood"
)

log = logging.getLogger("soak")


# ------------------------------------------------------------------------------ config
@dataclass(frozen=True)
class SoakConfig:
    """Everything a soak can be told (flags ``--name-with-dashes``, env ``SOAK_NAME``)."""

    #: the full day (``make soak``) or the short form (``make bench``): only a label
    full_day: bool = True
    #: trades the market makes over the day (base rate + flood); at least this many must
    #: be stored
    ticks: int = 10_000_000
    #: simulated seconds per wall second
    warp: float = 30.0
    start: str = "08:20"
    end: str = "15:40"
    faults: str = DEFAULT_FAULTS
    #: a WebSocket drop every this many simulated minutes from 09:05 (0 = none)
    drop_every_min: float = 20.0
    stall_s: float = 25.0
    garbage_frames: int = 60
    db_outage_s: float = 60.0
    redis_down_s: float = 10.0
    storm_s: float = 20.0
    disk_full_s: float = 20.0
    kill_down_s: float = 5.0
    flood_ticks_per_s: float = 100_000.0
    flood_s: float = 30.0
    #: the hub's HUB_WS_WATCHDOG_S and the simulator's PING interval
    watchdog_s: float = 10.0
    ws_ping_s: float = 2.0
    #: HUB_JOURNAL_SPOOL_MB: small, so a full disk suspends collection (the loud path)
    spool_mb: float = 16.0
    journal_fs_mb: int = 1024
    #: trades per stock the simulator keeps for ka10079 (the backfill's source): deeper
    #: than the longest gap of the busiest stock. The flood (100k/s for 30 s, most of it
    #: on a few stocks) makes holes whose walk comes after hundreds of thousands of that
    #: stock's trades: with 60,000 kept, the full day lost 80k trades of 7 stocks ("the
    #: tick chart does not reach back", flagged). A page costs its rows since the
    #: simulator pages ka10079 by itself, so depth costs memory only (~0.4 KB a trade)
    trade_history: int = 1_000_000
    vi_threshold: float = 0.06
    #: stocks the market trades (the most traded by real value) / the hub collects
    stocks: int = 50
    universe: int = 60
    sample_s: float = 1.0
    warmup_s: float = 60.0
    window_s: float = 30.0
    growth_bound_pct: float = 10.0
    #: a fault's hub must be healthy again within this (wall seconds)
    recover_s: float = 180.0
    #: after the close, with the simulated clock stopped: the most the hub may take to
    #: walk every gap and store everything (it ends 45 s after all is still)
    settle_s: float = 1800.0
    seed: int = 20261202
    #: where the plot goes ("" = none) and the summary JSON ("" = a temp file)
    plot: str = "docs/soak.png"
    summary: str = "tests/bench/results/soak.json"
    #: keep the work directory (logs, journal copy) even when the run passes
    keep: bool = False
    #: merge the figures into tests/bench/results/latest.json (python -m tests.bench.soak)
    write_results: bool = True

    @property
    def base_wall_rate(self) -> float:
        """Trades per wall second in the continuous session outside the flood (the day's
        ``ticks`` less the flood's, spread over the session, with 20 % to spare: VIs pause
        stocks, a trade in a stock the hub does not collect does not count, and a loaded
        machine makes fewer (8 % made 9.68M of 10M on the full day of 2026-12-02))."""
        flood = self.flood_ticks_per_s * self.flood_s if "flood" in self.fault_names() else 0
        wall_session = CONTINUOUS_S / self.warp
        return max(1.0, (self.ticks - flood) * 1.20 / wall_session)

    def fault_names(self) -> list[str]:
        return [name for _at, name in parse_faults(self.faults)]


SHORT = dataclasses.replace(
    SoakConfig(),
    full_day=False,
    ticks=1_000_000,
    warp=100.0,
    drop_every_min=45.0,
    stall_s=12.0,
    garbage_frames=30,
    db_outage_s=15.0,
    redis_down_s=5.0,
    storm_s=8.0,
    disk_full_s=8.0,
    kill_down_s=3.0,
    flood_ticks_per_s=60_000.0,
    flood_s=8.0,
    watchdog_s=5.0,
    ws_ping_s=1.0,
    warmup_s=20.0,
    window_s=10.0,
    recover_s=120.0,
    settle_s=600.0,
    plot="",
    summary="",
)


def parse_faults(spec: str) -> list[tuple[dtime, str]]:
    """``"09:40 stall, 10:00 kill9"`` → ``[(09:40, "stall"), (10:00, "kill9")]``, sorted.

    Raises:
        ValueError: an entry is not ``HH:MM name`` or names an unknown fault.
    """
    out = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        at, _, name = part.partition(" ")
        name = name.strip()
        if name not in FAULTS:
            raise ValueError(f"unknown fault {name!r} in {part!r}; known: {', '.join(FAULTS)}")
        out.append((dtime.fromisoformat(at), name))
    return sorted(out)


def config_from(argv: Sequence[str], env: Mapping[str, str]) -> SoakConfig:
    """The config of ``--short`` (or the full day) with ``SOAK_*`` and then flags applied."""
    p = argparse.ArgumentParser(prog="python -m tests.bench.soak", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--short", action="store_true", help="the short form (make bench)")
    base = SoakConfig()
    for f in dataclasses.fields(SoakConfig):
        flag = "--" + f.name.replace("_", "-")
        default = getattr(base, f.name)
        if isinstance(default, bool):
            p.add_argument(flag, default=None, type=_bool, metavar="0|1")
        else:
            p.add_argument(flag, default=None, type=type(default), metavar=type(default).__name__)
    args = p.parse_args(list(argv))
    short = args.short or _bool(env.get("SOAK_SHORT", "0"))
    cfg = SHORT if short else base
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(SoakConfig):
        kind = type(getattr(base, f.name))
        raw = env.get("SOAK_" + f.name.upper())
        if raw is not None:
            changes[f.name] = _bool(raw) if kind is bool else kind(raw)
        given = getattr(args, f.name)
        if given is not None:
            changes[f.name] = given
    cfg = dataclasses.replace(cfg, **changes)
    parse_faults(cfg.faults)  # refuse a bad schedule before anything starts
    flood = cfg.flood_ticks_per_s * cfg.flood_s if "flood" in cfg.fault_names() else 0
    if flood > cfg.ticks / 2:
        # the base market would be near zero, and the simulator sizes its trades by the
        # configured rate (a stock trades its real day's value over the session): a
        # near-zero rate makes every trade enormous and reshuffles the whole ranking
        raise ValueError(
            f"the flood ({flood:,.0f} trades) must be at most half of --ticks "
            f"({cfg.ticks:,}): lower --flood-s / --flood-ticks-per-s or raise --ticks"
        )
    return cfg


def _bool(text: str) -> bool:
    return text.strip().lower() in ("1", "true", "yes", "on")


class SoakError(RuntimeError):
    """The soak could not run (a service or a permission missing, a start failed)."""


# --------------------------------------------------------------------------- simulator
def _serve_sim(spec_json: str) -> None:
    """The simulator process: ``SimConfig`` from the spec, served by ``serve``."""
    from gslts_kiwoom import krx
    from gslts_kiwoom.sim import SimConfig, serve

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    spec = json.loads(spec_json)
    patched = spec.get("trading_day")
    if patched:
        day = date.fromisoformat(patched)
        real = krx.is_trading_day

        def is_trading_day(d: date) -> bool:
            return d == day or real(d)

        krx.is_trading_day = is_trading_day  # type: ignore[assignment]
        log.info("soak_sim_calendar day=%s is played as a trading day", day)
    serve(SimConfig.model_validate(spec["config"]))


#: a ground-truth trade as the comparison reads it: the fields it needs, 0 for the rest
_TRADE_NAMES = [f.name for f in dataclasses.fields(Trade)]
_TRADE_TEMPLATE: list[Any] = [0] * len(_TRADE_NAMES)
_TRADE_SLOTS = tuple(
    _TRADE_NAMES.index(n) for n in ("code", "time", "price", "volume", "cum_volume")
)


class SimProcess:
    """The simulator as a subprocess, with its admin hooks (``/_sim/*``)."""

    def __init__(self, config: dict[str, Any], log_path: Path, trading_day: date | None):
        from tests.e2e.harness import free_port

        self.port = free_port()
        self.config = {**config, "port": self.port}
        self.rest_url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/api/dostk/websocket"
        self.log_path = log_path
        self.trading_day = trading_day
        self.proc: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client(base_url=self.rest_url, timeout=60)

    def start(self, timeout: float = 120.0) -> SimProcess:
        spec = {"config": self.config, "trading_day": self.trading_day and str(self.trading_day)}
        cmd = [sys.executable, "-m", "tests.bench.soak", "--serve-sim", json.dumps(spec)]
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SoakError(f"simulator exited: {self.log_path.read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if self.http.get("/_sim/state", timeout=5).status_code == 200:
                    return self
            time.sleep(0.3)
        raise SoakError(f"simulator did not start: {self.log_path.read_text()[-2000:]}")

    def state(self) -> dict[str, Any]:
        r = self.http.get("/_sim/state", timeout=20)
        r.raise_for_status()
        out: dict[str, Any] = r.json()
        return out

    def now(self) -> datetime:
        return datetime.fromisoformat(self.state()["now"])

    def fault(self, **body: Any) -> dict[str, Any]:
        r = self.http.post("/_sim/faults", json=body)
        r.raise_for_status()
        out: dict[str, Any] = r.json()
        return out

    def set_rate(self, trades_per_s: float) -> None:
        self.http.post("/_sim/rate", json={"trades_per_s": trades_per_s}).raise_for_status()

    def stop_clock(self) -> datetime:
        """Stop the simulated clock (``POST /_sim/clock``); returns where it stands."""
        r = self.http.post("/_sim/clock", json={"time_warp": 0})
        r.raise_for_status()
        return datetime.fromisoformat(r.json()["now"])

    def ground_truth(self) -> tuple[list[Trade], int]:
        """Every trade of the run (``GET /_sim/ground-truth``, paged) and how many the
        simulator could not keep (its cap: must be 0)."""
        out: list[Trade] = []
        since, dropped = 0, 0
        while True:
            r = self.http.get(
                "/_sim/ground-truth", params={"since_seq": since, "limit": 1_000_000}, timeout=600
            )
            r.raise_for_status()
            body = orjson.loads(r.content)
            dropped = int(body["dropped"])
            rows = body["rows"]
            if not rows:
                return out, dropped
            days: dict[str, tuple[int, int, int]] = {}
            args = list(_TRADE_TEMPLATE)
            i_code, i_time, i_price, i_vol, i_cum = _TRADE_SLOTS
            for _seq, code, _venue, ymd, hms, price, volume, cum in rows:
                d = days.get(ymd)
                if d is None:
                    d = days[ymd] = (int(ymd[:4]), int(ymd[4:6]), int(ymd[6:]))
                args[i_code] = code
                args[i_time] = datetime(*d, int(hms[:2]), int(hms[2:4]), int(hms[4:6]),
                                        int(hms[6:]), tzinfo=KST)  # fmt: skip
                args[i_price], args[i_vol], args[i_cum] = price, volume, cum
                out.append(Trade(*args))
            since = int(body["next_seq"])

    def stop(self) -> None:
        self.http.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


# ----------------------------------------------------------------------------- samples
_CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_figures(pid: int | None) -> tuple[int | None, int | None, float | None]:
    """``(VmRSS KiB, open file descriptors, CPU seconds used)`` of ``pid`` from ``/proc``
    (None: gone)."""
    if not pid:
        return None, None, None
    rss = None
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                    break
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / _CLK_TCK  # utime + stime
    except (OSError, ValueError, IndexError):
        return None, None, None
    return rss, fds, cpu


def _compact(st: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of ``/api/status`` a soak sample keeps."""
    j, r, b, w = st["journal"], st["redis"], st["backfill"], st["writer"]
    return {
        "health_ok": st["health"]["ok"],
        "reasons": st["health"]["reasons"],
        "ws_state": st["ws_state"],
        "reconnects": st["reconnects"],
        "watchdog_timeouts": st["watchdog_timeouts"],
        "dropped_items": st["dropped_items"],
        "db_ok": st["db_ok"],
        "db_last_error": st["db_last_error"],
        "redis_ok": r["ok"],
        "redis_error": r["last_error"],
        "bus_dropped": st["bus_dropped"],
        "journal_state": j["state"],
        "journal_error": j["last_error"],
        "journal_waiting_bytes": j["waiting_bytes"],
        "writer_stall_s": j["writer_stall_s"],
        "ticks_refused": st["ticks_refused"],
        "backlog_bytes": st["journal_backlog_bytes"],
        "flush_lag_s": st["flush_lag_s"],
        "ticks_per_s": st["ticks_per_s"],
        "ticks_received": st["ticks_received"],
        "ticks_written": st["ticks_written"],
        "tick_count_today": st["tick_count_today"],
        "uptime_s": st["uptime_s"],
        "writer_pid": w["pid"],
        "writer_running": w["running"],
        "token_expires_at": st["token_expires_at"],
        "backfill": {
            k: b.get(k, 0) for k in ("gaps", "gaps_flagged", "ticks", "errors", "waiting")
        },
        "stream_gaps": st.get("stream_gaps", 0),
        "pending_gaps": st.get("pending_gaps", 0),
        "collecting": st["collecting_count"],
    }


@dataclass
class Sample:
    wall: float  # epoch s
    sim: str | None  # simulated time (ISO) or None when the simulator did not answer
    phase: str | None
    sim_trades: int | None
    sim_real_dropped: int | None
    fault: str | None
    hub_pid: int | None
    hub_rss_kib: int | None
    hub_fds: int | None
    writer_rss_kib: int | None
    writer_fds: int | None
    #: CPU seconds used so far by the hub, its writer and the simulator
    hub_cpu_s: float | None
    writer_cpu_s: float | None
    sim_cpu_s: float | None
    load_1m: float
    status: dict[str, Any] | None  # _compact(/api/status) or None: the hub did not answer
    error: str | None = None


class Sampler(threading.Thread):
    """Samples ``/api/status``, ``/_sim/state`` and ``/proc`` every ``period`` seconds;
    collects the hub's events (deduplicated) on the way."""

    def __init__(self, soak: Soak, period: float) -> None:
        super().__init__(name="soak-sampler", daemon=True)
        self.soak = soak
        self.period = period
        self.samples: list[Sample] = []
        self.events: list[dict[str, Any]] = []
        self._seen: set[tuple[str, str, str]] = set()
        #: when (simulated time) each stock was first seen collected
        self.joined: dict[str, str] = {}
        self._halt = threading.Event()
        self.lock = threading.Lock()
        self.http = httpx.Client(timeout=10)

    def run(self) -> None:
        nxt = time.monotonic()
        while not self._halt.is_set():
            with contextlib.suppress(Exception):  # one bad sample must not end sampling
                self.take()
            nxt += self.period
            self._halt.wait(max(0.0, nxt - time.monotonic()))

    def stop(self) -> None:
        self._halt.set()
        self.join(30)
        self.http.close()

    def take(self) -> Sample:
        soak = self.soak
        hub = soak.hub
        pid = hub.proc.pid if hub is not None and hub.proc is not None else None
        alive = hub is not None and hub.proc is not None and hub.proc.poll() is None
        status: dict[str, Any] | None = None
        error = None
        raw: dict[str, Any] | None = None
        if alive and hub is not None:
            try:
                r = self.http.get(hub.url + "/api/status")
                r.raise_for_status()
                raw = r.json()
                status = _compact(raw)
            except (httpx.HTTPError, KeyError, ValueError) as exc:
                error = f"{type(exc).__name__}: {exc}"[:200]
        else:
            error = "hub process not running"
        sim_now = phase = None
        sim_trades = sim_dropped = None
        with contextlib.suppress(httpx.HTTPError, KeyError, ValueError):
            s = self.http.get(soak.sim.rest_url + "/_sim/state").json()
            sim_now, phase = s["now"], s["phase_code"]
            sim_trades = int(s["ground_truth"]["trades"]) + int(s["ground_truth"]["dropped"])
            sim_dropped = int(s["ws"]["stats"].get("real_dropped", 0))
        hub_rss, hub_fds, hub_cpu = proc_figures(pid if alive else None)
        wpid = status["writer_pid"] if status else None
        w_rss, w_fds, w_cpu = proc_figures(wpid)
        sim_cpu = proc_figures(soak.sim.proc.pid if soak.sim.proc else None)[2]
        sample = Sample(
            time.time(), sim_now, phase, sim_trades, sim_dropped, soak.current_fault,
            pid if alive else None, hub_rss, hub_fds, w_rss, w_fds, hub_cpu, w_cpu, sim_cpu,
            os.getloadavg()[0], status, error,
        )  # fmt: skip
        with self.lock:
            self.samples.append(sample)
            if raw is not None and sim_now is not None:
                for code in raw.get("collecting_stocks", []):
                    self.joined.setdefault(code, sim_now)
            for e in (raw or {}).get("events", []):
                key = (e["time"], e["kind"], e["message"])
                if key not in self._seen:
                    self._seen.add(key)
                    self.events.append(
                        {**e, "epoch": datetime.fromisoformat(e["time"]).timestamp()}
                    )
        return sample

    def window(self, t0: float, t1: float) -> list[Sample]:
        with self.lock:
            return [s for s in self.samples if t0 <= s.wall <= t1]

    def events_in(self, t0: float, t1: float) -> list[dict[str, Any]]:
        with self.lock:
            return [e for e in self.events if t0 - 1.0 <= e["epoch"] <= t1]

    def latest(self) -> Sample | None:
        with self.lock:
            return self.samples[-1] if self.samples else None


# ------------------------------------------------------------------------------ faults
@dataclass
class FaultRecord:
    """One fault of the day: when, what the hub said, whether it was seen and survived."""

    name: str
    planned: str
    sim_start: str
    wall_start: float
    wall_end: float = 0.0
    sim_end: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    visible: bool = False
    said: list[str] = field(default_factory=list)
    survived: bool = False
    recovered_after_s: float | None = None
    problem: str | None = None


def _said(samples: Sequence[Sample], pick: Callable[[dict[str, Any]], Any]) -> list[str]:
    """Distinct values ``pick`` finds in the status samples (what status said)."""
    out: list[str] = []
    for s in samples:
        if s.status is None:
            continue
        v = pick(s.status)
        text = json.dumps(v, ensure_ascii=False, default=str)
        if v not in (None, False, [], {}) and text not in out:
            out.append(text)
    return out


class Soak:
    """One soak run: start everything, play the day, check, tear down."""

    def __init__(self, cfg: SoakConfig) -> None:
        self.cfg = cfg
        self.today = datetime.now(KST).date()
        self.work = Path(tempfile.mkdtemp(prefix="gslts-soak-"))
        self.hub: Any = None  # tests.e2e.harness.HubProcess
        self.sim: SimProcess = None  # type: ignore[assignment]
        self.current_fault: str | None = None
        self.records: list[FaultRecord] = []
        self.problems: list[str] = []
        self.notes: list[str] = []
        #: when settle() found the hub still (None: it never did); what the hub says
        #: after it (e.g. a watchdog reconnect of the silent closed market) is not judged
        self.settled_wall: float | None = None
        self.incarnations: list[dict[str, Any]] = []
        self.sampler: Sampler | None = None
        # set by run_soak once each exists
        self.journal_fs = Path()
        self.redis: Any = None  # tests.redis_server.RedisServer
        self.proxy: Any = None  # tests.e2e.harness.PausableProxy
        self.hub_port = 0
        self.hub_env: dict[str, str] = {}

    # -- set-up -------------------------------------------------------------------------
    def sim_config(self) -> dict[str, Any]:
        cfg = self.cfg
        start = datetime.combine(self.today, dtime.fromisoformat(cfg.start), tzinfo=KST)
        flood = cfg.flood_ticks_per_s / cfg.warp
        base = cfg.base_wall_rate / cfg.warp
        return {
            "clock": "krx",
            "time_warp": cfg.warp,
            "start_time": start.isoformat(),
            "seed": cfg.seed,
            "trades_per_s": base,
            "trade_universe": cfg.stocks,
            # the flood path at every rate (the per-trade path costs ~10x the CPU)
            "bulk_min_trades_per_s": 0.0,
            # a step may be late under load: let it make up the time instead of capping
            "max_trades_per_step": int(max(base, flood) * cfg.warp * 2.0) + 50_000,
            "ground_truth_cap": int(cfg.ticks * 2) + 2_000_000,
            "trade_history": cfg.trade_history,
            "vi_threshold": cfg.vi_threshold,
            "ws_ping_s": cfg.ws_ping_s,
            "default_rate_per_s": 50.0,
            "rate_burst": 50,
        }

    def hub_extra(self, redis_url: str, journal_dir: Path) -> dict[str, str]:
        cfg = self.cfg
        return {
            "REDIS_URL": redis_url,
            "HUB_JOURNAL_DIR": str(journal_dir),
            "HUB_JOURNAL_SPOOL_MB": str(cfg.spool_mb),
            "HUB_UNIVERSE_SIZE": str(cfg.universe),
            # a collected stock never leaves: a member dropped mid-day would make its
            # later trades look lost (the comparison expects a stock to the end)
            "HUB_UNIVERSE_EXIT_RANK": "3000",
            "HUB_UNIVERSE_REFRESH_S": "60",
            "HUB_WS_WATCHDOG_S": str(cfg.watchdog_s),
            # the production defaults, not hub_env's fast test timings
            "HUB_FLUSH_INTERVAL_S": "0.5",
            "HUB_JOURNAL_FSYNC_S": "1.0",
        }

    def start_hub(self) -> None:
        from tests.e2e.harness import HubProcess

        self.hub = HubProcess(self.hub_env, self.hub_port, self.work / "hub.log").start(120)
        self.incarnations.append({"pid": self.hub.proc.pid, "started": time.time()})

    def sim_now(self) -> datetime:
        return self.sim.now()

    # -- the day ------------------------------------------------------------------------
    def plan(self) -> list[tuple[dtime, str]]:
        cfg = self.cfg
        plan = parse_faults(cfg.faults)
        if cfg.drop_every_min > 0:
            t = datetime.combine(self.today, dtime(9, 5))
            stop = datetime.combine(self.today, CLOSING_AUCTION)
            while t < stop:
                plan.append((t.time(), "drop"))
                t += timedelta(minutes=cfg.drop_every_min)
        return sorted(plan)

    def wait_sim(self, at: dtime) -> datetime:
        """Wait until the simulated clock reaches ``at`` (today); the hub must live on."""
        target = datetime.combine(self.today, at, tzinfo=KST)
        while True:
            now = self.sim_now()
            if now >= target:
                return now
            self.check_alive()
            wall = (target - now).total_seconds() / self.cfg.warp
            time.sleep(min(0.5, max(0.05, wall)))

    def check_alive(self) -> None:
        if self.hub is not None and self.hub.proc.poll() is not None:
            raise SoakError(
                f"the hub exited by itself (rc {self.hub.proc.returncode}): "
                f"{self.hub.log_path.read_text()[-3000:]}"
            )
        if self.sim.proc is not None and self.sim.proc.poll() is not None:
            raise SoakError(f"the simulator exited: {self.sim.log_path.read_text()[-2000:]}")

    def play(self) -> None:
        cfg = self.cfg
        plan = self.plan()
        print(f"   plan: {len(plan)} faults: " + ", ".join(f"{a:%H:%M} {n}" for a, n in plan))
        last_drop: datetime | None = None
        for at, name in plan:
            now = self.wait_sim(at)
            late_min = (now - datetime.combine(self.today, at, tzinfo=KST)).total_seconds() / 60
            if name == "drop" and cfg.drop_every_min and late_min > cfg.drop_every_min:
                continue  # overtaken by a long fault: the series goes on at its next slot
            if name == "drop" and last_drop and (now - last_drop).total_seconds() < 60:
                continue
            if name == "flood" and now.time() >= CLOSING_AUCTION:
                self.problems.append(
                    f"schedule too tight: the flood would start at {now:%H:%M}, after the "
                    "continuous session (no trades to flood with); fewer or shorter faults, "
                    "or a lower --warp"
                )
                continue
            rec = self.run_fault(name, at)
            if name == "drop":
                last_drop = now
            print(
                f"   {rec.sim_start[11:16]} {name:<8} visible={rec.visible} "
                f"survived={rec.survived} recovered={rec.recovered_after_s}s "
                f"{rec.problem or ''}",
                flush=True,
            )
        self.wait_sim(dtime.fromisoformat(cfg.end))

    def run_fault(self, name: str, planned: dtime) -> FaultRecord:
        assert self.sampler is not None
        before = self.sampler.take()
        rec = FaultRecord(name, f"{planned:%H:%M}", self.sim_now().isoformat(), time.time())
        self.current_fault = name
        try:
            getattr(self, "_fault_" + name)(rec)
        except Exception as exc:
            rec.problem = f"injecting it failed: {type(exc).__name__}: {exc}"
        finally:
            rec.wall_end = time.time()
            self.current_fault = None
        rec.sim_end = self.sim_now().isoformat()
        rec.recovered_after_s = self.wait_recovered(self.cfg.recover_s, rec)
        tail = time.time()
        after = self.sampler.take()
        samples = [before, *self.sampler.window(rec.wall_start, tail), after]
        events = self.sampler.events_in(rec.wall_start, tail)
        rec.visible, rec.said = self.visibility(name, rec, before, samples, events)
        rec.survived = rec.recovered_after_s is not None and rec.problem is None
        if not rec.visible:
            rec.problem = (rec.problem or "") + " not visible in /api/status"
        self.records.append(rec)
        return rec

    def wait_recovered(self, timeout: float, rec: FaultRecord) -> float | None:
        """Seconds from the fault's end until the hub is healthy (ws ready, database,
        journal and Redis ok, no health reason); None when it is not within ``timeout``."""
        assert self.sampler is not None
        t0 = time.time()
        while time.time() - t0 < timeout:
            self.check_alive()
            s = self.sampler.take()
            st = s.status
            if (
                st
                and st["health_ok"]
                and st["ws_state"] == "ready"
                and st["db_ok"]
                and (st["journal_state"] == "ok" and st["redis_ok"])
            ):
                return round(time.time() - rec.wall_end, 1)
            time.sleep(0.5)
        last = self.sampler.latest()
        rec.problem = (
            f"not healthy {timeout:.0f} s after the fault: "
            f"{last.status['reasons'] if last and last.status else last and last.error}"
        )
        return None

    def _hold(self, seconds: float) -> None:
        """Wait out a fault, sampling status twice a second (what it said while it lasted)."""
        assert self.sampler is not None
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.sampler.take()
            time.sleep(min(0.5, max(0.0, end - time.monotonic())))

    def _fault_drop(self, rec: FaultRecord) -> None:
        rec.detail["sessions_dropped"] = self.sim.fault(drop_connections=True)["ws_faults"].get(
            "dropped"
        )
        self._hold(1.0)

    def _fault_stall(self, rec: FaultRecord) -> None:
        self.sim.fault(stall=self.cfg.stall_s)  # the simulator resumes by itself
        self._hold(self.cfg.stall_s)

    def _fault_garbage(self, rec: FaultRecord) -> None:
        ws = self.sim.fault(garbage=self.cfg.garbage_frames)["ws_faults"]
        rec.detail["garbage_sessions"] = ws.get("garbage_sessions")
        self._hold(3.0)

    def _fault_token(self, rec: FaultRecord) -> None:
        out = self.sim.fault(expire_tokens=True, drop_connections=True)
        rec.detail["sessions_dropped"] = out["ws_faults"].get("dropped")
        self._hold(3.0)

    def _fault_db(self, rec: FaultRecord) -> None:
        self.proxy.pause()
        try:
            self._hold(self.cfg.db_outage_s)
        finally:
            self.proxy.resume()

    def _fault_redis(self, rec: FaultRecord) -> None:
        self.redis.stop()
        try:
            self._hold(self.cfg.redis_down_s)
        finally:
            self.redis.start()

    def _fault_storm(self, rec: FaultRecord) -> None:
        out = self.sim.fault(rate_limit_storm_s=self.cfg.storm_s, drop_connections=True)
        rec.detail["sessions_dropped"] = out["ws_faults"].get("dropped")
        self._hold(self.cfg.storm_s)

    def _fault_disk(self, rec: FaultRecord) -> None:
        from tests.smallfs import fill

        ballast = fill(self.journal_fs)
        rec.detail["ballast_mb"] = round(ballast.stat().st_size / 2**20, 1)
        try:
            self._hold(self.cfg.disk_full_s)
        finally:
            ballast.unlink()

    def _fault_kill9(self, rec: FaultRecord) -> None:
        assert self.sampler is not None
        old = self.hub.proc.pid
        left = self.hub.kill9()
        rec.detail["killed_pid"] = old
        rec.detail["writer_children_left"] = left
        self.incarnations[-1]["ended"] = time.time()
        self._hold(self.cfg.kill_down_s)  # the market trades on while nobody listens
        if left:
            rec.problem = f"writer process(es) {left} outlived the killed hub"
        self.start_hub()
        rec.detail["new_pid"] = self.hub.proc.pid

    def _fault_flood(self, rec: FaultRecord) -> None:
        self.sim.set_rate(self.cfg.flood_ticks_per_s / self.cfg.warp)
        try:
            self._hold(self.cfg.flood_s)
        finally:
            self.sim.set_rate(self.cfg.base_wall_rate / self.cfg.warp)

    # -- visibility ---------------------------------------------------------------------
    def visibility(
        self,
        name: str,
        rec: FaultRecord,
        before: Sample,
        samples: Sequence[Sample],
        events: Sequence[dict[str, Any]],
    ) -> tuple[bool, list[str]]:
        """Did ``/api/status`` show the fault while it lasted? And what did it say?"""
        during = [s for s in samples if s.status is not None]
        ev = [f"event {e['kind']}: {e['message']}" for e in events]
        b = before.status or {}

        def grew(key: str) -> bool:
            return any(s.status[key] > b.get(key, 0) for s in during if s.status)

        reasons = _said(samples, lambda st: st["reasons"])

        def mention(*words: str) -> list[str]:
            """Events and health reasons of the window that name the fault."""
            texts = [*ev, *(r for s in during if s.status for r in s.status["reasons"])]
            return sorted({t for t in texts if any(w in t.lower() for w in words)})

        if name == "drop":
            seen = grew("reconnects") or any("disconnected" in e for e in ev)
            return seen, [*ev, *reasons]
        if name == "token":
            # the connection drop that comes with it shows anyway; the revocation itself
            # shows as a new token or an event about the token / the refused LOGIN
            tokens = _said(samples, lambda st: st["token_expires_at"])
            named = mention("token", "login", "8005")
            return len(tokens) > 1 or bool(named), [
                f"token_expires_at values: {tokens}",
                *named,
                *ev,
            ]
        if name == "storm":
            # the drop at its start forces REST traffic (the gap backfill); the storm itself
            # shows only as something about rate limits / refused REST calls
            named = mention("rate", "429", "1700", "limit", "ranking failed")
            grew_backfill = any(
                s.status["backfill"]["errors"] > b.get("backfill", {}).get("errors", 0)
                for s in during
                if s.status
            )
            return bool(named) or grew_backfill, [
                *named,
                f"backfill: {_said(samples, lambda st: st['backfill'])}",
                *(["backfill errors grew"] if grew_backfill else []),
                *ev,
            ]
        if name == "stall":
            seen = grew("watchdog_timeouts") or any(
                s.status["ws_state"] != "ready" for s in during if s.status
            )
            return seen, [*_said(samples, lambda st: st["ws_state"]), *reasons, *ev]
        if name == "garbage":
            named = mention("malformed", "garbage", "invalid", "decode")
            seen = bool(named) or any(
                s.status["dropped_items"] != b.get("dropped_items") for s in during if s.status
            )
            return seen, [*named, *_said(samples, lambda st: st["dropped_items"]), *ev]
        if name == "db":
            seen = any(not s.status["db_ok"] for s in during if s.status)
            return seen, [*reasons, *ev]
        if name == "redis":
            seen = any(not s.status["redis_ok"] for s in during if s.status)
            return seen, [*reasons, *_said(samples, lambda st: st["redis_error"])]
        if name == "disk":
            seen = any(s.status["journal_state"] != "ok" for s in during if s.status)
            return seen, [
                *_said(samples, lambda st: (st["journal_state"], st["journal_error"])),
                *reasons,
                *ev,
            ]
        if name == "kill9":
            down = [s.error for s in samples if s.status is None and s.error]
            restarted = any(e.startswith("event start") for e in ev)
            return bool(down) and restarted, [*sorted(set(down)), *ev]
        if name == "flood":
            base = b.get("ticks_per_s", 0.0)
            peak = max((s.status["ticks_per_s"] for s in during if s.status), default=0.0)
            backlog = max((s.status["backlog_bytes"] for s in during if s.status), default=0)
            inside = [s for s in samples if rec.wall_start <= s.wall <= rec.wall_end]
            rec.detail.update(
                peak_ticks_per_s=peak,
                before_ticks_per_s=base,
                peak_backlog_mb=round(backlog / 2**20, 1),
                # who had the CPU while it lasted (100 = one core)
                cpu_pct={k: cpu_pct(inside, k) for k in ("hub_cpu_s", "writer_cpu_s", "sim_cpu_s")},
                load_1m=max((s.load_1m for s in inside), default=None),
            )
            return peak >= 2 * max(base, 1.0), [
                f"ticks_per_s {base} before, peak {peak}; journal backlog peak "
                f"{backlog / 2**20:.1f} MB",
                *reasons,
            ]
        raise ValueError(name)

    # -- the end ------------------------------------------------------------------------
    def settle(self, engine: sa.Engine) -> None:
        """After the close: wait (generously) until the hub has stored all it will: no
        journal backlog, nothing pending, the table count and the backfill counters still
        for 45 s (longer than HUB_BACKFILL_FORWARD_AFTER_S, 30 s: a silent stock's forward
        walk would show within it)."""
        assert self.sampler is not None
        # the day is over: stop the simulated clock, so that neither its after-hours nor
        # its midnight (a day roll: the next day's cumulative volume under the last walks,
        # 25 gaps flagged on 2026-12-03) happen while the hub settles and the day is
        # compared; REST (ka10079) still answers
        stopped = self.sim.stop_clock()
        self.notes.append(f"simulated clock stopped at {stopped.time().isoformat('seconds')}")
        budget = self.cfg.settle_s
        deadline = time.monotonic() + budget
        still: tuple[Any, float] | None = None
        while time.monotonic() < deadline:
            self.check_alive()
            s = self.sampler.take()
            st = s.status
            if st is None:
                time.sleep(1.0)
                continue
            mark = (count_today(engine, self.today), st["backfill"], st["ticks_received"])
            quiet = (
                st["backlog_bytes"] == 0
                and st["flush_lag_s"] == 0
                and st["backfill"]["waiting"] == 0
                and st["pending_gaps"] == 0
            )
            if not quiet or still is None or still[0] != mark:
                still = (mark, time.monotonic())
            elif time.monotonic() - still[1] >= 45:
                self.settled_wall = time.time()
                return
            time.sleep(1.0)
        self.notes.append(f"did not settle within {budget:.0f} s (--settle-s)")

    def final_counts(self, engine: sa.Engine) -> tuple[int | None, int]:
        """``(tick_count_today of /api/status, rows of today)`` read back to back, again
        while they differ and the table still moves (a late commit between the two
        reads is not a miscount)."""
        assert self.sampler is not None
        for _ in range(10):
            before = count_today(engine, self.today)
            s = self.sampler.take()
            after = count_today(engine, self.today)
            status = s.status["tick_count_today"] if s.status else None
            if status == after or before == after:
                return status, after
            time.sleep(2.0)
        return status, after


def cpu_pct(samples: Sequence[Sample], key: str) -> float | None:
    """CPU use of one process over ``samples`` (100 = one core busy), from its CPU
    seconds; None when fewer than two samples of one process have it."""
    vals = [(s.wall, getattr(s, key)) for s in samples if getattr(s, key) is not None]
    if len(vals) < 2 or vals[-1][1] < vals[0][1] or vals[-1][0] <= vals[0][0]:
        return None
    return round(100.0 * (vals[-1][1] - vals[0][1]) / (vals[-1][0] - vals[0][0]), 1)


def count_today(engine: sa.Engine, day: date) -> int:
    with engine.connect() as conn:
        return int(
            conn.exec_driver_sql(
                "SELECT COUNT(*) FROM tick_data WHERE trade_date = %s", (day,)
            ).scalar()
            or 0
        )


def growth(samples: Sequence[Sample], key: str, warmup_s: float, window_s: float,
           started: float) -> dict[str, Any] | None:  # fmt: skip
    """Median of ``key`` in the ``window_s`` after ``warmup_s`` vs the last ``window_s``
    of one process's samples; None when it did not live long enough to tell."""
    vals = [(s.wall, getattr(s, key)) for s in samples if getattr(s, key) is not None]
    if not vals:
        return None
    t_base = started + warmup_s
    t_end = vals[-1][0]
    if t_end - t_base < 2 * window_s:
        return None
    base = [v for t, v in vals if t_base <= t < t_base + window_s]
    last = [v for t, v in vals if t > t_end - window_s]
    after = [v for t, v in vals if t >= t_base]
    if not base or not last:
        return None
    b, e = statistics.median(base), statistics.median(last)
    return {
        "baseline": b,
        "end": e,
        "peak": max(after),
        "growth": e - b,
        "growth_pct": round(100.0 * (e - b) / b, 2) if b else 0.0,
    }


# --------------------------------------------------------------------------------- run
def run_soak(cfg: SoakConfig) -> tuple[dict[str, float], dict[str, Any], list[str]]:
    """Play the day; returns ``(soak.* figures, summary, problems)``."""
    from tests.e2e.harness import PausableProxy, compare, free_port, hub_env, own_schema
    from tests.redis_server import RedisServer
    from tests.smallfs import small_filesystem

    soak = Soak(cfg)
    today = soak.today
    t_start = time.time()
    wall_day = (
        datetime.combine(today, dtime.fromisoformat(cfg.end))
        - datetime.combine(today, dtime.fromisoformat(cfg.start))
    ).total_seconds() / cfg.warp
    finish = datetime.now(KST) + timedelta(seconds=wall_day + cfg.settle_s + 600)
    if finish.date() != today:
        raise SoakError(
            f"the run (~{wall_day / 60:.0f} min of market) would cross KST midnight: the hub "
            "dates trades by the real KST day; start after 00:00 KST or lower the duration"
        )
    from gslts_kiwoom import krx

    patch_day = None if krx.is_trading_day(today) else today
    if patch_day:
        soak.notes.append(f"{today} is not a KRX trading day: the simulator plays it as one")
    print(
        f"   soak: {'full day' if cfg.full_day else 'short form'} {today}, {cfg.start}-"
        f"{cfg.end} KST at time warp {cfg.warp:g} (~{wall_day / 60:.1f} min of market), "
        f"{cfg.ticks:,} trades asked, base {cfg.base_wall_rate:,.0f}/s, flood "
        f"{cfg.flood_ticks_per_s:,.0f}/s for {cfg.flood_s:g} s; load {os.getloadavg()[0]:.2f}; "
        f"work dir {soak.work}",
        flush=True,
    )
    passed = False
    engine: sa.Engine | None = None
    with contextlib.ExitStack() as stack:
        try:
            soak.journal_fs = stack.enter_context(
                small_filesystem(soak.work / "journal-fs", cfg.journal_fs_mb * 1024)
            )
            soak.redis = RedisServer(soak.work).start()
        except BaseException as exc:  # pytest.skip/fail from the helpers: not in pytest here
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            raise SoakError(str(exc)) from None
        stack.callback(soak.redis.stop)
        db_url = stack.enter_context(own_schema(MYSQL_URL))
        url = sa.make_url(db_url)
        soak.proxy = PausableProxy(url.host or "127.0.0.1", url.port or 3306).start()
        stack.callback(soak.proxy.stop)
        via_proxy = url.set(host="127.0.0.1", port=soak.proxy.port).render_as_string(
            hide_password=False
        )
        engine = make_engine(db_url)
        stack.callback(engine.dispose)
        soak.sim = SimProcess(soak.sim_config(), soak.work / "sim.log", patch_day).start()
        stack.callback(soak.sim.stop)
        soak.hub_port = free_port()
        soak.hub_env = hub_env(
            soak.sim,  # type: ignore[arg-type]  # rest_url/ws_url is all hub_env reads
            via_proxy,
            soak.work / "data",
            **soak.hub_extra(soak.redis.url, soak.journal_fs / "journal"),
        )
        soak.start_hub()
        stack.callback(lambda: soak.hub.terminate())
        soak.sampler = Sampler(soak, cfg.sample_s)
        soak.sampler.start()
        stack.callback(soak.sampler.stop)

        soak.play()
        print(f"   {cfg.end} reached after {time.time() - t_start:.0f} s; settling", flush=True)
        soak.settle(engine)
        status_today, table_today = soak.final_counts(engine)
        soak.incarnations[-1]["ended"] = time.time()
        final_status = httpx.get(soak.hub.url + "/api/status", timeout=30).json()
        collected = list(final_status["collecting_stocks"])
        sim_state = soak.sim.state()
        truth, gt_dropped = soak.sim.ground_truth()
        soak.sampler.stop()
        soak.hub.terminate()
        soak.sim.stop()
        # the stocks the market trades in the continuous session are compared in full;
        # a collected stock that trades only in the auction crossings (every stock the
        # ranking touched crosses once at 09:00 and 15:30) may have crossed before it
        # joined the universe: for those only the crossings after it joined must be stored
        cont = {t.code for t in truth if dtime(9, 0, 1) <= t.time.time() < CLOSING_AUCTION}
        compared = sorted(set(collected) & cont)
        auction_only = sorted(set(collected) - cont)
        uncollected = sorted(cont - set(collected))
        print(f"   comparing {len(truth):,} trades of the day with tick_data", flush=True)
        t_cmp = time.time()
        res = compare(engine, truth, compared)
        cmp_s = time.time() - t_cmp
        late = auction_crossings_missing(engine, truth, auction_only, soak.sampler.joined)
        losses = loss_breakdown(res, truth, soak.records, soak.sampler.samples)
        del truth
        figures, summary, problems = judge(
            soak, res, table_today, status_today, collected, uncollected, sim_state, gt_dropped
        )
        if late:
            problems.append(f"auction crossings of collected stocks not stored: {late[:5]}")
        figures["soak.auction_crossings_lost"] = len(late)
        summary["loss_breakdown"] = losses
        summary["auction_only_collected"] = auction_only
        summary["final_backfill"] = final_status["backfill"]
        if losses:
            print("   where the missing trades lie:")
            for line in losses[:15]:
                print(f"     {line}")
        summary["compare_s"] = round(cmp_s, 1)
        summary["wall_s"] = round(time.time() - t_start, 1)
        figures["soak.wall_s"] = summary["wall_s"]
        passed = not problems
    if passed and not cfg.keep:
        shutil.rmtree(soak.work, ignore_errors=True)
    else:
        summary["work_dir"] = str(soak.work)
    return figures, summary, problems


def auction_crossings_missing(
    engine: sa.Engine, truth: Sequence[Trade], codes: Sequence[str], joined: Mapping[str, str]
) -> list[tuple[str, int]]:
    """``(code, cum_volume)`` of the crossing trades of ``codes`` made a minute or more
    after the stock was first seen collected that ``tick_data`` does not hold."""
    if not codes:
        return []
    want = []
    wanted = set(codes)
    for t in truth:
        since = joined.get(t.code)
        if since is None or t.code not in wanted:
            continue
        if t.time >= datetime.fromisoformat(since) + timedelta(minutes=1):
            want.append((t.code, t.cum_volume))
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT stock_code, cum_volume FROM tick_data WHERE stock_code IN :codes"
            ).bindparams(sa.bindparam("codes", expanding=True)),
            {"codes": list(codes)},
        )
        stored = {(r[0], int(r[1])) for r in rows}
    return sorted(k for k in want if k not in stored)


def loss_breakdown(
    res: Any, truth: Sequence[Trade], records: Sequence[FaultRecord], samples: Sequence[Sample]
) -> list[str]:
    """The missing trades grouped by the fault whose window (simulated time, with the
    recovery after it) they fall in: what a developer needs to find the cause."""
    if not res.missing:
        return []
    missing = set(res.missing)
    windows = []
    for r in records:
        t0 = datetime.fromisoformat(r.sim_start)
        until = r.wall_end + (r.recovered_after_s or 0.0)
        ends = [s.sim for s in samples if s.sim and s.wall <= until]
        t1 = max(datetime.fromisoformat(ends[-1]) if ends else t0,
                 datetime.fromisoformat(r.sim_end))  # fmt: skip
        windows.append((t0, t1, r.name, r.sim_start[11:16]))
    groups: dict[str, list[Trade]] = {}
    for t in truth:
        if (t.code, t.cum_volume) not in missing:
            continue
        inside = [f"{n}@{at}" for a, b, n, at in windows if a <= t.time <= b]
        groups.setdefault(", ".join(inside) or "outside every fault window", []).append(t)
    out = []
    for where, ts in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        codes = sorted({t.code for t in ts})
        first, last = min(t.time for t in ts), max(t.time for t in ts)
        out.append(
            f"{len(ts):,} missing in {where}: {len(codes)} stocks (e.g. {codes[:5]}), "
            f"traded {first:%H:%M:%S}..{last:%H:%M:%S}"
        )
    return out


def judge(
    soak: Soak,
    res: Any,
    table_today: int,
    status_today: int | None,
    collected: list[str],
    uncollected: list[str],
    sim_state: dict[str, Any],
    gt_dropped: int,
) -> tuple[dict[str, float], dict[str, Any], list[str]]:
    """The figures, the summary and every reason the run fails."""
    cfg = soak.cfg
    assert soak.sampler is not None
    samples = soak.sampler.samples
    problems = list(soak.problems)
    # memory and descriptors per hub process (a kill -9 starts a new one)
    procs = []
    for inc in soak.incarnations:
        mine = [s for s in samples if s.hub_pid == inc["pid"]]
        # the warm-up counts from when the market trades: a hub started before the open
        # has nothing yet to fill its bounded buffers (the bus stream's ring, the Redis
        # queue, the spool) with, so a baseline taken then would call the fill a leak
        trading = [s.wall for s in mine if s.sim and s.sim[11:19] >= "09:00:00"]
        warm_from = max(inc["started"], trading[0]) if trading else inc["started"]
        entry: dict[str, Any] = {"pid": inc["pid"], "samples": len(mine)}
        for key in ("hub_rss_kib", "hub_fds", "writer_rss_kib", "writer_fds"):
            entry[key] = growth(mine, key, cfg.warmup_s, cfg.window_s, warm_from)
        procs.append(entry)
    judged = [p for p in procs if p["hub_rss_kib"] is not None]
    rss_pct = max(
        (p[k]["growth_pct"] for p in judged for k in ("hub_rss_kib", "writer_rss_kib") if p[k]),
        default=-1.0,
    )
    fd_growth = max(
        (p[k]["growth"] for p in judged for k in ("hub_fds", "writer_fds") if p[k]),
        default=-1.0,
    )
    if not judged:
        problems.append("no hub process lived long enough after warm-up to judge RSS/FDs")
    for p in judged:
        for k in ("hub_rss_kib", "writer_rss_kib", "hub_fds", "writer_fds"):
            g = p[k]
            if g is None:
                problems.append(f"pid {p['pid']}: no {k} samples to judge")
                continue
            bound = g["baseline"] * cfg.growth_bound_pct / 100
            if k.endswith("fds"):
                bound = max(1.0, bound)
            if g["growth"] > bound:
                problems.append(
                    f"pid {p['pid']} {k} grew {g['baseline']:g} -> {g['end']:g} after warm-up "
                    f"(bound {cfg.growth_bound_pct:g} %)"
                )
    # writer stalls while the database was up
    stall_max = max(
        (s.status["writer_stall_s"] for s in samples if s.status and s.status["db_ok"]),
        default=0.0,
    )
    stalled = sorted({r for s in samples if s.status for r in s.status["reasons"]
                      if "writer stalled" in r})  # fmt: skip
    if stalled:
        problems.append(f"writer stall reported: {stalled[:3]}")
    # faults
    for r in soak.records:
        if not r.visible or not r.survived:
            problems.append(f"fault {r.name} at {r.sim_start[11:16]}: {r.problem}")
    missing_faults = sorted(set(cfg.fault_names()) - {r.name for r in soak.records})
    if missing_faults:
        problems.append(f"faults never run: {missing_faults}")
    # data
    lost = len(res.missing)
    if lost:
        problems.append(f"{lost} of {res.expected} trades lost, e.g. {res.missing[:5]}")
    if res.duplicates:
        problems.append(f"{res.duplicates} duplicate trades stored")
    if res.unexpected:
        problems.append(
            f"{len(res.unexpected)} stored under keys no trade has, e.g. {res.unexpected[:5]}"
        )
    if res.mismatched:
        problems.append(f"{len(res.mismatched)} stored trades differ, e.g. {res.mismatched[:5]}")
    if res.unstored:
        problems.append(f"collected and traded, nothing stored: {res.unstored}")
    if res.stored < cfg.ticks:
        problems.append(f"only {res.stored:,} trades stored, {cfg.ticks:,} asked")
    if status_today != table_today:
        problems.append(f"tick_count_today {status_today} != {table_today} rows of today")
    if gt_dropped:
        problems.append(f"the simulator's ground truth is incomplete ({gt_dropped} not kept)")
    # A flood above capacity makes the upstream drop REAL entries for the slow consumer
    # (its per-session queue is full), as a real server may: not a loss as long as the hub
    # saw the holes (a KRX trade's cumulative volume jumped) and filled them (lost == 0).
    real_dropped = int(sim_state["ws"]["stats"].get("real_dropped", 0))
    holes = max((s.status.get("stream_gaps", 0) for s in samples if s.status), default=0)
    if real_dropped and not holes:
        problems.append(
            f"the simulator dropped {real_dropped} REAL entries for a slow consumer and the "
            "hub saw no hole in the stream"
        )
    settled = soak.settled_wall or float("inf")
    left_open = [s.status.get("pending_gaps", 0) for s in samples if s.status and s.wall <= settled]
    if left_open and left_open[-1]:
        problems.append(f"{left_open[-1]} gaps still open at the end (not walked)")
    flagged = max((s.status["backfill"]["gaps_flagged"] for s in samples if s.status), default=0)
    vi_events = [e for e in soak.sampler.events if e["kind"] == "vi"]
    walls = [s.wall for s in samples]
    duration = (max(walls) - min(walls)) if walls else 0.0
    peak_tps = max((s.status["ticks_per_s"] for s in samples if s.status), default=0.0)
    backlog_peak = max((s.status["backlog_bytes"] for s in samples if s.status), default=0)
    hub_peak = max((s.hub_rss_kib or 0 for s in samples), default=0)
    writer_peak = max((s.writer_rss_kib or 0 for s in samples), default=0)
    last_bf = next((s.status["backfill"] for s in reversed(samples) if s.status), {})
    survived = sum(r.survived for r in soak.records)
    figures: dict[str, float] = {
        "soak.full_day": int(cfg.full_day),
        "soak.ticks": res.stored,
        "soak.ticks_expected": res.expected,
        "soak.ticks_asked": cfg.ticks,
        "soak.lost": lost,
        "soak.duplicates": res.duplicates,
        "soak.unexpected_keys": len(res.unexpected),
        "soak.mismatched": len(res.mismatched),
        "soak.tick_count_today_diff": (status_today or 0) - table_today,
        "soak.rss_growth_pct": rss_pct,
        "soak.fd_growth": fd_growth,
        "soak.faults_survived": survived,
        "soak.faults_total": len(soak.records),
        "soak.faults_visible": sum(r.visible for r in soak.records),
        "soak.duration_s": round(duration, 1),
        "soak.ticks_per_s": round(res.stored / duration) if duration else 0,
        "soak.peak_ticks_per_s": peak_tps,
        "soak.time_warp": cfg.warp,
        "soak.hub_peak_rss_mb": round(hub_peak / 1024, 1),
        "soak.writer_peak_rss_mb": round(writer_peak / 1024, 1),
        "soak.journal_peak_backlog_mb": round(backlog_peak / 2**20, 1),
        "soak.writer_stall_max_s": stall_max,
        "soak.backfill_ticks": last_bf.get("ticks", 0),
        "soak.backfill_gaps_flagged": flagged,
        "soak.vi_events": len(vi_events),
        "soak.hub_restarts": len(soak.incarnations) - 1,
        # the flood's overflow upstream and the holes the hub saw and filled: reported,
        # not losses (those are soak.lost, which must be 0)
        "soak.upstream_overflow_entries": real_dropped,
        "soak.stream_holes_seen": holes,
        "soak.stocks_collected": len(collected),
        "soak.stocks_traded_uncollected": len(uncollected),
    }
    for r in soak.records:
        if r.name != "drop":
            figures[f"soak.visible_{r.name}"] = int(r.visible)
    drops = [r for r in soak.records if r.name == "drop"]
    figures["soak.drops"] = len(drops)
    if flagged:
        problems.append(f"{flagged} backfill gaps flagged (trades whose keys could not be trusted)")
    if uncollected:
        soak.notes.append(
            f"{len(uncollected)} stocks traded in the continuous session but not collected "
            f"(not compared): {uncollected[:20]}"
        )
    summary = {
        "config": dataclasses.asdict(cfg),
        "day": str(soak.today),
        "figures": figures,
        "problems": problems,
        "notes": soak.notes,
        "faults": [dataclasses.asdict(r) for r in soak.records],
        "processes": procs,
        "events": soak.sampler.events,
        "samples": [dataclasses.asdict(s) for s in samples],
        "collected": collected,
        "sim_state": {k: sim_state[k] for k in ("now", "ground_truth", "ws", "trades_per_s")},
    }
    return figures, summary, problems


# ------------------------------------------------------------------------ entry points
def soak_figures(cfg: SoakConfig) -> dict[str, float]:
    """Run the soak; the figures, or :class:`BenchProblem` naming every failure. Writes
    the summary (and the plot) either way."""
    from tests.bench._runner import BenchProblem

    figures, summary, problems = run_soak(cfg)
    path = Path(cfg.summary) if cfg.summary else Path(tempfile.gettempdir()) / "gslts-soak.json"
    path = path if path.is_absolute() else ROOT / path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
    print(f"   summary: {path}")
    if cfg.plot:
        from tests.bench.soak_plot import plot

        out = Path(cfg.plot) if Path(cfg.plot).is_absolute() else ROOT / cfg.plot
        plot(summary, out)
        print(f"   plot: {out}")
    for note in summary["notes"]:
        print(f"   note: {note}")
    if problems:
        raise BenchProblem(problems, figures)
    return figures


def run() -> dict[str, float]:
    """``make bench``: the short form (``SOAK_*`` variables change it)."""
    return soak_figures(config_from([], {**os.environ, "SOAK_SHORT": "1"}))


def main(argv: Sequence[str]) -> int:
    """``python -m tests.bench.soak``: run, merge the figures into latest.json, exit 1 on
    any failure."""
    if argv[:1] == ["--serve-sim"]:
        _serve_sim(argv[1])
        return 0
    from tests.bench._runner import failure_report, load, merge, new_run_id, now_utc, run_one

    cfg = config_from(argv, os.environ)
    started = now_utc()
    run_id = new_run_id(started)
    print(f"run {run_id}\n== soak", flush=True)
    out = run_one("soak", lambda: soak_figures(cfg))
    for key, value in out.figures.items():
        print(f"   {key} = {value}")
    if cfg.write_results:
        merged = merge(load(RESULTS), [out], run_id, started)
        RESULTS.write_text(json.dumps(merged, indent=2) + "\n", "utf-8")
        print(f"wrote {RESULTS}")
    failed = failure_report([out])
    for line in failed:
        print(f"FAILED {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
