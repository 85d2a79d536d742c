"""The web UI in a real browser: `trawl demo` (the server plus the simulated fleet with the
payment-timeout fault) is started on free ports, then tests/ui/ui_test.mjs drives Debian's
Chromium with playwright-core against it (pages without console errors, search, autocomplete,
trace waterfall with the root cause, services order, live tail, the alerting pages with an alert
of the default rules on the failing service, XSS payloads on every page that shows data) and
writes screenshots to tests/artifacts/ui. The demo runs on the wall clock (the browser's "last
15 minutes" must see its data), so the default rules fire a minute or two after the start.

Needs Node.js, /usr/bin/chromium and `npm ci` in tests/ui: scripts/test.sh installs them.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from conftest import LISTEN_RE, REPO_ROOT

UI_TESTS = REPO_ROOT / "tests" / "ui"
ARTIFACTS = REPO_ROOT / "tests" / "artifacts" / "ui"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
FAULT_SERVICE = "payment-service"
FAULT_OPERATION = "third-party-payment-api"
# The fleet-wide root cause names the broken party: the uninstrumented API payment-service calls.
FAULT_PEER = "third-party-payment-api"
# The demo's clock speed; the browser test is told, to bound its wait for the rules to fire.
DEMO_SPEED = 1


def missing_tools() -> list[str]:
    missing = []
    if shutil.which("node") is None:
        missing.append("node")
    if not Path(CHROMIUM).exists():
        missing.append(CHROMIUM)
    if not (UI_TESTS / "node_modules" / "playwright-core").is_dir():
        missing.append("tests/ui/node_modules (npm ci in tests/ui)")
    return missing


@pytest.fixture
def demo(trawl_bin, tmp_path):
    """`trawl demo` with the fault from the start; yields the API address."""
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    stdout_path, stderr_path = log_dir / "demo-stdout.log", log_dir / "demo-stderr.log"
    cmd = [
        str(trawl_bin), "demo",
        "--data-dir", str(tmp_path / "data"),
        "--listen", "127.0.0.1:0",
        "--otlp-http-listen", "off",
        "--otlp-grpc-listen", "off",
        "--services", "20",
        "--rate", "40",
        "--scenario", "payment-timeout",
        "--fault-delay", "0s",
        "--fault-duration", "30m",
        "--fault-period", "60m",
        "--speed", str(DEMO_SPEED),
    ]
    env = dict(os.environ, NO_COLOR="1")
    env.pop("TRAWL_CONFIG", None)
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=log_dir, env=env)
    try:
        deadline = time.monotonic() + 60
        api = None
        while api is None:
            m = LISTEN_RE.search(stdout_path.read_text(errors="replace"))
            if m:
                api = dict(part.split("=", 1) for part in m.group(1).split())["api"]
            elif proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"trawl demo did not start:\n{stderr_path.read_text(errors='replace')[-3000:]}")
            else:
                time.sleep(0.05)
        yield api
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def wait_for_fault(api: str, timeout: float = 90.0) -> None:
    """Until the fleet's fault shows: the root cause and the most unusual service."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            causes = requests.get(f"{api}/api/v1/rootcause", params={"start": "15m"}, timeout=30).json().get("causes", [])
            services = requests.get(f"{api}/api/v1/services", timeout=30).json().get("services", [])
            last = (causes[:1], [s["name"] for s in services[:3]])
            if causes and causes[0]["service"] == FAULT_PEER and FAULT_SERVICE in causes[0].get("via", []) \
                    and services and services[0]["name"] == FAULT_SERVICE:
                return
        except requests.RequestException as e:
            last = repr(e)
        time.sleep(2)
    pytest.fail(f"the demo's fault did not show within {timeout}s; last answer: {last}")


def test_web_ui_in_chromium(demo):
    missing = missing_tools()
    if missing:
        pytest.fail(f"the browser test needs {', '.join(missing)}: run scripts/test.sh, which installs them")
    # The UI is served with its policy at every page path, to a browser (which asks for HTML:
    # `GET /` without it is the Elasticsearch root info).
    for path in ["/", "/search", "/trace/abc", "/services", "/services/x", "/why", "/map", "/tail",
                 "/alerts", "/alerts/abc", "/rules", "/rules/new", "/rules/x/edit", "/contact-points", "/policies",
                 "/silences", "/notifications"]:
        r = requests.get(f"{demo}{path}", headers={"accept": "text/html"}, timeout=10)
        assert r.status_code == 200, (path, r.status_code)
        assert r.headers["content-type"].startswith("text/html"), path
        csp = r.headers["content-security-policy"]
        assert "unsafe" not in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp, csp
        assert r.headers["x-content-type-options"] == "nosniff"
    assert requests.get(f"{demo}/api/v1/nope", timeout=10).status_code == 404
    wait_for_fault(demo)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        ["node", str(UI_TESTS / "ui_test.mjs"), demo, "--artifacts", str(ARTIFACTS),
         "--fault-service", FAULT_SERVICE, "--fault-operation", FAULT_OPERATION, "--speed", str(DEMO_SPEED)],
        capture_output=True, text=True, timeout=900, cwd=REPO_ROOT,
    )
    print(proc.stdout)
    assert proc.returncode == 0, f"browser checks failed:\n{proc.stdout}\n{proc.stderr}"
    assert "not ok" not in proc.stdout
