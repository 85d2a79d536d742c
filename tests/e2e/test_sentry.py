"""Sentry: the real `sentry-sdk` capturing an exception inside a transaction and a span, sent
as an envelope (brotli when the brotli module is installed, else gzip), and the key checks."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests

# Runs in its own process: sentry_sdk keeps one global client. argv: dsn, compression, tag.
SDK_SCRIPT = textwrap.dedent('''
    import sys
    import sentry_sdk

    dsn, compression, tag = sys.argv[1:4]
    sentry_sdk.init(
        dsn=dsn,
        traces_sample_rate=1.0,
        release="checkout@1.4.2",
        environment="e2e",
        server_name="sentry-host",
        _experiments={"transport_compression_algo": compression},
    )
    sentry_sdk.set_tag("run", tag)
    sentry_sdk.set_user({"id": "u-42"})

    def charge_card(amount):
        raise ValueError(f"card declined for amount {amount}")

    with sentry_sdk.start_transaction(op="http.server", name="POST /checkout") as transaction:
        with sentry_sdk.start_span(op="payment", name="charge card") as span:
            try:
                charge_card(42)
            except ValueError:
                sentry_sdk.capture_exception()
        print(transaction.trace_id)
    sentry_sdk.flush(10)
''')


def run_sdk(dsn: str, compression: str, tag: str) -> str:
    # A real file, so that the SDK sends source context lines with the frames.
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "checkout_app.py"
        script.write_text(SDK_SCRIPT)
        out = subprocess.run([sys.executable, str(script), dsn, compression, tag],
                             capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


def dsn_for(server, key: str = "publickey", project: int = 42) -> str:
    host = urlparse(server.api).netloc
    return f"http://{key}@{host}/{project}"


def wait_for(fn, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


@pytest.mark.parametrize("compression", ["br", "gzip"])
def test_sdk_exception_joins_its_trace(server, compression):
    trace_id = run_sdk(dsn_for(server), compression, compression)
    assert len(trace_id) == 32
    records = wait_for(lambda: server.search(f"trace:{trace_id}")["records"])
    assert len(records) == 1, records
    [rec] = records
    assert rec["trace_id"] == trace_id
    assert rec["level"] == "ERROR"
    assert rec["service"] == "checkout"  # the name part of the release
    assert rec["environment"] == "e2e"
    assert rec["host"] == "sentry-host"
    attrs = rec["attributes"]
    assert attrs["exception.type"] == "ValueError"
    assert attrs["exception.message"] == "card declined for amount 42"
    assert rec["body"] == "ValueError: card declined for amount 42"
    assert "checkout_app.py" in attrs["exception.stacktrace"]
    assert "charge_card" in attrs["exception.stacktrace"]
    assert "raise ValueError" in attrs["exception.stacktrace"]
    assert attrs["service.version"] == "1.4.2"
    assert attrs["tags.run"] == compression
    assert attrs["user.id"] == "u-42"

    # The transaction's spans are stored with the same trace id; the error sits on the span.
    trace = wait_for(lambda: (lambda r: r.json() if r.status_code == 200 else None)(server.trace(trace_id)))
    assert trace, f"trace {trace_id} not found"
    text = json.dumps(trace)
    assert "POST /checkout" in text and "charge card" in text
    spans = {s["name"]: s for s in trace["spans"]}
    assert set(spans) == {"POST /checkout", "charge card"}, list(spans)
    assert spans["charge card"]["service"] == "checkout"
    # The error record belongs to the span it was captured in.
    assert rec["span_id"] == spans["charge card"]["span_id"]
    m = server.metrics()
    assert m['trawl_ingested_items_total{protocol="sentry"}'] >= 3  # error + transaction + span
    assert m[f'trawl_ingested_bytes_total{{protocol="sentry"}}'] > 0


def test_keys_are_required_and_checked(make_server):
    server = make_server(["--sentry-keys", "k1,k2"])
    event = {"event_id": "a" * 32, "message": "store endpoint event", "level": "warning"}
    body = json.dumps(event).encode()
    # No key: 401 with a reason, before the body is read.
    r = requests.post(server.url("/api/7/store/"), data=body, headers={"Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 401, r.text
    assert "X-Sentry-Auth" in r.json()["error"]["reason"]
    # An unknown key.
    r = requests.post(server.url("/api/7/store/"), data=body,
                      headers={"X-Sentry-Auth": "Sentry sentry_key=nope, sentry_version=7"}, timeout=10)
    assert r.status_code == 401 and "unknown sentry key" in r.json()["error"]["reason"]
    # A known key, in the header or as the browser SDK's query parameter; gzip and deflate.
    r = requests.post(server.url("/api/7/store/"), data=gzip.compress(body),
                      headers={"X-Sentry-Auth": "Sentry sentry_key=k2, sentry_version=7", "Content-Encoding": "gzip"},
                      timeout=10)
    assert r.status_code == 200, r.text
    assert r.json() == {"id": "a" * 32}
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    import zlib
    event2 = dict(event, event_id="b" * 32, message="deflated store event")
    r = requests.post(server.url("/api/7/store/?sentry_key=k1&sentry_version=7"), data=zlib.compress(json.dumps(event2).encode()),
                      headers={"Content-Encoding": "deflate", "Content-Type": "text/plain;charset=UTF-8"}, timeout=10)
    assert r.status_code == 200, r.text
    [rec] = server.search("store endpoint event")["records"]
    assert rec["service"] == "sentry-project-7"
    assert rec["level"] == "WARN"
    assert server.bodies("deflated") == ["deflated store event"]
    # The SDK with a configured key.
    trace_id = run_sdk(dsn_for(server, "k1", 8), "gzip", "keyed")
    assert wait_for(lambda: server.search(f"trace:{trace_id}")["count"] == 1)
    # The SDK with a wrong key sends nothing that is stored.
    trace_id = run_sdk(dsn_for(server, "wrong", 8), "gzip", "wrong")
    time.sleep(0.5)
    assert server.search(f"trace:{trace_id}")["count"] == 0
    assert server.metrics()['trawl_rejected_total{protocol="sentry",reason="unauthorized"}'] >= 3


def test_cors_preflight_and_bad_envelopes(server):
    r = requests.options(server.url("/api/5/envelope/"), headers={
        "Origin": "https://shop.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, x-sentry-auth"}, timeout=10)
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in r.headers["Access-Control-Allow-Methods"]
    assert "x-sentry-auth" in r.headers["Access-Control-Allow-Headers"].lower()
    auth = {"X-Sentry-Auth": "Sentry sentry_key=abc, sentry_version=7"}
    r = requests.post(server.url("/api/5/envelope/"), data=b'{"event_id":"x"}\n{"type":5}\n{}\n', headers=auth, timeout=10)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "invalid_body"
    r = requests.post(server.url("/api/5/envelope/"), data=b"x", headers=dict(auth, **{"Content-Encoding": "zstd"}), timeout=10)
    assert r.status_code == 415
    # A session item is skipped, not refused; an envelope of it answers its id.
    envelope = b'{"event_id":"' + b"c" * 32 + b'"}\n{"type":"session"}\n{"sid":"s","status":"ok"}\n'
    r = requests.post(server.url("/api/5/envelope/"), data=envelope, headers=auth, timeout=10)
    assert r.status_code == 200 and r.json() == {"id": "c" * 32}
