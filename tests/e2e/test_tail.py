"""Live tail: new matching records arrive within a second over SSE and WebSocket, with the
server-side filter applied, and a consumer that stops reading is dropped with a clear reason."""

import json
import threading
import time

import requests
import websocket  # websocket-client


def sse_events(response):
    """Yields (event, data) pairs from a streaming SSE response."""
    event, data = None, []
    for raw in response.iter_lines(decode_unicode=True):
        if raw is None:
            continue
        if raw == "":
            if data:
                yield event, "\n".join(data)
            event, data = None, []
        elif raw.startswith("event:"):
            event = raw[6:].strip()
        elif raw.startswith("data:"):
            data.append(raw[5:].lstrip())


def test_sse_tail_sends_new_matching_records_only(server):
    # Records written before the tail starts are not replayed.
    server.ingest_ok([{"service": "pay", "level": "error", "msg": "before the tail"}])
    got = []
    with requests.get(server.url("/api/v1/tail"), params={"query": "level:error 결제"}, stream=True, timeout=30) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")

        def read():
            for event, data in sse_events(r):
                if event == "record":
                    got.append(json.loads(data))
                    if len(got) == 2:
                        return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        time.sleep(0.3)
        sent_at = time.monotonic()
        server.ingest_ok([
            {"service": "pay", "level": "error", "msg": "결제가 실패했습니다 #1"},
            {"service": "pay", "level": "info", "msg": "결제 완료"},
            {"service": "cart", "level": "error", "msg": "cart timeout"},
        ])
        server.ingest_ok([{"service": "pay", "level": "fatal", "msg": "미결제 실패 #2"}, {"service": "pay", "level": "error", "msg": "결제 실패 #3"}])
        reader.join(timeout=10)
        elapsed = time.monotonic() - sent_at
    assert [g["body"] for g in got] == ["결제가 실패했습니다 #1", "결제 실패 #3"]
    assert all(g["level"] == "ERROR" and g["service"] == "pay" for g in got)
    assert elapsed < 10


def test_websocket_tail(server):
    ws_url = server.api.replace("http://", "ws://") + "/api/v1/tail?query=service:checkout"
    ws = websocket.create_connection(ws_url, timeout=10)
    try:
        time.sleep(0.2)
        server.ingest_ok([{"service": "checkout", "msg": "<script>alert(1)</script> 주문 완료"}, {"service": "other", "msg": "x"}])
        record = json.loads(ws.recv())
        assert record["service"] == "checkout"
        assert record["body"] == "<script>alert(1)</script> 주문 완료"
    finally:
        ws.close()


def test_invalid_tail_query_is_400(server):
    r = requests.get(server.url("/api/v1/tail"), params={"query": "status>="}, timeout=10)
    assert r.status_code == 400
    assert "at 1:" in r.json()["error"]["reason"]


def test_slow_consumer_is_dropped_with_a_reason(server):
    r = requests.get(server.url("/api/v1/tail"), params={"query": ""}, stream=True, timeout=60)
    assert r.status_code == 200
    # Do not read while more than the server's queue (1024 acknowledged writes) piles up.
    body = "\n".join(json.dumps({"service": "flood", "msg": "x" * 2000, "n": i}) for i in range(20)).encode()

    def flood(k):
        s = requests.Session()
        for _ in range(200):
            assert s.post(server.url("/api/v1/ingest"), data=body, timeout=30).status_code == 200

    threads = [threading.Thread(target=flood, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    events = []
    for event, data in sse_events(r):
        events.append(event)
        if event == "error":
            assert "slow consumer" in data
            break
    r.close()
    assert events[-1] == "error", events[-5:]
    # The server is fine and the next tail works.
    assert server.healthy()
