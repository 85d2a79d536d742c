"""Loki push (`POST /loki/api/v1/push`): `python-logging-loki` (JSON) and `winston-loki` from
npm (protobuf + snappy, `json: false`), plus the error answers."""

from __future__ import annotations

import gzip
import json
import logging
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests

import logging_loki

LOKI_NODE = Path(__file__).resolve().parents[1] / "loki-node"


def test_python_logging_loki_json(server):
    handler = logging_loki.LokiHandler(
        url=server.url("/loki/api/v1/push"),
        tags={"application": "py-loki-app", "env": "e2e"},
        version="1",
    )
    # The tenant header, as a multi-tenant Loki expects it.
    handler.emitter.session.headers["X-Scope-OrgID"] = "team-a"
    logger = logging.getLogger("py-loki-test")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(handler)
    try:
        logger.error("결제가 실패했습니다: card declined", extra={"tags": {"component": "payment"}})
        logger.warning("payment slow: 2.5s")
        logger.info("order 42 received")
    finally:
        logger.removeHandler(handler)
        handler.close()
    recs = {r["body"]: r for r in server.search("service:py-loki-app")["records"]}
    assert set(recs) == {"결제가 실패했습니다: card declined", "payment slow: 2.5s", "order 42 received"}
    err = recs["결제가 실패했습니다: card declined"]
    assert err["level"] == "ERROR"
    assert err["environment"] == "e2e"
    assert err["attributes"]["loki.tenant"] == "team-a"
    assert err["attributes"]["component"] == "payment"
    assert err["attributes"]["logger"] == "py-loki-test"
    assert recs["payment slow: 2.5s"]["level"] == "WARN"
    assert recs["order 42 received"]["level"] == "INFO"
    assert server.bodies("결제 실패") == ["결제가 실패했습니다: card declined"]
    m = server.metrics()
    assert m['trawl_ingested_items_total{protocol="loki"}'] == 3


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_winston_loki_protobuf_snappy(server):
    if not (LOKI_NODE / "node_modules" / "winston-loki").is_dir():
        pytest.fail("tests/loki-node/node_modules is missing: run `npm ci` in tests/loki-node (scripts/test.sh does)")
    out = subprocess.run(["node", "send.js", server.api, "node-run-1"], cwd=LOKI_NODE,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    deadline = time.monotonic() + 10
    while server.search("run:node-run-1")["count"] < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    # winston-loki writes the message, then the rest of winston's info object as JSON.
    recs = {r["body"].split(" {")[0]: r for r in server.search("run:node-run-1")["records"]}
    assert recs["order 42 received node-run-1"]["body"] == 'order 42 received node-run-1 {"level":"info"}'
    assert set(recs) == {"order 42 received node-run-1", "payment slow node-run-1", "결제가 실패했습니다 node-run-1"}, recs
    for rec in recs.values():
        assert rec["service"] == "winston-app"
        assert rec["environment"] == "e2e"
        assert rec["attributes"]["loki.tenant"] == "tenant-node"
    assert recs["결제가 실패했습니다 node-run-1"]["level"] == "ERROR"
    assert recs["payment slow node-run-1"]["level"] == "WARN"
    assert recs["payment slow node-run-1"]["attributes"]["component"] == "payment"
    assert recs["order 42 received node-run-1"]["level"] == "INFO"
    # It was protobuf: the bytes counted are far fewer than the JSON would be, and no request failed.
    m = server.metrics()
    assert m['trawl_ingested_items_total{protocol="loki"}'] == 3
    assert not any(k.startswith('trawl_rejected_total{protocol="loki"') for k in m), m


def test_gzip_json_partial_rejects_and_bad_bodies(server):
    now_ns = time.time_ns()
    body = {"streams": [
        {"stream": {"service_name": "gz-app", "level": "warn"},
         "values": [[str(now_ns), "gzipped line one"], [str(now_ns + 1), "gzipped line two", {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"}]]},
        {"stream": {"service_name": "gz-app"}, "values": [["not-a-time", "bad timestamp line"]]},
    ]}
    r = requests.post(server.url("/loki/api/v1/push"), data=gzip.compress(json.dumps(body).encode()),
                      headers={"Content-Type": "application/json", "Content-Encoding": "gzip"}, timeout=10)
    # Loki's answer to a push with some bad entries: 400 with the reasons; the good ones are kept.
    assert r.status_code == 400, r.text
    assert "accepted 2 entries, rejected 1" in r.text and "streams[1].values[0]" in r.text
    assert sorted(server.bodies("service:gz-app")) == ["gzipped line one", "gzipped line two"]
    [rec] = server.search("trace:4bf92f3577b34da6a3ce929d0e0e4736")["records"]
    assert rec["level"] == "WARN"
    # All good: 204.
    ok = {"streams": [{"stream": {"app": "ok-app"}, "values": [[str(now_ns), "fine"]]}]}
    r = requests.post(server.url("/loki/api/v1/push"), json=ok, timeout=10)
    assert r.status_code == 204, r.text
    # Malformed bodies are 400 with a reason; unknown content types 415.
    r = requests.post(server.url("/loki/api/v1/push"), data=b"{", headers={"Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 400 and "invalid json" in r.json()["error"]["reason"]
    r = requests.post(server.url("/loki/api/v1/push"), data=b"\x00garbage", headers={"Content-Type": "application/x-protobuf"}, timeout=10)
    assert r.status_code == 400, r.text
    r = requests.post(server.url("/loki/api/v1/push"), data=b"x", headers={"Content-Type": "text/html"}, timeout=10)
    assert r.status_code == 415
    m = server.metrics()
    assert m['trawl_ingested_items_total{protocol="loki"}'] == 3
    assert m['trawl_rejected_total{protocol="loki",reason="invalid_record"}'] == 1
