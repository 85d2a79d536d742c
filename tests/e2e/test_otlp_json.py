"""Hand-written OTLP/JSON (and OTLP/protobuf) bodies sent with plain HTTP requests."""

from __future__ import annotations

import gzip
import json
import os
import time

import pytest
import requests
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest, ExportLogsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest, ExportTraceServiceResponse
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

JSON = {"Content-Type": "application/json"}
PROTOBUF = {"Content-Type": "application/x-protobuf"}


def hex_id(n_bytes: int) -> str:
    return os.urandom(n_bytes).hex()


def now_ns() -> int:
    return time.time_ns()


def kv(key: str, value: dict) -> dict:
    return {"key": key, "value": value}


def resource(service: str) -> dict:
    return {"attributes": [kv("service.name", {"stringValue": service}),
                           kv("deployment.environment", {"stringValue": "e2e"})]}


def logs_body(service: str, records: list[dict]) -> dict:
    return {"resourceLogs": [{"resource": resource(service),
                              "scopeLogs": [{"scope": {"name": "e2e.scope", "version": "1.0"},
                                             "logRecords": records}]}]}


def traces_body(service: str, spans: list[dict]) -> dict:
    return {"resourceSpans": [{"resource": resource(service),
                               "scopeSpans": [{"scope": {"name": "e2e.scope"}, "spans": spans}]}]}


def span_json(trace_id: str, span_id: str, name: str, parent: str = "", start: int | None = None, **extra) -> dict:
    start = start if start is not None else now_ns() - 5_000_000
    span = {
        "traceId": trace_id,
        "spanId": span_id,
        "parentSpanId": parent,
        "name": name,
        "kind": 2,  # SERVER, as an enum int
        "startTimeUnixNano": str(start),  # int64 as a string, as the OTLP/JSON mapping says
        "endTimeUnixNano": str(start + 2_000_000),
        "attributes": [kv("http.status_code", {"intValue": "502"}), kv("retry", {"boolValue": True})],
    }
    span.update(extra)
    return span


@pytest.fixture(params=["api", "otlp_http"])
def base(request, server):
    """OTLP/HTTP is served on the main port and on its own port."""
    return getattr(server, request.param)


def test_json_logs(server, base):
    trace_id, span_id = hex_id(16), hex_id(8)
    t = now_ns() - 1_000_000_000
    body = logs_body("billing", [
        {
            "timeUnixNano": str(t),
            "observedTimeUnixNano": str(t + 1000),
            "severityNumber": 17,
            "severityText": "ERROR",
            "body": {"stringValue": "invoice 77 rejected by gateway"},
            "attributes": [kv("http.status_code", {"intValue": "502"}),
                           kv("amount", {"doubleValue": 12.5}),
                           kv("customer", {"kvlistValue": {"values": [kv("tier", {"stringValue": "gold"})]}})],
            "traceId": trace_id,
            "spanId": span_id,
        },
        {
            "timeUnixNano": str(t + 1_000_000),
            "severityNumber": "SEVERITY_NUMBER_WARN",  # enum by name is accepted too
            "body": {"stringValue": "결제가 지연되고 있습니다"},
        },
    ])
    r = requests.post(f"{base}/v1/logs", data=json.dumps(body), headers=JSON, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json() == {}

    [rec] = server.search(f"trace:{trace_id}")["records"]
    assert rec["body"] == "invoice 77 rejected by gateway"
    assert rec["service"] == "billing" and rec["environment"] == "e2e"
    assert rec["level"] == "ERROR" and rec["severity_number"] == 17
    assert rec["time_ns"] == t
    assert rec["trace_id"] == trace_id and rec["span_id"] == span_id
    assert rec["attributes"]["http.status_code"] == 502
    assert rec["attributes"]["amount"] == 12.5
    assert rec["attributes"]["customer.tier"] == "gold"
    assert rec["attributes"]["scope.name"] == "e2e.scope"
    assert server.bodies("http.status_code>=500") == ["invoice 77 rejected by gateway"]
    assert server.bodies("customer.tier:gold") == ["invoice 77 rejected by gateway"]

    [warn] = server.search("level:warn")["records"]
    assert warn["body"] == "결제가 지연되고 있습니다"
    assert warn["severity_number"] == 13
    assert server.bodies("결제 지연") == ["결제가 지연되고 있습니다"]


def test_json_traces(server, base):
    trace_id = hex_id(16)
    root, child = hex_id(8), hex_id(8)
    start = now_ns() - 10_000_000
    body = traces_body("gateway", [
        span_json(trace_id, root, "GET /pay", start=start),
        span_json(trace_id, child, "SELECT payments", parent=root, start=start + 100_000,
                  kind="SPAN_KIND_CLIENT",
                  status={"code": 2, "message": "deadlock detected"},
                  events=[{"timeUnixNano": str(start + 200_000), "name": "exception",
                           "attributes": [kv("exception.message", {"stringValue": "deadlock detected"})]}],
                  links=[{"traceId": hex_id(16), "spanId": hex_id(8)}]),
    ])
    r = requests.post(f"{base}/v1/traces", data=json.dumps(body), headers=JSON, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json() == {}

    r = server.trace(trace_id.upper())  # ids are case-insensitive
    assert r.status_code == 200, r.text
    t = r.json()
    assert t["services"] == ["gateway"]
    spans = {s["span_id"]: s for s in t["spans"]}
    assert set(spans) == {root, child}
    assert spans[root]["parent_span_id"] == "" and spans[root]["kind"] == "SERVER"
    assert spans[root]["start_ns"] == start and spans[root]["duration_ns"] == 2_000_000
    assert spans[root]["attributes"] == {"http.status_code": 502, "retry": True, "scope.name": "e2e.scope"}
    c = spans[child]
    assert c["parent_span_id"] == root and c["kind"] == "CLIENT"
    assert c["status_code"] == "ERROR" and c["status_message"] == "deadlock detected"
    assert [e["name"] for e in c["events"]] == ["exception"]
    assert c["events"][0]["attributes"] == {"exception.message": "deadlock detected"}
    assert len(c["links"]) == 1
    assert t["duration_ns"] == 2_100_000


def test_gzip_json_logs(server, base):
    lines = [f"compressed line {i}" for i in range(200)]
    t0 = now_ns() - 1_000_000_000
    body = logs_body("zipper", [{"timeUnixNano": str(t0 - i * 1000), "body": {"stringValue": s}}
                                for i, s in enumerate(lines)])
    data = gzip.compress(json.dumps(body).encode())
    r = requests.post(f"{base}/v1/logs", data=data, headers={**JSON, "Content-Encoding": "gzip"}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json() == {}
    got = server.bodies("service:zipper compressed", limit=1000)
    assert sorted(got) == sorted(lines)
    assert got == lines  # newest first


def test_one_bad_span_among_good_ones(server, base):
    trace_id = hex_id(16)
    ids = [hex_id(8) for _ in range(3)]
    body = traces_body("partial", [
        span_json(trace_id, ids[0], "good one"),
        span_json("xyz-not-hex!", ids[1], "bad trace id"),
        span_json(trace_id, ids[2], "good two", parent=ids[0]),
    ])
    r = requests.post(f"{base}/v1/traces", data=json.dumps(body), headers=JSON, timeout=30)
    assert r.status_code == 200, r.text
    partial = r.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "1"
    assert "spans[1]" in partial["errorMessage"] and "traceId" in partial["errorMessage"], partial

    t = server.trace(trace_id).json()
    assert sorted(s["name"] for s in t["spans"]) == ["good one", "good two"]


def test_one_bad_log_among_good_ones(server, base):
    body = logs_body("partial", [
        {"body": {"stringValue": "kept first"}},
        {"body": {"stringValue": "dropped"}, "spanId": "not hex at all!"},
        {"body": {"stringValue": "kept second"}, "attributes": [kv("n", {"intValue": "7"})]},
    ])
    r = requests.post(f"{base}/v1/logs", data=json.dumps(body), headers=JSON, timeout=30)
    assert r.status_code == 200, r.text
    partial = r.json()["partialSuccess"]
    assert partial["rejectedLogRecords"] == "1"
    assert "logRecords[1]" in partial["errorMessage"], partial
    assert sorted(server.bodies("service:partial")) == ["kept first", "kept second"]


def test_protobuf_is_answered_in_protobuf(server, base):
    trace_id, span_id = os.urandom(16), os.urandom(8)
    start = now_ns() - 1_000_000
    res = Resource(attributes=[KeyValue(key="service.name", value=AnyValue(string_value="proto-svc"))])
    request = ExportTraceServiceRequest(resource_spans=[ResourceSpans(resource=res, scope_spans=[ScopeSpans(spans=[
        Span(trace_id=trace_id, span_id=span_id, name="proto span", kind=Span.SPAN_KIND_SERVER,
             start_time_unix_nano=start, end_time_unix_nano=start + 500),
        # No trace id: rejected alone.
        Span(trace_id=b"", span_id=os.urandom(8), name="no trace id",
             start_time_unix_nano=start, end_time_unix_nano=start + 500),
    ])])])
    r = requests.post(f"{base}/v1/traces", data=request.SerializeToString(), headers=PROTOBUF, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/x-protobuf"
    answer = ExportTraceServiceResponse.FromString(r.content)
    assert answer.partial_success.rejected_spans == 1
    assert "trace_id" in answer.partial_success.error_message

    t = server.trace(trace_id.hex()).json()
    assert [s["name"] for s in t["spans"]] == ["proto span"]
    assert t["services"] == ["proto-svc"]

    logs = ExportLogsServiceRequest(resource_logs=[ResourceLogs(resource=res, scope_logs=[ScopeLogs(log_records=[
        LogRecord(time_unix_nano=start, severity_number=13, body=AnyValue(string_value="proto log 카드 거절"),
                  trace_id=trace_id, span_id=span_id),
    ])])])
    data = gzip.compress(logs.SerializeToString())
    r = requests.post(f"{base}/v1/logs", data=data,
                      headers={"Content-Type": "application/protobuf", "Content-Encoding": "gzip"}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/x-protobuf"
    assert not ExportLogsServiceResponse.FromString(r.content).HasField("partial_success")
    [rec] = server.search("카드 거절")["records"]
    assert rec["trace_id"] == trace_id.hex() and rec["level"] == "WARN"
    # A missing Content-Type means protobuf.
    r = requests.post(f"{base}/v1/logs", data=logs.SerializeToString(), timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/x-protobuf"


@pytest.mark.parametrize("path", ["/v1/logs", "/v1/traces"])
def test_bad_otlp_bodies_are_4xx(server, path):
    for data, headers, status in [
        (b"{not json", JSON, 400),
        (b"[1, 2]", JSON, 400),
        (b"\xff\xfe garbage", PROTOBUF, 400),
        (b"{}", {"Content-Type": "text/plain"}, 415),
        (b"{}", {**JSON, "Content-Encoding": "compress"}, 415),
    ]:
        r = requests.post(f"{server.otlp_http}{path}", data=data, headers=headers, timeout=30)
        assert r.status_code == status, (data, headers, r.status_code, r.text)
        assert r.json()["error"]["reason"], r.text
    # An empty JSON envelope is fine.
    r = requests.post(f"{server.otlp_http}{path}", data=b"{}", headers=JSON, timeout=30)
    assert r.status_code == 200, r.text
    # The OTLP port serves only OTLP.
    assert requests.get(f"{server.otlp_http}/api/v1/search", timeout=30).status_code == 404
    assert server.healthy()


def test_grpc_partial_success_and_gzip(server):
    """Raw OTLP/gRPC calls: a bad span is rejected alone, gzip-compressed calls are taken."""
    import grpc
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2_grpc import LogsServiceStub
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc import TraceServiceStub

    trace_id = os.urandom(16)
    start = now_ns() - 1_000_000
    res = Resource(attributes=[KeyValue(key="service.name", value=AnyValue(string_value="grpc-raw"))])
    request = ExportTraceServiceRequest(resource_spans=[ResourceSpans(resource=res, scope_spans=[ScopeSpans(spans=[
        Span(trace_id=trace_id, span_id=os.urandom(8), name="good grpc span",
             start_time_unix_nano=start, end_time_unix_nano=start + 10),
        Span(trace_id=trace_id, span_id=b"", name="no span id",
             start_time_unix_nano=start, end_time_unix_nano=start + 10),
    ])])])
    with grpc.insecure_channel(server.otlp_grpc) as channel:
        answer = TraceServiceStub(channel).Export(request, timeout=30, compression=grpc.Compression.Gzip)
        assert answer.partial_success.rejected_spans == 1
        assert "span_id" in answer.partial_success.error_message
        logs = ExportLogsServiceRequest(resource_logs=[ResourceLogs(resource=res, scope_logs=[ScopeLogs(log_records=[
            LogRecord(time_unix_nano=start, severity_text="error", body=AnyValue(string_value="grpc raw 결제 오류")),
        ])])])
        answer = LogsServiceStub(channel).Export(logs, timeout=30)
        assert not answer.HasField("partial_success")
        # Garbage is refused with a gRPC status, not a crash.
        bad = channel.unary_unary("/opentelemetry.proto.collector.logs.v1.LogsService/Export",
                                  request_serializer=lambda b: b, response_deserializer=lambda b: b)
        with pytest.raises(grpc.RpcError) as e:
            bad(b"\xff\xff\xff garbage", timeout=30)
        assert e.value.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.INTERNAL), e.value
    t = server.trace(trace_id.hex()).json()
    assert [s["name"] for s in t["spans"]] == ["good grpc span"]
    [rec] = server.search("결제 오류")["records"]
    assert rec["level"] == "ERROR" and rec["service"] == "grpc-raw"
    assert server.healthy()
