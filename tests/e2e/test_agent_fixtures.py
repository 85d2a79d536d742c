"""Agents that cannot be installed here (Fluent Bit, Vector, Filebeat, Logstash, rsyslog's
omelasticsearch, Promtail / Grafana Alloy, the OpenTelemetry Collector): their requests,
shaped as their documentation specifies (bodies in fixtures/agents/, headers below), replayed
against a real server, with the startup probes each agent makes first and the mapped fields
checked."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import requests

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "agents"


def body(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def probe(server, method: str, path: str, status: int = 200) -> requests.Response:
    r = requests.request(method, server.url(path), timeout=10, headers={"Accept": "application/json"})
    assert r.status_code == status, (method, path, r.status_code, r.text)
    assert r.headers.get("X-Elastic-Product") == "Elasticsearch", (method, path)
    return r


def bulk(server, name: str, headers: dict, compress: bool = False) -> dict:
    data = body(name)
    if compress:
        data = gzip.compress(data)
        headers = dict(headers, **{"Content-Encoding": "gzip"})
    r = requests.post(server.url("/_bulk"), data=data, headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["X-Elastic-Product"] == "Elasticsearch"
    answer = r.json()
    assert answer["errors"] is False, answer
    return answer


def one(server, query: str) -> dict:
    recs = server.search(query)["records"]
    assert len(recs) == 1, (query, recs)
    return recs[0]


def test_fluent_bit_es_output(server):
    # [OUTPUT] Name es, Suppress_Type_Name On: no probes, POST /_bulk with create actions.
    bulk(server, "fluent-bit-es.ndjson", {"Content-Type": "application/x-ndjson", "User-Agent": "Fluent-Bit"})
    r = one(server, "es.index:fluent-bit service:payment")
    assert r["body"] == "2026-11-20T08:15:30.123Z ERROR payment declined for order 1001"  # trailing newline dropped
    assert r["time"].startswith("2026-11-20T08:15:30.123")
    assert r["attributes"]["kubernetes.namespace_name"] == "shop"
    assert r["attributes"]["stream"] == "stderr"
    r = one(server, "es.index:fluent-bit service:checkout")
    assert r["body"] == "GET /health 200 1ms"


def test_vector_elasticsearch_sink(server):
    # Vector asks for the version (GET /) unless api_version is set, then its health check.
    assert probe(server, "GET", "/").json()["version"]["number"].startswith("8.")
    assert probe(server, "GET", "/_cluster/health").json()["status"] == "green"
    bulk(server, "vector-es.ndjson", {"Content-Type": "application/x-ndjson", "User-Agent": "Vector/0.48.0"}, compress=True)
    r = one(server, 'es.index:vector-2026.11.20 "slow query"')
    assert (r["service"], r["host"], r["level"]) == ("api", "web-3", "WARN")
    assert r["attributes"]["source_type"] == "file"
    r = one(server, "connection reset")
    assert r["service"] == "gateway"


def test_filebeat_elasticsearch_output(server):
    # Filebeat 8: GET / (version and product), GET /_license, ILM policy and index template
    # checks, then _bulk with create actions into its data stream, gzip (compression_level 1).
    probe(server, "GET", "/")
    assert probe(server, "GET", "/_license?human=false").json()["license"]["status"] == "active"
    probe(server, "GET", "/_ilm/policy/filebeat")
    probe(server, "HEAD", "/_index_template/filebeat-8.19.0")
    probe(server, "PUT", "/_index_template/filebeat-8.19.0")
    bulk(server, "filebeat-es.ndjson", {"Content-Type": "application/json", "Accept": "application/json",
                                         "User-Agent": "Elastic-filebeat/8.19.0 (linux; amd64)"}, compress=True)
    r = one(server, "logged in")
    assert (r["service"], r["host"], r["level"]) == ("auth", "auth-1", "INFO")
    assert r["attributes"]["log.file.path"] == "/var/log/app/auth.log"
    assert r["attributes"]["es.index"] == "filebeat-8.19.0"
    r = one(server, "token expired")
    assert (r["service"], r["level"]) == ("auth", "WARN")


def test_logstash_elasticsearch_output(server):
    # Logstash 8: health check HEAD /, GET / for the version, GET /_license, GET /_xpack (ILM is
    # reported unavailable, so no rollover aliases), then data-stream _bulk (create).
    probe(server, "HEAD", "/")
    probe(server, "GET", "/")
    probe(server, "GET", "/_license")
    assert probe(server, "GET", "/_xpack").json()["features"]["ilm"]["available"] is False
    probe(server, "HEAD", "/_index_template/ecs-logstash")
    bulk(server, "logstash-es.ndjson", {"Content-Type": "application/json", "User-Agent": "Logstash/8.19.0"}, compress=True)
    r = one(server, "carrier api timeout")
    assert (r["service"], r["level"], r["host"]) == ("shipping", "ERROR", "ls-1")
    assert r["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert r["attributes"]["data_stream.dataset"] == "generic"


def test_rsyslog_omelasticsearch(server):
    # omelasticsearch with bulkmode="on" and a JSON template; old versions still send _type.
    bulk(server, "rsyslog-es.ndjson", {"Content-Type": "application/json"})
    r = one(server, "es.index:system")
    assert (r["service"], r["level"], r["host"]) == ("postgres", "ERROR", "db-1")
    assert "No space left on device" in r["body"]


def test_fluent_bit_loki_output(server):
    r = requests.post(server.url("/loki/api/v1/push"), data=body("fluent-bit-loki.json"),
                      headers={"Content-Type": "application/json", "User-Agent": "Fluent-Bit", "X-Scope-OrgID": "shop"}, timeout=10)
    assert r.status_code == 204, r.text
    r1 = one(server, "inventory unavailable")
    assert (r1["service"], r1["level"]) == ("cart", "ERROR")
    assert r1["attributes"]["loki.tenant"] == "shop"
    assert r1["attributes"]["job"] == "fluent-bit"


# ----- Promtail / Alloy: logproto.PushRequest protobuf in a snappy block ---------------------

def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def push_request(streams: list[dict]) -> bytes:
    out = b""
    for stream in streams:
        s = field(1, stream["labels"].encode())
        for e in stream["entries"]:
            ts = varint(1 << 3 | 0) + varint(e["ts_ns"] // 10**9) + varint(2 << 3 | 0) + varint(e["ts_ns"] % 10**9)
            entry = field(1, ts) + field(2, e["line"].encode())
            for k, v in e.get("structured_metadata", {}).items():
                entry += field(3, field(1, k.encode()) + field(2, v.encode()))
            s += field(2, entry)
        out += field(1, s)
    return out


def snappy_block(data: bytes) -> bytes:
    """A valid snappy block of literals only (no back-references): what any snappy decoder
    reads, without needing a snappy library here."""
    out = bytearray(varint(len(data)))
    for start in range(0, len(data), 60):
        chunk = data[start:start + 60]
        out.append((len(chunk) - 1) << 2)
        out += chunk
    return bytes(out)


def test_promtail_protobuf_push(server):
    fixture = json.loads(body("promtail-loki.json"))
    data = snappy_block(push_request(fixture["streams"]))
    r = requests.post(server.url("/loki/api/v1/push"), data=data,
                      headers={"Content-Type": "application/x-protobuf", "User-Agent": "promtail/2.9.4"}, timeout=10)
    assert r.status_code == 204, r.text
    r1 = one(server, "upstream timeout")
    assert (r1["service"], r1["level"], r1["host"]) == ("promtail-app", "ERROR", "node-7")
    assert r1["attributes"]["filename"] == "/var/log/syslog"
    assert r1["time"] == "2026-11-25T08:16:40Z"
    r2 = one(server, "request served")
    assert r2["trace_id"] == "5b8efff798038103d269b633813fc60c"
    assert r2["level"] == "INFO"


def test_otel_collector_otlphttp_exporter(server):
    # otlphttp exporter with encoding: json and its default gzip compression.
    r = requests.post(server.url("/v1/logs"), data=gzip.compress(body("otel-collector-otlphttp-logs.json")),
                      headers={"Content-Type": "application/json", "Content-Encoding": "gzip",
                               "User-Agent": "OpenTelemetry Collector Contrib/0.128.0 (linux/amd64)"}, timeout=10)
    assert r.status_code == 200, r.text
    r1 = one(server, "disk quota exceeded")
    assert (r1["service"], r1["environment"], r1["host"], r1["level"]) == ("collector-app", "prod", "node-9", "ERROR")
    assert r1["trace_id"] == "7bba9f33312b3dbb8b2c2c62bb7abe2d"
