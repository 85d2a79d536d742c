"""trawl, driven the way a user drives it: the release binary as a server, `trawl ingest` for the
NDJSON (durable acks, batches over a few connections), and the HTTP API for every query."""

from __future__ import annotations

import datetime
import http.client
import json
import os
import re
import signal
import subprocess
import time
import urllib.parse

from .common import LIMIT, PHRASE, QUANTILES, WORD, q5_row

NAME = "trawl"
LISTEN_RE = re.compile(r"^trawl listening (.*)$", re.MULTILINE)
CLK_TCK = os.sysconf("SC_CLK_TCK")
QUERY_TEXT = {
    "q1": "trace:{trace_id}",
    "q2": '"%s"' % PHRASE,
    "q3": "level:error | stats count() by service, bin(time, 1m)",
    "q4": "service:{service} level:error %s" % WORD,
    "q5": "http.duration_ms:* | stats " + ", ".join(f"p{round(q * 100)}(http.duration_ms)" for q in QUANTILES) + " by service",
}
NOT_EXPRESSIBLE = "not expressible in trawl's query language"


def version(binary: str) -> str:
    return subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout.strip()


def clean_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAWL_")}
    env["TRAWL_LOG"] = "warn"
    env["NO_COLOR"] = "1"
    return env


class Server:
    """One `trawl server` process on a free port, over `data_dir`; output goes to `log_dir`."""

    def __init__(self, binary: str, data_dir: str, log_dir: str, extra_args: list[str] | None = None):
        self.binary, self.data_dir, self.log_dir = binary, data_dir, log_dir
        self.extra_args = list(extra_args or [])
        self.proc = None
        self.api = None
        self.conn = None
        self.n_starts = 0

    def start(self, timeout: float = 60.0) -> "Server":
        os.makedirs(self.log_dir, exist_ok=True)
        self.n_starts += 1
        out_path = os.path.join(self.log_dir, f"server-{self.n_starts}.out")
        err_path = os.path.join(self.log_dir, f"server-{self.n_starts}.err")
        cmd = [self.binary, "server", "--data-dir", self.data_dir, "--listen", "127.0.0.1:0",
               "--otlp-http-listen", "off", "--otlp-grpc-listen", "off", "--durability", "durable"] + self.extra_args
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                         cwd=self.log_dir, env=clean_env())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(out_path, errors="replace") as f:
                m = LISTEN_RE.search(f.read())
            if m:
                addrs = dict(part.split("=", 1) for part in m.group(1).split())
                self.api = addrs["api"]
                break
            if self.proc.poll() is not None:
                raise RuntimeError(f"trawl server exited with {self.proc.returncode}: {_tail(err_path)}")
            time.sleep(0.02)
        else:
            self.kill()
            raise RuntimeError(f"trawl server did not listen within {timeout}s: {_tail(err_path)}")
        while time.monotonic() < deadline:
            try:
                status, _ = self.request("GET", "/ready")
                if status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("trawl server not ready in time")

    def stop(self, timeout: float = 120.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def cpu_s(self) -> float:
        """User plus system CPU seconds of the server process so far (every thread)."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    # ----- HTTP ------------------------------------------------------------------------------

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        for attempt in range(2):
            if self.conn is None:
                u = urllib.parse.urlparse(self.api)
                self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
            try:
                data = json.dumps(body).encode() if body is not None else None
                headers = {"content-type": "application/json"} if data is not None else {}
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                text = response.read()
                return response.status, (json.loads(text) if text[:1] in (b"{", b"[") else {"text": text.decode(errors="replace")})
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    def get_ok(self, path: str) -> dict:
        status, answer = self.request("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status} {answer}")
        return answer

    def query(self, query: str, limit: int) -> dict:
        status, answer = self.request("POST", "/api/v1/query", {"query": query, "limit": limit})
        if status != 200:
            raise RuntimeError(f"query {query!r}: {status} {answer}")
        if answer.get("truncated"):
            raise RuntimeError(f"query {query!r}: more than {limit} rows")
        return answer

    def search(self, query: str, limit: int) -> dict:
        status, answer = self.request("POST", "/api/v1/search", {"query": query, "limit": limit})
        if status != 200:
            raise RuntimeError(f"search {query!r}: {status} {answer}")
        return answer

    def stats(self) -> dict:
        return self.get_ok("/api/v1/stats")

    def wait_flushed(self, timeout: float = 600.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            s = self.stats()
            if s["buffered_records"] == 0 and s["buffered_spans"] == 0 and s.get("pending_flush_bytes", 0) == 0:
                return s
            if time.monotonic() > deadline:
                raise RuntimeError(f"buffer not flushed within {timeout}s: {s}")
            time.sleep(0.1)


class Queries:
    """The queries trawl can express today, in the answer shapes of `common.py`."""

    def __init__(self, server: Server):
        self.server = server
        self.last_took_ms = None

    def _rids(self, answer: dict) -> list[int]:
        self.last_took_ms = answer.get("took_ms")
        return [int(r["attributes"]["rid"]) for r in answer["records"]]

    def q1(self, trace_id: str):
        # Newest first is the one order of search; the whole trace fits one answer, reversed here.
        answer = self.server.search(QUERY_TEXT["q1"].format(trace_id=trace_id), 10_000)
        if answer["count"] >= 10_000:
            raise RuntimeError("trace larger than one answer")
        return self._rids(answer)[::-1]

    def q2(self):
        return self._rids(self.server.search(QUERY_TEXT["q2"], LIMIT))

    def q3(self):
        answer = self.server.query(QUERY_TEXT["q3"], 100_000)
        self.last_took_ms = answer.get("took_ms")
        rows = [[s, _epoch_s(t), int(c)] for s, t, c in answer["rows"]]
        return sorted(rows)

    def q4(self, service: str):
        return self._rids(self.server.search(QUERY_TEXT["q4"].format(service=service), LIMIT))

    def q5(self):
        answer = self.server.query(QUERY_TEXT["q5"], 10_000)
        self.last_took_ms = answer.get("took_ms")
        return sorted(q5_row(row[0], row[1:]) for row in answer["rows"])


def _epoch_s(rfc3339: str) -> int:
    """Whole seconds since the epoch of an RFC 3339 UTC time as the API writes it."""
    return int(datetime.datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp())


def ingest(binary: str, data_path: str, api: str, batch_size: int, concurrency: int, log_dir: str) -> str:
    """Runs `trawl ingest` to completion; returns its last line of output."""
    cmd = [binary, "ingest", data_path, "--server", api, "--batch-size", str(batch_size), "--concurrency", str(concurrency)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=clean_env(), cwd=log_dir)
    with open(os.path.join(log_dir, "ingest.err"), "w") as f:
        f.write(out.stderr)
    if out.returncode != 0:
        raise RuntimeError(f"trawl ingest failed ({out.returncode}): {out.stderr[-2000:]}")
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _tail(path: str, n: int = 30) -> str:
    try:
        with open(path, errors="replace") as f:
            return "\n".join(f.read().splitlines()[-n:])
    except OSError:
        return "(no output)"
