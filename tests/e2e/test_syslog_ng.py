"""syslog-ng relaying syslog to trawl's `_bulk` with its `elasticsearch-http()` destination
(the configuration of docs/ingest.md), fed by `logger` over RFC 5424/TCP and RFC 3164/UDP."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest

pytestmark = pytest.mark.skipif(shutil.which("syslog-ng") is None or shutil.which("logger") is None,
                                reason="syslog-ng (apt: syslog-ng-core syslog-ng-mod-http syslog-ng-scl) is not installed")

CONFIG = """@version: 3.38
@include "scl.conf"

options {{ chain_hostnames(no); stats_freq(0); }};

# RFC 5424 over TCP (octet-counted) and RFC 3164 over UDP.
source s_apps {{
    syslog(ip("127.0.0.1") port({tcp_port}) transport("tcp"));
    network(ip("127.0.0.1") port({udp_port}) transport("udp"));
}};

destination d_trawl {{
    elasticsearch-http(
        url("{trawl}/_bulk")
        index("syslog-ng")
        type("")
        batch_lines(100)
        batch_timeout(200)
        timeout(10)
    );
}};

log {{ source(s_apps); destination(d_trawl); flags(flow-control); }};
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def syslog_ng(server, tmp_path):
    tcp_port, udp_port = free_port(), free_port()
    conf = tmp_path / "syslog-ng.conf"
    conf.write_text(CONFIG.format(tcp_port=tcp_port, udp_port=udp_port, trawl=server.api))
    log = open(tmp_path / "syslog-ng.log", "wb")
    proc = subprocess.Popen(["syslog-ng", "-F", "-f", str(conf), "--no-caps", "-R", str(tmp_path / "persist"),
                             "-p", str(tmp_path / "pidfile"), "-c", str(tmp_path / "ctlsocket")],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while True:
            assert proc.poll() is None, (tmp_path / "syslog-ng.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", tcp_port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "syslog-ng did not listen"
                time.sleep(0.1)
        yield tcp_port, udp_port
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def test_syslog_ng_relays_to_bulk(server, syslog_ng):
    tcp_port, udp_port = syslog_ng
    run = lambda *args: subprocess.run(["logger", "-n", "127.0.0.1", *args], check=True, timeout=30)
    run("-P", str(tcp_port), "-T", "--octet-count", "--rfc5424", "-t", "billing", "-p", "local0.err",
        "결제가 실패했습니다 via syslog-ng")
    run("-P", str(udp_port), "-d", "--rfc3164", "-t", "cron", "-p", "cron.warning", "nightly job late via syslog-ng")
    for i in range(50):
        run("-P", str(tcp_port), "-T", "--octet-count", "--rfc5424", "-t", "bulkapp", "-p", "user.info", f"line {i} via syslog-ng")
    deadline = time.monotonic() + 30
    while server.search("es.index:syslog-ng", limit=1000)["count"] < 52 and time.monotonic() < deadline:
        time.sleep(0.2)
    recs = server.search("es.index:syslog-ng", limit=1000)["records"]
    assert len(recs) == 52, [r["body"] for r in recs]
    by_body = {r["body"]: r for r in recs}
    r = by_body["결제가 실패했습니다 via syslog-ng"]
    assert (r["service"], r["level"]) == ("billing", "ERROR")
    assert r["host"]
    assert r["attributes"]["FACILITY"] == "local0"
    r = by_body["nightly job late via syslog-ng"]
    assert (r["service"], r["level"]) == ("cron", "WARN")
    assert server.search("service:bulkapp", limit=1000)["count"] == 50
    m = server.metrics()
    assert m['trawl_ingested_items_total{protocol="es_bulk"}'] == 52
    assert not any(k.startswith('trawl_rejected_total{protocol="es_bulk"') for k in m)
