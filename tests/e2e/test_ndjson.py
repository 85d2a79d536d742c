"""NDJSON ingest (`POST /api/v1/ingest`) and the search semantics on what it stored."""

from __future__ import annotations

import json
import random
import time
from datetime import datetime, timedelta, timezone

import pytest

NS = 1_000_000_000


def line(obj) -> str:
    return json.dumps(obj, ensure_ascii=False)


def test_good_and_bad_lines_mixed(server):
    many_fields = {f"f{i}": i for i in range(1001)}
    huge = {"msg": "x" * (256 * 1024)}
    lines = [
        line({"msg": "first good line", "service": "pay"}),           # 1
        '{"msg": "broken"',                                             # 2 malformed
        "[1, 2, 3]",                                                    # 3 not an object
        line({"ts": "yesterday", "msg": "bad time"}),                  # 4 bad timestamp
        line(many_fields),                                              # 5 > 1000 fields
        line(huge),                                                     # 6 > 256 KiB
        "",                                                             # 7 blank: skipped
        "   ",                                                          # 8 blank: skipped
        line({"msg": "결제가 실패했습니다", "service": "pay"}),         # 9
        '"just a string"',                                              # 10 not an object
        line({"msg": "last good line", "service": "pay"}),            # 11, no final newline
    ]
    body = "\r\n".join(lines[:5]) + "\n" + "\n".join(lines[5:])
    r = server.ingest(body)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["accepted"] == 3
    assert answer["rejected_count"] == 6
    rejected = {x["line"]: x["reason"] for x in answer["rejected"]}
    assert sorted(rejected) == [2, 3, 4, 5, 6, 10], answer
    assert "EOF" in rejected[2] or "line 1 column" in rejected[2], rejected[2]
    assert rejected[3] == "expected a json object, found an array"
    assert rejected[4] == 'invalid timestamp "yesterday"'
    assert rejected[5] == "more than 1000 fields"
    assert rejected[6].startswith("record of ") and rejected[6].endswith("exceeds the 262144 byte limit"), rejected[6]
    assert rejected[10] == "expected a json object, found a string"

    assert sorted(server.bodies("service:pay")) == sorted(["first good line", "결제가 실패했습니다", "last good line"])
    assert server.bodies("bad time") == []
    assert server.search("")["count"] == 3

    # Exactly 1000 attributes plus recognised keys is fine.
    fields = {f"f{i}": i for i in range(1000)}
    fields.update({"msg": "wide record", "level": "warn", "service": "wide"})
    answer = server.ingest_ok([fields])
    [rec] = server.search("service:wide")["records"]
    assert len(rec["attributes"]) == 1000 and rec["level"] == "WARN"

    # The rejections are counted in the metrics.
    m = server.metrics()
    assert m['trawl_rejected_total{protocol="ndjson",reason="invalid_record"}'] == 6
    assert m['trawl_ingested_items_total{protocol="ndjson"}'] == 4


def test_nothing_accepted_is_400_and_empty_body_is_fine(server):
    r = server.ingest("{oops\n[]\n")
    assert r.status_code == 400, r.text
    answer = r.json()
    assert answer["accepted"] == 0 and answer["rejected_count"] == 2
    assert [x["line"] for x in answer["rejected"]] == [1, 2]

    r = server.ingest(b"")
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 0, "rejected": [], "rejected_count": 0}

    # A UTF-8 byte order mark is tolerated; invalid UTF-8 rejects only its line.
    r = server.ingest(b"\xef\xbb\xbf" + line({"msg": "after bom"}).encode() + b"\n{\"msg\":\"\xff\"}\n")
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 1
    assert r.json()["rejected"][0]["line"] == 2 and r.json()["rejected"][0]["reason"].startswith("invalid utf-8")
    assert server.bodies("bom") == ["after bom"]


def test_every_timestamp_form(server):
    base_s = int(time.time()) - 600
    base = base_s * NS
    iso = datetime.fromtimestamp(base_s, tz=timezone.utc)
    kst = iso.astimezone(timezone(timedelta(hours=9)))
    cases = [
        ({"timestamp": iso.strftime("%Y-%m-%dT%H:%M:%SZ")}, base),
        ({"timestamp": iso.strftime("%Y-%m-%dT%H:%M:%S.250Z")}, base + 250_000_000),
        ({"time": kst.isoformat()}, base),
        ({"@timestamp": iso.strftime("%Y-%m-%d %H:%M:%SZ")}, base),
        ({"ts": iso.strftime("%Y-%m-%dT%H:%M:%S.123456789+00:00")}, base + 123_456_789),
        ({"ts": base_s}, base),
        ({"ts": base_s + 0.5}, base + 500_000_000),
        ({"ts": base_s * 1000}, base),
        ({"ts": base_s * 1_000_000}, base),
        ({"ts": base + 7}, base + 7),
        ({"ts": str(base_s)}, base),
        ({"ts": str(base_s * 1000)}, base),
        ({"ts": str(base_s * 1_000_000)}, base),
        ({"ts": str(base + 9)}, base + 9),
    ]
    records = [{**fields, "msg": f"time case {i}", "case": i} for i, (fields, _) in enumerate(cases)]
    server.ingest_ok(records)
    found = {rec["attributes"]["case"]: rec for rec in server.search("time case")["records"]}
    assert len(found) == len(cases)
    for i, (fields, expected) in enumerate(cases):
        assert found[i]["time_ns"] == expected, (fields, found[i]["time_ns"], expected)
        # The time key leaves the attributes.
        assert set(found[i]["attributes"]) == {"case"}, found[i]["attributes"]
    # RFC 3339 rendering of the stored time.
    assert found[0]["time"] == iso.strftime("%Y-%m-%dT%H:%M:%SZ")

    # Time-range filtering uses the parsed times.
    in_range = server.search("time case", start=str(base + 1), end=str(base + 300_000_000))["records"]
    assert sorted(r["time_ns"] for r in in_range) == sorted(
        e for _, e in cases if base + 1 <= e <= base + 300_000_000)


def test_epoch_integers_keep_full_precision(server):
    base_s = int(time.time()) - 600
    base = base_s * NS
    cases = [
        ({"ts": base_s * 1000 + 7}, base + 7_000_000),
        ({"ts": str(base_s * 1000 + 7)}, base + 7_000_000),
        ({"ts": base_s * 1_000_000 + 7}, base + 7_000),
        ({"ts": str(base_s * 1_000_000 + 7)}, base + 7_000),
    ]
    server.ingest_ok([{**fields, "msg": f"precise case {i}", "case": i} for i, (fields, _) in enumerate(cases)])
    found = {rec["attributes"]["case"]: rec["time_ns"] for rec in server.search("precise case")["records"]}
    assert found == {i: expected for i, (_, expected) in enumerate(cases)}


def test_level_spellings_normalise(server):
    cases = [
        ("warn", "WARN"), ("WARNING", "WARN"), ("Warn", "WARN"),
        ("err", "ERROR"), ("error", "ERROR"), ("E", "ERROR"),
        ("fatal", "FATAL"), ("critical", "FATAL"), ("crit", "FATAL"),
        ("notice", "INFO"), ("dbg", "DEBUG"), ("trace", "TRACE"),
        (17, "ERROR"),
    ]
    server.ingest_ok([{"level": spelling, "msg": f"level case {i}", "case": i} for i, (spelling, _) in enumerate(cases)])
    server.ingest_ok([{"severity": "banana", "msg": "odd level"}, {"msg": "no level"},
                      {"log.level": "warning", "msg": "dotted level key"}])
    found = {r["attributes"]["case"]: r for r in server.search("level case")["records"]}
    for i, (spelling, level) in enumerate(cases):
        assert found[i]["level"] == level, spelling
    [odd] = server.search("odd level")["records"]
    assert odd["level"] == "INFO" and odd["attributes"]["level.original"] == "banana"
    assert server.search("no level")["records"][0]["level"] == "INFO"
    assert server.search("dotted level key")["records"][0]["level"] == "WARN"

    assert len(server.search("level:warn")["records"]) == 4
    assert len(server.search("level:WARNING")["records"]) == 4
    assert len(server.search("level:error")["records"]) == 4
    assert len(server.search("level:fatal")["records"]) == 3
    assert len(server.search("level:critical")["records"]) == 3


def test_newest_first_across_buffer_and_segments(make_server):
    server = make_server(["--flush-seconds", "1"])
    base = (int(time.time()) - 3000) * NS
    times = list(range(0, 400))
    random.Random(7).shuffle(times)
    first, second = times[:200], times[200:]
    server.ingest_ok([{"ts": base + t * NS, "msg": f"ordered {t}", "n": t} for t in first])
    # The first half goes into a segment (flushed after a second), the second stays in memory.
    server.wait_flushed()
    server.ingest_ok([{"ts": base + t * NS, "msg": f"ordered {t}", "n": t} for t in second])

    got = [r["attributes"]["n"] for r in server.search("ordered", limit=1000)["records"]]
    assert got == sorted(times, reverse=True)
    got = [r["time_ns"] for r in server.search("ordered", limit=1000)["records"]]
    assert got == sorted(got, reverse=True)
    # A limit keeps the newest.
    top = [r["attributes"]["n"] for r in server.search("ordered", limit=25)["records"]]
    assert top == list(range(399, 374, -1))
    # POST search answers the same.
    post = server.search_raw("ordered", limit=25, method="POST")
    assert post.status_code == 200 and [r["attributes"]["n"] for r in post.json()["records"]] == top
    # Numeric comparisons.
    assert sorted(r["attributes"]["n"] for r in server.search("n>=395", limit=1000)["records"]) == [395, 396, 397, 398, 399]
    assert len(server.search("n<10")["records"]) == 10
    # The same after a crash: the second half comes back from the WAL.
    server.restart(kill=True)
    got = [r["attributes"]["n"] for r in server.search("ordered", limit=1000)["records"]]
    assert got == sorted(times, reverse=True)


def test_korean_substring_search(server):
    docs = {
        "결제가 실패했습니다": True,
        "미결제 실패 건을 재처리합니다": True,
        "결제 실패: 잔액 부족": True,
        "결제 완료": False,
        "실패 없이 주문 완료": False,
        "payment failed": False,
    }
    server.ingest_ok([{"msg": body, "service": "korean"} for body in docs])
    got = set(server.bodies("결제 실패"))
    assert got == {b for b, want in docs.items() if want}
    assert set(server.bodies("결제")) == {b for b in docs if "결제" in b}
    assert set(server.bodies("완료")) == {"결제 완료", "실패 없이 주문 완료"}
    assert set(server.bodies("결제 -완료")) == {b for b, want in docs.items() if "결제" in b and "완료" not in b}
    assert set(server.bodies("결제 NOT 실패")) == {"결제 완료"}
    assert server.bodies("잔액") == ["결제 실패: 잔액 부족"]
    assert server.bodies("환불") == []


def test_english_words_phrases_and_boolean_queries(server):
    server.ingest_ok([
        {"msg": "card declined by issuer", "service": "pay", "level": "error", "http": {"status": 402}},
        {"msg": "Card Declined!", "service": "pay", "level": "warn"},
        {"msg": "declined card replaced", "service": "shop"},
        {"msg": "card was declined", "service": "shop", "level": "error"},
        {"msg": "cards declined twice", "service": "shop"},
        {"msg": "timeout talking to bank", "service": "bank", "user": "kim"},
    ])
    assert set(server.bodies('"card declined"')) == {"card declined by issuer", "Card Declined!"}
    assert set(server.bodies("card declined")) == {
        "card declined by issuer", "Card Declined!", "declined card replaced", "card was declined"}
    assert set(server.bodies("card")) == {
        "card declined by issuer", "Card Declined!", "declined card replaced", "card was declined"}
    assert server.bodies("cards") == ["cards declined twice"]
    assert set(server.bodies("card OR timeout")) == {
        "card declined by issuer", "Card Declined!", "declined card replaced", "card was declined",
        "timeout talking to bank"}
    assert set(server.bodies("declined -card")) == {"cards declined twice"}
    assert set(server.bodies("(service:pay OR service:bank) NOT level:warn")) == {
        "card declined by issuer", "timeout talking to bank"}
    assert set(server.bodies("service:shop level:error")) == {"card was declined"}
    assert server.bodies("http.status>=400") == ["card declined by issuer"]
    assert server.bodies("http.status:402") == ["card declined by issuer"]
    assert server.bodies("user:kim") == ["timeout talking to bank"]
    assert server.bodies("kim") == ["timeout talking to bank"]  # bare words match attribute values
    assert set(server.bodies("service:sh*")) == {"declined card replaced", "card was declined", "cards declined twice"}
    assert len(server.bodies("user:*")) == 1
    assert server.bodies('body:"card declined"') and set(server.bodies('body:"card declined"')) == {
        "card declined by issuer", "Card Declined!"}


def test_trace_ids_from_ndjson_link_records(server):
    trace_id = "4BF92F35-77B3-4DA6-A3CE-929D0E0E4736"
    server.ingest_ok([
        {"msg": "gateway got request", "service": "gateway", "traceId": trace_id, "span_id": "00F067AA0BA902B7"},
        {"msg": "db slow", "service": "db", "trace.id": trace_id.lower().replace("-", "")},
        {"msg": "other trace", "service": "db", "trace_id": "ffffffffffffffffffffffffffffffff"},
    ])
    normal = "4bf92f3577b34da6a3ce929d0e0e4736"
    assert set(server.bodies(f"trace:{normal}")) == {"gateway got request", "db slow"}
    assert set(server.bodies(f"trace:{trace_id}")) == {"gateway got request", "db slow"}
    r = server.trace(normal)
    assert r.status_code == 200
    t = r.json()
    assert t["services"] == ["db", "gateway"] and t["spans"] == [] and len(t["records"]) == 2
    assert {rec["span_id"] for rec in t["records"]} == {"00f067aa0ba902b7", ""}
