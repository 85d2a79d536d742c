#!/usr/bin/env python3
"""The cost of evaluating many alert rules: CPU seconds per minute of the trawl process with N
rules against the same process without them, under the same traffic.

`trawl demo` provides the traffic (a simulated fleet sending OTLP at a fixed rate); the rules are
created through the API, a realistic mix over the fleet's services:

- 40 % RED rules (a service's error rate against a threshold, from the rollups),
- 30 % baseline rules (a service's p95 latency against its own band, from the rollups),
- 20 % threshold rules (a query per service: `service:X level:error | stats count() as n`),
- 5 % pattern rules (spikes of a service's WARN and ERROR patterns, a query),
- 5 % absence rules.

Usage: python3 bench/alert_rules.py [--binary target/release/trawl] [--rules 1000]
       [--services 200] [--rate 50] [--minutes 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of the line; after the command they are 11th and 12th.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def request(api: str, method: str, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(api + path, data=data, method=method, headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        text = r.read()
    return json.loads(text) if text else {}


def services(api: str) -> list[str]:
    for _ in range(120):
        names = [s["name"] for s in request(api, "GET", "/api/v1/services?start=10m")["services"]]
        if len(names) >= 12:
            return names
        time.sleep(1)
    raise SystemExit("the demo's services did not show up")


def rule(i: int, service: str) -> dict:
    share = i % 20
    base = {"name": f"bench-{i:05d}", "interval": "1m"}
    if share < 8:
        return base | {"kind": "red", "service": service, "metric": "error_rate", "threshold": 0.5, "min_requests": 10}
    if share < 14:
        return base | {"kind": "baseline", "service": service, "metric": "latency_p95", "min_requests": 20}
    if share < 18:
        return base | {"kind": "threshold", "query": f'service:"{service}" level:error | stats count() as n', "condition": "n > 100000"}
    if share < 19:
        return base | {"kind": "pattern", "query": f'service:"{service}" level:(warn OR error)', "mode": "spike", "factor": 50}
    return base | {"kind": "absence", "service": service, "absent_for": "30m"}


def measure(pid: int, minutes: float) -> float:
    start, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(minutes * 60)
    return (cpu_seconds(pid) - start) / ((time.monotonic() - t0) / 60)


def metric(api: str, name: str) -> float:
    with urllib.request.urlopen(api + "/metrics", timeout=30) as r:
        text = r.read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=str(REPO / "target" / "release" / "trawl"))
    ap.add_argument("--rules", type=int, default=1000)
    ap.add_argument("--services", type=int, default=200)
    ap.add_argument("--rate", type=float, default=50)
    ap.add_argument("--minutes", type=float, default=3)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="trawl-bench-rules-"))
    out = open(work / "demo.out", "w+")
    demo = subprocess.Popen(
        [args.binary, "demo", "--services", str(args.services), "--rate", str(args.rate), "--scenario", "none",
         "--listen", "127.0.0.1:0", "--otlp-http-listen", "off", "--otlp-grpc-listen", "off", "--data-dir", str(work / "data")],
        stdout=out, stderr=subprocess.DEVNULL, env=dict(os.environ, NO_COLOR="1"),
    )
    try:
        api = None
        for _ in range(300):
            m = re.search(r"^HTTP API: (\S+)/api/v1$", Path(out.name).read_text(), re.MULTILINE)
            if m:
                api = m.group(1)
                break
            time.sleep(0.2)
        if api is None:
            raise SystemExit("the demo did not start")
        names = services(api)
        print(f"warming up for 60 s ({len(names)} services so far)", file=sys.stderr)
        time.sleep(60)
        idle = measure(demo.pid, args.minutes)
        print(f"without the rules: {idle:.2f} CPU s/min", file=sys.stderr)
        names = services(api)
        t0 = time.monotonic()
        for i in range(args.rules):
            request(api, "POST", "/api/v1/rules", rule(i, names[i % len(names)]))
        created = time.monotonic() - t0
        time.sleep(90)  # every rule has run at least once
        e0, s0, c0 = metric(api, "trawl_alert_evaluations_total"), metric(api, "trawl_alert_evaluation_seconds_sum"), metric(api, "trawl_alert_evaluations_skipped_total")
        busy = measure(demo.pid, args.minutes)
        e1, s1, c1 = metric(api, "trawl_alert_evaluations_total"), metric(api, "trawl_alert_evaluation_seconds_sum"), metric(api, "trawl_alert_evaluations_skipped_total")
        per_min = (e1 - e0) / args.minutes
        print(f"| rules | services | requests/s | CPU s/min without | with | rules' cost (CPU s/min) | evaluations/min | mean evaluation | skipped |")
        print(f"|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        print(f"| {args.rules} | {len(names)} | {args.rate:g} | {idle:.2f} | {busy:.2f} | {busy - idle:.2f} | {per_min:.0f} | {1e3 * (s1 - s0) / max(e1 - e0, 1):.1f} ms | {c1 - c0:.0f} |")
        print(f"({args.rules} rules created through the API in {created:.1f} s)")
    finally:
        demo.send_signal(signal.SIGTERM)
        try:
            demo.wait(60)
        except subprocess.TimeoutExpired:
            demo.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
