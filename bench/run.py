#!/usr/bin/env python3
"""The trawl benchmark: one command that generates seeded microservice logs, loads them into trawl
(release build, real HTTP ingest, durable acks) and into each peer by its native bulk path, runs
the same queries on all of them, checks that they return the same answers, and reports every
trawl figure next to the peers of the same run, as a ratio to the best peer.

    python3 bench/run.py                      # 1M records, 50 services, every peer
    python3 bench/run.py --records 10000000   # 10M
    python3 bench/run.py --records 1M,10M     # both, one after the other, and how each query scales
    python3 bench/run.py --quick --peers duckdb,sqlite,ripgrep   # smoke test of the suite

See bench/README.md for what is measured and how each peer is configured. Exit code 0 means every
engine agreed on every answer (timings are reported, never asserted).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import importlib.util
import json
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.parse

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
sys.path.insert(0, BENCH)

import gen_logs  # noqa: E402
from engines import ALIASES, PEERS, PIP_PACKAGES, module  # noqa: E402
from engines import trawl as trawl_engine  # noqa: E402
from engines.common import QUERIES, QUERY_TITLES, Meter, dir_bytes, peak_rss_bytes  # noqa: E402

QUICK_PEERS = ["duckdb", "sqlite", "ripgrep"]
ANALYSIS_START = "<!-- analysis:start -->"
ANALYSIS_END = "<!-- analysis:end -->"
EXPECTED_Q6 = ("third-party-payment-api", "POST third-party-payment-api /v1/charges")
SCALING_TARGET = 3.0  # the target: at 10M records each query takes at most 3x its 1M time


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ----- setup ---------------------------------------------------------------------------------

def install(peers: list[str], allow: bool) -> None:
    missing = [PIP_PACKAGES[p][1] for p in peers if p in PIP_PACKAGES and importlib.util.find_spec(PIP_PACKAGES[p][0]) is None]
    if missing:
        if not allow:
            raise SystemExit(f"missing Python packages {missing} (and --no-install given)")
        log(f"pip install {' '.join(missing)}")
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *missing], check=True)
    if "ripgrep" in peers and shutil.which("rg") is None:
        if not allow:
            raise SystemExit("ripgrep (rg) is missing (and --no-install given)")
        if os.geteuid() != 0:
            raise SystemExit("ripgrep (rg) is missing: install it (apt-get install -y ripgrep) or leave it out of --peers")
        log("apt-get install -y ripgrep")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        if subprocess.run(["apt-get", "install", "-y", "ripgrep"], env=env, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update"], env=env, check=True, capture_output=True)
            subprocess.run(["apt-get", "install", "-y", "ripgrep"], env=env, check=True, capture_output=True)


def build_trawl() -> str:
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "trawl-target")
    log("cargo build --release -p trawl")
    env = dict(os.environ, CARGO_TARGET_DIR=target)
    subprocess.run(["cargo", "build", "--release", "-p", "trawl"], cwd=REPO, env=env, check=True)
    return os.path.join(target, "release", "trawl")


def generate(data_dir: str, records: int, services: int, seed: int) -> tuple[str, dict]:
    """The data file for these settings, generated unless a finished one of the same generator
    is there already."""
    os.makedirs(data_dir, exist_ok=True)
    with open(os.path.join(BENCH, "gen_logs.py"), "rb") as f:
        gen_hash = hashlib.sha256(f.read()).hexdigest()[:16]
    path = os.path.join(data_dir, f"logs-{records}-{services}svc-seed{seed}.ndjson")
    meta_path = path + ".json"
    if os.path.exists(path) and os.path.exists(meta_path):
        with open(meta_path) as f:
            meta = json.load(f)
        if meta.get("generator") == gen_hash and meta.get("bytes") == os.path.getsize(path):
            log(f"data: reusing {os.path.basename(path)}")
            return path, meta
    log(f"data: generating {records:,} records, {services} services, seed {seed}")
    started = time.perf_counter()
    with open(path + ".tmp", "wb") as f:
        n_bytes = gen_logs.write(f, records, services, seed)
    os.replace(path + ".tmp", path)
    meta = {"generator": gen_hash, "bytes": n_bytes, "records": records, "services": services, "seed": seed,
            "generate_s": time.perf_counter() - started}
    with open(meta_path, "w") as f:
        json.dump(meta, f)
    return path, meta


def make_spec(path: str, records: int, services: int, runs: int) -> dict:
    """Parameters of the queries: one trace id per run of Q1 (plus one for the warm-up run),
    taken at evenly spaced places of the file, and the service of Q4."""
    want = runs + 1
    marks = [records * (i + 1) // (want + 1) for i in range(want)]
    trace_ids: list[str] = []
    with open(path, encoding="utf-8") as f:
        i = 0
        for line_no, line in enumerate(f):
            if line_no < marks[i]:
                continue
            record = json.loads(line)
            if "trace_id" in record and record["trace_id"] not in trace_ids:
                trace_ids.append(record["trace_id"])
                i += 1
                if i == len(marks):
                    break
    names = gen_logs.service_names(services)
    return {"runs": runs, "trace_ids": trace_ids, "q4_service": "payment-service" if "payment-service" in names else names[0]}


# ----- trawl ---------------------------------------------------------------------------------

def run_trawl(binary: str, data_path: str, n_records: int, work: str, spec: dict, args) -> dict:
    data_dir = os.path.join(work, "trawl", "data")
    log_dir = os.path.join(work, "trawl", "logs")
    server = trawl_engine.Server(binary, data_dir, log_dir).start()
    result: dict = {"ok": True}
    try:
        log(f"trawl: ingest (batch {args.batch_size}, {args.concurrency} connections, durable acks)")
        cpu0 = server.cpu_s()
        started = time.perf_counter()
        with Meter() as m:
            summary = trawl_engine.ingest(binary, data_path, server.api, args.batch_size, args.concurrency, log_dir)
        acked_cpu = server.cpu_s() - cpu0
        stats = server.wait_flushed()
        flushed_s = time.perf_counter() - started
        server_cpu = server.cpu_s() - cpu0
        result["load"] = {
            "wall_s": m.wall_s, "cpu_s": server_cpu + m.cpu_s, "server_cpu_s": server_cpu, "server_cpu_acked_s": acked_cpu,
            "client_cpu_s": m.cpu_s, "in_segments_s": flushed_s, "peak_rss": peak_rss_bytes(server.pid),
            "disk_bytes": dir_bytes(data_dir), "segment_bytes": stats["segment_bytes"], "n_segments": stats["n_segments"],
            "summary": summary,
        }
        log(f"trawl: {summary}; acked in {m.wall_s:.1f}s, in segments after {flushed_s:.1f}s")
        queries = trawl_engine.Queries(server)
        result["queries"] = {}
        for q in QUERIES:
            fn = getattr(queries, q, None)
            if fn is None:
                result["queries"][q] = {"supported": False, "note": trawl_engine.NOT_EXPRESSIBLE}
                continue
            walls, client_cpus, answers, took = [], [], [], []
            for i in range(spec["runs"] + 1):
                if i == 1:
                    c0 = server.cpu_s()
                with Meter() as qm:
                    answer = fn(*_query_args(q, spec, i))
                answers.append(answer)
                if i > 0:
                    walls.append(qm.wall_s)
                    client_cpus.append(qm.cpu_s)
                    took.append(queries.last_took_ms)
            # The server's CPU is counted in clock ticks (10 ms): taken over all timed runs and
            # shared out evenly, which keeps the error of the mean under 10 ms / runs.
            server_each = (server.cpu_s() - c0) / spec["runs"]
            cpus = [c + server_each for c in client_cpus]
            result["queries"][q] = {"supported": True, "wall_s": walls, "cpu_s": cpus, "answers": answers,
                                    "server_took_ms": took, "query": trawl_engine.QUERY_TEXT[q]}
        result["peak_rss_after_queries"] = peak_rss_bytes(server.pid)
        if args.profile:
            result["profile"] = profile_trawl(server, queries, spec, work)
    except Exception as e:
        result = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        log(f"trawl failed: {e}")
    finally:
        server.stop()
    return result


def run_masking(binary: str, data_path: str, n_records: int, work: str, args) -> dict:
    """The cost of masking sensitive data at ingest: the same records loaded into a fresh trawl
    with every default detector on and with `[privacy] enabled = false`, one after the other,
    `--masking-runs` times each (alternating, so a change of the machine's load falls on both)."""
    config_dir = os.path.join(work, "masking")
    os.makedirs(config_dir, exist_ok=True)
    configs = {}
    for mode, text in (("off", "[privacy]\nenabled = false\n"), ("on", "[privacy]\n")):
        path = os.path.join(config_dir, f"{mode}.toml")
        with open(path, "w") as f:
            f.write(text)
        configs[mode] = path
    runs: dict = {"off": [], "on": []}
    findings = 0
    for i in range(args.masking_runs):
        for mode in ("off", "on"):
            data_dir = os.path.join(config_dir, f"{mode}-{i}", "data")
            log_dir = os.path.join(config_dir, f"{mode}-{i}", "logs")
            server = trawl_engine.Server(binary, data_dir, log_dir, ["--config", configs[mode]]).start()
            try:
                log(f"masking {mode}, run {i + 1}: ingest")
                cpu0 = server.cpu_s()
                with Meter() as m:
                    trawl_engine.ingest(binary, data_path, server.api, args.batch_size, args.concurrency, log_dir)
                acked_cpu = server.cpu_s() - cpu0
                server.wait_flushed()
                runs[mode].append({"wall_s": m.wall_s, "server_cpu_acked_s": acked_cpu, "server_cpu_s": server.cpu_s() - cpu0})
                if mode == "on":
                    _, body = server.request("GET", "/metrics")
                    findings = sum(float(line.rsplit(" ", 1)[1]) for line in body.get("text", "").splitlines() if line.startswith("trawl_masked_total{"))
            finally:
                server.stop()
            shutil.rmtree(data_dir, ignore_errors=True)
    out = {"runs": runs, "findings": int(findings), "records": n_records}
    for mode, rs in runs.items():
        out[mode] = {
            "records_per_s": n_records / median([r["wall_s"] for r in rs]),
            "server_cpu_s_per_million": median([r["server_cpu_acked_s"] for r in rs]) * 1e6 / n_records,
            "server_cpu_flushed_s_per_million": median([r["server_cpu_s"] for r in rs]) * 1e6 / n_records,
        }
    out["throughput_cost"] = 1 - out["on"]["records_per_s"] / out["off"]["records_per_s"]
    out["cpu_cost"] = out["on"]["server_cpu_s_per_million"] / out["off"]["server_cpu_s_per_million"] - 1
    log(f"masking: {out['off']['records_per_s']:,.0f} records/s off, {out['on']['records_per_s']:,.0f} on "
        f"({out['throughput_cost']:.1%} throughput lost, {out['cpu_cost']:+.1%} server CPU); {out['findings']:,} findings masked")
    return out


def _query_args(q: str, spec: dict, i: int) -> list:
    if q == "q1":
        return [spec["trace_ids"][i % len(spec["trace_ids"])]]
    if q == "q4":
        return [spec["q4_service"]]
    return []


def profile_trawl(server, queries, spec: dict, work: str) -> dict:
    """`perf record -g` on the server while each query runs in a loop; the hottest symbols
    (self time). Runs after the timed runs, so it does not disturb them."""
    if shutil.which("perf") is None:
        return {"error": "perf not installed"}
    out = {}
    for q in ("q1", "q2", "q3", "q4", "q5"):
        data = os.path.join(work, "trawl", f"perf-{q}.data")
        rec = subprocess.Popen(["perf", "record", "-F", "999", "-g", "-o", data, "-p", str(server.pid)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        deadline = time.perf_counter() + 5
        n = 0
        while time.perf_counter() < deadline or n < 5:
            getattr(queries, q)(*_query_args(q, spec, n))
            n += 1
        rec.send_signal(signal.SIGINT)
        rec.wait(60)
        report = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "--sort", "symbol",
                                 "--percent-limit", "1.5", "-g", "none"], capture_output=True, text=True)
        top = []
        for line in report.stdout.splitlines():
            line = line.strip()
            if not line or line.startswith("#") or "%" not in line.split()[0]:
                continue
            pct, _, sym = line.partition(" ")
            sym = sym.strip()
            if sym.startswith("[.] ") or sym.startswith("[k] "):
                sym = sym[4:]
            sym = re.split(r"\s{2,}", sym.strip())[0]  # perf pads the column
            top.append([pct, sym[:140]])
        out[q] = {"runs": n, "top": top[:12]}
    return out


# ----- peers ---------------------------------------------------------------------------------

def run_peer(name: str, data_path: str, work: str, spec_path: str, timeout: float) -> dict:
    work_dir = os.path.join(work, name)
    shutil.rmtree(work_dir, ignore_errors=True)
    os.makedirs(work_dir)
    result: dict = {"ok": True}
    for phase, arg in (("load", data_path), ("query", spec_path)):
        out_path = os.path.join(work, f"{name}-{phase}.json")
        log(f"{name}: {phase}")
        try:
            proc = subprocess.run([sys.executable, os.path.join(BENCH, "worker.py"), name, phase, arg, work_dir, out_path],
                                  timeout=timeout, capture_output=True, text=True)
        except subprocess.TimeoutExpired:
            return {"ok": False, "error": f"{phase} took longer than {timeout:.0f}s"}
        try:
            with open(out_path) as f:
                got = json.load(f)
        except (OSError, ValueError):
            return {"ok": False, "error": f"{phase} died ({proc.returncode}): {proc.stderr[-1500:]}"}
        if not got.get("ok"):
            return {"ok": False, "error": f"{phase}: {got.get('error')}", "traceback": got.get("traceback")}
        if phase == "load":
            result["load"] = got
        else:
            result["queries"] = {q: got[q] for q in QUERIES}
            result["peak_rss_queries"] = got.get("peak_rss")
    return result


# ----- Q6: root cause --------------------------------------------------------------------------

def run_miner(binary: str, data_path: str, work: str, runs: int) -> dict:
    """Throughput of the pattern miner: `trawl patterns --summary` over every record's message
    (extracted to a text file first, one message per line, not timed)."""
    path = os.path.join(work, "messages.txt")
    n = 0
    with open(data_path, encoding="utf-8") as src, open(path, "w", encoding="utf-8") as out:
        for line in src:
            message = json.loads(line).get("message", "")
            out.write(message.split("\n", 1)[0].replace("\r", " ") + "\n")
            n += 1
    walls, cpus, patterns = [], [], None
    for _ in range(runs):
        started = time.perf_counter()
        before = os.times()
        done = subprocess.run([binary, "patterns", "--summary", path], capture_output=True, text=True, env=trawl_engine.clean_env())
        after = os.times()
        if done.returncode != 0:
            raise RuntimeError(f"trawl patterns failed: {done.stderr[-500:]}")
        walls.append(time.perf_counter() - started)
        cpus.append((after.children_user - before.children_user) + (after.children_system - before.children_system))
        patterns = sum(1 for line in done.stdout.splitlines() if line.strip())
    os.remove(path)
    return {"messages": n, "wall_s": walls, "cpu_s": cpus, "patterns": patterns}


def run_q6(binary: str, work: str, runs: int, rate: float, seconds: int, services: int) -> dict:
    data_dir = os.path.join(work, "q6", "data")
    log_dir = os.path.join(work, "q6", "logs")
    os.makedirs(log_dir, exist_ok=True)
    log(f"q6: trawl demo --scenario payment-timeout --rate {rate:g} --services {services} for {seconds}s")
    cmd = [binary, "demo", "--listen", "127.0.0.1:0", "--otlp-http-listen", "off", "--otlp-grpc-listen", "off",
           "--scenario", "payment-timeout", "--fault-delay", "0s", "--rate", str(rate), "--services", str(services),
           "--stop-after", f"{seconds}s", "--data-dir", data_dir]
    demo = subprocess.run(cmd, capture_output=True, text=True, env=trawl_engine.clean_env(), cwd=log_dir, timeout=seconds + 600)
    end_ns = time.time_ns()
    with open(os.path.join(log_dir, "demo.err"), "w") as f:
        f.write(demo.stderr)
    if demo.returncode != 0:
        return {"ok": False, "error": f"trawl demo failed ({demo.returncode}): {demo.stderr[-1500:]}"}
    sent = {}
    for line in demo.stderr.splitlines():
        if line.startswith("demo stopped:"):
            for part in line.split(":", 1)[1].split(","):
                n, _, what = part.strip().partition(" ")
                sent[what.split()[0]] = int(n)
    server = trawl_engine.Server(binary, data_dir, log_dir).start()
    try:
        stats = server.wait_flushed()
        start = _rfc3339(end_ns - 15 * 60 * 10**9)
        end = _rfc3339(end_ns)
        path = "/api/v1/rootcause?" + urllib.parse.urlencode({"start": start, "end": end})
        walls, client_cpus, took = [], [], []
        answer = None
        for i in range(runs + 1):
            if i == 1:
                c0 = server.cpu_s()
            with Meter() as m:
                answer = server.get_ok(path)
            if i > 0:
                walls.append(m.wall_s)
                client_cpus.append(m.cpu_s)
                took.append(answer["took_ms"])
        server_each = (server.cpu_s() - c0) / runs
        cpus = [c + server_each for c in client_cpus]
        top = answer["causes"][0] if answer["causes"] else None
        named = (top["service"], top["operation"]) if top else None
        return {
            "ok": named == EXPECTED_Q6, "sent": sent, "services": max(services, 12), "rate": rate, "seconds": seconds,
            "n_segments": stats["n_segments"], "segment_bytes": stats["segment_bytes"], "wall_s": walls, "cpu_s": cpus,
            "server_took_ms": took, "failing_traces": answer["failing_traces"], "analysed_traces": answer["analysed_traces"],
            "top_cause": top and {k: top[k] for k in ("service", "operation", "error_kind", "traces", "share")},
            "expected": list(EXPECTED_Q6),
            "error": None if named == EXPECTED_Q6 else f"top cause {named}, expected {EXPECTED_Q6}",
        }
    finally:
        server.stop()


def _portable_path(arg: str) -> str:
    """An argument as it reads on any machine: relative to the repository, or under `~`."""
    arg = arg.replace(REPO + os.sep, "")
    home = os.path.expanduser("~")
    return arg.replace(home + os.sep, "~" + os.sep) if home not in ("", "/") else arg


def _rfc3339(ns: int) -> str:
    return datetime.datetime.fromtimestamp(ns / 1e9, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ----- answers ---------------------------------------------------------------------------------

def check_answers(results: dict, runs: int) -> dict:
    """Per query: do the engines that answered agree? Exact engines must return identical answers
    on every run; an approximate Q5 (tantivy) must answer for the same services, and its largest
    deviation from the exact answer is reported (it is not a candidate for best peer)."""
    checks = {}
    for q in QUERIES:
        answers = {}
        approx = {}
        for engine, r in results.items():
            if not r.get("ok"):
                continue
            qr = r["queries"].get(q, {})
            if not qr.get("supported"):
                continue
            is_approx = q == "q5" and engine != "trawl" and getattr(module(engine), "Q5_APPROXIMATE", False)
            (approx if is_approx else answers)[engine] = qr["answers"]
        problems = []
        bad: set[str] = set()
        if q != "q1":
            for engine, a in {**answers, **approx}.items():
                if any(json.dumps(x) != json.dumps(a[0]) for x in a[1:]):
                    problems.append(f"{engine} answered differently on different runs")
                    bad.add(engine)
        groups: dict[str, list[str]] = {}
        for engine, a in answers.items():
            groups.setdefault(json.dumps(a), []).append(engine)
        ordered = sorted(groups.items(), key=lambda kv: -len(kv[1]))
        if len(ordered) > 1:
            ref = json.loads(ordered[0][0])
            for text, engines in ordered[1:]:
                problems.append(f"{', '.join(engines)} disagree with {', '.join(ordered[0][1])}: {_first_difference(ref, json.loads(text))}")
                bad.update(engines)
        approx_notes = {}
        if approx and ordered:
            exact = json.loads(ordered[0][0])[0]
            for engine, a in approx.items():
                dev = _max_relative_deviation(exact, a[0])
                approx_notes[engine] = dev
                if dev is None:
                    problems.append(f"{engine} (approximate) does not answer for the same services")
                    bad.add(engine)
        sample = json.loads(ordered[0][0])[0] if ordered else None
        checks[q] = {"ok": not problems, "problems": problems, "engines": sorted(answers), "approximate": approx_notes,
                     "bad": sorted(bad), "answer_size": len(sample) if isinstance(sample, list) else None}
    return checks


def _first_difference(a: list, b: list) -> str:
    for run, (x, y) in enumerate(zip(a, b)):
        if x != y:
            if isinstance(x, list) and isinstance(y, list):
                if len(x) != len(y):
                    return f"run {run}: {len(x)} vs {len(y)} items; only in first {_head(set(map(json.dumps, x)) - set(map(json.dumps, y)))}, only in second {_head(set(map(json.dumps, y)) - set(map(json.dumps, x)))}"
                for i, (u, v) in enumerate(zip(x, y)):
                    if u != v:
                        return f"run {run}, item {i}: {u} vs {v}"
            return f"run {run}: {str(x)[:200]} vs {str(y)[:200]}"
    return "different number of runs"


def _head(items: set, n: int = 5) -> str:
    return "[" + ", ".join(sorted(items)[:n]) + (", ..." if len(items) > n else "") + "]"


def _max_relative_deviation(exact: list, approx: list) -> float | None:
    by_service = {row[0]: row[1:] for row in approx}
    worst = 0.0
    for row in exact:
        other = by_service.get(row[0])
        if other is None:
            return None
        for e, a in zip(row[1:], other):
            worst = max(worst, abs(a - e) / max(abs(e), 1e-9))
    return worst


# ----- report ----------------------------------------------------------------------------------

def median(xs: list) -> float | None:
    return statistics.median(xs) if xs else None


def summarize(results: dict, checks: dict, n_records: int, raw_bytes: int) -> dict:
    ingest = {}
    for engine, r in results.items():
        if not r.get("ok") or "load" not in r:
            continue
        ld = r["load"]
        if engine == "ripgrep":
            continue
        ingest[engine] = {
            "wall_s": ld["wall_s"], "records_per_s": n_records / ld["wall_s"], "cpu_s_per_million": ld["cpu_s"] / n_records * 1e6,
            "bytes_per_record": ld["disk_bytes"] / n_records, "peak_rss": ld["peak_rss"], "disk_bytes": ld["disk_bytes"],
            "python_bound": engine != "trawl" and module(engine).PYTHON_BOUND_LOAD,
        }
    queries = {}
    for q in QUERIES:
        per = {}
        for engine, r in results.items():
            if not r.get("ok"):
                continue
            qr = r["queries"].get(q, {})
            if not qr.get("supported"):
                per[engine] = {"supported": False, "note": qr.get("note", "not expressible")}
                continue
            per[engine] = {"supported": True, "wall_ms": median(qr["wall_s"]) * 1e3, "cpu_ms": statistics.mean(qr["cpu_s"]) * 1e3,
                           "approximate": engine in checks[q]["approximate"]}
            if "server_took_ms" in qr:
                per[engine]["server_took_ms"] = median([t for t in qr["server_took_ms"] if t is not None])
        queries[q] = per
    return {"ingest": ingest, "queries": queries, "raw_bytes_per_record": raw_bytes / n_records}


def ratios(summary: dict, checks: dict) -> dict:
    """trawl's cost divided by the best peer's (lower is better for every figure; records/s is
    compared as seconds per record). Peers with a wrong answer are not candidates."""
    out = {}
    ing = summary["ingest"]
    if "trawl" in ing:
        peers = {e: v for e, v in ing.items() if e != "trawl"}
        for key, cost in (("records_per_s", lambda v: 1 / v["records_per_s"]), ("cpu_s_per_million", lambda v: v["cpu_s_per_million"]),
                          ("bytes_per_record", lambda v: v["bytes_per_record"]), ("peak_rss", lambda v: v["peak_rss"])):
            if peers:
                best = min(peers, key=lambda e: cost(peers[e]))
                out[f"ingest.{key}"] = {"ratio": cost(ing["trawl"]) / cost(peers[best]), "best_peer": best}
    for q, per in summary["queries"].items():
        t = per.get("trawl")
        if not t or not t.get("supported"):
            continue
        bad = set(checks[q]["bad"])
        peers = {e: v for e, v in per.items() if e != "trawl" and v.get("supported") and e not in bad and not v.get("approximate")}
        for key in ("wall_ms", "cpu_ms"):
            if peers:
                best = min(peers, key=lambda e: peers[e][key])
                out[f"{q}.{key}"] = {"ratio": t[key] / max(peers[best][key], 1e-9), "best_peer": best}
    return out


def scaling(sizes: list[dict], engines: list[str]) -> dict:
    """How each figure grows with the data: per query and engine, the median wall time at the
    largest size ÷ that at the smallest (None where the engine failed, disagreed or cannot express
    the query at either size; trawl's is held against SCALING_TARGET), and ingest records/s and
    bytes/record at each size."""
    small = min(sizes, key=lambda one: one["records"])
    large = max(sizes, key=lambda one: one["records"])
    queries = {}
    for q in QUERIES:
        per = {}
        for e in engines:
            a, b = _wall_ms(small, q, e), _wall_ms(large, q, e)
            per[e] = None if a is None or b is None else {"small_ms": a, "large_ms": b, "ratio": b / max(a, 1e-9)}
            if e == "trawl" and per[e]:
                per[e]["within_target"] = per[e]["ratio"] <= SCALING_TARGET
        queries[q] = per
    ingest = {}
    for e in engines:
        if e == "ripgrep":  # loads nothing
            continue
        ingest[e] = []
        for one in sizes:
            v = one["summary"]["ingest"].get(e)
            ingest[e].append(v and {"records": one["records"], "records_per_s": v["records_per_s"], "bytes_per_record": v["bytes_per_record"]})
    return {"records": [one["records"] for one in sizes], "small": small["records"], "large": large["records"],
            "target": SCALING_TARGET, "queries": queries, "ingest": ingest,
            "raw_bytes_per_record": [one["summary"]["raw_bytes_per_record"] for one in sizes]}


def _wall_ms(one: dict, q: str, engine: str) -> float | None:
    v = one["summary"]["queries"][q].get(engine)
    if not v or not v.get("supported") or engine in one["checks"][q]["bad"]:
        return None
    return v["wall_ms"]


def fmt_ratio(r: float | None) -> str:
    if r is None:
        return "–"
    if r <= 0:
        return "0"
    if r < 1:
        return f"{r:.2f} ({1 / r:.1f}× better)"
    if r < 10:
        return f"{r:.2f} ({r:.1f}× worse)"
    return f"{r:.0f} ({r:.0f}× worse)"


def fmt_ms(ms: float | None) -> str:
    if ms is None:
        return "–"
    if ms >= 100:
        return f"{ms:,.0f}"
    if ms >= 10:
        return f"{ms:.1f}"
    return f"{ms:.2f}"


def fmt_mb(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB"


def machine_info() -> dict:
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = 0
    try:
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) * 1024
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "memory": mem, "kernel": platform.release(), "os": _os_name(),
            "load_average_start": os.getloadavg()}


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.system()


def versions(binary: str, peers: list[str]) -> dict:
    v = {"trawl": trawl_engine.version(binary), "python": platform.python_version()}
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO, capture_output=True, text=True).stdout.strip()
        v["trawl"] += f" (git {rev}{', with uncommitted changes' if dirty else ''})"
    except OSError:
        pass
    try:
        v["rustc"] = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        pass
    for p in peers:
        try:
            v[p] = module(p).version()
        except Exception as e:  # a version is nice to have, not a reason to fail
            v[p] = f"unknown ({e})"
    return v


def render_markdown(report: dict) -> str:
    """RESULTS.md: for one size its Ingest and Queries sections; for several sizes, those of each
    under a heading naming the size, then the Scaling section."""
    L = []
    _md_head(L, report)
    if "sizes" not in report:
        d = report["data"]
        L.append(f"**Data:** `bench/gen_logs.py --records {d['records']} --services {d['services']} --seed {d['seed']}`: "
                 f"{d['records']:,} records, {d['bytes'] / 2**20:,.0f} MiB of NDJSON ({d['bytes'] / d['records']:.0f} bytes/record), "
                 f"{d['services']} services, 24 h; trace ids shared by 3–8 services, "
                 f"{d['n_phrase']:,} records with 결제 실패, {d['n_errors']:,} ERROR records, multi-line stack traces.\n")
        _md_ratios_note(L)
        _md_ingest(L, report, "##")
        _md_queries(L, report, "##")
        _md_q6_miner(L, report)
        _md_masking(L, report)
        _md_profile(L, report, "##")
    else:
        d = report["sizes"][0]["data"]
        L.append(f"**Data:** `bench/gen_logs.py --records N --services {d['services']} --seed {d['seed']}` for N = "
                 + _and([f"{one['records']:,}" for one in report["sizes"]])
                 + f" (in that order, a section each below): {d['services']} services, 24 h; trace ids shared by 3–8 "
                 "services, multi-line stack traces.\n")
        _md_ratios_note(L)
        for one in report["sizes"]:
            r = report | one
            d = one["data"]
            took = one["elapsed_s"]
            L.append(f"## {d['records']:,} records\n")
            L.append(f"`bench/gen_logs.py --records {d['records']} --services {d['services']} --seed {d['seed']}`: "
                     f"{d['bytes'] / 2**20:,.0f} MiB of NDJSON ({d['bytes'] / d['records']:.0f} bytes/record), "
                     f"{d['n_phrase']:,} records with 결제 실패, {d['n_errors']:,} ERROR records; this size took "
                     + (f"{took / 60:.0f} min" if took >= 120 else f"{took:.0f} s") + ".\n")
            _md_ingest(L, r, "###")
            _md_queries(L, r, "###")
            _md_profile(L, r, "###")
        _md_scaling(L, report)
        _md_q6_miner(L, report)
        _md_masking(L, report)
    L.append("## Peers\n")
    for p in report["peers"]:
        L.append(f"- **{p}**: {module(p).CONFIG}")
    L.append("")
    failures = []
    for one in report.get("sizes", [report]):
        at = f" at {one['records']:,} records" if "sizes" in report else ""
        failures += [f"- {e}{at}: {r.get('error')}" for e, r in one["results"].items() if not r.get("ok")]
    if failures:
        L.append("## Failures\n")
        L.extend(failures)
        L.append("")
    return "\n".join(L)


def _md_head(L: list, report: dict) -> None:
    L.append("# trawl benchmark results\n")
    took = report["elapsed_s"]
    L.append(f"Run on {report['date']} with `{report['command']}` (took {took / 60:.0f} min).\n" if took >= 120 else
             f"Run on {report['date']} with `{report['command']}` (took {took:.0f} s).\n")
    m = report["machine"]
    L.append(f"**Machine:** {m['cpu']}, {m['cores']} cores, {m['memory'] / 2**30:.0f} GiB RAM, {m['os']}, Linux {m['kernel']}; "
             f"load average {m['load_average_start'][0]:.2f} at the start, {m['load_average_end'][0]:.2f} at the end "
             f"(the machine is shared: each figure comes from {report['runs']} timed run(s) after one warm-up run, "
             f"and ratios of engines measured in the same run).\n")
    L.append("**Versions:** " + "; ".join(f"{k}: {v}" for k, v in report["versions"].items()) + ".\n")


def _md_ratios_note(L: list) -> None:
    L.append("Ratios are trawl ÷ best peer of the same run, so below 1 means trawl is better (for records/s the "
             "ratio is of seconds per record). A peer whose answer disagreed is not a candidate for best peer.\n")


def _md_ingest(L: list, report: dict, h: str) -> None:
    s = report["summary"]
    ratios_ = report["ratios"]
    engines = ["trawl"] + report["peers"]
    L.append(f"{h} Ingest\n")
    L.append("| engine | load time | records/s | CPU s per 1M records | bytes on disk per record | peak RSS |")
    L.append("|---|---:|---:|---:|---:|---:|")
    for e in engines:
        v = s["ingest"].get(e)
        if not v:
            continue
        mark = " †" if v["python_bound"] else ""
        L.append(f"| {e}{mark} | {v['wall_s']:.1f} s | {v['records_per_s']:,.0f} | {v['cpu_s_per_million']:.1f} | "
                 f"{v['bytes_per_record']:.1f} | {fmt_mb(v['peak_rss'])} |")
    L.append(f"| raw NDJSON (ripgrep reads this) | – | – | – | {s['raw_bytes_per_record']:.1f} | – |")
    if "trawl" in s["ingest"]:
        L.append("| **trawl ÷ best peer** | | " + " | ".join(
            _ratio_cell(ratios_, f"ingest.{k}") for k in ("records_per_s", "cpu_s_per_million", "bytes_per_record", "peak_rss")) + " |")
    L.append("")
    t = report["results"].get("trawl", {}).get("load")
    if t:
        L.append("† the load is bound by the Python client (a `json.loads` and an insert call per record).\n")
        L.append(f"trawl: `trawl ingest` with `--batch-size {report['settings']['batch_size']} --concurrency "
                 f"{report['settings']['concurrency']}` to `POST /api/v1/ingest`, durable acks (every batch fsynced "
                 f"before its answer): all records acknowledged after {t['wall_s']:.1f} s, all in Parquet segments after "
                 f"{t['in_segments_s']:.1f} s; {t['n_segments']} segments. "
                 f"CPU is the server's (until the segments are written: {t['server_cpu_s']:.1f} s) plus the client's "
                 f"({t['client_cpu_s']:.1f} s); peers' CPU is their whole process. Bytes on disk are the whole data "
                 f"directory (segments, indexes, metastore, WAL); peak RSS is the process's high-water mark (for "
                 f"peers, the worker process including the Python interpreter).\n")


def _md_queries(L: list, report: dict, h: str) -> None:
    s = report["summary"]
    ratios_ = report["ratios"]
    engines = ["trawl"] + report["peers"]
    L.append(f"{h} Queries\n")
    L.append("Wall time in ms (median of the timed runs), CPU time in ms in parentheses (mean of the timed runs; for "
             "trawl the server's CPU plus the client's, which sends the query over HTTP and decodes the JSON records; "
             "for the peers their whole process, for ripgrep `rg` plus the Python that parses its output).\n")
    header = "| query | " + " | ".join(engines) + " | trawl ÷ best peer (wall) | trawl ÷ best peer (CPU) |"
    L.append(header)
    L.append("|---|" + "---:|" * len(engines) + "---|---|")
    for q in QUERIES:
        per = s["queries"][q]
        cells = []
        for e in engines:
            v = per.get(e)
            if v is None:
                cells.append("–")
            elif not v["supported"]:
                cells.append("n/a")
            else:
                cells.append(f"{fmt_ms(v['wall_ms'])} ({fmt_ms(v['cpu_ms'])}){' ≈' if v.get('approximate') else ''}")
        c = report["checks"][q]
        ok = "✓" if c["ok"] else "✗"
        L.append(f"| {QUERY_TITLES[q]} {ok} | " + " | ".join(cells) + f" | {_ratio_cell(ratios_, q + '.wall_ms')} | {_ratio_cell(ratios_, q + '.cpu_ms')} |")
    L.append("")
    L.append("✓: every engine that answered returned the same answer (Q1, Q2, Q4: the same records in the same order, "
             "by their `rid`; Q3, Q5: the same rows). n/a: not expressible by that engine. "
             "≈: approximate answer (tantivy's percentiles, "
             + ", ".join(f"max deviation {v:.1%}" for v in report["checks"]["q5"]["approximate"].values() if v is not None)
             + "), not a candidate for best peer.\n")
    for q in QUERIES:
        for p in report["checks"][q]["problems"]:
            L.append(f"- **{q} disagreement:** {p}")
    tq = report["results"].get("trawl", {}).get("queries", {})
    if tq:
        L.append("trawl queries: " + "; ".join(f"{q.upper()} `{v['query']}`" for q, v in tq.items() if v.get("supported"))
                 + " (Q1 with `limit` 10,000 and the answer reversed: search answers newest first). Server-side `took_ms`: "
                 + ", ".join(f"{q.upper()} {fmt_ms(s['queries'][q]['trawl'].get('server_took_ms'))} ms" for q in tq if tq[q].get("supported")) + ".\n")


def _md_q6_miner(L: list, report: dict) -> None:
    q6 = report.get("q6")
    if q6:
        L.append("## Q6 root cause (trawl only)\n")
        if q6.get("wall_s"):
            sent = q6.get("sent", {})
            L.append(f"`trawl demo --scenario payment-timeout --fault-delay 0s --rate {q6['rate']:g} --services {q6['services']} "
                     f"--stop-after {q6['seconds']}s` loaded {sent.get('spans', 0):,} spans and {sent.get('records', 0):,} records "
                     f"of {sent.get('requests', 0):,} requests into {q6['n_segments']} segments ({q6['segment_bytes'] / 2**20:.0f} MiB); "
                     f"then a fresh `trawl server` on that directory answered `GET /api/v1/rootcause` for the 15 minutes "
                     f"ending at the end of the load in **{fmt_ms(median(q6['wall_s']) * 1e3)} ms** median "
                     f"({fmt_ms(statistics.mean(q6['cpu_s']) * 1e3)} ms CPU): {q6['failing_traces']:,} failing traces, "
                     f"{q6['analysed_traces']:,} analysed, top cause `{q6['top_cause']['service']}` / "
                     f"`{q6['top_cause']['operation']}` ({q6['top_cause']['error_kind']}, {q6['top_cause']['share']:.0%} of failing "
                     f"traces) {'= the injected fault ✓' if q6['ok'] else '✗ expected ' + str(q6['expected'])}. "
                     "No peer can express it (it needs the spans of each trace assembled into a tree).\n")
        else:
            L.append(f"failed: {q6.get('error')}\n")
    miner = report.get("miner")
    if miner:
        L.append("## Pattern miner (trawl only)\n")
        if miner.get("wall_s"):
            wall, cpu = median(miner["wall_s"]), statistics.mean(miner["cpu_s"])
            L.append(f"`trawl patterns --summary` over the {miner['messages']:,} messages of the data set (first lines, one per "
                     f"line, read from a file): {miner['patterns']:,} patterns in {wall:.2f} s wall, {cpu:.2f} s CPU — "
                     f"**{miner['messages'] / max(cpu, 1e-9) / 1e6:.2f} M messages per CPU-second** "
                     f"({miner['messages'] / max(wall, 1e-9) / 1e6:.2f} M/s wall, reading and printing included).\n")
        else:
            L.append(f"failed: {miner.get('error')}\n")


def _md_masking(L: list, report: dict) -> None:
    mk = report.get("masking")
    if not mk:
        return
    L.append("## Masking sensitive data at ingest\n")
    if mk.get("error"):
        L.append(f"Not measured: {mk['error']}\n")
        return
    n = len(mk["runs"]["on"])
    L.append(f"The first size's {mk['records']:,} records loaded into a fresh trawl with every default detector on "
             f"(`[privacy]`, the default) and with masking off (`enabled = false`), {n} time(s) each, alternating; "
             f"medians. Findings masked: {mk['findings']:,} (the generated logs hold almost no sensitive data, so this is "
             f"mostly the cost of looking).\n")
    L.append("| masking | records/s | server CPU s per 1M records (acked) | (until in segments) |")
    L.append("|---|---:|---:|---:|")
    for mode in ("off", "on"):
        v = mk[mode]
        L.append(f"| {mode} | {v['records_per_s']:,.0f} | {v['server_cpu_s_per_million']:.1f} | {v['server_cpu_flushed_s_per_million']:.1f} |")
    L.append(f"| **on ÷ off** | {-mk['throughput_cost']:+.1%} | {mk['cpu_cost']:+.1%} | "
             f"{mk['on']['server_cpu_flushed_s_per_million'] / mk['off']['server_cpu_flushed_s_per_million'] - 1:+.1%} |")
    L.append("")


def _md_profile(L: list, report: dict, h: str) -> None:
    prof = report["results"].get("trawl", {}).get("profile")
    if prof and "error" not in prof:
        L.append(f"{h} Profile of the trawl server during the query loops\n")
        L.append("`perf record -F 999 -g -p PID` while each query ran in a loop (after the timed runs); self time.\n")
        for q, v in prof.items():
            L.append(f"- {q.upper()} ({v['runs']} runs): " + ", ".join(f"`{sym}` {pct}" for pct, sym in v["top"][:8]))
        L.append("")


def _md_scaling(L: list, report: dict) -> None:
    sc = report["scaling"]
    small, large = sc["small"], sc["large"]
    label = f"{size_label(large)} ÷ {size_label(small)}"
    engines = ["trawl"] + report["peers"]
    L.append("## Scaling\n")
    L.append(f"Per query and engine, the median wall time at {large:,} records divided by that at {small:,} records "
             f"({label}: {large / small:g}× the data), from the tables above. The issue's target: at 10M records each "
             f"query of trawl takes at most {sc['target']:g}× its 1M time (✓ within it, ✗ over it)"
             + ("" if (small, large) == (1_000_000, 10_000_000) else
                f"; it is stated for 1M → 10M, and these sizes are held against the same {sc['target']:g}×")
             + ". n/a: the engine failed, disagreed or cannot express the query at one of the sizes.\n")
    L.append(f"| query ({label}) | " + " | ".join(engines) + f" | trawl wall ms, {size_label(small)} → {size_label(large)} |")
    L.append("|---|" + "---:|" * len(engines) + "---:|")
    for q in QUERIES:
        per = sc["queries"][q]
        t = per.get("trawl")
        L.append(f"| {QUERY_TITLES[q]} | " + " | ".join(_scaling_cell(per.get(e), e == "trawl") for e in engines)
                 + f" | {fmt_ms(t['small_ms']) + ' → ' + fmt_ms(t['large_ms']) if t else 'n/a'} |")
    L.append("")
    labels = [size_label(n) for n in sc["records"]]
    L.append("Ingest at each size (n/a: the engine failed at that size):\n")
    L.append("| engine | " + " | ".join(f"records/s at {x}" for x in labels) + " | "
             + " | ".join(f"bytes on disk per record at {x}" for x in labels) + " |")
    L.append("|---|" + "---:|" * (2 * len(labels)))
    for e, per in sc["ingest"].items():
        L.append(f"| {e} | " + " | ".join("n/a" if v is None else f"{v['records_per_s']:,.0f}" for v in per) + " | "
                 + " | ".join("n/a" if v is None else f"{v['bytes_per_record']:.1f}" for v in per) + " |")
    L.append("| raw NDJSON | " + " | ".join("–" for _ in labels) + " | "
             + " | ".join(f"{b:.1f}" for b in sc["raw_bytes_per_record"]) + " |")
    L.append("")


def _scaling_cell(v: dict | None, trawl: bool) -> str:
    if v is None:
        return "n/a"
    r = v["ratio"]
    cell = f"{r:.2f}×" if r < 10 else f"{r:.0f}×"
    if trawl:
        cell += " ✓" if v["within_target"] else " ✗"
    return cell


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _ratio_cell(ratios_: dict, key: str) -> str:
    r = ratios_.get(key)
    return f"{fmt_ratio(r['ratio'])} vs {r['best_peer']}" if r else "–"


def write_results(path: str, markdown: str) -> None:
    analysis = f"{ANALYSIS_START}\n## Where trawl trails, and why\n\n(to be written from the figures above)\n{ANALYSIS_END}\n"
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            old = f.read()
        if ANALYSIS_START in old and ANALYSIS_END in old:
            analysis = old[old.index(ANALYSIS_START):old.index(ANALYSIS_END) + len(ANALYSIS_END)] + "\n"
    with open(path, "w", encoding="utf-8") as f:
        f.write(markdown.rstrip() + "\n\n" + analysis)


def print_tables(report: dict) -> None:
    s = report["summary"]
    print()
    print(f"{'ingest':<12} {'load s':>8} {'records/s':>11} {'CPU s/1M':>9} {'B/record':>9} {'peak RSS':>10}")
    for e, v in s["ingest"].items():
        print(f"{e:<12} {v['wall_s']:>8.1f} {v['records_per_s']:>11,.0f} {v['cpu_s_per_million']:>9.1f} "
              f"{v['bytes_per_record']:>9.1f} {fmt_mb(v['peak_rss']):>10}")
    print(f"{'raw NDJSON':<12} {'':>8} {'':>11} {'':>9} {s['raw_bytes_per_record']:>9.1f}")
    for k, r in report["ratios"].items():
        if k.startswith("ingest."):
            print(f"  trawl ÷ best peer, {k[7:]}: {fmt_ratio(r['ratio'])} vs {r['best_peer']}")
    print()
    engines = ["trawl"] + report["peers"]
    print(f"{'query (wall ms / CPU ms)':<26}" + "".join(f"{e:>20}" for e in engines) + "  agree")
    for q in QUERIES:
        cells = []
        for e in engines:
            v = s["queries"][q].get(e)
            cells.append("–" if v is None else "n/a" if not v["supported"] else f"{fmt_ms(v['wall_ms'])} / {fmt_ms(v['cpu_ms'])}")
        c = report["checks"][q]
        print(f"{QUERY_TITLES[q][:25]:<26}" + "".join(f"{x:>20}" for x in cells) + ("  yes" if c["ok"] else "  NO"))
        for key in ("wall_ms", "cpu_ms"):
            r = report["ratios"].get(f"{q}.{key}")
            if r:
                print(f"  trawl ÷ best peer ({key[:-3]}): {fmt_ratio(r['ratio'])} vs {r['best_peer']}")
        for p in c["problems"]:
            print(f"  ! {p}")


def print_scaling(report: dict) -> None:
    sc = report["scaling"]
    small, large = size_label(sc["small"]), size_label(sc["large"])
    engines = ["trawl"] + report["peers"]
    print(f"\nscaling: wall time at {large} ÷ at {small} (trawl's target: at most {sc['target']:g}×)")
    print(f"{'query':<26}" + "".join(f"{e:>14}" for e in engines))
    for q in QUERIES:
        cells = [_scaling_cell(sc["queries"][q].get(e), e == "trawl") for e in engines]
        print(f"{QUERY_TITLES[q][:25]:<26}" + "".join(f"{x:>14}" for x in cells))
    labels = [size_label(n) for n in sc["records"]]
    print(f"{'ingest':<12}" + "".join(f"{'rec/s ' + x:>14}" for x in labels) + "".join(f"{'B/rec ' + x:>12}" for x in labels))
    for e, per in sc["ingest"].items():
        print(f"{e:<12}" + "".join(f"{'n/a' if v is None else format(v['records_per_s'], ',.0f'):>14}" for v in per)
              + "".join(f"{'n/a' if v is None else format(v['bytes_per_record'], '.1f'):>12}" for v in per))


def print_q6(q6: dict | None) -> None:
    if q6 and q6.get("wall_s"):
        print(f"\nQ6 root cause (trawl): {fmt_ms(median(q6['wall_s']) * 1e3)} ms over {q6['sent'].get('spans', 0):,} spans, "
              f"top cause {q6['top_cause']['service']} / {q6['top_cause']['operation']} ({'ok' if q6['ok'] else 'WRONG'})")
    elif q6:
        print(f"\nQ6 failed: {q6.get('error')}")
    print()


# ----- main ------------------------------------------------------------------------------------

def parse_sizes(text: str) -> list[int]:
    """`1000000`, `1M`, `100k` or a comma-separated list of them, in the order given."""
    sizes = []
    for item in text.split(","):
        item = item.strip().replace("_", "")
        factor = {"k": 1_000, "m": 1_000_000}.get(item[-1:].lower(), 1)
        number = item[:-1] if factor > 1 else item
        try:
            n = float(number) * factor if "." in number else int(number) * factor
        except ValueError:
            raise ValueError(f"{item!r} is not a number of records (e.g. 1000000, 1M, 100k)") from None
        if n != int(n) or n <= 0:
            raise ValueError(f"{item!r} is not a positive whole number of records")
        if int(n) in sizes:
            raise ValueError(f"{int(n):,} records given twice")
        sizes.append(int(n))
    return sizes


def size_label(n: int) -> str:
    """1M, 10M, 100k: a size as a column heading."""
    if n >= 1_000_000 and n % 10_000 == 0:
        return f"{n / 1e6:g}M"
    if n >= 1_000 and n % 10 == 0:
        return f"{n / 1e3:g}k"
    return f"{n:,}"


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", help="records to generate: a number (suffixes k and M: 100k, 1M) or a comma-separated list "
                    "of them, run in turn into one report with a scaling table (e.g. 1M,10M; default 1M; --quick: 100k)")
    ap.add_argument("--services", type=int, default=50)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--quick", action="store_true", help="100k records, one run, a small Q6: a smoke test of the suite")
    ap.add_argument("--peers", help=f"comma-separated subset of {','.join(PEERS)} (default all; --quick: {','.join(QUICK_PEERS)}); 'all'; 'none' for trawl alone")
    ap.add_argument("--runs", type=int, help="timed runs per query after one warm-up (default 5; --quick: 1)")
    ap.add_argument("--data-dir", default=os.path.join(BENCH, "data"), help="generated data and the engines' files (default bench/data)")
    ap.add_argument("--results", help="markdown report to write (default bench/RESULTS.md; --quick: <data-dir>/RESULTS-quick.md)")
    ap.add_argument("--json-out", help="also write the whole report as JSON here")
    ap.add_argument("--trawl-bin", help="use this trawl binary instead of building the release one")
    ap.add_argument("--no-install", action="store_true", help="do not pip/apt-get install missing peers")
    ap.add_argument("--batch-size", type=int, default=5000, help="records per ingest request (default 5000)")
    ap.add_argument("--concurrency", type=int, default=4, help="ingest requests in flight (default 4)")
    ap.add_argument("--q6-rate", type=float, help="requests/s of the simulated fleet for Q6 (default 2000; --quick: 200)")
    ap.add_argument("--q6-seconds", type=int, help="how long the fleet sends for Q6 (default 90; --quick: 8)")
    ap.add_argument("--skip-q6", action="store_true")
    ap.add_argument("--masking-runs", type=int, help="ingest runs with masking on and off each, for its cost (default 2; --quick: 1; 0 skips)")
    ap.add_argument("--profile", action="store_true", help="perf-record the trawl server during extra query loops")
    ap.add_argument("--peer-timeout", type=float, default=3600, help="seconds a peer may take per phase")
    args = ap.parse_args(argv)
    try:
        args.sizes = parse_sizes(args.records) if args.records else [100_000 if args.quick else 1_000_000]
    except ValueError as e:
        ap.error(f"--records: {e}")
    args.runs = args.runs or (1 if args.quick else 5)
    args.q6_rate = args.q6_rate or (200 if args.quick else 2000)
    args.q6_seconds = args.q6_seconds or (8 if args.quick else 90)
    if args.masking_runs is None:
        args.masking_runs = 1 if args.quick else 2
    if args.peers is None:
        peers = QUICK_PEERS if args.quick else PEERS
    elif args.peers.strip() in ("", "none"):
        peers = []
    elif args.peers.strip() == "all":
        peers = list(PEERS)
    else:
        peers = []
        for p in args.peers.split(","):
            p = ALIASES.get(p.strip(), p.strip())
            if p not in PEERS:
                ap.error(f"unknown peer {p!r}: choose from {', '.join(PEERS)}")
            if p not in peers:
                peers.append(p)
    args.peer_list = peers
    return args


def run_size(args, binary: str, records: int, work: str) -> tuple[str, dict, dict, dict]:
    """One size: its data (generated unless cached), loaded into trawl and every peer, the queries
    run on each. Returns the data file, its metadata, the query parameters and the raw results."""
    data_path, meta = generate(args.data_dir, records, args.services, args.seed)
    n_phrase = n_errors = 0
    with open(data_path, encoding="utf-8") as f:
        for line in f:
            if '"level": "ERROR"' in line:
                n_errors += 1
            if "결제 실패" in line:
                n_phrase += 1
    meta.update(n_phrase=n_phrase, n_errors=n_errors)
    spec = make_spec(data_path, records, args.services, args.runs)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    spec_path = os.path.join(work, "spec.json")
    with open(spec_path, "w") as f:
        json.dump(spec, f)
    results = {"trawl": run_trawl(binary, data_path, records, work, spec, args)}
    for p in args.peer_list:
        results[p] = run_peer(p, data_path, work, spec_path, args.peer_timeout)
        if not results[p]["ok"]:
            log(f"{p} failed: {results[p]['error']}")
    return data_path, meta, spec, results


def size_report(records: int, elapsed_s: float, meta: dict, spec: dict, results: dict, runs: int) -> dict:
    """The figures of one size (answers dropped once checked): what the Ingest and Queries
    sections are made of."""
    checks = check_answers(results, runs)
    summary = summarize(results, checks, records, meta["bytes"])
    failures = [e for e, r in results.items() if not r.get("ok")]
    return {
        "records": records, "elapsed_s": elapsed_s,
        "data": {k: meta[k] for k in ("records", "services", "seed", "bytes", "generate_s", "n_phrase", "n_errors") if k in meta},
        "spec": spec, "checks": checks, "summary": summary, "ratios": ratios(summary, checks),
        "results": {e: {k: v for k, v in r.items() if k != "queries"} | ({"queries": {q: {k: v for k, v in qr.items() if k != "answers"} for q, qr in r["queries"].items()}} if "queries" in r else {})
                    for e, r in results.items()},
        "ok": all(c["ok"] for c in checks.values()) and not failures, "failures": failures,
    }


def remove_engine_files(work: str, engines: list[str]) -> None:
    """The engines' files of a finished size (trawl's data directory, each peer's database), so
    the next size does not need the disk for both; logs and the workers' JSON stay."""
    paths = [os.path.join(work, "trawl", "data")] + [os.path.join(work, e) for e in engines if e != "trawl"]
    freed = sum(dir_bytes(p) for p in paths if os.path.isdir(p))
    for p in paths:
        shutil.rmtree(p, ignore_errors=True)
    log(f"removed the engines' files of this size ({fmt_mb(freed)})")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    started = time.perf_counter()
    command = "python3 bench/run.py" + ("" if not argv else " " + " ".join(_portable_path(shlex.quote(a)) for a in argv))
    machine = machine_info()
    install(args.peer_list, not args.no_install)
    binary = os.path.abspath(args.trawl_bin) if args.trawl_bin else build_trawl()
    work_root = os.path.join(args.data_dir, "run")
    shutil.rmtree(work_root, ignore_errors=True)
    os.makedirs(work_root)

    sizes: list[dict] = []
    q6 = miner = masking = None
    for i, records in enumerate(args.sizes):
        if len(args.sizes) > 1:
            log(f"size {i + 1} of {len(args.sizes)}: {records:,} records")
        size_started = time.perf_counter()
        work = os.path.join(work_root, str(records))
        data_path, meta, spec, results = run_size(args, binary, records, work)
        if i == 0:
            # Q6 and the miner do not depend on the size: once, with the first one.
            if not args.skip_q6:
                try:
                    q6 = run_q6(binary, work_root, args.runs, args.q6_rate, args.q6_seconds, args.services)
                except Exception as e:
                    q6 = {"ok": False, "error": f"{type(e).__name__}: {e}"}
            try:
                miner = run_miner(binary, data_path, work, args.runs)
            except Exception as e:
                miner = {"error": f"{type(e).__name__}: {e}"}
            if args.masking_runs > 0:
                try:
                    masking = run_masking(binary, data_path, records, work, args)
                except Exception as e:
                    masking = {"error": f"{type(e).__name__}: {e}"}
        sizes.append(size_report(records, time.perf_counter() - size_started, meta, spec, results, args.runs))
        if i + 1 < len(args.sizes):
            remove_engine_files(work, list(results))
    machine["load_average_end"] = os.getloadavg()
    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command, "elapsed_s": time.perf_counter() - started, "machine": machine,
        "versions": versions(binary, args.peer_list), "peers": args.peer_list, "runs": args.runs,
        "settings": {"batch_size": args.batch_size, "concurrency": args.concurrency},
    }
    q6_ok = q6 is None or q6.get("ok", False)
    if len(sizes) == 1:
        # One size: the report has the shape it always had.
        one = sizes[0]
        report |= {k: one[k] for k in ("data", "spec", "checks", "summary", "ratios")} | {"q6": q6, "miner": miner, "masking": masking, "results": one["results"]}
        report["ok"] = one["ok"] and q6_ok
        report["failures"] = one["failures"]
        print_tables(report)
    else:
        report |= {"sizes": sizes, "scaling": scaling(sizes, ["trawl"] + args.peer_list), "q6": q6, "miner": miner, "masking": masking}
        report["ok"] = all(one["ok"] for one in sizes) and q6_ok
        report["failures"] = [{"records": one["records"], "engine": e} for one in sizes for e in one["failures"]]
        for one in sizes:
            print(f"\n===== {one['records']:,} records =====")
            print_tables(report | one)
        print_scaling(report)
    print_q6(q6)
    if masking and not masking.get("error"):
        print(f"\nmasking at ingest: {masking['off']['records_per_s']:,.0f} records/s off, {masking['on']['records_per_s']:,.0f} on "
              f"({-masking['throughput_cost']:+.1%} records/s, {masking['cpu_cost']:+.1%} server CPU)")
    markdown = render_markdown(report)
    results_path = args.results or (os.path.join(args.data_dir, "RESULTS-quick.md") if args.quick else os.path.join(BENCH, "RESULTS.md"))
    write_results(results_path, markdown)
    log(f"wrote {os.path.relpath(results_path, REPO) if results_path.startswith(REPO) else results_path}")
    for path in filter(None, (os.path.join(work_root, "report.json"), args.json_out)):
        with open(path, "w") as f:
            json.dump(report, f, indent=1, ensure_ascii=False)
    if not report["ok"]:
        problems = []
        for one in sizes:
            at = f" at {one['records']:,} records" if len(sizes) > 1 else ""
            problems += [f"{e} failed{at}" for e in one["failures"]]
            problems += [f"{q}{at}: {p}" for q, c in one["checks"].items() for p in c["problems"]]
        log("FAILED: " + "; ".join(problems + ([] if q6_ok else [f"q6: {q6.get('error')}"])))
        return 1
    log("every engine agreed on every answer")
    return 0


if __name__ == "__main__":
    sys.exit(main())
