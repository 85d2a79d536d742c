"""A threshold rule fires per service and every channel gets it, then the resolution, through
real receivers: the signed generic webhook, Slack (incoming webhook and Web API), PagerDuty
Events v2, e-mail over SMTP (aiosmtpd) and a real Prometheus Alertmanager forwarding to a
webhook. Also `/metrics` after it all.

One trawl server for the module: errors of three services are ingested once; two cross the
threshold (`n > 5`), one does not. The rule looks back 30 s, so the alerts resolve about half a
minute later without anything else being sent.
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime

import pytest

from alert_helpers import alerting_server, alerts, get, metrics_text, now_ms, outbox, report, trace_id
from receivers import (Alertmanager, HttpReceiver, Reply, SmtpSink, alertmanager_binary, pagerduty_responder,
                       slack_api_responder, wait_until)

RULE = "errors per service"
SECRET = "웹훅-secret-0f9e"
ROUTING_KEY = "R0UTINGKEY00000000000000000000E2"
SLACK_TOKEN = "xoxb-111-222-e2etoken"
CARD = "4111 1111 1111 1111"
# Masked at ingest (docs/privacy.md), before it was stored: the separators stay.
MASKED_CARD = "**** **** **** 1111"
EMAIL = "kim.minsu@example.co.kr"
# payment-service and order-service cross `n > 5`; auth-service does not.
ERRORS = {"payment-service": 8, "order-service": 7, "auth-service": 3}
ALERTING = ("payment-service", "order-service")
# Firing: the first evaluation after the ingest (10 s interval) plus group_wait; resolved: the
# 30 s lookback, an evaluation, group_interval. Generous for a slow, shared machine.
FIRING_TIMEOUT = 60
RESOLVED_TIMEOUT = 120


def summary_of(service: str) -> str:
    return f"{service}: 오류 {ERRORS[service]}건 (기준 5건 초과)"


RULES_YAML = """\
rules:
  - name: errors per service
    kind: threshold
    description: 서비스별 오류 건수
    query: 'level:error | stats count() as n by service'
    condition: n > 5
    interval: 10s
    lookback: 30s
    delay: 0s
    labels:
      severity: critical
      team: 결제팀
    annotations:
      summary: '{{ labels.service }}: 오류 {{ value | number }}건 (기준 5건 초과)'
      description: 결제 오류가 기준을 넘었습니다

contact_points:
  - name: hook
    kind: webhook
    url: @HOOK@/trawl/notify
    secret: @SECRET@
    headers:
      X-Team: payments
  - name: slack-hook
    kind: slack
    webhook_url: @SLACK@/services/T000/B000/XXXXXXXX
  - name: slack-bot
    kind: slack
    token: @TOKEN@
    channel: '#payments'
    api_url: @SLACKAPI@/api
  - name: pagerduty
    kind: pagerduty
    routing_key: @ROUTING@
    url: @PD@/v2/enqueue
  - name: email
    kind: email
    to: [oncall@example.com, payments-oncall@example.com]
    from: trawl@example.com
    smtp_host: 127.0.0.1
    smtp_port: @SMTP@
    tls: none
@AM_CP@
policies:
  receivers: [hook, slack-hook, slack-bot, pagerduty, email@AM_RECEIVER@]
  group_by: [rule, service]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
"""


class Stack:
    pass


@pytest.fixture(scope="module")
def stack(trawl_bin, tmp_path_factory):
    base = tmp_path_factory.mktemp("alerting-channels")
    s = Stack()
    s.hook = HttpReceiver("webhook", secret=SECRET).start()
    s.slack = HttpReceiver("slack-webhook", default=Reply(200, b"ok", {"Content-Type": "text/plain"})).start()
    s.slack_api = HttpReceiver("slack-api", responder=slack_api_responder).start()
    s.pd = HttpReceiver("pagerduty", responder=pagerduty_responder).start()
    s.am_hook = HttpReceiver("alertmanager-webhook").start()
    s.smtp = SmtpSink().start()
    s.am = None
    s.am_missing = None
    if alertmanager_binary():
        s.am = Alertmanager(base / "alertmanager", f"{s.am_hook.url}/am").start()
    else:
        s.am_missing = "prometheus-alertmanager is not installed (scripts/test.sh installs it with apt-get)"
    text = (RULES_YAML.replace("@HOOK@", s.hook.url).replace("@SECRET@", json.dumps(SECRET, ensure_ascii=False))
            .replace("@SLACK@", s.slack.url).replace("@SLACKAPI@", s.slack_api.url).replace("@TOKEN@", SLACK_TOKEN)
            .replace("@PD@", s.pd.url).replace("@ROUTING@", ROUTING_KEY).replace("@SMTP@", str(s.smtp.port))
            .replace("@AM_CP@", f"  - name: alertmanager\n    kind: alertmanager\n    url: {s.am.url}\n" if s.am else "")
            .replace("@AM_RECEIVER@", ", alertmanager" if s.am else ""))
    s.server = alerting_server(trawl_bin, base, {"alerting.yaml": text})
    s.server.start()
    try:
        # Errors of three services, a millisecond apart and ending now; the last payment errors
        # carry a card number and an e-mail address, which must leave the server masked.
        t0 = now_ms() - 2000
        records = []
        for service, n in ERRORS.items():
            for i in range(n):
                message = f"결제 실패: 카드 승인 거절 order_id={i}" if service == "payment-service" else f"{service} 처리 실패: 응답 없음 id={i}"
                if service == "payment-service" and i >= n - 3:
                    message += f" card={CARD} user={EMAIL}"
                records.append({"timestamp": t0 + len(records), "service": service, "level": "error",
                                "message": message, "trace_id": trace_id()})
        records.append({"timestamp": t0 + len(records), "service": "payment-service", "level": "info", "message": "결제 승인 order_id=99"})
        s.ingest_ms = now_ms()
        s.server.ingest_ok(records)
        yield s
    finally:
        s.server.stop()
        for r in (s.hook, s.slack, s.slack_api, s.pd, s.am_hook):
            r.stop()
        s.smtp.stop()
        if s.am:
            s.am.stop()


@pytest.fixture(autouse=True)
def _stderr_on_failure(request, stack):
    report(request, stack.server)


def firing_by_service(stack) -> dict[str, dict]:
    """The firing notifications at the webhook, by the service of their group (both must be there)."""
    def ready():
        got = {n["group_labels"].get("service"): n for n in stack.hook.notifications("firing")}
        return got if all(s in got for s in ALERTING) else None
    return stack.hook.wait(lambda _: ready(), FIRING_TIMEOUT, f"firing notifications for {ALERTING}")


def rfc3339(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# ----- firing ----------------------------------------------------------------------------------

def test_webhook_gets_one_signed_firing_notification_per_service(stack):
    by_service = firing_by_service(stack)
    assert set(by_service) == set(ALERTING), f"auth-service (3 errors) is under the threshold: {list(by_service)}"
    for service, n in by_service.items():
        assert n["schema_version"] == 1
        assert n["kind"] == "firing" and n["status"] == "firing"
        assert n["receiver"] == "hook"
        assert isinstance(n["group_key"], str) and n["group_key"]
        assert n["group_labels"] == {"rule": RULE, "service": service}
        assert n["common_labels"] == {"rule": RULE, "service": service, "severity": "critical", "team": "결제팀"}
        assert n["common_annotations"]["summary"] == summary_of(service)
        assert n["truncated_alerts"] == 0
        assert n["external_url"].startswith("http://127.0.0.1:")
        sent_at = rfc3339(n["sent_at"])
        assert stack.ingest_ms / 1000 - 5 <= sent_at <= time.time() + 5, n["sent_at"]
        assert rfc3339(n["valid_until"]) >= sent_at + 3000, "valid_until is the repeat interval (1h) away"
        [alert] = n["alerts"]
        assert alert["status"] == "firing" and alert["rule"] == RULE
        assert alert["labels"] == n["common_labels"]
        assert alert["annotations"] == {"summary": summary_of(service), "description": "결제 오류가 기준을 넘었습니다"}
        assert alert["value"] == ERRORS[service]
        assert alert["threshold"] == 5
        assert alert["metric"] == "n"
        assert re.fullmatch(r"[0-9a-f]{16}", alert["fingerprint"]), alert["fingerprint"]
        assert alert["url"] == f"{n['external_url']}/alerts/{alert['fingerprint']}"
        assert stack.ingest_ms / 1000 - 60 <= rfc3339(alert["starts_at"]) <= sent_at
        assert "ends_at" not in alert or alert["ends_at"] is None
        ev = alert["evidence"]
        for key in ("figure", "root_causes", "failing_traces", "patterns", "changes", "links",
                    "computed_at_ns", "window_start_ns", "window_end_ns", "took_ms"):
            assert key in ev, f"evidence without {key}: {sorted(ev)}"
        assert ev["figure"]["metric"] == "n" and ev["figure"]["value"] == ERRORS[service]
        assert isinstance(ev["figure"]["series"], list) and isinstance(ev["figure"]["sparkline"], str)
        assert ev["window_end_ns"] - ev["window_start_ns"] >= 5 * 60 * 10**9, "the evidence window is at least 5 minutes"
        assert ev["links"]["alert"] == alert["url"]
        assert "/search?q=" in ev["links"]["search"] and ev["links"]["rule"].endswith("/rules/errors%20per%20service")
        assert {p["service"] for p in ev["patterns"]} == {service}, ev["patterns"]
        assert sum(p["count"] for p in ev["patterns"]) == ERRORS[service], ev["patterns"]
    assert len({n["group_key"] for n in by_service.values()}) == 2
    assert by_service["payment-service"]["id"] != by_service["order-service"]["id"]


def test_links_in_notifications_reach_the_server(stack):
    """`public_url` defaults to the listen address: the address the server really listens on
    (here a port the kernel picked), so the links work."""
    n = firing_by_service(stack)["payment-service"]
    assert n["external_url"] == stack.server.api, (n["external_url"], stack.server.api)
    alert = n["alerts"][0]
    assert alert["url"].startswith(stack.server.api + "/alerts/")
    r = stack.server.http.get(alert["url"].replace("/alerts/", "/api/v1/alerts/"), timeout=10)
    assert r.status_code == 200 and r.json()["alert"]["fingerprint"] == alert["fingerprint"], r.text[:300]


def test_webhook_requests_are_signed_and_carry_the_notification_id(stack):
    firing_by_service(stack)
    for r in stack.hook.answered():
        assert r.method == "POST" and r.path == "/trawl/notify"
        assert r.header("content-type", "").startswith("application/json")
        assert r.header("x-team") == "payments", "the contact point's own header"
        assert r.signature_ok, f"bad signature: ts={r.header('x-trawl-timestamp')} sig={r.header('x-trawl-signature')}"
        assert r.header("x-trawl-notification-id") == r.json()["id"]
    # A tampered body does not verify with the same headers: the check is not vacuous.
    from receivers import signature_valid
    r = stack.hook.answered()[0]
    assert not signature_valid(SECRET, r.headers, r.body.replace(b"firing", b"resolved", 1))
    assert not signature_valid("another secret", r.headers, r.body)


def test_evidence_sample_lines_are_masked(stack):
    n = firing_by_service(stack)["payment-service"]
    [alert] = n["alerts"]
    patterns = alert["evidence"]["patterns"]
    samples = [s for p in patterns for s in p["samples"]]
    assert samples, patterns
    assert any(MASKED_CARD in s for s in samples), samples
    assert any("[REDACTED:email]" in s for s in samples), samples
    assert any("결제 실패" in s for s in samples), samples
    raw = json.dumps(n, ensure_ascii=False)
    assert CARD not in raw and CARD.replace(" ", "") not in raw, "a card number left the server"
    assert EMAIL not in raw, "an e-mail address left the server"
    for p in patterns:
        assert len(p["samples"]) <= 3 and isinstance(p["new"], bool)


def test_slack_incoming_webhook_gets_block_kit_in_korean(stack):
    def ready():
        bodies = stack.slack.json_bodies("/services/T000/B000/XXXXXXXX")
        headers = [b["blocks"][0]["text"]["text"] for b in bodies if b.get("blocks") and b["blocks"][0]["type"] == "header"]
        return bodies if all(any(summary_of(s) in h for h in headers) for s in ALERTING) else None
    bodies = stack.slack.wait(lambda _: ready(), FIRING_TIMEOUT, "Block Kit messages for both services")
    for r in stack.slack.answered():
        assert r.header("content-type", "").startswith("application/json")
    for service in ALERTING:
        [body] = [b for b in bodies if b["blocks"][0]["text"]["text"] == f"[FIRING:1] {summary_of(service)}"]
        assert body["text"] == f"[FIRING:1] {summary_of(service)}"
        types = [b["type"] for b in body["blocks"]]
        assert types[0] == "header" and "section" in types and "context" in types and "actions" in types, types
        text = json.dumps(body, ensure_ascii=False)
        assert "결제 오류가 기준을 넘었습니다" in text
        assert "team=결제팀" in text
        buttons = [e for b in body["blocks"] if b["type"] == "actions" for e in b["elements"]]
        assert {b["text"]["text"] for b in buttons} >= {"Open alert", "Logs"}
        assert all(b["url"].startswith("http://127.0.0.1:") for b in buttons)
        if service == "payment-service":
            assert "*Log patterns*" in text and MASKED_CARD in text and "[REDACTED:email]" in text, text
            assert CARD not in text and EMAIL not in text


def test_slack_web_api_posts_with_the_bot_token(stack):
    def new_messages():
        p = [r for r in stack.slack_api.answered() if r.path == "/api/chat.postMessage" and "thread_ts" not in r.json()]
        return p if len(p) >= 2 else None
    posts = stack.slack_api.wait(lambda _: new_messages(), FIRING_TIMEOUT, "two chat.postMessage calls")
    headers = set()
    for r in posts:
        assert r.header("authorization") == f"Bearer {SLACK_TOKEN}"
        assert r.header("content-type", "").startswith("application/json")
        body = r.json()
        assert body["channel"] == "#payments" and body["unfurl_links"] is False
        headers.add(body["blocks"][0]["text"]["text"])
    assert headers == {f"[FIRING:1] {summary_of(s)}" for s in ALERTING}


def test_pagerduty_gets_a_trigger_with_a_dedup_key_per_group(stack):
    def triggers():
        t = [b for b in stack.pd.json_bodies("/v2/enqueue") if b.get("event_action") == "trigger"]
        return t if len(t) >= 2 else None
    events = stack.pd.wait(lambda _: triggers(), FIRING_TIMEOUT, "two PagerDuty triggers")
    by_service = {e["payload"]["source"]: e for e in events}
    assert set(by_service) == set(ALERTING), events
    for service, e in by_service.items():
        assert e["routing_key"] == ROUTING_KEY
        assert re.fullmatch(r"trawl-[0-9a-f]{16}", e["dedup_key"]), e["dedup_key"]
        p = e["payload"]
        assert p["summary"] == f"[FIRING:1] {summary_of(service)}"
        assert p["severity"] == "critical" and p["component"] == service and p["group"] == RULE and p["class"] == "n"
        details = p["custom_details"]["alerts"][0]
        assert details["labels"]["team"] == "결제팀" and details["labels"]["service"] == service
        assert details["annotations"]["summary"] == summary_of(service)
        assert any(link["text"] == f"Alert: {summary_of(service)}" for link in e["links"])
        assert e["client"] == "trawl"
    assert len({e["dedup_key"] for e in events}) == len(events), "one incident per group"


def test_email_is_multipart_alternative_with_korean_intact(stack):
    def ready():
        msgs = [m for m in stack.smtp.parsed() if m["subject"].startswith("[FIRING")]
        return msgs if len(msgs) >= 2 else None
    msgs = wait_until(ready, FIRING_TIMEOUT, lambda: f"two firing e-mails (got {[m['subject'] for m in stack.smtp.parsed()]})")
    subjects = {m["subject"] for m in msgs}
    assert subjects == {f"[FIRING:1] {summary_of(s)}" for s in ALERTING}, subjects
    email_ids = {o["id"] for o in outbox(stack.server) if o["contact_point"] == "email"}
    for m in msgs:
        assert m.get_content_type() == "multipart/alternative", m.get_content_type()
        parts = {p.get_content_type(): p for p in m.iter_parts()}
        assert set(parts) == {"text/plain", "text/html"}, list(parts)
        plain, html = parts["text/plain"].get_content(), parts["text/html"].get_content()
        summary = m["subject"].removeprefix("[FIRING:1] ")
        assert summary in plain and summary in html
        assert "결제 오류가 기준을 넘었습니다" in plain
        assert "<script" not in html.lower()
        assert m["from"] == "trawl@example.com"
        assert {a.addr_spec for a in m["to"].addresses} == {"oncall@example.com", "payments-oncall@example.com"}
        assert m["auto-submitted"] == "auto-generated"
        mid = re.fullmatch(r"<trawl\.([0-9a-f]+)@example\.com>", m["message-id"])
        assert mid and mid.group(1) in email_ids, (m["message-id"], email_ids)
        if "payment-service" in summary:
            assert MASKED_CARD in plain and CARD not in plain and EMAIL not in plain
    for sender, rcpts in stack.smtp.envelopes():
        assert sender == "trawl@example.com" and sorted(rcpts) == sorted(["oncall@example.com", "payments-oncall@example.com"])


def test_alertmanager_forwards_labels_and_korean_annotations(stack):
    if stack.am is None:
        pytest.skip(stack.am_missing)

    def ready():
        got = {}
        for body in stack.am_hook.json_bodies("/am"):
            for a in body.get("alerts", []):
                if a["status"] == "firing":
                    got.setdefault(a["labels"].get("service"), (body, a))
        return got if all(s in got for s in ALERTING) else None
    got = stack.am_hook.wait(lambda _: ready(), FIRING_TIMEOUT, lambda: f"firing alerts through Alertmanager ({stack.am.log_tail(5)})")
    for service in ALERTING:
        body, a = got[service]
        assert body["receiver"] == "hook" and body["version"] == "4"
        assert body["groupLabels"] == {"alertname": RULE, "service": service}
        assert a["labels"] == {"alertname": RULE, "rule": RULE, "service": service, "severity": "critical", "team": "결제팀"}
        assert a["annotations"]["summary"] == summary_of(service)
        assert a["annotations"]["description"] == "결제 오류가 기준을 넘었습니다"
        assert "logs_url" in a["annotations"] and "/search?q=" in a["annotations"]["logs_url"]
        assert a["annotations"]["evidence"].startswith("n: "), a["annotations"]["evidence"]
        assert a["generatorURL"].startswith("http://127.0.0.1:") and "/alerts/" in a["generatorURL"]
        if service == "payment-service":
            assert MASKED_CARD in a["annotations"]["evidence"] and CARD not in a["annotations"]["evidence"]
    assert "auth-service" not in {al["labels"].get("service") for al in stack.am.alerts()}


# ----- resolved --------------------------------------------------------------------------------

def test_resolved_notifications_follow_when_errors_stop(stack):
    firing = firing_by_service(stack)

    def resolved():
        got = {n["group_labels"].get("service"): n for n in stack.hook.notifications("resolved")}
        return got if all(s in got for s in ALERTING) else None
    by_service = stack.hook.wait(lambda _: resolved(), RESOLVED_TIMEOUT, "resolved notifications for both services")
    for service, n in by_service.items():
        assert n["status"] == "resolved"
        assert n["group_key"] == firing[service]["group_key"]
        assert n["id"] != firing[service]["id"]
        assert "valid_until" not in n or n["valid_until"] is None
        [alert] = n["alerts"]
        assert alert["status"] == "resolved" and alert["fingerprint"] == firing[service]["alerts"][0]["fingerprint"]
        assert rfc3339(alert["ends_at"]) >= rfc3339(alert["starts_at"])
        # The window (30 s) had to pass the last error first.
        assert rfc3339(n["sent_at"]) >= stack.ingest_ms / 1000 + 25, (n["sent_at"], stack.ingest_ms)
    assert all(r.signature_ok for r in stack.hook.answered())
    # Exactly one firing notification per group over the whole run (repeat_interval is 1h).
    counts = {}
    for n in stack.hook.notifications("firing"):
        counts[n["group_labels"]["service"]] = counts.get(n["group_labels"]["service"], 0) + 1
    assert counts == {s: 1 for s in ALERTING}, counts
    states = {a["labels"]["service"]: a["state"] for a in alerts(stack.server, rule=RULE)}
    assert states == {s: "resolved" for s in ALERTING}, states


def test_pagerduty_resolves_with_the_same_dedup_key(stack):
    def both():
        events = stack.pd.json_bodies("/v2/enqueue")
        resolves = [e for e in events if e["event_action"] == "resolve"]
        return events if len(resolves) >= 2 else None
    events = stack.pd.wait(lambda _: both(), RESOLVED_TIMEOUT, "two PagerDuty resolve events")
    triggers = {e["dedup_key"] for e in events if e["event_action"] == "trigger"}
    resolves = [e for e in events if e["event_action"] == "resolve"]
    assert len(triggers) == 2 and {e["dedup_key"] for e in resolves} == triggers, events
    for e in resolves:
        assert e["routing_key"] == ROUTING_KEY and "payload" not in e
    assert len(resolves) == 2 and len([e for e in events if e["event_action"] == "trigger"]) == 2


def test_resolution_reaches_slack_email_and_alertmanager(stack):
    # The bot's firing message is updated, and a reply goes into its thread.
    def updates():
        u = [r.json() for r in stack.slack_api.answered() if r.path == "/api/chat.update"]
        replies = [r.json() for r in stack.slack_api.answered() if r.path == "/api/chat.postMessage" and "thread_ts" in r.json()]
        return (u, replies) if len(u) >= 2 and len(replies) >= 2 else None
    ups, replies = stack.slack_api.wait(lambda _: updates(), RESOLVED_TIMEOUT, "chat.update and thread replies")
    for u in ups:
        assert u["channel"] == "C1" and u["ts"] == "1.000"
        assert u["blocks"][0]["text"]["text"].startswith("[RESOLVED]")
    for r in replies:
        assert r["thread_ts"] == "1.000" and r["channel"] == "C1" and "Resolved" in r["text"]
    # The incoming webhook gets the resolved message too.
    stack.slack.wait(lambda s: len([b for b in s.json_bodies() if b["text"].startswith("[RESOLVED]")]) >= 2,
                     RESOLVED_TIMEOUT, "resolved Slack messages")
    # E-mail.
    def resolved_mails():
        msgs = [m for m in stack.smtp.parsed() if m["subject"].startswith("[RESOLVED]")]
        return msgs if len(msgs) >= 2 else None
    resolved = wait_until(resolved_mails, RESOLVED_TIMEOUT, "two resolved e-mails")
    assert {m["subject"] for m in resolved} == {f"[RESOLVED] {summary_of(s)}" for s in ALERTING}
    # Alertmanager: trawl ends the alerts, Alertmanager sends its own resolved notifications.
    if stack.am is None:
        pytest.skip(stack.am_missing)

    def am_resolved():
        done = {a["labels"].get("service") for b in stack.am_hook.json_bodies("/am") for a in b["alerts"] if a["status"] == "resolved"}
        return done if set(ALERTING) <= done else None
    stack.am_hook.wait(lambda _: am_resolved(), RESOLVED_TIMEOUT, "resolved alerts through Alertmanager")


# ----- metrics ---------------------------------------------------------------------------------

def test_metrics_count_evaluations_and_deliveries(stack):
    # After the resolved notifications of every channel have been delivered.
    n_channels = 6 if stack.am else 5
    wait_until(lambda: (lambda o: len(o) >= 4 * n_channels and all(x["state"] == "delivered" for x in o))(outbox(stack.server)),
               RESOLVED_TIMEOUT, lambda: f"every notification delivered: {[(o['contact_point'], o['kind'], o['state']) for o in outbox(stack.server)]}")
    text = metrics_text(stack.server)

    def value(name: str) -> float:
        m = re.search(rf"^{re.escape(name)} ([0-9.e+]+)$", text, re.MULTILINE)
        assert m, f"{name} not in /metrics:\n" + "\n".join(l for l in text.splitlines() if "alert" in l or "notification" in l)
        return float(m.group(1))

    rule = get(stack.server, "/api/v1/rules/errors%20per%20service")
    assert value('trawl_alert_evaluations_total{kind="threshold"}') >= rule["health"]["evaluations"] >= 3
    assert value('trawl_alert_evaluation_failures_total{kind="threshold"}') == 0
    assert value("trawl_alert_evaluations_skipped_total") == 0
    assert value("trawl_alert_evaluation_seconds_count") >= 3
    assert value("trawl_alert_rules") == 1
    # Two groups, firing then resolved, to each contact point.
    assert value('trawl_notifications_sent_total{channel="webhook"}') == 4
    assert value('trawl_notifications_sent_total{channel="slack"}') == 8
    assert value('trawl_notifications_sent_total{channel="pagerduty"}') == 4
    assert value('trawl_notifications_sent_total{channel="email"}') == 4
    if stack.am:
        assert value('trawl_notifications_sent_total{channel="alertmanager"}') == 4
    assert value("trawl_notifications_queued_total") == 4 * n_channels
    assert value('trawl_notification_outbox{state="delivered"}') == 4 * n_channels
    assert value('trawl_alerts{state="firing"}') == 0
    assert value('trawl_alerts{state="resolved"}') == 2
    for channel in ("webhook", "slack", "pagerduty", "email"):
        assert value(f'trawl_notifications_failed_total{{channel="{channel}"}}') == 0
        assert value(f'trawl_notification_attempts_failed_total{{channel="{channel}"}}') == 0
