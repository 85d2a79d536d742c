"""A very large trace (100,000 spans) is answered as a summary plus a page, not a huge body."""

import json
import requests

N_SPANS = 100_000
TRACE_ID = "7" * 32


def span(i):
    # Span ids start at 1: an all-zero span id is invalid in OTLP. 50 children per span.
    parent = "" if i == 0 else format((i - 1) // 50 + 1, "016x")
    return {
        "traceId": TRACE_ID,
        "spanId": format(i + 1, "016x"),
        "parentSpanId": parent,
        "name": f"step {i % 7}",
        "kind": 2,
        "startTimeUnixNano": str(1_800_000_000_000_000_000 + i * 1000),
        "endTimeUnixNano": str(1_800_000_000_000_000_000 + i * 1000 + 500),
        "status": {"code": 2, "message": "disk full on shard 9"} if i == 99_999 else {},
    }


def test_hundred_thousand_spans_page_and_summary(server):
    url = server.url("/v1/traces")
    for start in range(0, N_SPANS, 20_000):
        body = {"resourceSpans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": f"svc-{start // 20_000}"}}]},
            "scopeSpans": [{"spans": [span(i) for i in range(start, min(N_SPANS, start + 20_000))]}],
        }]}
        r = requests.post(url, data=json.dumps(body), headers={"Content-Type": "application/json"}, timeout=120)
        assert r.status_code == 200, r.text
    r = requests.get(server.url(f"/api/v1/traces/{TRACE_ID}"), params={"limit": 1000}, timeout=120)
    assert r.status_code == 200, r.text[:500]
    assert len(r.content) < 5 * 1024 * 1024, len(r.content)
    t = r.json()
    assert t["span_count"] == N_SPANS
    assert t["page"] == {"offset": 0, "limit": 1000, "spans": 1000, "more": True}
    assert len(t["spans"]) == 1000
    assert t["spans"][0]["span_id"] == format(1, "016x") and t["spans"][0]["depth"] == 0
    assert t["root_cause"]["span_id"] == format(100_000, "016x")
    assert "disk full on shard 9" in t["root_cause"]["reason"]
    assert sum(s["spans"] for s in t["spans_by_service"]) == N_SPANS
    r = requests.get(server.url(f"/api/v1/traces/{TRACE_ID}"), params={"limit": 1000, "offset": 99_500}, timeout=120)
    page = r.json()
    assert page["page"] == {"offset": 99_500, "limit": 1000, "spans": 500, "more": False}
