"""Sensitive data never reaches the disk: a card number, a resident registration number, an
e-mail address and a bearer token sent through every ingest protocol (NDJSON, OTLP/HTTP logs
and traces, Elasticsearch `_bulk`, Loki push, syslog over TCP, and the real `sentry-sdk`) are
masked before the WAL: no search answers them, and no byte of the data directory holds them."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import requests

from receivers import wait_until

CARD = "4111 1111 1111 1111"
RRN = "900101-1234568"
EMAIL = "kim.minsu@example.co.kr"
TOKEN = "abcDEF123456ghiJKL7890"
SECRETS = [CARD, CARD.replace(" ", ""), RRN, EMAIL, TOKEN]
LINE = f"결제 실패 card={CARD} 주민번호 {RRN} user={EMAIL} Authorization: Bearer {TOKEN}"

SENTRY_SCRIPT = textwrap.dedent('''
    import sys
    import sentry_sdk
    dsn, line = sys.argv[1:3]
    sentry_sdk.init(dsn=dsn, traces_sample_rate=1.0, release="privacy@1", environment="e2e")
    sentry_sdk.set_user({"id": "u-7", "email": "kim.minsu@example.co.kr"})
    sentry_sdk.set_tag("card", "4111111111111111")
    def pay(card_number):
        raise ValueError(line)
    try:
        pay("4111 1111 1111 1111")
    except ValueError:
        sentry_sdk.capture_exception()
    sentry_sdk.flush(10)
''')


def otlp_attr(key, value):
    return {"key": key, "value": {"stringValue": value}}


def send_everything(server) -> None:
    """Sends LINE through each protocol."""
    now = time.time_ns()
    r = server.ingest([{"service": "ndjson-svc", "body": LINE, "password": "hunter2", "customer.email": EMAIL}])
    assert r.status_code == 200, r.text
    logs = {"resourceLogs": [{"resource": {"attributes": [otlp_attr("service.name", "otlp-svc")]}, "scopeLogs": [{"logRecords": [
        {"timeUnixNano": str(now), "severityText": "ERROR", "body": {"stringValue": LINE},
         "attributes": [otlp_attr("user.email", EMAIL), otlp_attr("http.request.header.authorization", f"Bearer {TOKEN}")]}]}]}]}
    r = server.http.post(server.url("/v1/logs"), json=logs, timeout=30)
    assert r.status_code == 200, r.text
    traces = {"resourceSpans": [{"resource": {"attributes": [otlp_attr("service.name", "otlp-svc")]}, "scopeSpans": [{"spans": [
        {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "spanId": "00f067aa0ba902b7", "name": "POST /pay", "kind": 2,
         "startTimeUnixNano": str(now), "endTimeUnixNano": str(now + 5_000_000), "status": {"code": 2, "message": LINE},
         "attributes": [otlp_attr("card.number", CARD), otlp_attr("enduser.id", EMAIL)],
         "events": [{"timeUnixNano": str(now), "name": "exception", "attributes": [otlp_attr("exception.message", LINE)]}]}]}]}]}
    r = server.http.post(server.url("/v1/traces"), json=traces, timeout=30)
    assert r.status_code == 200, r.text
    bulk = "\n".join([json.dumps({"index": {"_index": "app"}}), json.dumps({"message": LINE, "service": "es-svc", "user": {"email": EMAIL}})]) + "\n"
    r = server.http.post(server.url("/_bulk"), data=bulk.encode(), headers={"Content-Type": "application/x-ndjson"}, timeout=30)
    assert r.status_code == 200 and not r.json()["errors"], r.text
    loki = {"streams": [{"stream": {"service_name": "loki-svc"}, "values": [[str(now), LINE]]}]}
    r = server.http.post(server.url("/loki/api/v1/push"), json=loki, timeout=30)
    assert r.status_code in (200, 204), r.text
    host, port = server.addresses["syslog"].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        msg = f"<11>1 2026-12-07T10:00:00Z web syslog-svc 1 - - {LINE}".encode()
        s.sendall(f"{len(msg)} ".encode() + msg)
    # The real Sentry SDK: exception value, user e-mail, a tag and a frame variable.
    url = server.api.replace("http://", "")
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "privacy_app.py"
        script.write_text(SENTRY_SCRIPT)
        out = subprocess.run([sys.executable, str(script), f"http://k1@{url}/9", LINE], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr


def test_every_protocol_is_masked_before_the_disk(make_server):
    server = make_server(["--syslog-listen", "127.0.0.1:0", "--flush-seconds", "1"])
    send_everything(server)
    # Everything arrives (syslog and Sentry asynchronously), masked.
    deadline = time.time() + 30
    services = {"ndjson-svc", "otlp-svc", "es-svc", "loki-svc", "syslog-svc"}
    while True:
        found = server.search("결제 실패", limit=100)["records"]
        seen = {r["service"] for r in found}
        sentry = server.search("trawl.masked:* exception.type:ValueError", limit=10)["records"]
        if services <= seen and sentry:
            break
        assert time.time() < deadline, (seen, len(sentry))
        time.sleep(0.3)
    text = json.dumps(found + sentry, ensure_ascii=False)
    for secret in SECRETS:
        assert secret not in text, f"{secret} in a search answer"
    assert "**** **** **** 1111" in text and "900101-1******" in text and "[REDACTED:email]" in text
    assert all("trawl.masked" in r["attributes"] for r in found), found
    # Spans: status message, attributes and event attributes.
    trace = server.trace("4bf92f3577b34da6a3ce929d0e0e4736").json()
    trace_text = json.dumps(trace, ensure_ascii=False)
    for secret in SECRETS:
        assert secret not in trace_text, f"{secret} in the trace"
    # No byte of the data directory: WAL, segments, indexes, metastore.
    server.wait_flushed(30)
    for path in server.data_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for secret in SECRETS:
                assert secret.encode() not in data, f"{secret} found in {path}"
    # Counted, and reported without the values.
    metrics = server.metrics()
    assert metrics['trawl_masked_total{service="ndjson-svc",detector="card"}'] >= 1
    report = server.http.get(server.url("/api/v1/privacy/report"), params={"start": "1h"}, timeout=30).json()
    kinds = {(r["service"], r["detector"]) for r in report["rows"]}
    assert {("ndjson-svc", "card"), ("ndjson-svc", "kr_rrn"), ("otlp-svc", "email"), ("es-svc", "bearer")} <= kinds, kinds
    assert EMAIL not in json.dumps(report)


def test_the_rules_on_one_text_and_offline(make_server, trawl_bin, tmp_path):
    config = tmp_path / "trawl.toml"
    config.write_text(textwrap.dedent('''
        [privacy]
        hash_key = "e2e-key"
        actions = { email = "hash" }
        detectors = { ipv4 = true }
        [[privacy.custom]]
        name = "employee_id"
        pattern = "EMP-[0-9]{6}"
    '''))
    server = make_server(["--config", str(config)])
    r = server.http.post(server.url("/api/v1/privacy/test"), json={"text": f"{EMAIL} from 10.1.2.3 by EMP-123456"}, timeout=10)
    answer = r.json()
    assert answer["masked"].startswith("[HASH:email:") and "[REDACTED:ipv4]" in answer["masked"] and "[REDACTED:employee_id]" in answer["masked"], answer
    assert answer["findings"] == {"email": 1, "ipv4": 1, "employee_id": 1}
    # The same value hashes the same, so records still correlate.
    again = server.http.post(server.url("/api/v1/privacy/test"), json={"text": EMAIL}, timeout=10).json()
    assert again["masked"] == answer["masked"].split(" ")[0]
    # `trawl mask` applies the file's rules offline.
    out = subprocess.run([str(trawl_bin), "mask", "--config", str(config)], input=json.dumps({"body": LINE, "service": "x"}) + "\n",
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    line = json.loads(out.stdout)
    for secret in SECRETS:
        assert secret not in line["body"]
    assert "card:1" in out.stderr and "email:1" in out.stderr
    # A bad rule stops the server with its reason.
    bad = tmp_path / "bad.toml"
    bad.write_text('[privacy]\nactions = { email = "hash" }\n')
    out = subprocess.run([str(trawl_bin), "server", "--config", str(bad), "--data-dir", str(tmp_path / "d"), "--listen", "127.0.0.1:0"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and "hash_key" in out.stderr, out.stderr


def test_overrides_per_service_and_environment_and_reload(make_server, tmp_path):
    """One service's records get other rules than the rest, an environment has masking off, and
    a changed file applies without a restart (on SIGHUP and on the API); a broken file is refused
    with its reason and the rules in force stay."""
    config = tmp_path / "trawl.toml"
    config.write_text(textwrap.dedent('''
        [privacy]
        [[privacy.overrides]]
        service = "edge-*"
        detectors = { ipv4 = true }
        [[privacy.overrides]]
        environment = "loadtest"
        enabled = false
    '''))
    server = make_server(["--config", str(config)])
    text = f"client 10.20.30.40 card {CARD}"
    server.ingest_ok([
        {"service": "edge-gateway", "environment": "prod", "body": f"edge {text}"},
        {"service": "orders", "environment": "prod", "body": f"orders {text}"},
        {"service": "orders", "environment": "loadtest", "body": f"loadtest {text}"},
    ])
    bodies = {r["body"].split()[0]: r["body"] for r in server.search("client", limit=10)["records"]}
    assert bodies["edge"] == "edge client [REDACTED:ipv4] card **** **** **** 1111", bodies
    assert bodies["orders"] == "orders client 10.20.30.40 card **** **** **** 1111", bodies
    assert bodies["loadtest"] == f"loadtest {text}", bodies
    # The try endpoint takes a service and environment, and applies their override.
    r = server.http.post(server.url("/api/v1/privacy/test"), json={"text": text, "service": "edge-api"}, timeout=10).json()
    assert r["findings"] == {"ipv4": 1, "card": 1}, r

    # A new rule, applied on SIGHUP: e-mails hashed, everywhere.
    config.write_text(textwrap.dedent('''
        [privacy]
        hash_key = "reload-key"
        actions = { email = "hash" }
    '''))
    before = server.http.get(server.url("/api/v1/privacy/report"), timeout=10).json()["loaded_at"]
    server.proc.send_signal(signal.SIGHUP)
    def reloaded():
        return server.http.get(server.url("/api/v1/privacy/report"), timeout=10).json()["loaded_at"] != before
    wait_until(reloaded, 10, "the privacy rules to be reloaded on SIGHUP")
    server.ingest_ok([{"service": "orders", "environment": "loadtest", "body": f"after reload {EMAIL} from 10.20.30.40"}])
    body = server.search('"after reload"', limit=1)["records"][0]["body"]
    assert body.startswith("after reload [HASH:email:") and body.endswith("from 10.20.30.40"), body

    # A broken file is refused on the API with its reason; the rules in force stay.
    config.write_text('[privacy]\nactions = { email = "hash" }\n')
    r = server.http.post(server.url("/api/v1/privacy/reload"), timeout=10)
    assert r.status_code == 400 and "hash_key" in r.json()["error"]["reason"], r.text
    r = server.http.post(server.url("/api/v1/privacy/test"), json={"text": EMAIL}, timeout=10).json()
    assert r["masked"].startswith("[HASH:email:"), r
    # Fixed, it is taken.
    config.write_text('[privacy]\ndetectors = { email = false }\n')
    r = server.http.post(server.url("/api/v1/privacy/reload"), timeout=10)
    assert r.status_code == 200 and "email" not in r.json()["detectors"], r.text
    r = server.http.post(server.url("/api/v1/privacy/test"), json={"text": f"{EMAIL} {CARD}"}, timeout=10).json()
    assert r["masked"] == f"{EMAIL} **** **** **** 1111", r
