"""Field discovery for autocomplete, and saved queries."""

import requests


def test_fields_and_top_values(server):
    server.ingest_ok(
        [{"service": "pay", "level": "error", "msg": "결제 실패", "http": {"status": 502}, "user": {"id": f"u{i % 3}"}} for i in range(30)]
        + [{"service": "cart", "msg": "ok", "http": {"status": "n/a"}}]
    )
    r = requests.get(server.url("/api/v1/fields"), params={"start": "1h"}, timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["sampled"] == 31
    fields = {f["name"]: f for f in body["fields"]}
    assert fields["service"]["count"] == 31
    assert fields["user.id"] == {"name": "user.id", "kind": "string", "count": 30}
    assert fields["http.status"]["kind"] == "mixed"

    r = requests.get(server.url("/api/v1/fields/user.id/values"), params={"start": "1h"}, timeout=10)
    assert [v["value"] for v in r.json()["values"]] == ["u0", "u1", "u2"]
    r = requests.get(server.url("/api/v1/fields/service/values"), params={"prefix": "PA"}, timeout=10)
    assert r.json()["values"] == [{"value": "pay", "count": 30}]


def test_saved_queries_crud(server):
    base = server.url("/api/v1/saved-queries")
    r = requests.post(base, json={"name": "결제 오류", "query": 'service:pay level:error "결제 실패"'}, timeout=10)
    assert r.status_code == 201, r.text
    saved = r.json()
    assert saved["name"] == "결제 오류"
    # Names are unique; invalid queries are refused with the position.
    r = requests.post(base, json={"name": "결제 오류", "query": "x"}, timeout=10)
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"
    r = requests.post(base, json={"name": "broken", "query": "status>="}, timeout=10)
    assert r.status_code == 400 and "at 1:" in r.json()["error"]["reason"]
    r = requests.post(base, data="not json", headers={"Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 400
    r = requests.put(f"{base}/{saved['id']}", json={"name": "결제 오류", "query": "level:fatal"}, timeout=10)
    assert r.status_code == 200 and r.json()["query"] == "level:fatal"
    assert [q["name"] for q in requests.get(base, timeout=10).json()["saved_queries"]] == ["결제 오류"]
    # Saved queries live in the metastore: they survive a restart.
    server.restart()
    base = server.url("/api/v1/saved-queries")
    assert requests.get(f"{base}/{saved['id']}", timeout=10).json()["query"] == "level:fatal"
    assert requests.delete(f"{base}/{saved['id']}", timeout=10).status_code == 204
    assert requests.delete(f"{base}/{saved['id']}", timeout=10).status_code == 404
    assert requests.get(f"{base}/{saved['id']}", timeout=10).status_code == 404
