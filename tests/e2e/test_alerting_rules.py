"""Rule management: the API's checks (problems naming field and column), validation with a dry
run, preview, create/replace/delete and versions, rules from files that the API cannot change,
a broken rule file refused as a whole with every problem's line (API, SIGHUP, `trawl rules
check`), and the SSRF guard of contact points with and without `alerting.allowed_hosts`."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from alert_helpers import INTERVAL_S, alerting_server, get, now_ms, post, report, rule, wait_evaluated_after
from receivers import HttpReceiver, wait_until

FILE_RULE = "checkout errors (file)"
GOOD_FILE = f"""\
rules:
  - name: {FILE_RULE}
    kind: threshold
    query: 'level:error service:checkout | stats count() as n'
    condition: n > 100
    interval: 10s
    lookback: 1m
    delay: 0s
"""

# Three rules with a problem each, on lines 4 (query), 11 (interval) and 16 (metric, a setting
# threshold rules do not take), plus a contact point with a bad URL (its item starts on line 18).
BROKEN_FILE = """\
rules:
  - name: broken query
    kind: threshold
    query: 'level:error | stats count( as n'
    condition: n > 5
    interval: 10s
  - name: too fast
    kind: threshold
    query: 'level:error | stats count() as n'
    condition: n > 5
    interval: 1s
  - name: wrong setting
    kind: threshold
    query: 'level:error | stats count() as n'
    condition: n > 5
    metric: error_rate
contact_points:
  - name: bad url
    kind: webhook
    url: ftp://example.com/hook
"""
BROKEN_LINES = {4: "broken query", 11: "too fast", 16: "wrong setting", 18: "bad url"}

FIXED_FILE = """\
rules:
  - name: fixed rule
    kind: threshold
    query: 'level:error | stats count() as n'
    condition: n > 5
    interval: 10s
"""


def threshold_rule(name: str, **over) -> dict:
    spec = {"name": name, "kind": "threshold", "query": "level:error | stats count() as n by service",
            "condition": "n > 5", "interval": "10s", "lookback": "5m", "delay": "0s",
            "labels": {"team": "결제팀"}, "annotations": {"summary": "{{ labels.service }} 오류 {{ value }}건"}}
    spec.update(over)
    return spec


@pytest.fixture(scope="module")
def managed(trawl_bin, tmp_path_factory):
    base = tmp_path_factory.mktemp("alerting-rules")
    server = alerting_server(trawl_bin, base, {"checkout.yaml": GOOD_FILE})
    server.start()
    t0 = now_ms() - 5000
    records = [{"timestamp": t0 + i, "service": "checkout", "level": "error", "message": f"주문 실패 id={i}"} for i in range(12)]
    records += [{"timestamp": t0 + 100 + i, "service": "payment-service", "level": "error", "message": f"결제 실패 id={i}"} for i in range(4)]
    server.ingest_ok(records)
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _stderr_on_failure(request, managed):
    report(request, managed)


def problems_of(r) -> list[dict]:
    assert r.status_code == 400, f"{r.status_code} {r.text}"
    body = r.json()
    assert isinstance(body["error"]["problems"], list) and body["error"]["problems"], body
    return body["error"]["problems"]


# ----- the API's checks --------------------------------------------------------------------------

def test_a_bad_rule_is_refused_with_every_problem_naming_field_and_column(managed):
    bad = threshold_rule("bad rule", query="level:error | stats count( as n by service", condition="n > > 5", metric="error_rate")
    problems = problems_of(post(managed, "/api/v1/rules", bad))
    by_field = {p["field"]: p for p in problems}
    assert {"query", "condition", "metric"} <= set(by_field), problems
    # Columns are 1-based and point at the token in the way: `as` where count( wanted its `)`,
    # and the second `>`.
    q, c = by_field["query"], by_field["condition"]
    assert q["column"] == bad["query"].index("as n") + 1, q
    assert c["column"] == bad["condition"].rindex(">") + 1, c
    assert "column" not in by_field["metric"] and "threshold" in by_field["metric"]["message"], by_field["metric"]
    assert all(p["message"] for p in problems)
    # Nothing was made.
    assert managed.http.get(managed.url("/api/v1/rules/bad%20rule"), timeout=10).status_code == 404
    # A body that is not a rule at all is a 400 too, not a 500.
    r = post(managed, "/api/v1/rules", {"name": "x", "kind": "sometimes"})
    assert r.status_code == 400, r.text


def test_validate_with_dry_run_returns_the_groups_it_would_alert_on(managed):
    r = post(managed, "/api/v1/rules/validate", {"rule": threshold_rule("dry"), "dry_run": True})
    assert r.status_code == 200, r.text
    v = r.json()
    assert v["valid"] is True and v["problems"] == []
    result = v["result"]
    samples = {s["labels"]["service"]: s for s in result["samples"]}
    assert set(samples) == {"checkout", "payment-service"}, result
    assert samples["checkout"]["value"] == 12 and samples["checkout"]["active"] is True
    assert samples["payment-service"]["value"] == 4 and samples["payment-service"]["active"] is False
    assert result["groups"] == 2 and result["firing_now"] == 1
    # Invalid: answered as data, with the problems.
    r = post(managed, "/api/v1/rules/validate", {"rule": threshold_rule("dry", condition="n >"), "dry_run": True})
    assert r.status_code == 200, r.text
    assert r.json()["valid"] is False and r.json()["problems"][0]["field"] == "condition"
    # Nothing is kept by a dry run.
    assert "dry" not in {x["name"] for x in get(managed, "/api/v1/rules")["rules"]}


def test_preview_shows_when_the_rule_would_have_fired(managed):
    r = post(managed, "/api/v1/rules/preview", {"rule": threshold_rule("preview"), "hours": 1, "points": 12})
    assert r.status_code == 200, r.text
    p = r.json()
    assert p["evaluations"] and all("at" in e for e in p["evaluations"])
    assert p["step_seconds"] >= INTERVAL_S
    fired = [f for f in p["fired"] if f["labels"].get("service") == "checkout"]
    assert fired and fired[-1]["max_value"] == 12, p["fired"]
    assert not [f for f in p["fired"] if f["labels"].get("service") == "payment-service"], p["fired"]
    r = post(managed, "/api/v1/rules/preview", {"rule": threshold_rule("preview"), "hours": 500})
    assert r.status_code == 400, r.text


def test_api_rules_are_created_replaced_versioned_and_deleted(managed):
    name = "결제 오류 (api)"
    path = "/api/v1/rules/" + requests_quote(name)
    r = post(managed, "/api/v1/rules", threshold_rule(name))
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["source"] == "api" and created["version"] == 1 and created["labels"] == {"team": "결제팀"}
    assert post(managed, "/api/v1/rules", threshold_rule(name)).status_code == 409
    r = managed.http.put(managed.url(path), json=threshold_rule(name, condition="n > 10"), timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2 and r.json()["condition"] == "n > 10"
    assert rule(managed, name)["condition"] == "n > 10"
    r = managed.http.put(managed.url(path), json=threshold_rule("another name"), timeout=30)
    assert r.status_code == 400, r.text
    versions = get(managed, path + "/versions")["versions"]
    assert sorted(v["version"] for v in versions) == [1, 2]
    assert {v["rule"]["condition"] for v in versions} == {"n > 5", "n > 10"}
    r = managed.http.delete(managed.url(path), timeout=30)
    assert r.status_code == 204, r.text
    assert managed.http.get(managed.url(path), timeout=10).status_code == 404
    assert name not in {x["name"] for x in get(managed, "/api/v1/rules")["rules"]}


def test_a_rule_from_a_file_cannot_be_changed_through_the_api(managed):
    path = "/api/v1/rules/" + requests_quote(FILE_RULE)
    view = get(managed, path)
    assert view["source"].endswith("checkout.yaml"), view["source"]
    r = managed.http.put(managed.url(path), json=threshold_rule(FILE_RULE), timeout=30)
    assert r.status_code == 409, r.text
    assert "checkout.yaml" in r.json()["error"]["reason"]
    assert managed.http.delete(managed.url(path), timeout=30).status_code == 409
    assert post(managed, "/api/v1/rules", threshold_rule(FILE_RULE)).status_code == 409
    assert get(managed, path)["condition"] == "n > 100"


# ----- files: all or nothing ---------------------------------------------------------------------

def test_a_broken_rule_file_is_refused_whole_and_the_previous_rules_keep_running(managed, trawl_bin):
    broken = managed.rules_dir / "broken.yaml"
    broken.write_text(BROKEN_FILE)
    try:
        problems = problems_of(post(managed, "/api/v1/rules/reload"))
        refused_ns = time.time_ns()
        assert all(p["file"].endswith("broken.yaml") for p in problems), problems
        lines = {p.get("line") for p in problems}
        for line, name in BROKEN_LINES.items():
            assert line in lines, f"no problem on line {line} ({name}): {problems}"
            assert any(p.get("line") == line and name in p["message"] for p in problems), (line, name, problems)
        # The previous rules stay, still evaluated; the refused set is reported.
        listing = get(managed, "/api/v1/rules")
        names = {r["name"] for r in listing["rules"]}
        assert FILE_RULE in names and not names & {"broken query", "too fast", "wrong setting"}, names
        assert {p.get("line") for p in listing["file_problems"]} == lines
        # Still evaluated on its schedule: an evaluation a whole interval after the refusal.
        health = wait_evaluated_after(managed, FILE_RULE, refused_ns + INTERVAL_S * 10**9)
        assert health["failures"] == 0 and "last_error" not in health, health

        # The CLI checks the same offline: every problem with file and line, exit 1.
        out = subprocess.run([str(trawl_bin), "rules", "check", str(broken)], capture_output=True, text=True, timeout=60)
        assert out.returncode == 1, (out.returncode, out.stdout, out.stderr)
        for line, name in BROKEN_LINES.items():
            assert f"{broken}:{line}: " in out.stderr and name in out.stderr, (line, out.stderr)
        assert "4 problems" in out.stderr or f"{len(problems)} problems" in out.stderr, out.stderr
        good = managed.rules_dir / "checkout.yaml"
        out = subprocess.run([str(trawl_bin), "rules", "check", str(good)], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, (out.stdout, out.stderr)
        assert "1 rule," in out.stdout and "ok" in out.stdout, out.stdout

        # SIGHUP reads the fixed file.
        broken.write_text(FIXED_FILE)
        managed.proc.send_signal(signal.SIGHUP)
        listing = wait_until(lambda: (lambda l: l if "fixed rule" in {r["name"] for r in l["rules"]} else None)(get(managed, "/api/v1/rules")),
                             30, "the fixed rule after SIGHUP")
        assert listing["file_problems"] == []
        assert {r["name"] for r in listing["rules"]} >= {FILE_RULE, "fixed rule"}
        assert rule(managed, "fixed rule")["source"].endswith("broken.yaml")
        assert managed.alive()
    finally:
        broken.unlink(missing_ok=True)
        post(managed, "/api/v1/rules/reload")


# ----- SSRF --------------------------------------------------------------------------------------

def test_contact_points_reach_loopback_only_with_allowed_hosts(managed, trawl_bin, tmp_path, request):
    hook = HttpReceiver("ssrf-webhook", secret="s3cret").start()
    guarded = None
    try:
        # A server without allowed_hosts refuses loopback, by address and by name, at test time.
        files = {"hooks.yaml": f"""\
contact_points:
  - name: loopback
    kind: webhook
    url: {hook.url}/hook
  - name: localhost
    kind: webhook
    url: http://localhost:{hook.port}/hook
"""}
        guarded = alerting_server(trawl_bin, tmp_path / "guarded", files, allowed_hosts=None)
        report(request, guarded)
        guarded.start()
        for name, host in (("loopback", "127.0.0.1"), ("localhost", "localhost")):
            r = post(guarded, f"/api/v1/contact-points/{name}/test")
            assert r.status_code == 409, f"{name}: {r.status_code} {r.text}"
            reason = r.json()["error"]["reason"]
            assert "non-public address" in reason and host in reason and "allowed_hosts" in reason, reason
        assert hook.all() == [], "the guard must refuse before sending"

        # With allowed_hosts = ["127.0.0.1"] the same destination is reached.
        r = post(managed, "/api/v1/contact-points", {"name": "api-hook", "kind": "webhook", "url": f"{hook.url}/hook", "secret": "s3cret"})
        assert r.status_code == 201, r.text
        shown = get(managed, "/api/v1/contact-points/api-hook")
        assert shown["secret"] == "<redacted>" and shown["source"] == "api"
        r = post(managed, "/api/v1/contact-points/api-hook/test")
        assert r.status_code == 200, r.text
        assert r.json() == {"delivered": True, "contact_point": "api-hook"}
        # (The receiver marks a request answered just after its answer is written.)
        [req] = hook.wait(lambda h: h.answered(), 10, "the test notification")
        assert req.signature_ok
        n = req.json()
        assert n["kind"] == "test" and n["receiver"] == "api-hook"
        assert "결제 실패 알림 테스트" in n["common_annotations"]["summary"]
        assert managed.http.delete(managed.url("/api/v1/contact-points/api-hook"), timeout=30).status_code == 204
    finally:
        hook.stop()
        if guarded is not None:
            guarded.stop()


def requests_quote(name: str) -> str:
    from urllib.parse import quote
    return quote(name, safe="")
