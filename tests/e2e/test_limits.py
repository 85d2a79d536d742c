"""Request limits and bad input: every refusal is a 4xx with a reason, never a 500 or a crash."""

from __future__ import annotations

import gzip
import json
import random
import zlib

import pytest
import requests

MAX_BODY = 1024 * 1024
MIB = 1024 * 1024

INGEST_ENDPOINTS = [
    ("/api/v1/ingest", "application/x-ndjson"),
    ("/v1/logs", "application/json"),
    ("/v1/logs", "application/x-protobuf"),
    ("/v1/traces", "application/json"),
    ("/v1/traces", "application/x-protobuf"),
]


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in KiB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """200 MiB of zeros, gzip'd to about 200 KB."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(MIB)
    bomb = b"".join(c.compress(zeros) for _ in range(200)) + c.flush()
    assert len(bomb) < 512 * 1024
    return bomb


def assert_error(r: requests.Response, status: int, code: str | None = None, reason_has: str | None = None) -> dict:
    assert r.status_code == status, f"{r.status_code} {r.text[:300]}"
    err = r.json()["error"]
    assert err["reason"], err
    if code is not None:
        assert err["code"] == code, err
    if reason_has is not None:
        assert reason_has in err["reason"], err
    return err


def test_body_over_max_body_bytes_is_413(make_server):
    server = make_server(["--max-body-bytes", str(MAX_BODY)])
    for base in (server.api, server.otlp_http):
        for path, ct in INGEST_ENDPOINTS:
            if base == server.otlp_http and path == "/api/v1/ingest":
                continue
            for size in (MAX_BODY + 1, 4 * MIB):
                r = requests.post(f"{base}{path}", data=b"x" * size, headers={"Content-Type": ct}, timeout=60)
                assert_error(r, 413, "too_large", f"exceeds the {MAX_BODY} byte limit")
    # Exactly at the limit is read (and judged on its content).
    record = json.dumps({"msg": "at the limit", "pad": ""})
    pad = MAX_BODY - len(record) - 1
    body = json.dumps({"msg": "at the limit", "pad": "p" * pad}).encode() + b"\n"
    assert len(body) == MAX_BODY
    r = server.ingest(body)
    # A 1 MiB record is over the 256 KiB record limit: refused alone, with its line.
    assert r.status_code == 400, r.text
    assert r.json()["rejected"][0]["line"] == 1
    assert "byte limit" in r.json()["rejected"][0]["reason"]
    server.ingest_ok([{"msg": "still fine"}])
    assert server.bodies("fine") == ["still fine"]
    m = server.metrics()
    assert m['trawl_rejected_total{protocol="ndjson",reason="too_large"}'] == 2
    assert server.healthy()


def test_gzip_bomb_is_413_and_memory_stays_bounded(server, gzip_bomb):
    before = proc_status(server.pid)
    for base in (server.api, server.otlp_http):
        for path, ct in INGEST_ENDPOINTS:
            if base == server.otlp_http and path == "/api/v1/ingest":
                continue
            r = requests.post(f"{base}{path}", data=gzip_bomb,
                              headers={"Content-Type": ct, "Content-Encoding": "gzip"}, timeout=120)
            assert_error(r, 413, "too_large", "decompressed body exceeds the 67108864 byte limit")
    after = proc_status(server.pid)
    grew_mib = (after["VmRSS"] - before["VmRSS"]) / 1024
    peak_mib = (after["VmHWM"] - before["VmRSS"]) / 1024
    assert grew_mib < 100, f"RSS grew by {grew_mib:.0f} MiB ({before} -> {after})"
    # Inflation stops at the 64 MiB limit: the peak stays near it, not near 200 MiB.
    assert peak_mib < 160, f"peak RSS {peak_mib:.0f} MiB above the start ({before} -> {after})"
    assert server.healthy()
    server.ingest_ok([{"msg": "after the bomb"}])
    assert server.bodies("bomb") == ["after the bomb"]


def test_bad_encodings_and_content_types(server):
    good = gzip.compress(b'{"msg":"zipped"}\n' * 1000)
    truncated = good[: len(good) // 2]
    for path, ct in INGEST_ENDPOINTS:
        r = server.http.post(server.url(path), data=truncated,
                             headers={"Content-Type": ct, "Content-Encoding": "gzip"}, timeout=30)
        assert_error(r, 400, "invalid_body", "gzip")
        r = server.http.post(server.url(path), data=b"definitely not gzip",
                             headers={"Content-Type": ct, "Content-Encoding": "gzip"}, timeout=30)
        assert_error(r, 400, "invalid_body", "gzip")
        r = server.http.post(server.url(path), data=good,
                             headers={"Content-Type": ct, "Content-Encoding": "zstd"}, timeout=30)
        assert_error(r, 415, "unsupported_media_type", "zstd")
    for path in ("/v1/logs", "/v1/traces"):
        for ct in ("text/plain", "application/xml", "multipart/form-data; boundary=x"):
            for base in (server.api, server.otlp_http):
                r = requests.post(f"{base}{path}", data=b"{}", headers={"Content-Type": ct}, timeout=30)
                err = assert_error(r, 415, "unsupported_media_type")
                assert "application/x-protobuf" in err["reason"], err
    # The good gzip body is fine, on NDJSON whatever the content type says.
    r = server.ingest(good, headers={"Content-Encoding": "gzip"})
    assert r.status_code == 200 and r.json()["accepted"] == 1000, r.text
    assert server.healthy()


@pytest.mark.parametrize("query, position", [
    ("service:", "at 1:9"),
    ("(a OR b", "at 1:1"),
    ('"unclosed', "at 1:1"),
    ("a OR", "at 1:5"),
    ("level:error status>=", "at 1:21"),
    ("status>=abc", "at 1:9"),
    ("a\nb)", "at 2:2"),
    ("a | stats count(", "at 1:17"),
    ("a | frobnicate", "at 1:5"),
])
def test_invalid_query_is_400_naming_the_position(server, query, position):
    for method in ("GET", "POST"):
        r = server.search_raw(query, method=method)
        err = assert_error(r, 400, "invalid_query", position)
        assert err["reason"].endswith(position), err


def test_invalid_search_requests_are_400(server):
    assert_error(server.search_raw("", limit=10_001), 400, "invalid_limit", "10000")
    assert server.search_raw("", limit=10_000).status_code == 200
    assert_error(server.search_raw("", start="yesterday-ish"), 400, "invalid_time")
    assert_error(server.search_raw("", start="1h", end="2h"), 400, None, "start is after end")
    r = server.http.post(server.url("/api/v1/search"), data=b"{not json", headers={"Content-Type": "application/json"}, timeout=30)
    assert_error(r, 400, "invalid_body")
    deep = "(" * 5000 + "a" + ")" * 5000
    assert_error(server.search_raw(deep, method="POST"), 400, "invalid_query", "nests deeper")
    assert_error(server.http.get(server.url("/nope"), timeout=30), 404, "not_found")
    assert server.http.get(server.url("/api/v1/search"), params={"limit": "many"}, timeout=30).status_code == 400
    assert server.healthy()


def test_bad_search_parameters_get_the_json_error_shape(server):
    for params in ({"query": "", "limit": "many"}, {"query": "", "limit": "-1"}):
        r = server.http.get(server.url("/api/v1/search"), params=params, timeout=30)
        assert r.status_code == 400
        assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
        assert r.json()["error"]["code"] and r.json()["error"]["reason"], r.text


def test_nothing_is_ever_500(server, gzip_bomb):
    """Garbage of every shape on every endpoint: 2xx or 4xx, and the server stays healthy."""
    rng = random.Random(1234)
    seen = []

    def garbage() -> bytes:
        kind = rng.randrange(7)
        if kind == 0:
            return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 3000)))
        if kind == 1:
            return json.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [{"timeUnixNano": "x" * rng.randrange(30)}]}]}]}).encode()
        if kind == 2:
            return json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": 5, "kind": "weird"}]}]}]}).encode()
        if kind == 3:
            return b'{"msg": "' + "한글".encode() * rng.randrange(100) + b'", "ts": ' + str(rng.random() * 1e30).encode() + b"}\n"
        if kind == 4:
            return gzip.compress(bytes(rng.randrange(256) for _ in range(500)))
        if kind == 5:
            return b"\n" * rng.randrange(1000) + b"{}" * rng.randrange(10)
        return json.dumps([{"resourceLogs": None}, 1, "x", None]).encode()

    headers_choices = [
        {}, {"Content-Type": "application/json"}, {"Content-Type": "application/x-protobuf"},
        {"Content-Type": "application/json", "Content-Encoding": "gzip"},
        {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"},
        {"Content-Encoding": "identity"}, {"Content-Type": "application/json; charset=utf-8"},
    ]
    paths = ["/api/v1/ingest", "/v1/logs", "/v1/traces"]
    for _ in range(300):
        path = rng.choice(paths)
        headers = rng.choice(headers_choices)
        r = server.http.post(server.url(path), data=garbage(), headers=headers, timeout=30)
        seen.append(r.status_code)
        assert r.status_code < 500, (path, headers, r.status_code, r.text[:300])
    for q in ["", "a", "NOT", "OR", "()", "-", ":", "a:b:c", "x>=1e400", '"', "\\", "é", "결제 OR",
              "*", "a:*", "trace:", "trace:zz", "level:nope", "(((", "a AND AND b", "\x00", "NOT NOT a"]:
        for method in ("GET", "POST"):
            r = server.search_raw(q, method=method)
            seen.append(r.status_code)
            assert r.status_code in (200, 400), (q, r.status_code, r.text[:300])
    for tid in ["x", "0" * 32, "g" * 32, "a" * 65, "%20", "abc-def"]:
        r = server.trace(tid)
        assert r.status_code in (400, 404), (tid, r.status_code, r.text[:300])
    assert 500 not in seen
    m = server.metrics()
    assert not any(k.startswith("trawl_rejected_total") and 'reason="internal"' in k for k in m), m
    assert server.healthy()
    server.ingest_ok([{"msg": "survivor"}])
    assert server.bodies("survivor") == ["survivor"]
