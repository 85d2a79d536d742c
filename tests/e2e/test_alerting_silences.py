"""Silences and acknowledgement: a silence set with `trawl silence add` keeps a firing alert from
being notified (the alert lists `silenced_by`); expiring it lets the notification go; an
acknowledgement sends PagerDuty an `acknowledge` event with the trigger's dedup key and the
webhook an `acknowledged` notification; `trawl alerts` prints the alert."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from alert_helpers import alerting_server, alerts, error_lines, firing, get, outbox, post, report, wait_evaluated_after, wait_firing
from receivers import HttpReceiver, pagerduty_responder

RULE = "payment errors"
SECRET = "silence-test-secret"
FILES = {"payments.yaml": """\
rules:
  - name: payment errors
    kind: threshold
    query: 'level:error service:payment-service | stats count() as n by service'
    condition: n > 5
    interval: 10s
    lookback: 10m
    delay: 0s
    labels:
      severity: critical
    annotations:
      summary: '결제 오류 {{ value | number }}건 ({{ labels.service }})'

contact_points:
  - name: hook
    kind: webhook
    url: @HOOK@/hook
    secret: @SECRET@
  - name: pagerduty
    kind: pagerduty
    routing_key: R0UTINGKEYSILENCE0000000000000E2
    url: @PD@/v2/enqueue

policies:
  receivers: [hook, pagerduty]
  group_by: [rule, service]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
"""}
TIMEOUT = 60


class Stack:
    pass


@pytest.fixture(scope="module")
def stack(trawl_bin, tmp_path_factory):
    s = Stack()
    s.bin = trawl_bin
    s.hook = HttpReceiver("webhook", secret=SECRET).start()
    s.pd = HttpReceiver("pagerduty", responder=pagerduty_responder).start()
    text = FILES["payments.yaml"].replace("@HOOK@", s.hook.url).replace("@PD@", s.pd.url).replace("@SECRET@", SECRET)
    s.server = alerting_server(trawl_bin, tmp_path_factory.mktemp("alerting-silences"), {"payments.yaml": text})
    s.server.start()
    yield s
    s.server.stop()
    s.hook.stop()
    s.pd.stop()


@pytest.fixture(autouse=True)
def _stderr_on_failure(request, stack):
    report(request, stack.server)


def cli(stack, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, NO_COLOR="1")
    env.pop("TRAWL_SERVER", None)
    return subprocess.run([str(stack.bin), *args, "--server", stack.server.api], capture_output=True, text=True, timeout=60, env=env)


def test_a_silence_keeps_a_firing_alert_from_being_notified_until_it_expires(stack):
    out = cli(stack, "silence", "add", "service=payment-service", "--duration", "10m", "--comment", "결제사 점검", "--author", "e2e")
    assert out.returncode == 0, out.stderr
    silence_id = out.stdout.strip()
    [s] = [x for x in get(stack.server, "/api/v1/silences")["silences"] if x["id"] == silence_id]
    assert s["status"] == "active" and s["matchers"] == ['service="payment-service"'] and s["comment"] == "결제사 점검"

    stack.server.ingest_ok(error_lines("payment-service", 8))
    [alert] = wait_firing(stack.server, RULE, timeout=TIMEOUT)
    assert alert["silenced_by"] == [silence_id], alert
    assert alert["labels"]["service"] == "payment-service"
    # Still firing and silenced at an evaluation well after group_wait (1 s): nothing was sent.
    wait_evaluated_after(stack.server, RULE, alert["fired_at_ns"] + 3 * 10**9)
    time.sleep(1)  # a dispatch round (every 200 ms) after that evaluation
    [alert] = firing(stack.server, RULE)
    assert alert["silenced_by"] == [silence_id]
    assert stack.hook.all() == [] and stack.pd.all() == [], "a silenced alert was notified"
    assert outbox(stack.server) == []
    listed = cli(stack, "alerts")
    assert listed.returncode == 0 and "[silenced]" in listed.stdout, listed.stdout

    # Expired: the notification goes.
    out = cli(stack, "silence", "expire", silence_id)
    assert out.returncode == 0, out.stderr
    [s] = [x for x in get(stack.server, "/api/v1/silences")["silences"] if x["id"] == silence_id]
    assert s["status"] == "expired"
    n = stack.hook.wait(lambda h: h.notifications("firing"), TIMEOUT, "the firing notification once the silence expired")[0]
    assert n["alerts"][0]["fingerprint"] == alert["fingerprint"]
    assert n["common_annotations"]["summary"] == "결제 오류 8건 (payment-service)"
    stack.pd.wait(lambda p: [b for b in p.json_bodies() if b["event_action"] == "trigger"], TIMEOUT, "the PagerDuty trigger")
    [alert] = firing(stack.server, RULE)
    assert alert["silenced_by"] == []


def test_acknowledging_sends_pagerduty_acknowledge_with_the_same_dedup_key(stack):
    [alert] = wait_firing(stack.server, RULE, timeout=TIMEOUT)
    [trigger] = stack.pd.wait(lambda p: [b for b in p.json_bodies() if b["event_action"] == "trigger"], TIMEOUT, "the trigger")
    fp = alert["fingerprint"]

    assert post(stack.server, f"/api/v1/alerts/{fp}/ack", {"by": ""}).status_code == 400
    assert post(stack.server, "/api/v1/alerts/0000000000000000/ack", {"by": "김민수"}).status_code == 404
    r = post(stack.server, f"/api/v1/alerts/{fp}/ack", {"by": "김민수", "comment": "확인 중"})
    assert r.status_code == 200, r.text
    assert r.json()["ack"]["by"] == "김민수" and r.json()["ack"]["comment"] == "확인 중"

    acks = stack.pd.wait(lambda p: [b for b in p.json_bodies() if b["event_action"] == "acknowledge"], TIMEOUT,
                         "the PagerDuty acknowledge event")
    assert len(acks) == 1 and acks[0]["dedup_key"] == trigger["dedup_key"], (acks, trigger)
    assert acks[0]["routing_key"] == trigger["routing_key"] and "payload" not in acks[0]
    [n] = stack.hook.wait(lambda h: h.notifications("acknowledged"), TIMEOUT, "the acknowledged webhook notification")
    assert n["acknowledged_by"] == "김민수" and n["alerts"][0]["fingerprint"] == fp
    assert n["status"] == "firing" and n["group_key"] == stack.hook.notifications("firing")[0]["group_key"]

    out = cli(stack, "alerts")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    head = [line for line in lines if line.startswith("FIRING")]
    assert len(head) == 1, out.stdout
    assert "결제 오류 8건 (payment-service)" in head[0] and "acknowledged by 김민수" in head[0], head[0]
    assert any("service=payment-service" in line and "rule=payment errors" in line for line in lines), out.stdout
    assert any(line.strip() == alert["url"] for line in lines), out.stdout
    # Still exactly one firing notification and one trigger: the acknowledgement stops repeats.
    assert len(stack.hook.notifications("firing")) == 1
    assert len([b for b in stack.pd.json_bodies() if b["event_action"] == "trigger"]) == 1
    assert [a["state"] for a in alerts(stack.server, rule=RULE)] == ["firing"]
