"""Slow operations (/api/v1/slow) and a latency-only root cause, over OTLP/JSON.

An API serves `GET /orders/{id}`, which runs two statements on its database (spans with
`db.statement`, the literals differing per request). Ten minutes ago both statements were fast;
in the last five minutes one of them (`SELECT ... FROM orders WHERE id = ?`) takes 30x longer,
nothing fails. /api/v1/slow must put that statement first, normalised, with its self time and its
change against the window before; /api/v1/rootcause must name the slow operation as a latency
cause of the API (nothing failed, the callers only got slower).
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timezone

JSON = {"Content-Type": "application/json"}
MS = 1_000_000
MIN = 60 * 1_000_000_000
N = 200  # requests per window


def kv(key: str, value: str) -> dict:
    return {"key": key, "value": {"stringValue": value}}


def requests_body(t0: int, slow: bool) -> dict:
    api, db = [], []
    for i in range(N):
        trace = os.urandom(16).hex()
        root, q1, q2 = (os.urandom(8).hex() for _ in range(3))
        start = t0 + i * 1_000 * MS
        fetch_ms = (60 + i % 7) if slow else (2 + i % 3) * 1
        items_ms = 3 + i % 2
        total = 2 + fetch_ms + items_ms + 1
        api.append({"traceId": trace, "spanId": root, "parentSpanId": "", "name": "GET /orders/{id}", "kind": 2,
                    "startTimeUnixNano": str(start), "endTimeUnixNano": str(start + total * MS),
                    "attributes": [kv("http.route", "/orders/{id}")]})
        api.append({"traceId": trace, "spanId": q1, "parentSpanId": root, "name": "SELECT orders", "kind": 3,
                    "startTimeUnixNano": str(start + 1 * MS), "endTimeUnixNano": str(start + (1 + fetch_ms) * MS),
                    "attributes": [kv("db.system", "postgresql"), kv("peer.service", "orders-db"),
                                   kv("db.statement", f"SELECT id, total FROM orders WHERE id = {1000 + i}")]})
        api.append({"traceId": trace, "spanId": q2, "parentSpanId": root, "name": "SELECT order_items", "kind": 3,
                    "startTimeUnixNano": str(start + (1 + fetch_ms) * MS),
                    "endTimeUnixNano": str(start + (1 + fetch_ms + items_ms) * MS),
                    "attributes": [kv("db.system", "postgresql"), kv("peer.service", "orders-db"),
                                   kv("db.query.text", f"SELECT * FROM order_items WHERE order_id = '{1000 + i}'")]})
    return {"resourceSpans": [{"resource": {"attributes": [kv("service.name", "orders-api")]},
                               "scopeSpans": [{"scope": {"name": "e2e"}, "spans": api + db}]}]}


def rfc3339(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).isoformat()


def test_slow_statement_and_latency_cause(server):
    now = time.time_ns()
    window_start = now - 5 * MIN
    for t0, slow in [(window_start - 5 * MIN + MIN // 2, False), (window_start + MIN // 2, True)]:
        r = server.http.post(server.url("/v1/traces"), data=json.dumps(requests_body(t0, slow)), headers=JSON, timeout=30)
        assert r.status_code == 200, r.text

    r = server.http.get(server.url("/api/v1/slow"), params={"start": rfc3339(window_start), "end": rfc3339(now)}, timeout=30)
    assert r.status_code == 200, r.text
    slow = r.json()
    top = slow["operations"][0]
    assert (top["service"], top["operation"]) == ("orders-api", "SELECT orders"), slow["operations"][:3]
    assert top["statement"] == "SELECT id, total FROM orders WHERE id = <*>", top
    assert top["slower"] is True and top["p95_ratio"] > 10, top
    assert top["calls"] == N and top["baseline_calls"] == N
    # A client span without children: its self time is its whole duration.
    assert 60 * N <= top["self_time_ms"] <= 67 * N, top
    rows = {(o["operation"], o["statement"]): o for o in slow["operations"]}
    items = rows[("SELECT order_items", "SELECT * FROM order_items WHERE order_id = '<*>'")]
    assert items["slower"] is False
    # The endpoint waits on its queries: its own work is 3 ms a request.
    endpoint = rows[("GET /orders/{id}", None)]
    assert abs(endpoint["self_time_ms"] - 3 * N) < 0.05 * 3 * N, endpoint

    r = server.http.get(server.url("/api/v1/slow"), params={"start": rfc3339(now), "end": rfc3339(now - MIN)}, timeout=30)
    assert r.status_code == 400, r.text

    r = server.http.get(server.url("/api/v1/rootcause"), params={"start": rfc3339(window_start), "end": rfc3339(now)}, timeout=30)
    assert r.status_code == 200, r.text
    why = r.json()
    assert why["unusual"] is True, why
    cause = why["causes"][0]
    # The database is uninstrumented: its callers' CLIENT spans name it, and they got slower.
    assert (cause["service"], cause["change"]) == ("orders-db", "latency"), cause
    assert cause["via"] == ["orders-api"], cause
    assert cause["operation"] == "SELECT orders", cause
    assert any(a["service"] == "orders-api" and a["operation"] == "GET /orders/{id}" for a in cause["explains"]), cause
