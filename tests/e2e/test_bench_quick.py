"""Smoke test of the benchmark suite itself: `bench/run.py --quick` with the fast peers must run
end to end and every engine must return the same answers. Timings are never asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

QUERIES = ["q1", "q2", "q3", "q4", "q5"]


def test_bench_quick_answers_agree(trawl_bin, tmp_path):
    summary_path = tmp_path / "summary.json"
    cmd = [
        sys.executable, str(REPO_ROOT / "bench" / "run.py"), "--quick",
        "--peers", "duckdb,sqlite,ripgrep",
        "--trawl-bin", str(trawl_bin),
        "--data-dir", str(tmp_path / "bench"),
        "--json-out", str(summary_path),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    output = f"stdout:\n{proc.stdout[-6000:]}\nstderr:\n{proc.stderr[-4000:]}"
    assert proc.returncode == 0, output
    report = json.loads(summary_path.read_text())
    assert report["ok"], output
    assert report["failures"] == [], output

    checks = report["checks"]
    for q in QUERIES:
        assert checks[q]["ok"], (q, checks[q]["problems"])
    # trawl answered the record queries, and so did every peer.
    for q in ("q1", "q2", "q4"):
        assert set(checks[q]["engines"]) == {"trawl", "duckdb", "sqlite", "ripgrep"}, (q, checks[q])
    # Aggregations: trawl's `| stats` gives the same rows as the SQL peers (exact percentiles).
    assert set(checks["q3"]["engines"]) == {"trawl", "duckdb", "sqlite", "ripgrep"}
    assert set(checks["q5"]["engines"]) == {"trawl", "duckdb", "sqlite"}
    # The answers are not trivially empty: the generator makes matches for every query.
    assert checks["q2"]["answer_size"] == 100
    assert 0 < checks["q4"]["answer_size"] <= 100
    assert checks["q1"]["answer_size"] >= 3
    assert checks["q3"]["answer_size"] > 1000
    assert checks["q5"]["answer_size"] == 50
    # Q6: the root cause of the simulated payment timeout is found.
    assert report["q6"]["ok"], report["q6"]
    assert report["q6"]["top_cause"]["service"] == "third-party-payment-api"
    # Every ingest figure the report needs is there.
    assert set(report["summary"]["ingest"]) == {"trawl", "duckdb", "sqlite"}
    assert report["data"]["records"] == 100_000
    # The cost of masking is measured with masking on and off in the same run.
    masking = report["masking"]
    assert not masking.get("error"), masking
    assert masking["on"]["records_per_s"] > 0 and masking["off"]["records_per_s"] > 0, masking


def test_generator_is_deterministic(tmp_path):
    gen = REPO_ROOT / "bench" / "gen_logs.py"
    outs = []
    for name in ("a", "b"):
        path = tmp_path / f"{name}.ndjson"
        subprocess.run([sys.executable, str(gen), "--records", "3000", "--services", "1000", "--seed", "7", "--out", str(path)],
                       check=True, timeout=120)
        outs.append(path.read_bytes())
    assert outs[0] == outs[1]
    records = [json.loads(line) for line in outs[0].decode().splitlines()]
    assert [r["rid"] for r in records] == list(range(3000))
    times = [r["timestamp"] for r in records]
    assert times == sorted(times) and len(set(times)) == len(times)
    by_trace: dict[str, set] = {}
    for r in records:
        if "trace_id" in r:
            by_trace.setdefault(r["trace_id"], set()).add(r["service"])
    # Every complete request spans 3-8 services (the last one may be cut by --records).
    sizes = sorted(len(s) for s in by_trace.values())
    assert sum(1 for n in sizes if 3 <= n <= 8) >= len(sizes) - 1
    assert len({r["service"] for r in records}) > 100
