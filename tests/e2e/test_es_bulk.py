"""Elasticsearch `_bulk` with the official Python client (`elasticsearch`, `helpers.bulk`), the
idempotency of `_id`, the root info and the endpoints shippers probe."""

from __future__ import annotations

import gzip
import json

import pytest
import requests
from elasticsearch import Elasticsearch, helpers

PRODUCT = "Elasticsearch"


def es_client(url: str, **kw) -> Elasticsearch:
    return Elasticsearch(url, request_timeout=30, **kw)


def records(server, query: str) -> list[dict]:
    return server.search(query)["records"]


def test_helpers_bulk_stores_every_valid_item_and_answers_every_item(server):
    es = es_client(server.api)
    # The client's product check passes on the main port (GET / without text/html).
    info = es.info()
    assert info["version"]["number"].startswith("8.")
    assert info["tagline"] == "You Know, for Search"

    actions = [
        {"_index": "app-logs", "_id": "ok-1", "_source": {
            "@timestamp": "2026-01-05T10:00:00Z", "message": "결제가 실패했습니다: card declined",
            "log": {"level": "error"}, "service": {"name": "payment"}, "host": {"name": "web-1"},
            "trace": {"id": "4bf92f3577b34da6a3ce929d0e0e4736"}, "user_id": "u-42"}},
        {"_index": "app-logs", "_op_type": "create", "_source": {"message": "created without id", "service": "checkout"}},
        {"_index": "app-logs", "_id": "bad-time", "_source": {"@timestamp": "yesterday", "message": "bad time"}},
        {"_index": "app-logs", "_id": "del", "_op_type": "delete"},
        {"_index": "app-logs", "_id": "upd", "_op_type": "update", "doc": {"message": "an update"}},
        {"_index": "other-index", "_id": "ok-2", "_source": {"msg": "second valid", "level": "warn", "app": "cart"}},
    ]
    ok, errors = helpers.bulk(es, actions, raise_on_error=False, stats_only=False)
    assert ok == 3, errors
    assert len(errors) == 3, errors
    by_id = {next(iter(e.values()))["_id"]: next(iter(e.values())) for e in errors}
    assert by_id["bad-time"]["status"] == 400
    assert by_id["bad-time"]["error"]["type"] == "document_parsing_exception"
    assert "invalid timestamp" in by_id["bad-time"]["error"]["reason"]
    assert by_id["del"]["error"]["reason"] == "trawl accepts only index and create actions"
    assert by_id["upd"]["status"] == 400

    [rec] = records(server, "es.index:app-logs service:payment")
    assert rec["body"] == "결제가 실패했습니다: card declined"
    assert rec["level"] == "ERROR"
    assert rec["host"] == "web-1"
    assert rec["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert rec["time"].startswith("2026-01-05T10:00:00")
    assert rec["attributes"]["es.index"] == "app-logs"
    assert rec["attributes"]["es.id"] == "ok-1"
    assert str(rec["attributes"]["user_id"]) == "u-42"
    [rec] = records(server, "es.index:other-index")
    assert (rec["body"], rec["level"], rec["service"]) == ("second valid", "WARN", "cart")
    assert server.bodies("created without id") == ["created without id"]
    assert server.bodies("bad time") == []

    m = server.metrics()
    assert m['trawl_ingested_items_total{protocol="es_bulk"}'] == 3
    assert m['trawl_rejected_total{protocol="es_bulk",reason="invalid_record"}'] == 3


def test_retry_with_id_does_not_duplicate(server):
    es = es_client(server.api)
    actions = [{"_index": "orders", "_id": f"order-{i}", "_source": {"message": f"order {i} paid", "service": "orders"}}
               for i in range(50)]
    ok, errors = helpers.bulk(es, actions, raise_on_error=False)
    assert (ok, errors) == (50, [])
    # The shipper did not see the answer and sends the same batch again, plus new items.
    again = actions + [{"_index": "orders", "_id": "order-50", "_source": {"message": "order 50 paid", "service": "orders"}}]
    response = es.bulk(operations=[x for a in again for x in ({"index": {"_index": a["_index"], "_id": a["_id"]}}, a["_source"])])
    assert response["errors"] is False
    results = [item["index"]["result"] for item in response["items"]]
    assert results == ["noop"] * 50 + ["created"]
    assert [item["index"]["status"] for item in response["items"]] == [200] * 50 + [201]
    # The same id twice in one request is stored once; the same id in another index is not a duplicate.
    response = es.bulk(operations=[
        {"create": {"_index": "orders", "_id": "twice"}}, {"message": "order twice"},
        {"create": {"_index": "orders", "_id": "twice"}}, {"message": "order twice"},
        {"create": {"_index": "refunds", "_id": "order-1"}}, {"message": "refund of order 1"},
    ])
    assert [i["create"]["result"] for i in response["items"]] == ["created", "noop", "created"]
    assert server.search("service:orders", limit=1000)["count"] == 51
    assert len(server.bodies('"order 7 paid"')) == 1
    assert server.search("twice")["count"] == 1
    assert server.bodies("refund") == ["refund of order 1"]
    m = server.metrics()
    assert m['trawl_rejected_total{protocol="es_bulk",reason="duplicate"}'] == 51
    assert m['trawl_ingested_items_total{protocol="es_bulk"}'] == 51 + 2


def test_content_types_gzip_and_url_index(server):
    body = "".join(json.dumps(x) + "\n" for x in [
        {"index": {}}, {"message": "gzip into url index", "service": "zipper"},
        {"create": {"_index": "explicit"}}, {"message": "explicit index wins", "service": "zipper"},
    ]).encode()
    for ct in ("application/vnd.elasticsearch+x-ndjson; compatible-with=8", "application/x-ndjson",
               "application/vnd.elasticsearch+json; compatible-with=9", "application/json"):
        r = requests.post(server.url("/from-url/_bulk"), data=gzip.compress(body),
                          headers={"Content-Type": ct, "Content-Encoding": "gzip"}, timeout=30)
        assert r.status_code == 200, r.text
        assert r.headers["X-Elastic-Product"] == PRODUCT
        assert r.json()["errors"] is False
    assert {r["attributes"]["es.index"] for r in records(server, "service:zipper")} == {"from-url", "explicit"}
    assert server.search("gzip into url index")["count"] == 4
    # The official client with compression on, PUT with the vnd media type.
    es = es_client(server.api, http_compress=True)
    ok, _ = helpers.bulk(es, [{"_index": "compressed", "_source": {"message": "client gzip"}}])
    assert ok == 1 and server.bodies("client gzip") == ["client gzip"]

    # Whole-request errors: Elasticsearch's error shape, the product header, 4xx.
    r = requests.post(server.url("/_bulk"), data=b'{"index":{}}\n{}\n{"upsert":{}}\n{}\n',
                      headers={"Content-Type": "application/x-ndjson"}, timeout=30)
    assert r.status_code == 400, r.text
    assert r.headers["X-Elastic-Product"] == PRODUCT
    assert r.json()["error"]["type"] == "parse_exception"
    assert "line 3" in r.json()["error"]["reason"]
    assert r.json()["status"] == 400
    r = requests.post(server.url("/_bulk"), data=b"x", headers={"Content-Type": "text/html"}, timeout=30)
    assert r.status_code == 415 and r.headers["X-Elastic-Product"] == PRODUCT
    r = requests.post(server.url("/_bulk"), data=b"not gzip", headers={"Content-Type": "application/x-ndjson",
                                                                        "Content-Encoding": "gzip"}, timeout=30)
    assert r.status_code == 400 and "gzip" in r.json()["error"]["reason"]


def test_root_and_probe_endpoints(server):
    # GET / and HEAD / for clients; a browser asking for HTML gets the UI.
    r = requests.get(server.url("/"), timeout=10)
    assert r.status_code == 200 and r.headers["X-Elastic-Product"] == PRODUCT
    assert r.json()["version"]["build_flavor"] == "default"
    r = requests.head(server.url("/"), timeout=10)
    assert r.status_code == 200 and r.headers["X-Elastic-Product"] == PRODUCT
    r = requests.get(server.url("/"), headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}, timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert "X-Elastic-Product" not in r.headers

    def check(method: str, path: str, status: int = 200, body=None) -> requests.Response:
        r = requests.request(method, server.url(path), json=body, timeout=10)
        assert r.status_code == status, (method, path, r.status_code, r.text)
        assert r.headers["X-Elastic-Product"] == PRODUCT, (method, path)
        return r

    lic = check("GET", "/_license").json()["license"]
    assert (lic["type"], lic["status"]) == ("basic", "active")
    assert check("GET", "/_xpack").json()["license"]["status"] == "active"
    assert check("GET", "/_cluster/health").json()["status"] == "green"
    check("HEAD", "/_index_template/filebeat-8.19.0")
    assert check("GET", "/_index_template/logstash").json()["index_templates"][0]["name"] == "logstash"
    assert check("PUT", "/_index_template/filebeat-8.19.0", body={"index_patterns": ["x*"]}).json() == {"acknowledged": True}
    assert check("PUT", "/_template/logstash", body={"index_patterns": ["x*"]}).json() == {"acknowledged": True}
    assert "filebeat" in check("GET", "/_ilm/policy/filebeat").json()
    assert check("PUT", "/_ilm/policy/filebeat", body={"policy": {}}).json() == {"acknowledged": True}
    check("HEAD", "/logs-generic-default")
    # Not Elasticsearch: unknown paths are still 404, and nothing was stored by the probes.
    assert requests.get(server.url("/no-such-page"), timeout=10).status_code == 404
    assert server.search("")["count"] == 0


def test_dedicated_port_is_always_elasticsearch(make_server):
    server = make_server(["--es-listen", "127.0.0.1:0"])
    es_url = server.addresses["es"]
    r = requests.get(es_url + "/", headers={"Accept": "text/html"}, timeout=10)
    assert r.status_code == 200 and r.json()["tagline"] == "You Know, for Search"
    assert r.headers["X-Elastic-Product"] == PRODUCT
    r = requests.get(es_url + "/api/v1/search", timeout=10)
    assert r.status_code == 404 and r.headers["X-Elastic-Product"] == PRODUCT
    assert r.json()["error"]["type"] == "resource_not_found_exception"
    es = es_client(es_url)
    assert es.info()["cluster_name"] == "trawl"
    ok, _ = helpers.bulk(es, [{"_index": "dedicated", "_id": "1", "_source": {"message": "via port 9200"}}])
    assert ok == 1
    assert server.bodies("via port") == ["via port 9200"]
    # Ids are shared with the main port.
    r = requests.post(server.url("/_bulk"), data=b'{"index":{"_index":"dedicated","_id":"1"}}\n{"message":"via port 9200"}\n',
                      headers={"Content-Type": "application/x-ndjson"}, timeout=10)
    assert r.json()["items"][0]["index"]["result"] == "noop"


def test_idempotency_window_does_not_survive_a_restart(make_server):
    """Documented limit: the (index, _id) window is in memory only."""
    server = make_server()
    body = b'{"index":{"_index":"w","_id":"same"}}\n{"message":"window test"}\n'
    headers = {"Content-Type": "application/x-ndjson"}
    assert requests.post(server.url("/_bulk"), data=body, headers=headers, timeout=10).json()["items"][0]["index"]["result"] == "created"
    assert requests.post(server.url("/_bulk"), data=body, headers=headers, timeout=10).json()["items"][0]["index"]["result"] == "noop"
    server.restart()
    assert requests.post(server.url("/_bulk"), data=body, headers=headers, timeout=10).json()["items"][0]["index"]["result"] == "created"
    assert server.search("window test")["count"] == 2
