"""The realtime client over TLS, as against the real ``wss://api.kiwoom.com:10000``: the
buffered frame reader reads TLS records (at most 16 KiB each, so frames span reads),
PINGs are echoed, and a burst arrives whole and in order."""

from __future__ import annotations

import datetime as dt
import ipaddress
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gslts_kiwoom import KiwoomWebSocket, Trade, WsConfig
from tests.integration.ws.conftest import SimEnv, echoes_seen, trade_entry


def _self_signed(tmp: Path) -> tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gslts-test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


def test_wss_session_reads_bursts_across_tls_records_and_echoes_pings(
    make_sim: Callable[..., SimEnv], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tls = _self_signed(tmp_path)
    # websocket-client's documented way to trust a CA bundle (also for corporate proxies)
    monkeypatch.setenv("WEBSOCKET_CLIENT_CA_BUNDLE", tls[0])
    env = make_sim(tls=tls)
    assert env.url.startswith("wss://")
    got: list[Any] = []
    client = KiwoomWebSocket(
        env.url, lambda _force: "tok-a", WsConfig(watchdog_s=30), on_events=got.extend
    )
    client.start()
    try:
        assert client.wait_ready(60)
        client.subscribe(["005930", "000660"], ["0B"])
        # a burst far larger than one TLS record (~1 MB of frames), on top of the feed's
        # own ticks (which count up from 1,000: told apart by the burst's volumes)
        base = 10_000_000
        burst = [trade_entry("000660", cum=base + i, hhmmss="100000") for i in range(3000)]
        for i in range(0, len(burst), 10):
            env.feed.push(burst[i : i + 10])
        # the burst arrives, and PINGs go on being echoed over TLS: the server sees the
        # echoes (deadlines, not durations: CI runs this on 2 busy cores)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            cums = [
                e.cum_volume
                for e in list(got)
                if type(e) is Trade and e.code == "000660" and e.cum_volume >= base
            ]
            if len(cums) >= len(burst) and client.stats.pings >= 3 and echoes_seen(env.hub):
                break
            time.sleep(0.05)
        assert cums == [base + i for i in range(len(burst))]
        assert any(type(e) is Trade and e.code == "005930" for e in got)
        assert client.stats.pings >= 3
        assert client.stats.reconnects == 0
        assert not client.stats.malformed
    finally:
        client.close()
