"""``gslts run``: start the whole system (what ``make run`` starts).

Starts each part as a child process of this one (simulator in ``sim`` mode, then the
sub-server and the backend as they exist), prefixes nothing and shares the terminal, and
stops them all on Ctrl-C, on SIGTERM/SIGHUP (what a service manager or ``docker stop``
sends) or when any one of them dies: each child gets SIGINT, the servers' graceful stop
(the hub drains its journal into the database), then SIGKILL after a grace period.

A child never outlives this process: on Linux each one is started with
``PR_SET_PDEATHSIG`` = SIGTERM, so even a ``kill -9`` of ``gslts run`` stops them.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from types import FrameType

from gslts_common.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help="start everything (simulator, sub-server, backend)")
    p.set_defaults(func=run)


def _parts(settings: Settings) -> list[tuple[str, list[str]]]:
    """Each part as the command its own container runs (``python -m <service>``)."""
    py = sys.executable
    parts: list[tuple[str, list[str]]] = []
    if settings.kiwoom_mode == "sim":
        parts.append(("simulator", [py, "-m", "gslts_cli", "sim", "--clock", settings.sim_clock]))
    parts.append(("sub-server", [py, "-m", "gslts_hub"]))
    if importlib.util.find_spec("gslts_backend.main") is not None:
        parts.append(("backend", [py, "-m", "gslts_backend"]))
    return parts


def _hub_url() -> str:
    """Where the hub started here listens, as another process reaches it."""
    from gslts_hub.settings import WILDCARD_BIND, HubSettings

    hub = HubSettings()
    host = "127.0.0.1" if hub.hub_host.strip() in WILDCARD_BIND else hub.hub_host.strip()
    host = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{host}:{hub.hub_port}"


def _env(name: str) -> dict[str, str]:
    """The child's environment: ours; the backend follows the hub started here (its
    bus stream when there is no Redis) unless HUB_URL says otherwise."""
    env = os.environ.copy()
    if name == "backend" and not env.get("HUB_URL"):
        env["HUB_URL"] = _hub_url()
    if name == "backend":
        env.update(_sector_job_env())
    return env


def _sector_job_env() -> dict[str, str]:
    """Everything on the simulator includes the sector link's morning job
    (docs/sectors-data.md), unless the environment or .env says otherwise. Not its sim
    fetch: a first backfill is ~180 ka10081 calls through the backend's one rate limiter,
    which the dashboard's own calls would queue behind (``.env.example`` turns it on)."""
    from gslts_backend.settings import BackendSettings

    configured = BackendSettings().model_fields_set
    wanted = {"sectors_schedule": "true"}
    return {k.upper(): v for k, v in wanted.items() if k not in configured}


def _print_urls(settings: Settings, started: list[str]) -> None:
    lines = []
    if "simulator" in started:
        lines.append(f"  Kiwoom simulator   http://127.0.0.1:{settings.sim_port}")
    if "sub-server" in started:
        from gslts_hub.settings import HubSettings

        port = HubSettings().hub_port
        lines.append(f"  tick hub monitor   http://127.0.0.1:{port}/  (/api/status, /metrics)")
    if "backend" in started:
        from gslts_backend.settings import BackendSettings

        port = BackendSettings().backend_port
        lines.append(
            f"  main server        http://127.0.0.1:{port}/api/health  (live data from the hub)"
        )
    print("gslts run: ready\n" + "\n".join(lines) + "\n  Ctrl-C stops everything.", flush=True)


#: seconds a child has to stop after SIGINT before it is killed (the hub drains first)
STOP_GRACE_S = 30.0
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the parent dies (Linux; elsewhere a no-op)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Until something accepts on ``port`` (the simulator, before its clients start)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)


class _Stop(Exception):
    """SIGTERM / SIGHUP arrived."""


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    raise _Stop(signal.Signals(signum).name)


def run(args: argparse.Namespace, settings: Settings) -> int:
    children: list[tuple[str, subprocess.Popen[bytes]]] = []
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    rc = 0
    try:
        for name, cmd in _parts(settings):
            print(f"gslts run: starting {name}: {' '.join(cmd[2:])}", flush=True)
            proc = subprocess.Popen(  # noqa: S603
                cmd, env=_env(name), preexec_fn=_die_with_parent
            )
            children.append((name, proc))
            if name == "simulator":
                _wait_listening(settings.sim_port, proc)
        _print_urls(settings, [name for name, _ in children])
        while True:
            for name, proc in children:
                code = proc.poll()
                if code is not None:
                    print(f"gslts run: {name} exited with {code}; stopping the rest", flush=True)
                    rc = code or 1
                    raise SystemExit
            time.sleep(0.5)
    except _Stop as exc:
        print(f"gslts run: {exc}: stopping everything", flush=True)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the stop
        _stop_all(children)
    return rc


def _stop_all(children: list[tuple[str, subprocess.Popen[bytes]]]) -> None:
    """SIGINT to each child (clients first, the simulator last), then wait; kill stragglers."""
    for _, proc in reversed(children):
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    deadline = time.monotonic() + STOP_GRACE_S
    for name, proc in reversed(children):
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"gslts run: {name} did not stop in {STOP_GRACE_S:.0f} s; killing it", flush=True)
            proc.kill()
            proc.wait(5)
