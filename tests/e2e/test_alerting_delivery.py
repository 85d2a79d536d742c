"""Delivery through the outbox: retries honouring 429 `Retry-After` and 5xx with the same
notification id, isolation of contact points (one down or hanging holds up no other), failure
after `max_attempts` (in the API and the metrics), no repeat after a restart while firing, and
an undelivered notification surviving `kill -9` to be delivered exactly once."""

from __future__ import annotations

import re
import time
from datetime import datetime

import pytest

from alert_helpers import alerting_server, error_lines, firing, metrics_text, outbox, report, wait_evaluated_after, wait_firing, write_config
from receivers import HttpReceiver, Reply, closed_port_url, wait_until

RULE = "checkout errors"
MAX_ATTEMPTS = 3
TIMEOUT_S = 5          # alerting.notification_timeout
HANG_S = 12            # the hanging receiver answers after this long
RULE_YAML = """\
rules:
  - name: checkout errors
    kind: threshold
    query: 'level:error service:checkout | stats count() as n by service'
    condition: n > 5
    interval: 10s
    lookback: 10m
    delay: 0s
    annotations:
      summary: '주문 오류 {{ value | number }}건'
"""
POLICY = """
policies:
  receivers: [@RECEIVERS@]
  group_by: [rule, service]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
"""


def contact_points(urls: dict[str, str]) -> str:
    out = ["contact_points:"]
    for name, url in urls.items():
        out += [f"  - name: {name}", "    kind: webhook", f"    url: {url}"]
    return "\n".join(out) + "\n"


def rules_file(urls: dict[str, str]) -> str:
    return RULE_YAML + contact_points(urls) + POLICY.replace("@RECEIVERS@", ", ".join(urls))


def rfc3339(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def rows_by_contact_point(server) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for row in outbox(server):
        out.setdefault(row["contact_point"], []).append(row)
    return out


class Stack:
    pass


@pytest.fixture(scope="module")
def stack(trawl_bin, tmp_path_factory):
    s = Stack()
    s.flaky = HttpReceiver("flaky").start()
    s.flaky.answer(Reply(429, b'{"error":"slow down"}', {"Retry-After": "1"}), Reply(500, b'{"error":"oops"}'))
    s.hang = HttpReceiver("hang", default=Reply(200, delay=HANG_S)).start()
    s.fast = HttpReceiver("fast").start()
    s.failing = HttpReceiver("failing", default=Reply(503, b"unavailable")).start()
    s.down_port, down_url = closed_port_url()
    urls = {"flaky": f"{s.flaky.url}/hook", "down": down_url, "hang": f"{s.hang.url}/hook",
            "fast": f"{s.fast.url}/hook", "failing": f"{s.failing.url}/hook"}
    s.server = alerting_server(trawl_bin, tmp_path_factory.mktemp("alerting-delivery"), {"checkout.yaml": rules_file(urls)},
                               max_attempts=MAX_ATTEMPTS, notification_timeout=f"{TIMEOUT_S}s")
    s.server.start()
    s.server.ingest_ok(error_lines("checkout", 9, message="주문 실패: 재고 서비스 응답 없음 order_id={i}"))
    yield s
    s.server.stop()
    for r in (s.flaky, s.hang, s.fast, s.failing):
        r.stop()


@pytest.fixture(autouse=True)
def _stderr_on_failure(request, stack):
    report(request, stack.server)


def test_a_notification_is_retried_after_429_and_500_with_the_same_id(stack):
    reqs = stack.flaky.wait(lambda r: (lambda a: a if len(a) >= 3 and a[2].status else None)(r.all()), 90,
                            "three attempts (429, 500, 200)")
    assert [r.status for r in reqs] == [429, 500, 200], [r.status for r in reqs]
    ids = {r.header("x-trawl-notification-id") for r in reqs}
    assert len(ids) == 1 and ids == {r.json()["id"] for r in reqs}, ids
    assert len({r.body for r in reqs}) == 1, "every attempt sends the same notification"
    assert reqs[0].json()["kind"] == "firing"
    assert reqs[1].at - reqs[0].at >= 0.9, "Retry-After: 1 was not honoured"
    assert reqs[2].at - reqs[1].at >= 0.9, "no backoff after the 500"
    row = wait_until(lambda: [o for o in outbox(stack.server) if o["contact_point"] == "flaky" and o["state"] == "delivered"],
                     30, "the flaky receiver's notification marked delivered")[0]
    assert row["attempts"] == 3 and row["id"] in ids, row
    assert len(stack.flaky.notifications()) == 1


def test_a_receiver_down_or_hanging_does_not_delay_another(stack):
    [fast] = stack.fast.wait(lambda r: r.answered(), 90, "the notification at the healthy receiver")
    hang_first = stack.hang.wait(lambda r: r.all(), 30, "the first request at the hanging receiver")[0]
    rows = rows_by_contact_point(stack.server)
    created = rfc3339(rows["fast"][0]["created_at"])
    assert rows["fast"][0]["state"] == "delivered" and rows["fast"][0]["attempts"] == 1, rows["fast"]
    assert fast.at - created < 3.0, f"the healthy receiver got it {fast.at - created:.1f}s after it was queued"
    # The hanging receiver's first attempt holds the connection for the whole timeout; the
    # healthy one was answered long before that attempt could end.
    assert fast.at < hang_first.at + TIMEOUT_S - 1, (fast.at, hang_first.at)
    assert {r["group_key"] for rs in rows.values() for r in rs} == {rows["fast"][0]["group_key"]}
    assert set(rows) == {"flaky", "down", "hang", "fast", "failing"}, rows


def test_after_max_attempts_a_notification_is_failed_and_counted(stack):
    def final():
        rows = rows_by_contact_point(stack.server)
        states = {cp: r[0]["state"] for cp, r in rows.items()}
        return rows if len(states) == 5 and all(s in ("delivered", "failed") for s in states.values()) else None
    # The hanging receiver takes the longest: three timeouts and two backoffs.
    rows = wait_until(final, 120, lambda: f"every notification delivered or failed: {[(o['contact_point'], o['state'], o['attempts'], o['last_error']) for o in outbox(stack.server)]}")
    for cp in ("down", "hang", "failing"):
        [row] = rows[cp]
        assert row["state"] == "failed" and row["attempts"] == MAX_ATTEMPTS, row
        assert row["kind"] == "firing" and row["last_error"], row
    assert "503" in rows["failing"][0]["last_error"], rows["failing"]
    assert re.search(r"refused|connect", rows["down"][0]["last_error"], re.I), rows["down"]
    assert len(stack.failing.all()) == MAX_ATTEMPTS and len({r.header("x-trawl-notification-id") for r in stack.failing.all()}) == 1
    assert len(stack.hang.all()) == MAX_ATTEMPTS
    for cp in ("flaky", "fast"):
        assert rows[cp][0]["state"] == "delivered", rows[cp]

    text = metrics_text(stack.server)

    def value(name: str) -> float:
        m = re.search(rf"^{re.escape(name)} ([0-9.e+]+)$", text, re.MULTILINE)
        assert m, f"{name} not in /metrics"
        return float(m.group(1))
    assert value('trawl_notifications_failed_total{channel="webhook"}') == 3
    assert value('trawl_notifications_sent_total{channel="webhook"}') == 2
    # flaky 2, down 2, hang 2, failing 2: the attempts that were retried.
    assert value('trawl_notification_attempts_failed_total{channel="webhook"}') == 8
    assert value('trawl_notification_outbox{state="failed"}') == 3
    assert value('trawl_notification_outbox{state="delivered"}') == 2


def test_a_restart_while_firing_does_not_notify_again(stack):
    [before] = wait_firing(stack.server, RULE)
    ids_before = {name: {n["id"] for n in getattr(stack, name).notifications()} for name in ("flaky", "fast")}
    assert all(len(v) == 1 for v in ids_before.values()), ids_before
    requests_before = {name: len(getattr(stack, name).all()) for name in ("flaky", "fast", "hang", "failing")}

    assert stack.server.stop() == 0
    restarted_ns = time.time_ns()
    stack.server.start()
    # The rule still fires at an evaluation more than twice group_interval (2 s) after the
    # restart: nothing new may have been sent by then.
    health = wait_evaluated_after(stack.server, RULE, restarted_ns + 5 * 10**9)
    assert health["evaluations"] >= 2 and health["failures"] == 0, health
    time.sleep(1)  # a dispatch round (every 200 ms) after that evaluation
    [after] = firing(stack.server, RULE)
    assert after["fingerprint"] == before["fingerprint"] and after["fired_at"] == before["fired_at"], (before, after)
    assert after["episode"] == before["episode"]
    requests_after = {name: len(getattr(stack, name).all()) for name in ("flaky", "fast", "hang", "failing")}
    assert requests_after == requests_before, "notified again after the restart"
    assert {name: {n["id"] for n in getattr(stack, name).notifications()} for name in ("flaky", "fast")} == ids_before
    assert len(outbox(stack.server)) == 5


def test_an_undelivered_notification_survives_kill_9_and_arrives_once(make_server, tmp_path, request):
    port, url = closed_port_url()
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    (rules_dir / "checkout.yaml").write_text(rules_file({"later": url}))
    config = write_config(tmp_path / "trawl.toml", rules_dir)
    server = make_server(args=["--config", str(config)])
    server.ingest_ok(error_lines("checkout", 9, message="주문 실패: 재고 서비스 응답 없음 order_id={i}"))
    [alert] = wait_firing(server, RULE)
    row = wait_until(lambda: [o for o in outbox(server) if o["attempts"] >= 1], 60,
                     lambda: f"a failed attempt at the receiver that is down: {outbox(server)}")[0]
    assert row["state"] == "pending" and row["contact_point"] == "later", row
    assert re.search(r"refused|connect", row["last_error"], re.I), row

    server.kill9()
    receiver = HttpReceiver("later", port=port).start()
    request.addfinalizer(receiver.stop)
    restarted_ns = time.time_ns()
    server.start()
    n = receiver.wait(lambda r: r.notifications(), 60, "the notification after the restart")[0]
    assert n["id"] == row["id"] and n["kind"] == "firing"
    assert n["alerts"][0]["fingerprint"] == alert["fingerprint"]
    # Still firing at an evaluation more than twice group_interval after the restart: no second
    # notification, and the first is marked delivered.
    wait_evaluated_after(server, RULE, restarted_ns + 5 * 10**9)
    time.sleep(1)
    assert {x["id"] for x in receiver.notifications()} == {row["id"]}, receiver.describe()
    assert {r.header("x-trawl-notification-id") for r in receiver.all()} == {row["id"]}
    [final] = outbox(server)
    assert final["id"] == row["id"] and final["state"] == "delivered", final
    assert [a["state"] for a in firing(server, RULE)] == ["firing"]
