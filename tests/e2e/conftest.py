"""Fixtures for the end-to-end tests: start the real `trawl` binary and talk to it over HTTP.

The binary is found through the TRAWL_BIN environment variable, then
`$CARGO_TARGET_DIR/debug/trawl`, then `<repo>/target/debug/trawl`.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Iterable

import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
LISTEN_RE = re.compile(r"^trawl listening (.*)$", re.MULTILINE)
STDERR_TAIL_LINES = 60


def find_binary() -> Path | None:
    candidates = []
    if os.environ.get("TRAWL_BIN"):
        candidates.append(Path(os.environ["TRAWL_BIN"]))
    if os.environ.get("CARGO_TARGET_DIR"):
        candidates.append(Path(os.environ["CARGO_TARGET_DIR"]) / "debug" / "trawl")
    candidates.append(REPO_ROOT / "target" / "debug" / "trawl")
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return c
    return None


class TrawlServer:
    """One `trawl server` process on free ports, restartable on the same data directory.

    stdout and stderr go to files in `log_dir`; stderr accumulates across restarts so a failing
    test can show what every incarnation of the server said.
    """

    def __init__(self, binary: Path, data_dir: Path, log_dir: Path, args: Iterable[str] = (), env: dict | None = None):
        self.binary = Path(binary)
        self.data_dir = Path(data_dir)
        self.log_dir = Path(log_dir)
        self.args = list(args)
        self.env = env or {}
        self.proc: subprocess.Popen | None = None
        self.api: str | None = None
        self.otlp_http: str | None = None
        self.otlp_grpc: str | None = None
        self.addresses: dict[str, str] = {}
        self.starts = 0
        self.stderr_path = self.log_dir / "trawl-stderr.log"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.http = requests.Session()

    # ----- lifecycle -------------------------------------------------------------------------

    def start(self, args: Iterable[str] | None = None, timeout: float = 30.0, wait_ready: bool = True) -> "TrawlServer":
        assert self.proc is None or self.proc.poll() is not None, "server already running"
        if args is not None:
            self.args = list(args)
        self.starts += 1
        stdout_path = self.log_dir / f"trawl-stdout-{self.starts}.log"
        cmd = [
            str(self.binary), "server",
            "--data-dir", str(self.data_dir),
            "--listen", "127.0.0.1:0",
            "--otlp-http-listen", "127.0.0.1:0",
            "--otlp-grpc-listen", "127.0.0.1:0",
            *self.args,
        ]
        env = dict(os.environ)
        env.setdefault("NO_COLOR", "1")
        env.setdefault("TRAWL_LOG", "info")
        # A config file in the working directory must not leak in.
        env.pop("TRAWL_CONFIG", None)
        env.update(self.env)
        with open(self.stderr_path, "ab") as err:
            err.write(f"\n===== start #{self.starts}: {' '.join(cmd[1:])}\n".encode())
        stdout = open(stdout_path, "wb")
        stderr = open(self.stderr_path, "ab")
        try:
            self.proc = subprocess.Popen(cmd, stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL,
                                         cwd=self.log_dir, env=env)
        finally:
            stdout.close()
            stderr.close()
        deadline = time.monotonic() + timeout
        line = None
        while time.monotonic() < deadline:
            m = LISTEN_RE.search(stdout_path.read_text(errors="replace"))
            if m:
                line = m.group(1)
                break
            if self.proc.poll() is not None:
                raise RuntimeError(f"trawl exited with {self.proc.returncode} before listening:\n{self.stderr_tail()}")
            time.sleep(0.02)
        if line is None:
            self.kill9()
            raise RuntimeError(f"trawl did not print its listening line within {timeout}s:\n{self.stderr_tail()}")
        addrs = dict(part.split("=", 1) for part in line.split())
        self.api = addrs["api"]
        self.otlp_http = addrs.get("otlp-http")
        self.otlp_grpc = addrs.get("otlp-grpc")
        # Every listener of the line, by name (`es`, `syslog`, ... when enabled).
        self.addresses = addrs
        if wait_ready:
            self.wait_ready(deadline - time.monotonic())
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + max(timeout, 1.0)
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"trawl exited with {self.proc.returncode} while starting:\n{self.stderr_tail()}")
            try:
                r = self.http.get(f"{self.api}/ready", timeout=2)
                if r.status_code == 200:
                    return
                last = f"{r.status_code} {r.text}"
            except requests.RequestException as e:
                last = repr(e)
            time.sleep(0.05)
        raise RuntimeError(f"trawl not ready within {timeout:.0f}s (last answer: {last}):\n{self.stderr_tail()}")

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, then SIGKILL if it does not exit in time. Returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise AssertionError(f"trawl did not stop within {timeout}s of SIGTERM:\n{self.stderr_tail()}")

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def restart(self, args: Iterable[str] | None = None, kill: bool = False) -> "TrawlServer":
        if kill:
            self.kill9()
        else:
            self.stop()
        return self.start(args)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def rss_kib(self) -> int:
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def stderr_tail(self, lines: int = STDERR_TAIL_LINES) -> str:
        try:
            text = self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no stderr)"
        return "\n".join(text.splitlines()[-lines:])

    # ----- API helpers -----------------------------------------------------------------------

    def url(self, path: str) -> str:
        return f"{self.api}{path}"

    def ingest(self, body: bytes | str | Iterable[dict], headers: dict | None = None, timeout: float = 30) -> requests.Response:
        if isinstance(body, str):
            body = body.encode()
        elif not isinstance(body, (bytes, bytearray)):
            body = ("\n".join(json.dumps(r, ensure_ascii=False) for r in body) + "\n").encode()
        return self.http.post(self.url("/api/v1/ingest"), data=body, headers=headers or {}, timeout=timeout)

    def ingest_ok(self, records: Iterable[dict]) -> dict:
        records = list(records)
        r = self.ingest(records)
        assert r.status_code == 200, r.text
        answer = r.json()
        assert answer["accepted"] == len(records), answer
        assert answer["rejected_count"] == 0, answer
        return answer

    def search_raw(self, query: str = "", limit: int | None = None, start=None, end=None, method: str = "GET") -> requests.Response:
        params: dict = {"query": query}
        if limit is not None:
            params["limit"] = limit
        if start is not None:
            params["start"] = start
        if end is not None:
            params["end"] = end
        if method == "GET":
            return self.http.get(self.url("/api/v1/search"), params=params, timeout=60)
        return self.http.post(self.url("/api/v1/search"), json=params, timeout=60)

    def search(self, query: str = "", limit: int | None = 1000, **kw) -> dict:
        r = self.search_raw(query, limit, **kw)
        assert r.status_code == 200, f"search {query!r}: {r.status_code} {r.text}"
        return r.json()

    def bodies(self, query: str = "", limit: int = 1000) -> list[str]:
        return [rec["body"] for rec in self.search(query, limit)["records"]]

    def trace(self, trace_id: str) -> requests.Response:
        return self.http.get(self.url(f"/api/v1/traces/{trace_id}"), timeout=30)

    def stats(self) -> dict:
        r = self.http.get(self.url("/api/v1/stats"), timeout=30)
        assert r.status_code == 200, r.text
        return r.json()

    def metrics(self) -> dict[str, float]:
        """Prometheus text parsed into {'name{labels}': value} (histogram lines included)."""
        r = self.http.get(self.url("/metrics"), timeout=30)
        assert r.status_code == 200, r.text
        out = {}
        for line in r.text.splitlines():
            if not line or line.startswith("#"):
                continue
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
        return out

    def wait_flushed(self, timeout: float = 30.0) -> dict:
        """Waits until at least one segment exists and nothing is left in the memory buffer."""
        deadline = time.monotonic() + timeout
        while True:
            stats = self.stats()
            if stats["n_segments"] > 0 and stats["buffered_records"] == 0 and stats["buffered_spans"] == 0:
                return stats
            assert time.monotonic() < deadline, f"buffer not flushed into segments within {timeout}s: {stats}"
            time.sleep(0.1)

    def healthy(self) -> bool:
        try:
            return self.alive() and self.http.get(self.url("/health"), timeout=5).status_code == 200 \
                and self.http.get(self.url("/ready"), timeout=5).status_code == 200
        except requests.RequestException:
            return False


# ----- pytest plumbing -----------------------------------------------------------------------

def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than a minute")
    # The SDK's own LoggingHandler is what the tests mean to exercise.
    config.addinivalue_line("filterwarnings", "ignore:`LoggingHandler` in `opentelemetry-sdk` is deprecated:DeprecationWarning")


_SERVERS_KEY = pytest.StashKey[list]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when in ("setup", "call") and report.failed:
        for i, server in enumerate(item.stash.get(_SERVERS_KEY, [])):
            report.sections.append((f"trawl server #{i} stderr (tail)", server.stderr_tail()))


@pytest.fixture(scope="session")
def trawl_bin() -> Path:
    binary = find_binary()
    if binary is None:
        pytest.fail("trawl binary not found: set TRAWL_BIN, or build it with `cargo build -p trawl` "
                    "(looked in $CARGO_TARGET_DIR/debug and <repo>/target/debug)")
    return binary


@pytest.fixture
def make_server(trawl_bin, tmp_path, request):
    """Factory: make_server(args=[...], data_dir=None, start=True) -> TrawlServer.

    Every server made is stopped at teardown (SIGTERM, then SIGKILL).
    """
    servers: list[TrawlServer] = []
    request.node.stash[_SERVERS_KEY] = servers

    def make(args: Iterable[str] = (), data_dir: Path | None = None, start: bool = True, env: dict | None = None) -> TrawlServer:
        n = len(servers)
        data = Path(data_dir) if data_dir is not None else tmp_path / f"data{n}"
        server = TrawlServer(trawl_bin, data, tmp_path / f"logs{n}", args, env)
        servers.append(server)
        if start:
            server.start()
        return server

    yield make
    problems = []
    for i, s in enumerate(servers):
        if not s.alive():
            continue
        try:
            rc = s.stop(timeout=20)
            if rc != 0:
                problems.append(f"server #{i} exited with {rc} after SIGTERM:\n{s.stderr_tail()}")
        except AssertionError as e:
            problems.append(str(e))
        finally:
            s.kill9()
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.fixture
def server(make_server) -> TrawlServer:
    """A fresh server with default settings on its own data directory."""
    return make_server()
