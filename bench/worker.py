#!/usr/bin/env python3
"""Runs one peer of the benchmark in its own process, so that its CPU time and peak memory are
its own: `worker.py PEER load DATA WORK_DIR OUT.json` or `worker.py PEER query SPEC.json WORK_DIR OUT.json`.

The query phase runs every query once to warm up, then `runs` times, and records the answer of
every run (Q1 uses a different trace id on each run)."""

from __future__ import annotations

import json
import os
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from engines import module  # noqa: E402
from engines.common import QUERIES, Meter, dir_bytes, peak_rss_bytes  # noqa: E402


def run_load(peer, data_path: str, work_dir: str) -> dict:
    os.makedirs(work_dir, exist_ok=True)
    with Meter() as m:
        info = peer.load(data_path, work_dir)
    if hasattr(peer, "disk_bytes"):
        disk = peer.disk_bytes(work_dir)
    else:
        disk = dir_bytes(peer.disk_path(work_dir))
    return {"wall_s": m.wall_s, "cpu_s": m.cpu_s, "peak_rss": peak_rss_bytes(), "disk_bytes": disk, "info": info}


def run_queries(peer, spec: dict, work_dir: str) -> dict:
    queries = peer.Queries(work_dir)
    runs = spec["runs"]
    out = {}
    for q in QUERIES:
        fn = getattr(queries, q, None)
        if fn is None:
            out[q] = {"supported": False}
            continue
        walls, cpus, answers = [], [], []
        for i in range(runs + 1):  # run 0 warms up
            if q == "q1":
                args = [spec["trace_ids"][i % len(spec["trace_ids"])]]
            elif q == "q4":
                args = [spec["q4_service"]]
            else:
                args = []
            with Meter() as m:
                answer = fn(*args)
            answers.append(answer)
            if i > 0:
                walls.append(m.wall_s)
                cpus.append(m.cpu_s)
        out[q] = {"supported": True, "wall_s": walls, "cpu_s": cpus, "answers": answers}
    out["peak_rss"] = peak_rss_bytes()
    return out


def main():
    name, phase = sys.argv[1], sys.argv[2]
    out_path = sys.argv[5]
    peer = module(name)
    try:
        if phase == "load":
            result = run_load(peer, sys.argv[3], sys.argv[4])
        elif phase == "query":
            with open(sys.argv[3]) as f:
                spec = json.load(f)
            result = run_queries(peer, spec, sys.argv[4])
        else:
            raise SystemExit(f"unknown phase {phase}")
        result["ok"] = True
    except Exception as e:  # reported to run.py, which decides
        result = {"ok": False, "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}
    with open(out_path, "w") as f:
        json.dump(result, f)
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
