"""A `red` rule over spans sent by the real OpenTelemetry Python SDK: checkout's requests fail
because payment-service's calls to its provider time out; the alert is on checkout's error rate
and its evidence names the root cause in payment-service, with an example trace that is one of
the failing ones."""

from __future__ import annotations

import time

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from alert_helpers import alerting_server, report, wait_firing
from receivers import HttpReceiver

RULE = "checkout error rate"
N_REQUESTS = 30
FAILING = [i for i in range(N_REQUESTS) if i % 3 != 0]     # 20 of 30
PROVIDER_OP = "POST third-party-payment-api /v1/charges"
FILES = {"checkout.yaml": """\
rules:
  - name: checkout error rate
    kind: red
    service: checkout
    metric: error_rate
    op: '>'
    threshold: 0.3
    min_requests: 10
    interval: 10s
    lookback: 3m
    delay: 0s
    labels:
      severity: critical
    annotations:
      summary: '{{ labels.service }}: 요청의 {{ value | percent }} 실패'

contact_points:
  - name: hook
    kind: webhook
    url: @HOOK@/hook

policies:
  receiver: hook
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
"""}


def send_requests(server) -> list[str]:
    """Thirty checkout requests, 2.5 to 1.5 minutes ago (inside the rule's window, which ends on
    the last whole minute); two thirds fail in payment-service's call to its provider. Returns
    the failing traces' ids."""
    providers = {s: TracerProvider(resource=Resource.create({"service.name": s, "service.version": "1.4.2"}))
                 for s in ("checkout", "payment-service")}
    for p in providers.values():
        p.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{server.otlp_http}/v1/traces", timeout=10)))
    checkout = providers["checkout"].get_tracer("e2e.checkout")
    payment = providers["payment-service"].get_tracer("e2e.payment")
    base = time.time_ns() - 150 * 10**9
    ms = 10**6
    failed = []
    try:
        for i in range(N_REQUESTS):
            t = base + i * 2 * 10**9
            fail = i in FAILING
            root = checkout.start_span("POST /checkout", kind=SpanKind.SERVER, start_time=t)
            call = checkout.start_span("POST /v1/charges", context=trace.set_span_in_context(root), kind=SpanKind.CLIENT, start_time=t + ms)
            charge = payment.start_span("POST /v1/charges", context=trace.set_span_in_context(call), kind=SpanKind.SERVER, start_time=t + 2 * ms)
            provider = payment.start_span(PROVIDER_OP, context=trace.set_span_in_context(charge), kind=SpanKind.CLIENT,
                                          start_time=t + 3 * ms, attributes={"peer.service": "third-party-payment-api"})
            if fail:
                provider.record_exception(TimeoutError("deadline exceeded calling third-party-payment-api after 3s"), timestamp=t + 3003 * ms)
                for span, message in ((provider, "deadline exceeded"), (charge, "결제 실패: 외부 결제사 응답 없음"),
                                      (call, "payment failed"), (root, "checkout failed")):
                    span.set_status(Status(StatusCode.ERROR, message))
                failed.append(format(root.get_span_context().trace_id, "032x"))
            end = t + (3010 if fail else 120) * ms
            provider.end(end_time=end)
            charge.end(end_time=end + ms)
            call.end(end_time=end + 2 * ms)
            root.end(end_time=end + 3 * ms)
        for name, p in providers.items():
            assert p.force_flush(20_000), f"{name} spans were not exported"
    finally:
        for p in providers.values():
            p.shutdown()
    return failed


@pytest.fixture
def hook():
    h = HttpReceiver("webhook").start()
    yield h
    h.stop()


def test_red_rule_on_sdk_spans_names_the_root_cause(trawl_bin, tmp_path, hook, request):
    server = alerting_server(trawl_bin, tmp_path, {"checkout.yaml": FILES["checkout.yaml"].replace("@HOOK@", hook.url)})
    report(request, server)
    server.start()
    try:
        failed = send_requests(server)
        [alert] = wait_firing(server, RULE, timeout=60)
        assert alert["labels"] == {"rule": RULE, "service": "checkout", "severity": "critical"}
        [n] = hook.wait(lambda h: h.notifications("firing"), 30, "the firing notification")
        [a] = n["alerts"]
        assert a["metric"] == "error_rate" and a["unit"] == "ratio" and a["threshold"] == 0.3
        assert a["value"] == pytest.approx(len(FAILING) / N_REQUESTS, abs=1e-6)
        assert a["annotations"]["summary"] == "checkout: 요청의 67% 실패"
        ev = a["evidence"]
        assert ev["failing_traces"] == len(FAILING), ev
        top = ev["root_causes"][0]
        assert top["service"] == "payment-service" and top["operation"] == PROVIDER_OP, ev["root_causes"]
        assert top["share"] > 0.9 and top["traces"] == len(FAILING), top
        assert top["example_trace_id"] in failed
        assert ev["links"]["trace"].endswith(f"/trace/{top['example_trace_id']}")
        assert ev["figure"]["metric"] == "error_rate" and ev["figure"]["unit"] == "ratio"
    finally:
        server.stop()
