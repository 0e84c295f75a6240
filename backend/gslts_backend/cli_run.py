"""``gslts run``: start the whole system (what ``make run`` starts).

Starts each part as a child process of this one (simulator in ``sim`` mode, then the
sub-server and the backend as they exist), prefixes nothing and shares the terminal, and
stops them all on Ctrl-C or when any one of them dies.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import subprocess
import sys
import time

from gslts_backend.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help="start everything (simulator, sub-server, backend)")
    p.set_defaults(func=run)


def _parts(settings: Settings) -> list[tuple[str, list[str]]]:
    gslts = [sys.executable, "-m", "gslts_backend.cli"]
    parts: list[tuple[str, list[str]]] = []
    if settings.kiwoom_mode == "sim":
        parts.append(("simulator", [*gslts, "sim", "--clock", settings.sim_clock]))
    if importlib.util.find_spec("gslts_hub.app") is not None:
        parts.append(("sub-server", [*gslts, "sub-server"]))
    if importlib.util.find_spec("gslts_backend.app") is not None:
        parts.append(("backend", [*gslts, "backend"]))
    return parts


def _print_urls(settings: Settings, started: list[str]) -> None:
    lines = []
    if "simulator" in started:
        lines.append(f"  Kiwoom simulator   http://127.0.0.1:{settings.sim_port}")
    if "sub-server" in started:
        from gslts_hub.settings import HubSettings

        port = HubSettings().hub_port
        lines.append(f"  tick hub monitor   http://127.0.0.1:{port}/  (/api/status, /metrics)")
    if "backend" in started:
        lines.append("  dashboard          http://127.0.0.1:8000/")
    print("gslts run: ready\n" + "\n".join(lines) + "\n  Ctrl-C stops everything.", flush=True)


def run(args: argparse.Namespace, settings: Settings) -> int:
    children: list[tuple[str, subprocess.Popen[bytes]]] = []
    for name, cmd in _parts(settings):
        print(f"gslts run: starting {name}: {' '.join(cmd[3:])}", flush=True)
        children.append((name, subprocess.Popen(cmd, env=os.environ.copy())))  # noqa: S603
        time.sleep(1.0)  # the simulator should be listening before its clients start
    _print_urls(settings, [name for name, _ in children])
    rc = 0
    try:
        while True:
            for name, proc in children:
                code = proc.poll()
                if code is not None:
                    print(f"gslts run: {name} exited with {code}; stopping the rest", flush=True)
                    rc = code or 1
                    raise SystemExit
            time.sleep(0.5)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        for _, proc in children:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 10
        for _, proc in children:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
    return rc
