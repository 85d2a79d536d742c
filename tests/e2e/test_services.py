"""Service views from RED rollups: /api/v1/services, /api/v1/services/{name}, /api/v1/servicemap.

A three-service call chain (frontend → checkout → payments, and payments → postgres known only
through `peer.service`) is sent as OTLP/JSON with some failing calls; the views are checked
while the spans are in memory and again after a restart, when they come from the rollups
stored with the segments.
"""

from __future__ import annotations

import json
import os
import time

JSON = {"Content-Type": "application/json"}
N_REQUESTS = 20
PAYMENT_FAILURES = {1, 5, 9, 13, 17}    # payments fails these five
CHECKOUT_FAILURES = {5, 13}             # checkout fails on two of them
MS = 1_000_000


def kv(key: str, value: dict) -> dict:
    return {"key": key, "value": value}


def resource(service: str) -> dict:
    return {"attributes": [kv("service.name", {"stringValue": service})]}


def span(trace_id: str, span_id: str, parent: str, name: str, kind: int, start: int, duration: int,
         error: str | None = None, attributes: list | None = None) -> dict:
    out = {
        "traceId": trace_id, "spanId": span_id, "parentSpanId": parent, "name": name, "kind": kind,
        "startTimeUnixNano": str(start), "endTimeUnixNano": str(start + duration),
        "attributes": attributes or [],
    }
    if error is not None:
        out["status"] = {"code": 2, "message": error}
    return out


def chain_body(t0: int) -> dict:
    """One OTLP request holding every span of the chain, so one buffer holds each pair."""
    by_service: dict[str, list] = {"frontend": [], "checkout": [], "payments": []}
    for i in range(N_REQUESTS):
        trace = os.urandom(16).hex()
        ids = [os.urandom(8).hex() for _ in range(6)]
        start = t0 + i * 100 * MS
        pay_error = f"card {4000 + i} declined for order {i * 7}" if i in PAYMENT_FAILURES else None
        checkout_error = f"payment failed after {i} attempts" if i in CHECKOUT_FAILURES else None
        by_service["frontend"] += [
            span(trace, ids[0], "", "GET /cart", 2, start, 100 * MS),
            span(trace, ids[1], ids[0], "POST /checkout", 3, start + 1 * MS, 90 * MS),
        ]
        by_service["checkout"] += [
            span(trace, ids[2], ids[1], "POST /checkout", 2, start + 2 * MS, (80 + i) * MS, checkout_error),
            span(trace, ids[3], ids[2], "POST /charge", 3, start + 3 * MS, 60 * MS),
        ]
        by_service["payments"] += [
            span(trace, ids[4], ids[3], "charge", 2, start + 4 * MS, (50 + i) * MS, pay_error),
            span(trace, ids[5], ids[4], "INSERT payments", 3, start + 5 * MS, 4 * MS,
                 attributes=[kv("peer.service", {"stringValue": "postgres"})]),
        ]
    return {"resourceSpans": [
        {"resource": resource(service), "scopeSpans": [{"scope": {"name": "e2e"}, "spans": spans}]}
        for service, spans in by_service.items()
    ]}


def logs_body(t0: int) -> dict:
    records = [{"timeUnixNano": str(t0 + i * MS), "severityNumber": 17 if i < 3 else 9,
                "body": {"stringValue": f"payment failed for order {100 + i}" if i < 3 else f"checkout {i} done"}}
               for i in range(10)]
    return {"resourceLogs": [{"resource": resource("checkout"), "scopeLogs": [{"logRecords": records}]}]}


def get(server, path: str, **params) -> dict:
    r = server.http.get(server.url(path), params=params, timeout=30)
    assert r.status_code == 200, f"{path}: {r.status_code} {r.text}"
    return r.json()


def latency_close(value: float, exact: float) -> bool:
    return abs(value - exact) <= 0.01 * exact


def check_views(server) -> None:
    listing = get(server, "/api/v1/services", start="10m")
    services = {s["name"]: s for s in listing["services"]}
    # Most unusual first: payments fails most, frontend not at all. Nothing came before.
    assert [s["name"] for s in listing["services"]] == ["payments", "checkout", "frontend"], listing
    assert listing["sort"] == "unusual"
    window = listing["window_seconds"]
    assert 600 <= window <= 660
    for name, errors in [("frontend", 0), ("checkout", 2), ("payments", 5)]:
        s = services[name]
        assert (s["requests"], s["errors"]) == (N_REQUESTS, errors), s
        assert abs(s["request_rate"] - N_REQUESTS / window) < 1e-9
        assert abs(s["error_rate"] - errors / N_REQUESTS) < 1e-9
        assert s["baseline"]["requests"] == 0 and s["deviation"]["rate_ratio"] is None
    assert services["payments"]["unusual"] > services["checkout"]["unusual"] > services["frontend"]["unusual"] == 0
    # payments' charge spans last 50..69 ms: exact p50 (rank 9 of 0..19) is 59 ms, p99 is 68 ms.
    assert latency_close(services["payments"]["latency_ms"]["p50"], 59.0), services["payments"]
    assert latency_close(services["payments"]["latency_ms"]["p99"], 68.0), services["payments"]
    assert latency_close(services["frontend"]["latency_ms"]["p95"], 100.0)
    assert services["checkout"]["records"]["ERROR"] == 3 and services["checkout"]["records"]["total"] == 10
    assert services["payments"]["records"]["total"] == 0

    by_name = [s["name"] for s in get(server, "/api/v1/services", start="10m", sort="name")["services"]]
    assert by_name == ["checkout", "frontend", "payments"]
    r = server.http.get(server.url("/api/v1/services"), params={"sort": "loudest"}, timeout=30)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_sort"

    checkout = get(server, "/api/v1/services/checkout", start="10m", step="1m")
    assert checkout["summary"]["requests"] == N_REQUESTS and checkout["summary"]["errors"] == 2
    assert sum(p["requests"] for p in checkout["series"]) == N_REQUESTS
    assert sum(p["errors"] for p in checkout["series"]) == 2
    assert checkout["step_seconds"] == 60
    assert [(c["service"], c["calls"], c["errors"]) for c in checkout["callers"]] == [("frontend", N_REQUESTS, 2)]
    assert [(c["service"], c["calls"], c["errors"]) for c in checkout["callees"]] == [("payments", N_REQUESTS, 5)]
    operations = {(o["name"], o["kind"]): o["requests"] for o in checkout["operations"]}
    assert operations == {("POST /checkout", "SERVER"): N_REQUESTS, ("POST /charge", "CLIENT"): N_REQUESTS}
    groups = {g["message"]: g for g in checkout["error_messages"]["groups"]}
    assert groups["payment failed for order <*>"]["records"] == 3
    assert groups["payment failed after <*> attempts"]["spans"] == 2
    assert checkout["error_messages"]["groups"][0]["message"] == "payment failed for order <*>"

    payments = get(server, "/api/v1/services/payments", start="10m")
    assert [g["message"] for g in payments["error_messages"]["groups"]] == ["card <*> declined for order <*>"]
    assert payments["error_messages"]["groups"][0]["count"] == 5
    assert [(c["service"], c["calls"]) for c in payments["callees"]] == [("postgres", N_REQUESTS)]

    r = server.http.get(server.url("/api/v1/services/nobody"), params={"start": "10m"}, timeout=30)
    assert r.status_code == 404, r.text

    servicemap = get(server, "/api/v1/servicemap", start="10m")
    edges = {(e["caller"], e["callee"]): e for e in servicemap["edges"]}
    assert set(edges) == {("frontend", "checkout"), ("checkout", "payments"), ("payments", "postgres")}
    assert (edges[("frontend", "checkout")]["calls"], edges[("frontend", "checkout")]["errors"]) == (N_REQUESTS, 2)
    assert (edges[("checkout", "payments")]["calls"], edges[("checkout", "payments")]["errors"]) == (N_REQUESTS, 5)
    assert abs(edges[("checkout", "payments")]["error_rate"] - 0.25) < 1e-9
    # The edge latency is the callee's: checkout's server spans last 80..99 ms.
    assert latency_close(edges[("frontend", "checkout")]["latency_ms"]["p50"], 89.0)
    assert latency_close(edges[("payments", "postgres")]["latency_ms"]["p99"], 4.0)
    nodes = {n["name"]: n for n in servicemap["nodes"]}
    assert set(nodes) == {"frontend", "checkout", "payments", "postgres"}
    assert nodes["postgres"]["instrumented"] is False and nodes["payments"]["requests"] == N_REQUESTS


def test_service_views_from_memory_and_after_restart(server):
    t0 = time.time_ns() - 60 * 1_000_000_000
    r = server.http.post(server.url("/v1/traces"), data=json.dumps(chain_body(t0)), headers=JSON, timeout=30)
    assert r.status_code == 200, r.text
    r = server.http.post(server.url("/v1/logs"), data=json.dumps(logs_body(t0)), headers=JSON, timeout=30)
    assert r.status_code == 200, r.text

    check_views(server)            # computed from the buffer
    server.restart()               # SIGTERM flushes: the rollups are now stored
    server.wait_flushed()
    check_views(server)
    server.restart(kill=True)      # and a crash after that changes nothing
    check_views(server)
