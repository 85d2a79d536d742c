"""`GET /api/v1/patterns`: the patterns of a window against the window before it, and pattern
ids given at ingest that survive a restart."""

from __future__ import annotations

import time

NS = 1_000_000_000
MINUTE = 60 * NS


def windows():
    """(previous start, current start, current end): two windows of 20 minutes ending now."""
    end = (time.time_ns() // MINUTE) * MINUTE - MINUTE
    current = end - 20 * MINUTE
    return current - 20 * MINUTE, current, end - 1


def records(start: int, length: int, n_get: int, n_login: int, n_disk: int) -> list[dict]:
    out = []
    for kind, n in (("get", n_get), ("login", n_login), ("disk", n_disk)):
        for i in range(n):
            t = start + (i * length) // max(n, 1)
            if kind == "get":
                out.append({"timestamp": t, "service": "web", "message": f"GET /api/items/{i} 200 in {i % 90 + 3}ms"})
            elif kind == "login":
                out.append({"timestamp": t, "service": "auth", "message": f"session opened for user u{i} from 10.0.{i % 250}.7"})
            else:
                out.append({"timestamp": t, "service": "storage", "level": "error",
                            "message": f"disk /dev/sd{chr(97 + i % 4)} is full: {i * 17} bytes left"})
    return out


def patterns(server, start: int, end: int, query: str = "") -> dict:
    r = server.http.get(server.url("/api/v1/patterns"), params={"query": query, "start": str(start), "end": str(end)}, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def by_template(answer: dict) -> dict[str, dict]:
    return {p["pattern"]: p for p in answer["patterns"]}


def pattern_ids(server, query: str) -> set[tuple[str, int]]:
    r = server.http.post(server.url("/api/v1/query"), json={"query": query, "limit": 5000}, timeout=60)
    assert r.status_code == 200, r.text
    return {(rec["service"], rec["pattern_id"]) for rec in r.json()["records"]}


def test_new_patterns_and_rate_change_survive_a_restart(make_server):
    server = make_server(args=["--flush-seconds", "1"])
    previous, current, end = windows()
    length = current - previous
    server.ingest_ok(records(previous, length, n_get=200, n_login=100, n_disk=0))
    server.ingest_ok(records(current, length, n_get=400, n_login=100, n_disk=50))

    answer = patterns(server, current, end)
    got = by_template(answer)
    get = got["GET <*> <*> in <*>"]
    login = got["session opened for user <*> from <*>"]
    disk = got["disk <*> is full: <*> bytes left"]
    assert len(got) == 3, list(got)
    assert answer["patterns"][0] is not None and answer["patterns"][0]["pattern"] == "GET <*> <*> in <*>"
    assert (get["count"], get["new"], get["previous_count"], get["rate_change"]) == (400, False, 200, 2.0)
    assert (login["count"], login["new"], login["rate_change"]) == (100, False, 1.0)
    assert (disk["count"], disk["new"], disk["previous_count"], disk["rate_change"]) == (50, True, 0, None)
    assert disk["services"] == ["storage"]
    for p in answer["patterns"]:
        assert len(p["trend"]) == 12 and sum(p["trend"]) == p["count"], p
        assert p["first_seen"] and p["last_seen"] and p["example"]
    # A search part narrows the patterns; `where` pipes are allowed, other pipes are not.
    assert list(by_template(patterns(server, current, end, "service:storage"))) == ["disk <*> is full: <*> bytes left"]
    r = server.http.get(server.url("/api/v1/patterns"), params={"query": "| stats count()"}, timeout=30)
    assert r.status_code == 400, r.text

    # Ids given at ingest: one per (service, pattern), stored with the records.
    ids_before = pattern_ids(server, "")
    assert all(i > 0 for _, i in ids_before), ids_before
    assert len(ids_before) == 3, ids_before

    server.wait_flushed()
    server.restart()
    # After the restart the saved miners continue: the same templates get the same ids.
    server.ingest_ok(records(current + length // 2, length // 2, n_get=10, n_login=10, n_disk=10))
    assert pattern_ids(server, "") == ids_before
    after = by_template(patterns(server, current, end))
    assert after["disk <*> is full: <*> bytes left"]["count"] == 60
    assert after["GET <*> <*> in <*>"]["rate_change"] == 2.05
    assert len(after) == 3, list(after)

    # A crash before the flush: WAL replay mines the records again to the same ids.
    server.ingest_ok(records(current + length // 2, length // 2, n_get=5, n_login=5, n_disk=5))
    server.restart(kill=True)
    assert pattern_ids(server, "") == ids_before
    assert by_template(patterns(server, current, end))["disk <*> is full: <*> bytes left"]["count"] == 65
