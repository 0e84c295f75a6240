"""A private ``redis-server`` on a free port that a test can stop and start again (a Redis
restart, an outage), beside the shared one the other tests use."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis

from tests.conftest import services_required

SKIP_PREFIX = "SERVICE UNAVAILABLE"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


class RedisServer:
    """A private redis-server on a free port that a test can stop and start again."""

    def __init__(self, tmp: Path) -> None:
        exe = shutil.which("redis-server") or "/usr/sbin/redis-server"
        if not Path(exe).exists():
            msg = f"{SKIP_PREFIX}: redis-server is not installed (apt-get install redis-server)"
            if services_required():
                pytest.fail(msg + " — GSLTS_REQUIRE_SERVICES=1 makes this a failure", pytrace=False)
            pytest.skip(msg)
        self.exe = exe
        self.port = _free_port()
        self.dir = tmp
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.proc = subprocess.Popen(
            [self.exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        deadline = time.monotonic() + 20
        while not _pings(client):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.1)
        client.close()
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None
