"""Syslog over UDP and TCP (`--syslog-listen`) with `logger` from util-linux: RFC 5424 and
RFC 3164, octet-counted and newline-framed TCP."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest

pytestmark = pytest.mark.skipif(shutil.which("logger") is None, reason="logger (util-linux) is not installed")


def syslog_port(server) -> int:
    return int(server.addresses["syslog"].rsplit(":", 1)[1])


def logger(port: int, *args: str) -> None:
    out = subprocess.run(["logger", "-n", "127.0.0.1", "-P", str(port), *args], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr


def wait_count(server, query: str, n: int, timeout: float = 10.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        recs = server.search(query)["records"]
        if len(recs) >= n or time.monotonic() > deadline:
            return recs
        time.sleep(0.05)


@pytest.fixture
def syslog_server(make_server):
    return make_server(["--syslog-listen", "127.0.0.1:0"])


def test_logger_rfc5424_and_rfc3164_over_udp_and_tcp(syslog_server):
    server = syslog_server
    port = syslog_port(server)
    logger(port, "--rfc5424", "-T", "--octet-count", "-t", "payment", "-p", "local0.err", "--msgid", "PAY1",
           "--sd-id", "meta@32473", "--sd-param", 'sequenceId="7"', "결제가 실패했습니다 tcp-5424")
    logger(port, "--rfc5424", "-d", "-t", "checkout", "-p", "user.warning", "slow checkout udp-5424")
    logger(port, "--rfc3164", "-T", "-t", "cron", "-p", "cron.info", "nightly job tcp-3164")
    logger(port, "--rfc3164", "-d", "-t", "raid", "-p", "daemon.crit", "disk failing udp-3164")
    recs = wait_count(server, "", 4)
    by_body = {r["body"]: r for r in recs}
    assert set(by_body) == {"결제가 실패했습니다 tcp-5424", "slow checkout udp-5424", "nightly job tcp-3164", "disk failing udp-3164"}, by_body

    r = by_body["결제가 실패했습니다 tcp-5424"]
    assert (r["service"], r["level"], r["severity_number"]) == ("payment", "ERROR", 17)
    a = r["attributes"]
    assert a["syslog.format"] == "rfc5424" and a["syslog.facility"] == "local0" and a["syslog.severity"] == "err"
    assert a["syslog.msgid"] == "PAY1"
    assert str(a["meta@32473.sequenceId"]) == "7"
    assert r["host"]  # logger sends the machine's hostname
    r = by_body["slow checkout udp-5424"]
    assert (r["service"], r["level"]) == ("checkout", "WARN")
    r = by_body["nightly job tcp-3164"]
    assert (r["service"], r["level"], r["attributes"]["syslog.format"]) == ("cron", "INFO", "rfc3164")
    r = by_body["disk failing udp-3164"]
    assert (r["service"], r["level"], r["attributes"]["syslog.facility"]) == ("raid", "FATAL", "daemon")
    assert server.bodies("결제 실패") == ["결제가 실패했습니다 tcp-5424"]

    m = server.metrics()
    assert m['trawl_ingested_items_total{protocol="syslog"}'] == 4
    assert m['trawl_ingested_bytes_total{protocol="syslog"}'] > 0


def test_one_tcp_connection_with_many_frames(syslog_server):
    server = syslog_server
    port = syslog_port(server)
    frames = []
    for i in range(2500):
        msg = f"<134>1 2026-01-05T10:00:00.000Z web-{i % 3} api {1000 + i} - - request {i} done".encode()
        frames.append(str(len(msg)).encode() + b" " + msg if i % 2 == 0 else msg + b"\n")
    data = b"".join(frames)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        # Odd cuts: the framer must not depend on how reads split the stream.
        for start in range(0, len(data), 997):
            s.sendall(data[start:start + 997])
        # An unterminated last line is complete when the connection closes.
        s.sendall(b"<14>Jan  5 10:00:00 web-9 tail: last line without a newline")
    deadline = time.monotonic() + 20
    key = 'trawl_ingested_items_total{protocol="syslog"}'
    while server.metrics().get(key, 0) < 2501 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.metrics()[key] == 2501
    assert wait_count(server, "service:tail", 1)[0]["body"] == "last line without a newline"
    for i in (0, 1, 1234, 2499):
        [r] = server.search(f'"request {i} done"')["records"]
        assert r["attributes"]["process.pid"] == 1000 + i and r["host"] == f"web-{i % 3}"
