"""Overload on the compatibility endpoints: more concurrent writes than a server with a writer
queue of one request can take. Refusals must be 429 with `Retry-After` (and each protocol's own
headers), never 500, and every acknowledged record must be stored exactly once."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests
from elasticsearch import Elasticsearch, helpers

THREADS = 12
REQUESTS_PER_THREAD = 25
RECORDS_PER_REQUEST = 20


def overloaded_server(make_server, tmp_path, extra=()):
    config = tmp_path / "trawl.toml"
    # One request may wait for the writer thread; the others are refused as overload.
    config.write_text("max_queued_writes = 1\n")
    return make_server(["--config", str(config), "--syslog-listen", "127.0.0.1:0", *extra])


def es_body(thread: int, request: int) -> bytes:
    lines = []
    for i in range(RECORDS_PER_REQUEST):
        lines.append(json.dumps({"index": {"_index": "load", "_id": f"t{thread}-r{request}-{i}"}}))
        lines.append(json.dumps({"message": f"es load t{thread} r{request} i{i}", "service": "es-load"}))
    return ("\n".join(lines) + "\n").encode()


def loki_body(thread: int, request: int) -> bytes:
    now = time.time_ns()
    values = [[str(now + i), f"loki load t{thread} r{request} i{i}"] for i in range(RECORDS_PER_REQUEST)]
    return json.dumps({"streams": [{"stream": {"service_name": "loki-load"}, "values": values}]}).encode()


def sentry_body(thread: int, request: int) -> bytes:
    return json.dumps({"event_id": uuid.uuid4().hex, "message": f"sentry load t{thread} r{request}", "level": "error"}).encode()


def drive(server, thread: int) -> dict:
    """Sends each protocol's requests once (no retry) and records what was answered."""
    http = requests.Session()
    seen = {"es": [], "loki": [], "sentry": []}
    for request in range(REQUESTS_PER_THREAD):
        r = http.post(server.url("/_bulk"), data=es_body(thread, request),
                      headers={"Content-Type": "application/x-ndjson"}, timeout=60)
        seen["es"].append((r.status_code, r.headers, r.text, request))
        r = http.post(server.url("/loki/api/v1/push"), data=loki_body(thread, request),
                      headers={"Content-Type": "application/json"}, timeout=60)
        seen["loki"].append((r.status_code, r.headers, r.text, request))
        r = http.post(server.url("/api/3/store/"), data=sentry_body(thread, request),
                      headers={"X-Sentry-Auth": "Sentry sentry_key=k, sentry_version=7"}, timeout=60)
        seen["sentry"].append((r.status_code, r.headers, r.text, request))
    return seen


def test_overload_is_429_with_retry_after_and_acknowledged_records_are_stored(make_server, tmp_path):
    server = overloaded_server(make_server, tmp_path)
    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(lambda t: drive(server, t), range(THREADS)))

    acknowledged = {"es": set(), "loki": set(), "sentry": set()}
    refused = {"es": 0, "loki": 0, "sentry": 0}
    for thread, seen in enumerate(results):
        for status, headers, text, request in seen["es"]:
            assert status in (200, 429), (status, text)
            assert headers["X-Elastic-Product"] == "Elasticsearch"
            if status == 429:
                refused["es"] += 1
                assert int(headers["Retry-After"]) >= 1
                body = json.loads(text)
                assert body["status"] == 429 and body["error"]["type"] == "es_rejected_execution_exception"
            else:
                items = json.loads(text)["items"]
                assert len(items) == RECORDS_PER_REQUEST
                assert all(i["index"]["status"] == 201 for i in items)
                acknowledged["es"].update(f"es load t{thread} r{request} i{i}" for i in range(RECORDS_PER_REQUEST))
        for status, headers, text, request in seen["loki"]:
            assert status in (204, 429), (status, text)
            if status == 429:
                refused["loki"] += 1
                assert int(headers["Retry-After"]) >= 1
            else:
                acknowledged["loki"].update(f"loki load t{thread} r{request} i{i}" for i in range(RECORDS_PER_REQUEST))
        for status, headers, text, request in seen["sentry"]:
            assert status in (200, 429), (status, text)
            if status == 429:
                refused["sentry"] += 1
                secs = int(headers["Retry-After"])
                assert secs >= 1
                assert headers["X-Sentry-Rate-Limits"] == f"{secs}::organization"
            else:
                acknowledged["sentry"].add(f"sentry load t{thread} r{request}")
    total = THREADS * REQUESTS_PER_THREAD
    print(f"refused requests out of {total} per protocol: {refused}")
    assert sum(refused.values()) > 0, "the server was never overloaded: the test proves nothing"

    # Every acknowledged record is stored once, and nothing refused was stored.
    for protocol, service_query, marker in (("es", "service:es-load", "es load"),
                                            ("loki", "service:loki-load", "loki load"),
                                            ("sentry", "service:sentry-project-3", "sentry load")):
        stored = []
        for thread in range(THREADS):
            stored += [r["body"] for r in server.search(f'{service_query} "{marker} t{thread} "', limit=10_000)["records"]]
        assert len(stored) == len(set(stored)), f"{protocol}: duplicates stored"
        assert set(stored) == acknowledged[protocol], protocol

    # Accounting in /metrics: accepted + rejected = sent, per protocol.
    m = server.metrics()
    es_sent = total * RECORDS_PER_REQUEST
    assert m['trawl_ingested_items_total{protocol="es_bulk"}'] == len(acknowledged["es"])
    assert m['trawl_ingested_items_total{protocol="es_bulk"}'] + m.get('trawl_rejected_total{protocol="es_bulk",reason="overloaded"}', 0) == es_sent
    assert m.get('trawl_ingested_items_total{protocol="loki"}', 0) == len(acknowledged["loki"])
    assert m.get('trawl_ingested_items_total{protocol="sentry"}', 0) == len(acknowledged["sentry"])
    assert m.get('trawl_ingested_items_total{protocol="sentry"}', 0) + m.get('trawl_rejected_total{protocol="sentry",reason="overloaded"}', 0) == total
    assert server.healthy()


def test_clients_that_retry_get_everything_stored_once(make_server, tmp_path):
    """The official Elasticsearch client retries 429 (whole request); syslog over TCP is
    slowed by the socket instead of losing anything. Both under the same overload."""
    server = overloaded_server(make_server, tmp_path)
    port = int(server.addresses["syslog"].rsplit(":", 1)[1])
    n_syslog = 20_000
    stop = threading.Event()

    def noise():
        # Keeps the writer queue busy so that the clients below meet refusals.
        http = requests.Session()
        i = 0
        while not stop.is_set():
            http.post(server.url("/api/v1/ingest"), data=json.dumps({"msg": f"noise {i}"}) + "\n", timeout=60)
            i += 1

    def syslog_sender():
        with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
            for start in range(0, n_syslog, 500):
                s.sendall(b"".join(b"<134>Jan  5 10:00:00 h tcpload: tcp load %d\n" % i for i in range(start, start + 500)))

    noisers = [threading.Thread(target=noise) for _ in range(6)]
    for t in noisers:
        t.start()
    try:
        sender = threading.Thread(target=syslog_sender)
        sender.start()
        es = Elasticsearch(server.api, request_timeout=60, max_retries=50, retry_on_status=(429, 503))
        actions = ({"_index": "retry", "_id": f"doc-{i}", "_source": {"message": f"retried doc {i}", "service": "es-retry"}}
                   for i in range(3000))
        ok, errors = helpers.bulk(es, actions, chunk_size=100, raise_on_error=False, max_retries=10, initial_backoff=0.1)
        sender.join(120)
    finally:
        stop.set()
        for t in noisers:
            t.join(60)
    assert (ok, errors) == (3000, [])
    m = server.metrics()
    print("es_bulk overloaded items:", m.get('trawl_rejected_total{protocol="es_bulk",reason="overloaded"}', 0),
          "ndjson overloaded requests:", m.get('trawl_rejected_total{protocol="ndjson",reason="overloaded"}', 0))
    assert m['trawl_ingested_items_total{protocol="es_bulk"}'] == 3000
    deadline = time.monotonic() + 30
    key = 'trawl_ingested_items_total{protocol="syslog"}'
    while server.metrics().get(key, 0) < n_syslog and time.monotonic() < deadline:
        time.sleep(0.1)
    assert server.metrics()[key] == n_syslog
    for i in (0, 1234, 2999):
        assert server.bodies(f'"retried doc {i}"') == [f"retried doc {i}"]
    for i in (0, 7777, n_syslog - 1):
        assert server.bodies(f'service:tcpload "tcp load {i}"') == [f"tcp load {i}"]
