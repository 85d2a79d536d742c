"""ripgrep over the raw NDJSON file: no load, no index, the brute-force floor. Each query is one
`rg` over the file; its matching lines are parsed, checked and sorted by a few lines of Python
(included in the times)."""

from __future__ import annotations

import calendar
import collections
import json
import os
import subprocess
import time

from .common import LIMIT, PHRASE, has_word

NAME = "ripgrep"
PYTHON_BOUND_LOAD = False
CONFIG = ("`rg` over the NDJSON file (no load: its size is the raw data size); Q1 `rg -F '\"trace_id\": \"ID\"'`, "
          "Q2 `rg -F '결제 실패'`, Q4 `rg '\"service\": \"S\", \"level\": \"ERROR\".*(?i:timeout)'`, then Python parses "
          "the matching lines, keeps the exact matches (the word rule for Q4) and sorts by time; Q3 "
          "`rg -o` extracts minute and service of ERROR lines, Python counts them. Q5 (percentiles) is not "
          "expressible. Relies on the generator's key order, as a grep over a known log format would.")


def version() -> str:
    out = subprocess.run(["rg", "--version"], capture_output=True, text=True, check=True).stdout
    return out.splitlines()[0]


def load(data_path: str, work_dir: str) -> dict:
    with open(os.path.join(work_dir, "data-path"), "w") as f:
        f.write(os.path.abspath(data_path))
    return {"records": None}


def disk_path(work_dir: str) -> str:
    with open(os.path.join(work_dir, "data-path")) as f:
        return f.read()


def _rg(args: list, path: str) -> list:
    out = subprocess.run(["rg", "--no-filename", "--no-line-number", "--no-config", *args, path],
                         capture_output=True, check=False)
    if out.returncode not in (0, 1):
        raise RuntimeError(out.stderr.decode(errors="replace"))
    return out.stdout.splitlines()


class Queries:
    def __init__(self, work_dir: str):
        self.path = disk_path(work_dir)

    def q1(self, trace_id: str):
        records = [json.loads(line) for line in _rg(["-F", f'"trace_id": "{trace_id}"'], self.path)]
        records = [r for r in records if r.get("trace_id") == trace_id]
        records.sort(key=lambda r: r["timestamp"])
        return [r["rid"] for r in records]

    def q2(self):
        records = [json.loads(line) for line in _rg(["-F", PHRASE], self.path)]
        records = [r for r in records if PHRASE in r["message"]]
        records.sort(key=lambda r: r["timestamp"], reverse=True)
        return [r["rid"] for r in records[:LIMIT]]

    def q3(self):
        lines = _rg(["-o", '^\\{"timestamp": "([0-9-]{10}T[0-9]{2}:[0-9]{2})[^"]*", "service": "([^"]+)", "level": "ERROR"',
                     "-r", "$1 $2"], self.path)
        counts = collections.Counter(lines)
        out = []
        for key, n in counts.items():
            minute, service = key.decode().split(" ", 1)
            out.append([service, calendar.timegm(time.strptime(minute, "%Y-%m-%dT%H:%M")), n])
        return sorted(out)

    def q4(self, service: str):
        pattern = '"service": "%s", "level": "ERROR".*(?i:timeout)' % service.replace(".", "\\.")
        records = [json.loads(line) for line in _rg(["-e", pattern], self.path)]
        records = [r for r in records if r["service"] == service and r["level"] == "ERROR" and has_word(r["message"])]
        records.sort(key=lambda r: r["timestamp"], reverse=True)
        return [r["rid"] for r in records[:LIMIT]]
