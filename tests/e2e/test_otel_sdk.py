"""Traces and logs sent by the real OpenTelemetry Python SDK, over OTLP/HTTP and OTLP/gRPC."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

import pytest
from grpc import Compression as GrpcCompression
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http import Compression as HttpCompression
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode

KOREAN_ERROR = "결제가 실패했습니다: 카드 승인 거절"
ENGLISH_WARNING = "payment timeout after 3s"
CHECKOUT_INFO = "order 42 received"


def exporters(transport: str, server):
    """(span exporter factory, log exporter factory) for one transport."""
    if transport.startswith("grpc"):
        kw = {"compression": GrpcCompression.Gzip} if transport.endswith("gzip") else {}
        return (lambda: GrpcSpanExporter(endpoint=server.otlp_grpc, insecure=True, timeout=10, **kw),
                lambda: GrpcLogExporter(endpoint=server.otlp_grpc, insecure=True, timeout=10, **kw))
    base = server.api if transport == "http-main-port" else server.otlp_http
    kw = {"compression": HttpCompression.Gzip} if transport.endswith("gzip") else {}
    return (lambda: HttpSpanExporter(endpoint=f"{base}/v1/traces", timeout=10, **kw),
            lambda: HttpLogExporter(endpoint=f"{base}/v1/logs", timeout=10, **kw))


@dataclass
class Sent:
    trace_id: str
    root_span_id: str
    local_child_id: str
    remote_child_id: str


def resource(service: str) -> Resource:
    return Resource.create({"service.name": service, "deployment.environment": "e2e", "host.name": "e2e-host"})


def send_scenario(transport: str, server) -> Sent:
    """checkout: root span `POST /checkout` with a child `reserve stock`; payment: child
    `charge card` of the root that fails with ERROR and a recorded exception. Logs are emitted
    through Python `logging` inside the active spans, so they carry trace and span ids."""
    span_exporter, log_exporter = exporters(transport, server)
    providers = {}
    log_providers = {}
    loggers = {}
    handlers = []
    for service in ("checkout", "payment"):
        tp = TracerProvider(resource=resource(service))
        tp.add_span_processor(BatchSpanProcessor(span_exporter()))
        providers[service] = tp
        lp = LoggerProvider(resource=resource(service))
        lp.add_log_record_processor(BatchLogRecordProcessor(log_exporter()))
        log_providers[service] = lp
        logger = logging.getLogger(f"trawl.e2e.{service}.{uuid.uuid4().hex}")
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
        handler = LoggingHandler(level=logging.DEBUG, logger_provider=lp)
        logger.addHandler(handler)
        handlers.append((logger, handler))
        loggers[service] = logger

    try:
        checkout = providers["checkout"].get_tracer("e2e.checkout")
        payment = providers["payment"].get_tracer("e2e.payment")
        with checkout.start_as_current_span("POST /checkout", kind=trace.SpanKind.SERVER) as root:
            loggers["checkout"].info(CHECKOUT_INFO)
            with checkout.start_as_current_span("reserve stock") as local_child:
                local_child.set_attribute("stock.items", 3)
            # The payment service is another process in real life: its span joins the trace
            # through the propagated context of the root span.
            with payment.start_as_current_span("charge card", kind=trace.SpanKind.SERVER) as remote_child:
                loggers["payment"].error(KOREAN_ERROR)
                loggers["payment"].warning(ENGLISH_WARNING)
                try:
                    raise RuntimeError("card declined by issuer")
                except RuntimeError as e:
                    remote_child.record_exception(e)
                    remote_child.set_status(Status(StatusCode.ERROR, "card declined"))
        sent = Sent(
            trace_id=format(root.get_span_context().trace_id, "032x"),
            root_span_id=format(root.get_span_context().span_id, "016x"),
            local_child_id=format(local_child.get_span_context().span_id, "016x"),
            remote_child_id=format(remote_child.get_span_context().span_id, "016x"),
        )
        for service in ("checkout", "payment"):
            assert providers[service].force_flush(20_000), f"{service} spans were not exported"
            assert log_providers[service].force_flush(20_000), f"{service} logs were not exported"
        return sent
    finally:
        for logger, handler in handlers:
            logger.removeHandler(handler)
        for p in (*providers.values(), *log_providers.values()):
            p.shutdown()


@pytest.mark.parametrize("transport", ["http", "http-gzip", "http-main-port", "grpc", "grpc-gzip"])
def test_sdk_traces_and_logs_are_searchable(server, transport):
    sent = send_scenario(transport, server)

    # trace:<id> finds the three logs, all carrying the trace id.
    by_trace = server.search(f"trace:{sent.trace_id}")["records"]
    assert sorted(r["body"] for r in by_trace) == sorted([CHECKOUT_INFO, KOREAN_ERROR, ENGLISH_WARNING])
    assert {r["trace_id"] for r in by_trace} == {sent.trace_id}
    span_of = {r["body"]: r["span_id"] for r in by_trace}
    assert span_of[CHECKOUT_INFO] == sent.root_span_id
    assert span_of[KOREAN_ERROR] == sent.remote_child_id
    assert span_of[ENGLISH_WARNING] == sent.remote_child_id
    for r in by_trace:
        assert r["environment"] == "e2e"
        assert r["host"] == "e2e-host"
        assert r["resource"].get("service.name") == r["service"]

    # service:<name>
    assert server.bodies("service:payment") and sorted(server.bodies("service:payment")) == sorted([KOREAN_ERROR, ENGLISH_WARNING])
    assert server.bodies("service:checkout") == [CHECKOUT_INFO]

    # level:error
    errors = server.search("level:error")["records"]
    assert [r["body"] for r in errors] == [KOREAN_ERROR]
    assert errors[0]["level"] == "ERROR" and errors[0]["service"] == "payment"
    warnings = server.search("level:warn")["records"]
    assert [r["body"] for r in warnings] == [ENGLISH_WARNING]

    # English words are whole tokens, case-insensitive.
    assert server.bodies("timeout") == [ENGLISH_WARNING]
    assert server.bodies("TIMEOUT") == [ENGLISH_WARNING]
    assert server.bodies("timeouts") == []
    assert server.bodies("timeo") == []
    assert server.bodies('"payment timeout"') == [ENGLISH_WARNING]

    # Korean words match as substrings.
    assert server.bodies("결제 실패") == [KOREAN_ERROR]
    assert server.bodies("카드 승인") == [KOREAN_ERROR]
    assert server.bodies("service:payment 결제 실패 level:error") == [KOREAN_ERROR]

    # The whole trace across both services.
    r = server.trace(sent.trace_id)
    assert r.status_code == 200, r.text
    t = r.json()
    assert t["trace_id"] == sent.trace_id
    assert set(t["services"]) == {"checkout", "payment"}
    spans = {s["span_id"]: s for s in t["spans"]}
    assert set(spans) == {sent.root_span_id, sent.local_child_id, sent.remote_child_id}
    root = spans[sent.root_span_id]
    assert root["parent_span_id"] == ""
    assert root["name"] == "POST /checkout" and root["service"] == "checkout" and root["kind"] == "SERVER"
    local = spans[sent.local_child_id]
    assert local["parent_span_id"] == sent.root_span_id
    assert local["service"] == "checkout" and local["name"] == "reserve stock"
    assert local["attributes"].get("stock.items") == 3
    remote = spans[sent.remote_child_id]
    assert remote["parent_span_id"] == sent.root_span_id
    assert remote["service"] == "payment" and remote["name"] == "charge card"
    assert remote["status_code"] == "ERROR"
    assert remote["status_message"] == "card declined"
    assert root["status_code"] == "UNSET" and local["status_code"] == "UNSET"
    exceptions = [e for e in remote["events"] if e["name"] == "exception"]
    assert len(exceptions) == 1, remote["events"]
    attrs = exceptions[0]["attributes"]
    assert attrs.get("exception.type") == "RuntimeError"
    assert attrs.get("exception.message") == "card declined by issuer"
    assert "Traceback" in attrs.get("exception.stacktrace", "")
    for s in t["spans"]:
        assert s["trace_id"] == sent.trace_id
        assert s["environment"] == "e2e"
        assert s["duration_ns"] >= 0
    # Children lie within the root.
    assert root["start_ns"] <= remote["start_ns"]
    assert remote["start_ns"] + remote["duration_ns"] <= root["start_ns"] + root["duration_ns"]
    # Spans oldest first; the logs of the trace too.
    assert [s["start_ns"] for s in t["spans"]] == sorted(s["start_ns"] for s in t["spans"])
    assert sorted(rec["body"] for rec in t["records"]) == sorted([CHECKOUT_INFO, KOREAN_ERROR, ENGLISH_WARNING])
    assert t["warnings"] == []

    # An unknown trace is 404, a malformed id 400.
    assert server.trace("0123456789abcdef0123456789abcdef").status_code == 404
    assert server.trace("not a trace!").status_code == 400


def test_sdk_data_survives_restart_and_flush(make_server):
    """What the SDK sent is still there after a clean restart (segments, not only the WAL)."""
    server = make_server(["--flush-seconds", "1"])
    sent = send_scenario("http", server)
    server.restart()
    t = server.trace(sent.trace_id)
    assert t.status_code == 200, t.text
    assert len(t.json()["spans"]) == 3
    assert len(t.json()["records"]) == 3
    assert server.bodies("결제 실패") == [KOREAN_ERROR]
    server.wait_flushed()
    assert len(server.trace(sent.trace_id).json()["spans"]) == 3
