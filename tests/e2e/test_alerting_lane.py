"""The evaluator's lane: with enough data to make queries heavy and several heavy interactive
queries running at once for a while, a rule with a 10 s interval keeps being evaluated on time
(docs/alerting.md: "a long query never starves alerts")."""

from __future__ import annotations

import json
import random
import threading
import time

import pytest
import requests

from alert_helpers import INTERVAL_S, alerting_server, now_ms, report, rule

RULE = "heartbeat"
N_RECORDS = 300_000
BATCH = 50_000
LOAD_SECONDS = 50
QUERY_THREADS = 6
HEAVY_QUERIES = [
    # About 1.5 s each alone on 300k records (debug build, 2 cores); several at once fill the
    # query lane and both cores.
    "| stats count() as n, uniq(user) as users by body",
    r"body:/.*[0-9]+.*[0-9]+.*[0-9]+.*/ | stats count() as n by service, host, user",
    "| stats count() as n, uniq(body) as bodies, p50(duration_ms), p99(duration_ms) by user, host",
]
FILES = {"heartbeat.yaml": """\
rules:
  - name: heartbeat
    kind: threshold
    query: 'service:heartbeat | stats count() as n'
    condition: n > 1000000
    interval: 10s
    lookback: 1m
    delay: 0s
"""}

SERVICES = ["payment-service", "order-service", "auth-service", "gateway", "inventory", "shipping"]
MESSAGES = [
    "결제 실패: 카드 승인 거절 order_id={n}",
    "upstream timeout after {n}ms calling inventory",
    "connection refused by 10.0.{m}.{n} port 5432",
    "주문 {n} 처리 완료 (사용자 u-{m})",
    "GET /api/v1/orders/{n} 200 in {m}ms",
]


def batches(t0_ms: int):
    rnd = random.Random(7)
    for start in range(0, N_RECORDS, BATCH):
        lines = []
        for i in range(start, start + BATCH):
            n, m = rnd.randrange(100_000), rnd.randrange(256)
            lines.append(json.dumps({
                "timestamp": t0_ms + i * 5,   # 300k records over the last 25 minutes
                "service": SERVICES[i % len(SERVICES)],
                "host": f"host-{i % 40}",
                "level": "error" if i % 7 == 0 else "info",
                "message": MESSAGES[i % len(MESSAGES)].format(n=n, m=m),
                "user": f"u-{rnd.randrange(20_000)}",
                "duration_ms": rnd.randrange(2000),
            }, ensure_ascii=False))
        yield ("\n".join(lines) + "\n").encode()


@pytest.fixture(scope="module")
def loaded(trawl_bin, tmp_path_factory):
    server = alerting_server(trawl_bin, tmp_path_factory.mktemp("alerting-lane"), FILES, args=("--flush-seconds", "5"))
    server.start()
    t0 = now_ms() - N_RECORDS * 5 - 1000
    for body in batches(t0):
        r = server.ingest(body, timeout=300)
        assert r.status_code == 200 and r.json()["accepted"] == BATCH, r.text[:500]
    yield server
    server.stop()


def test_a_rule_keeps_its_cadence_while_heavy_queries_run(loaded, request):
    report(request, loaded)
    stop = threading.Event()
    done: list[tuple[int, float]] = []        # (status, seconds) of each heavy query
    errors: list[str] = []

    def hammer(n: int):
        http = requests.Session()
        i = n
        while not stop.is_set():
            q = HEAVY_QUERIES[i % len(HEAVY_QUERIES)]
            i += 1
            t = time.monotonic()
            try:
                r = http.post(loaded.url("/api/v1/query"), json={"query": q, "limit": 100, "timeout": "60s"}, timeout=120)
                done.append((r.status_code, time.monotonic() - t))
            except requests.RequestException as e:
                errors.append(repr(e))

    start = rule(loaded, RULE)["health"]
    threads = [threading.Thread(target=hammer, args=(n,), daemon=True) for n in range(QUERY_THREADS)]
    t_start = time.monotonic()
    for t in threads:
        t.start()
    seen: list[tuple[float, int, int]] = []   # (when, evaluations, last_eval_ns)
    try:
        while time.monotonic() - t_start < LOAD_SECONDS:
            h = rule(loaded, RULE)["health"]
            seen.append((time.monotonic(), h["evaluations"], h["last_eval_ns"]))
            time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(150)
    t_end = time.monotonic()
    end = rule(loaded, RULE)["health"]

    # The load was real: the heavy queries kept the query lane busy the whole time.
    ok = [s for status, s in done if status == 200]
    assert not errors, errors[:3]
    assert ok, f"no heavy query finished: {done[:10]}"
    busy = sum(s for _, s in done)
    assert busy >= QUERY_THREADS * LOAD_SECONDS * 0.8, f"queries ran {busy:.0f}s in all"
    assert max(ok) >= 1.0, f"the queries were not heavy (slowest {max(ok):.2f}s)"

    # The rule was evaluated on its cadence all along: no gap over two intervals.
    evaluations = [e for _, e, _ in seen]
    times = sorted({ns for _, _, ns in seen if ns})
    new_times = [ns for ns in times if ns != start["last_eval_ns"]]
    assert end["evaluations"] - start["evaluations"] >= int(LOAD_SECONDS / INTERVAL_S) - 1, (start, end)
    assert evaluations == sorted(evaluations)
    gaps = [(b - a) / 1e9 for a, b in zip(times, times[1:])]
    assert gaps and max(gaps) <= 2 * INTERVAL_S, f"gaps between evaluations: {gaps}"
    # ...also at the edges of the load, in real time: each poll saw an evaluation within two intervals.
    last_change = t_start
    prev = start["evaluations"]
    for when, e, _ in seen:
        if e != prev:
            prev, last_change = e, when
        assert when - last_change <= 2 * INTERVAL_S + 1, f"no evaluation for {when - last_change:.1f}s during the load"
    assert t_end - last_change <= 2 * INTERVAL_S + 2
    assert len(new_times) >= int(LOAD_SECONDS / INTERVAL_S) - 1
    assert end["failures"] == start["failures"], end
    print(f"heavy queries: {len(done)} ({len(ok)} ok), slowest {max(ok):.1f}s; evaluations {start['evaluations']}→{end['evaluations']}, "
          f"gaps {[round(g, 1) for g in gaps]}, skipped {end['skipped']}")
