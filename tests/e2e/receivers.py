"""Real receivers for the alerting end-to-end tests.

- `HttpReceiver`: a threaded `http.server` on a free port that records every request (method,
  path, headers, raw body), answers from a programmable script (status, headers, body, a delay
  longer than trawl's timeout), checks the webhook's `X-Trawl-Signature`, and deduplicates
  notifications by `id`. It plays the generic webhook, Slack (incoming webhook and the Web API),
  PagerDuty Events v2 and the webhook receiver behind Alertmanager.
- `SmtpSink`: aiosmtpd's `Controller` in this process, keeping every message.
- `Alertmanager`: the real `prometheus-alertmanager` binary on a free port, routing to a
  webhook receiver.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import shutil
import socket
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable

import requests


def free_port() -> int:
    """A TCP port nobody listens on right now (the kernel's pick, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate: Callable, timeout: float, what: str | Callable[[], str], interval: float = 0.2):
    """Polls `predicate` until it returns something truthy, which is returned; fails after
    `timeout` seconds naming `what` (a string, or a function giving the state to show)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            detail = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {detail}")
        time.sleep(interval)


# ----- HTTP ------------------------------------------------------------------------------------

@dataclass
class Reply:
    status: int = 200
    body: bytes | str | dict = b'{"ok":true}'
    headers: dict = field(default_factory=dict)
    # Seconds to wait before answering (longer than the sender's timeout: a hanging receiver).
    delay: float = 0.0

    def encoded(self) -> bytes:
        if isinstance(self.body, dict):
            return json.dumps(self.body).encode()
        if isinstance(self.body, str):
            return self.body.encode()
        return self.body


@dataclass
class Request:
    method: str
    path: str
    headers: dict          # lower-case names
    body: bytes
    at: float              # time.time() when it arrived
    status: int = 0        # what it was answered (0 while being answered)
    signature_ok: bool | None = None
    # Answered only after a delay (a hanging receiver): the sender may have given up by then.
    late: bool = False

    def json(self):
        return json.loads(self.body)

    def header(self, name: str, default=None):
        return self.headers.get(name.lower(), default)


def signature_valid(secret: str, headers: dict, body: bytes, max_age: float = 300) -> bool:
    """docs/alerting.md's check: `v1=` + hex HMAC-SHA256(secret, "<timestamp>.<body>"), in
    constant time, refusing timestamps more than five minutes away."""
    ts = headers.get("x-trawl-timestamp")
    sig = headers.get("x-trawl-signature")
    if not ts or not sig or not ts.isdigit():
        return False
    if abs(time.time() - int(ts)) > max_age:
        return False
    expected = "v1=" + hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, sig)


class HttpReceiver:
    """Records requests and answers them from a script: `script` replies are used in order,
    then `default`; a `responder(request) -> Reply | None` decides first when given."""

    def __init__(self, name: str = "receiver", secret: str | None = None, port: int | None = None,
                 default: Reply | None = None, responder: Callable[[Request], Reply | None] | None = None):
        self.name = name
        self.secret = secret
        self.port = port
        self.default = default or Reply()
        self.responder = responder
        self.script: deque[Reply] = deque()
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    # ----- lifecycle

    def start(self) -> "HttpReceiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    body = self._read_chunked()
                req = Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.time())
                if receiver.secret is not None:
                    req.signature_ok = signature_valid(receiver.secret, req.headers, body)
                with receiver.lock:
                    receiver.requests.append(req)
                    reply = receiver.responder(req) if receiver.responder else None
                    if reply is None:
                        reply = receiver.script.popleft() if receiver.script else receiver.default
                if reply.delay:
                    req.late = True
                    time.sleep(reply.delay)
                data = reply.encoded()
                try:
                    self.send_response(reply.status)
                    headers = {"Content-Type": "application/json", **reply.headers}
                    for k, v in headers.items():
                        self.send_header(k, str(v))
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    self.wfile.flush()
                except OSError:
                    pass  # the sender gave up waiting
                with receiver.changed:
                    req.status = reply.status
                    receiver.changed.notify_all()

            def _read_chunked(self) -> bytes:
                out = b""
                while True:
                    size = int(self.rfile.readline().strip() or b"0", 16)
                    if size == 0:
                        self.rfile.readline()
                        return out
                    out += self.rfile.read(size)
                    self.rfile.readline()

            do_POST = do_PUT = do_GET = do_DELETE = _handle

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", self.port or 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, name=f"receiver-{self.name}", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ----- scripting

    def answer(self, *replies: Reply) -> None:
        with self.lock:
            self.script.extend(replies)

    # ----- what arrived

    def all(self) -> list[Request]:
        with self.lock:
            return list(self.requests)

    def answered(self, ok_only: bool = True) -> list[Request]:
        """Requests answered so far (2xx only by default)."""
        return [r for r in self.all() if r.status and not r.late and (not ok_only or 200 <= r.status < 300)]

    def notifications(self, kind: str | None = None, **match) -> list[dict]:
        """trawl notifications this receiver accepted (2xx), one per `id` (retries of one
        notification carry the same id), oldest first; filtered by kind and top-level fields."""
        seen: dict[str, dict] = {}
        for r in self.answered():
            try:
                n = r.json()
            except ValueError:
                continue
            if not isinstance(n, dict) or "id" not in n:
                continue
            seen.setdefault(n["id"], n)
        out = [n for n in seen.values() if kind is None or n.get("kind") == kind]
        return [n for n in out if all(n.get(k) == v for k, v in match.items())]

    def json_bodies(self, path_suffix: str = "") -> list:
        return [r.json() for r in self.answered() if r.path.endswith(path_suffix) and r.body]

    def wait(self, predicate: Callable[["HttpReceiver"], object], timeout: float, what: str):
        return wait_until(lambda: predicate(self), timeout,
                          lambda: f"{what} at {self.name} (requests so far: {self.describe()})")

    def describe(self, limit: int = 12) -> str:
        reqs = self.all()
        parts = []
        for r in reqs[-limit:]:
            try:
                j = r.json()
                summary = {k: j.get(k) for k in ("id", "kind", "status", "group_labels", "event_action", "dedup_key") if isinstance(j, dict) and k in j}
                if isinstance(j, list):
                    summary = f"list of {len(j)}"
                elif isinstance(j, dict) and not summary:
                    summary = sorted(j)[:8]
            except ValueError:
                summary = r.body[:80]
            parts.append(f"{r.method} {r.path} -> {r.status} {summary}")
        return f"{len(reqs)} [" + "; ".join(parts) + "]"


def slack_api_responder(req: Request) -> Reply | None:
    """Slack's Web API: `chat.postMessage` and `chat.update` accepted in channel C1."""
    if req.path.endswith("/chat.postMessage") or req.path.endswith("/chat.update"):
        return Reply(200, {"ok": True, "channel": "C1", "ts": "1.000"})
    return Reply(404, {"ok": False, "error": "unknown_method"})


def pagerduty_responder(req: Request) -> Reply | None:
    """PagerDuty Events API v2: 202 with the dedup key."""
    try:
        key = req.json().get("dedup_key", "")
    except ValueError:
        return Reply(400, {"status": "invalid event", "message": "Event object is invalid"})
    return Reply(202, {"status": "success", "message": "Event processed", "dedup_key": key})


def closed_port_url(path: str = "/hook") -> tuple[int, str]:
    """A URL on a port where nothing listens (connection refused)."""
    port = free_port()
    return port, f"http://127.0.0.1:{port}{path}"


# ----- SMTP ------------------------------------------------------------------------------------

class SmtpSink:
    """aiosmtpd in this process: every message kept as (envelope, raw bytes)."""

    def __init__(self):
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.lock = threading.Lock()
        self.controller = None
        self.port = None

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content or envelope.content)))
        return "250 Message accepted for delivery"

    def start(self) -> "SmtpSink":
        from aiosmtpd.controller import Controller

        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, enable_SMTPUTF8=True)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def parsed(self) -> list[email.message.EmailMessage]:
        with self.lock:
            raw = [m[2] for m in self.messages]
        return [email.message_from_bytes(r, policy=email.policy.default) for r in raw]

    def envelopes(self) -> list[tuple[str, list[str]]]:
        with self.lock:
            return [(m[0], m[1]) for m in self.messages]


# ----- Alertmanager ----------------------------------------------------------------------------

ALERTMANAGER_BINARY = "prometheus-alertmanager"


def alertmanager_binary() -> str | None:
    return shutil.which(ALERTMANAGER_BINARY) or shutil.which("alertmanager")


class Alertmanager:
    """The real Prometheus Alertmanager, clustering off, routing every alert to `webhook_url`
    with a one-second group wait and interval."""

    def __init__(self, workdir: Path, webhook_url: str):
        self.workdir = Path(workdir)
        self.webhook_url = webhook_url
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.log_path = self.workdir / "alertmanager.log"

    def start(self, timeout: float = 30) -> "Alertmanager":
        binary = alertmanager_binary()
        assert binary, "prometheus-alertmanager is not installed"
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "alertmanager.yml"
        config.write_text(
            "route:\n"
            "  receiver: hook\n"
            "  group_by: [alertname, service]\n"
            "  group_wait: 1s\n"
            "  group_interval: 1s\n"
            "  repeat_interval: 1h\n"
            "receivers:\n"
            "  - name: hook\n"
            "    webhook_configs:\n"
            f"      - url: {json.dumps(self.webhook_url)}\n"
            "        send_resolved: true\n"
        )
        self.port = free_port()
        cmd = [binary, f"--config.file={config}", f"--storage.path={self.workdir / 'data'}",
               f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address=", "--log.level=info"]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL, cwd=self.workdir)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"alertmanager exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if requests.get(f"{self.url}/-/ready", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"alertmanager not ready within {timeout}s:\n{self.log_tail()}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alerts(self) -> list[dict]:
        return requests.get(f"{self.url}/api/v2/alerts", timeout=10).json()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
