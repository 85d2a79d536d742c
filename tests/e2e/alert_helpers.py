"""Helpers shared by the alerting tests: a trawl configuration file with an `[alerting]` section
and a rules directory, servers that live for a whole test module, the alerting API, and log
records to feed rules."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import requests

from conftest import _SERVERS_KEY, TrawlServer
from receivers import wait_until

# Short timings for every rule and policy of the tests (docs/alerting.md: intervals from 10 s).
INTERVAL_S = 10


def write_config(path: Path, rules_dir: Path | None, allowed_hosts: list[str] | None = ("127.0.0.1",), **alerting) -> Path:
    """A trawl.toml with `[alerting]`: rules_dir, allowed_hosts and any other setting given."""
    lines = ["[alerting]"]
    if rules_dir is not None:
        lines.append(f"rules_dir = {json.dumps(str(rules_dir))}")
    if allowed_hosts is not None:
        lines.append(f"allowed_hosts = {json.dumps(list(allowed_hosts))}")
    for key, value in alerting.items():
        lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
    path.write_text("\n".join(lines) + "\n")
    return path


def alerting_server(trawl_bin: Path, base: Path, files: dict[str, str], allowed_hosts=("127.0.0.1",),
                    args: tuple = (), **alerting) -> TrawlServer:
    """A TrawlServer (not started) whose config names a rules directory holding `files`."""
    base.mkdir(parents=True, exist_ok=True)
    rules_dir = base / "rules"
    rules_dir.mkdir(exist_ok=True)
    for name, text in files.items():
        (rules_dir / name).write_text(text)
    config = write_config(base / "trawl.toml", rules_dir, allowed_hosts, **alerting)
    server = TrawlServer(trawl_bin, base / "data", base / "logs", ["--config", str(config), *args])
    server.rules_dir = rules_dir
    server.config_path = config
    return server


def report(request, *servers: TrawlServer) -> None:
    """Shows these servers' stderr tails when the test fails (conftest's report hook)."""
    listed = request.node.stash.setdefault(_SERVERS_KEY, [])
    for s in servers:
        if s not in listed:
            listed.append(s)


# ----- the API -----------------------------------------------------------------------------------

def get(server: TrawlServer, path: str, **params) -> dict:
    r = server.http.get(server.url(path), params=params, timeout=30)
    assert r.status_code == 200, f"GET {path}: {r.status_code} {r.text}"
    return r.json()


def post(server: TrawlServer, path: str, body=None, timeout: float = 60) -> requests.Response:
    return server.http.post(server.url(path), json=body, timeout=timeout)


def alerts(server: TrawlServer, **params) -> list[dict]:
    return get(server, "/api/v1/alerts", **params)["alerts"]


def firing(server: TrawlServer, rule: str | None = None) -> list[dict]:
    params = {"state": "firing"}
    if rule:
        params["rule"] = rule
    return alerts(server, **params)


def rule(server: TrawlServer, name: str) -> dict:
    return get(server, f"/api/v1/rules/{requests.utils.quote(name, safe='')}")


def outbox(server: TrawlServer, limit: int = 200) -> list[dict]:
    return get(server, "/api/v1/notifications", limit=limit)["notifications"]


def wait_firing(server: TrawlServer, rule_name: str, n: int = 1, timeout: float = 60) -> list[dict]:
    return wait_until(lambda: (lambda a: a if len(a) >= n else None)(firing(server, rule_name)), timeout,
                      lambda: f"{n} firing alerts of {rule_name!r}: {[(a['labels'], a['state']) for a in alerts(server)]}; "
                              f"rule: {rule(server, rule_name).get('health')}")


def wait_evaluated_after(server: TrawlServer, rule_name: str, at_ns: int, timeout: float = 4 * INTERVAL_S) -> dict:
    """Until the rule has been evaluated at or after `at_ns` (its clock): a window in which a
    notification, had one been due, would have been queued. Returns the rule's health."""
    return wait_until(lambda: (lambda h: h if (h.get("last_eval_ns") or 0) >= at_ns else None)(rule(server, rule_name)["health"]),
                      timeout, lambda: f"an evaluation of {rule_name!r} after {at_ns}: {rule(server, rule_name)['health']}")


def metrics_text(server: TrawlServer) -> str:
    r = server.http.get(server.url("/metrics"), timeout=30)
    assert r.status_code == 200, r.text
    return r.text


# ----- data ------------------------------------------------------------------------------------

def now_ms() -> int:
    return int(time.time() * 1000)


def trace_id() -> str:
    return os.urandom(16).hex()


def error_lines(service: str, n: int, start_ms: int | None = None, message: str = "결제 실패: 카드 승인 거절 order_id={i}",
                level: str = "error", **extra) -> list[dict]:
    """`n` records of `service` one millisecond apart, ending about now."""
    start_ms = start_ms if start_ms is not None else now_ms() - n - 1000
    return [{"timestamp": start_ms + i, "service": service, "level": level, "message": message.format(i=i),
             "trace_id": trace_id(), **extra} for i in range(n)]
