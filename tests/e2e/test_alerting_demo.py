"""`trawl demo`, accelerated ten times, with its default rule set (rules/default.yaml) and
`--notify-webhook`: the payment-timeout fault pages exactly once, for `payment-service`, with the
root cause in its calls to `third-party-payment-api`, within two minutes (of the demo's clock)
of the fault starting, and resolves once the fault is over; without a fault nothing is sent.

Both demos run at once (their clocks are independent), so they take the longer run's time: 12
minutes of clock time at ten times speed, 72 s. Then the other three faults (bad-deploy, db-slow,
cascade) run together, each expected to page once, on its own service, with its own root cause.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
import requests

from alert_helpers import write_config
from conftest import LISTEN_RE
from receivers import HttpReceiver, wait_until

SPEED = 10
MINUTE_NS = 60 * 10**9
FAULT_SERVICE = "payment-service"
FAULT_OPERATION = "third-party-payment-api"


def rfc3339_ns(text: str) -> int:
    """RFC 3339 (any number of fraction digits) to Unix nanoseconds."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", text)
    assert m, text
    whole = datetime.fromisoformat(m.group(1) + (m.group(3).replace("Z", "+00:00")))
    return int(whole.timestamp()) * 10**9 + int((m.group(2) or "0").ljust(9, "0")[:9])


class Demo:
    """One `trawl demo` process with a webhook receiver, on free ports."""

    def __init__(self, trawl_bin: Path, base: Path, scenario: str, stop_after_min: int, fault: tuple[str, str, str]):
        self.base = base
        self.scenario = scenario
        self.stop_after_ns = stop_after_min * MINUTE_NS
        self.fault_delay_ns = int(fault[0].rstrip("m")) * MINUTE_NS
        self.fault_duration_ns = int(fault[1].rstrip("m")) * MINUTE_NS
        base.mkdir(parents=True, exist_ok=True)
        self.hook = HttpReceiver(f"demo-{scenario}").start()
        config = write_config(base / "trawl.toml", None)
        self.stdout_path, self.stderr_path = base / "demo-stdout.log", base / "demo-stderr.log"
        self.cmd = [
            str(trawl_bin), "demo",
            "--config", str(config),
            "--data-dir", str(base / "data"),
            "--listen", "127.0.0.1:0", "--otlp-http-listen", "off", "--otlp-grpc-listen", "off",
            "--speed", str(SPEED), "--services", "20", "--rate", "20",
            "--scenario", scenario, "--fault-delay", fault[0], "--fault-duration", fault[1], "--fault-period", fault[2],
            "--stop-after", f"{stop_after_min}m",
            "--notify-webhook", f"{self.hook.url}/hook",
        ]
        self.proc: subprocess.Popen | None = None
        self.api: str | None = None

    def start(self) -> "Demo":
        env = dict(os.environ, NO_COLOR="1", TRAWL_LOG="info")
        env.pop("TRAWL_CONFIG", None)
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            # The demo's clock starts now, (1 - 1/speed) × stop-after in the past, and runs ten
            # times faster: real time t maps to origin + (t - start) × speed.
            self.started_wall_ns = time.time_ns()
            self.proc = subprocess.Popen(self.cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=self.base, env=env)
        self.clock_origin_ns = self.started_wall_ns - int(self.stop_after_ns * (1 - 1 / SPEED))
        deadline = time.monotonic() + 60
        while self.api is None:
            m = LISTEN_RE.search(self.stdout_path.read_text(errors="replace"))
            if m:
                self.api = dict(part.split("=", 1) for part in m.group(1).split())["api"]
            elif self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"trawl demo did not start:\n{self.stderr_tail()}")
            else:
                time.sleep(0.05)
        return self

    def clock_of(self, wall_ns: int) -> int:
        return self.clock_origin_ns + int((wall_ns - self.started_wall_ns) * SPEED)

    def first_record_ns(self) -> int:
        """The demo clock's time of the fleet's first record: the fleet's start, give or take
        one of its 200 ms ticks (2 s of clock time)."""
        def ask():
            r = requests.post(f"{self.api}/api/v1/query", json={"query": "| stats min(time) as first, count() as n"}, timeout=30)
            if r.status_code != 200:
                return None
            row = r.json()["rows"][0]
            return row if row[1] else None
        first, _ = wait_until(ask, 60, "the fleet's first records")
        return first if isinstance(first, int) else rfc3339_ns(first)

    def watch(self, timeout: float) -> None:
        """Until the demo stops by itself (or `timeout`): the most evaluations seen per rule."""
        self.evaluations: dict[str, int] = {}
        evaluations = self.evaluations
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            try:
                for r in requests.get(f"{self.api}/api/v1/rules", timeout=5).json()["rules"]:
                    evaluations[r["name"]] = max(evaluations.get(r["name"], 0), r["health"]["evaluations"])
            except (requests.RequestException, ValueError, KeyError):
                pass
            time.sleep(1)

    def run_to_end(self, timeout: float) -> tuple[int, dict[str, int]]:
        """The demo's exit code once it stopped by itself, and the evaluations seen per rule."""
        self.watcher.join(timeout)
        if self.proc.poll() is None:
            raise AssertionError(f"trawl demo did not stop after --stop-after:\n{self.stderr_tail()}")
        return self.proc.returncode, self.evaluations

    def stderr_tail(self, n: int = 60) -> str:
        return "\n".join(self.stderr_path.read_text(errors="replace").splitlines()[-n:])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.hook.stop()


@pytest.fixture(scope="module")
def demos(trawl_bin, tmp_path_factory):
    base = tmp_path_factory.mktemp("alerting-demo")
    fault = Demo(trawl_bin, base / "payment-timeout", "payment-timeout", 12, ("2m", "4m", "1h"))
    quiet = Demo(trawl_bin, base / "none", "none", 10, ("2m", "4m", "1h"))
    try:
        fault.start()
        quiet.start()
        fault.fleet_start_ns = fault.first_record_ns()
        quiet.fleet_start_ns = quiet.first_record_ns()
        # Watch both until they stop by themselves, at the same time.
        for demo, minutes in ((fault, 12), (quiet, 10)):
            demo.watcher = threading.Thread(target=demo.watch, args=(minutes * 60 / SPEED + 60,), daemon=True)
            demo.watcher.start()
        yield {"payment-timeout": fault, "none": quiet}
    finally:
        fault.stop()
        quiet.stop()


def finished(demo: "Demo", minutes: int) -> dict[str, int]:
    """Waits (once) for the demo to stop by itself; its rules' evaluations."""
    if not hasattr(demo, "result"):
        demo.result = demo.run_to_end(minutes * 60 / SPEED + 60)
    rc, evaluations = demo.result
    assert rc == 0, f"demo exit {rc}:\n{demo.stderr_tail()}"
    return evaluations


def sent_summary(demo: "Demo") -> list:
    return [(n["kind"], n["group_labels"], n["common_annotations"].get("summary"), n["sent_at"]) for n in demo.hook.notifications()]


def test_payment_timeout_pages_once_for_payment_service_with_its_root_cause(demos):
    demo = demos["payment-timeout"]
    evaluations = finished(demo, 12)
    assert evaluations.get("service error rate", 0) >= 8, evaluations
    firing = demo.hook.notifications("firing")
    assert len(firing) == 1, f"expected exactly one firing notification: {sent_summary(demo)}"
    [n] = firing
    assert {a["labels"].get("service") for a in n["alerts"]} == {FAULT_SERVICE}, sent_summary(demo)
    alert = n["alerts"][0]
    causes = alert["evidence"]["root_causes"]
    assert causes, alert["evidence"]
    assert causes[0]["service"] == FAULT_SERVICE and FAULT_OPERATION in causes[0]["operation"], causes[0]
    assert causes[0]["example_trace_id"]
    # The demo prints every notification on its console as well.
    assert f"=== notification: [FIRING:1] {FAULT_SERVICE}" in demo.stdout_path.read_text(errors="replace")


def test_payment_timeout_page_arrives_within_two_minutes_of_the_fault(demos):
    demo = demos["payment-timeout"]
    finished(demo, 12)
    firing = demo.hook.notifications("firing")
    assert firing, f"no firing notification: {sent_summary(demo)}"
    n = firing[0]
    # Timing on the demo's clock: the fault starts --fault-delay after the fleet's start.
    fault_start = demo.fleet_start_ns + demo.fault_delay_ns
    sent_clock = demo.clock_of(rfc3339_ns(n["sent_at"]))
    fired_clock = rfc3339_ns(n["alerts"][0]["starts_at"])
    detail = (f"fault started at {fault_start / 1e9:.0f} (demo clock); the alert fired {(fired_clock - fault_start) / 1e9:.0f}s "
              f"and its notification was sent {(sent_clock - fault_start) / 1e9:.0f}s after it")
    assert fault_start <= fired_clock <= sent_clock + 5 * 10**9, detail
    assert sent_clock - fault_start <= 2 * MINUTE_NS, f"not within 2 minutes of the fault: {detail}"


def test_payment_timeout_resolves_once_after_the_fault(demos):
    demo = demos["payment-timeout"]
    finished(demo, 12)
    firing = demo.hook.notifications("firing")
    resolved = demo.hook.notifications("resolved")
    assert len(resolved) == 1, f"expected one resolved notification: {sent_summary(demo)}"
    [r] = resolved
    assert firing and r["group_key"] == firing[0]["group_key"], sent_summary(demo)
    assert r["alerts"][0]["fingerprint"] == firing[0]["alerts"][0]["fingerprint"]
    assert r["status"] == "resolved" and r["alerts"][0]["status"] == "resolved"
    fault_end = demo.fleet_start_ns + demo.fault_delay_ns + demo.fault_duration_ns
    assert demo.clock_of(rfc3339_ns(r["sent_at"])) >= fault_end, "resolved before the fault ended"


def test_no_fault_no_notification(demos):
    demo = demos["none"]
    evaluations = finished(demo, 10)
    # The rules ran over the whole ten minutes (once a minute of the demo's clock)...
    assert evaluations.get("service error rate", 0) >= 7, evaluations
    assert evaluations.get("checkout availability", 0) >= 7, evaluations
    # ...and found nothing to tell.
    assert demo.hook.all() == [], f"notifications without a fault: {sent_summary(demo)}"


# The other faults of the demo, each paging once on its own service with its own root cause
# (trawl-fleet's `Scenario::deepest_failing_span`: an alert on a service explains that service's
# failing spans), run together after the two above.
OTHER_FAULTS = {
    "bad-deploy": ("order-service", "place order"),
    "db-slow": ("inventory-service", "SELECT stock"),
    "cascade": ("auth-service", "GET token-cache"),
}


@pytest.fixture(scope="module")
def other_demos(trawl_bin, tmp_path_factory):
    base = tmp_path_factory.mktemp("alerting-demo-faults")
    demos = {name: Demo(trawl_bin, base / name, name, 10, ("2m", "4m", "1h")) for name in OTHER_FAULTS}
    try:
        for d in demos.values():
            d.start()
        for d in demos.values():
            d.watcher = threading.Thread(target=d.watch, args=(10 * 60 / SPEED + 60,), daemon=True)
            d.watcher.start()
        yield demos
    finally:
        for d in demos.values():
            d.stop()


@pytest.mark.parametrize("scenario", sorted(OTHER_FAULTS))
def test_each_fault_pages_once_for_its_own_service(other_demos, scenario):
    demo = other_demos[scenario]
    finished(demo, 10)
    service, operation = OTHER_FAULTS[scenario]
    firing = demo.hook.notifications("firing")
    assert len(firing) == 1, f"expected exactly one firing notification: {sent_summary(demo)}"
    alert = firing[0]["alerts"][0]
    assert alert["labels"].get("service") == service, sent_summary(demo)
    cause = alert["evidence"]["root_causes"][0]
    assert (cause["service"], cause["operation"]) == (service, operation), cause
