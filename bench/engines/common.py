"""What every engine of the benchmark shares: the queries, the shape of their answers, timing.

Answers are compared across engines, so each query has one canonical answer shape:

- Q1, Q2, Q4: the `rid` of every returned record, in the engine's order (Q1 oldest first, Q2 and
  Q4 newest first). Timestamps are unique, so the order is part of the answer.
- Q3: sorted `[service, minute_start_epoch_s, count]`.
- Q5: sorted `[service, p50, p95, p99]`, R-7 quantiles (linear interpolation between the
  closest ranks, as DuckDB `quantile_cont` and ClickHouse `quantileExactInclusive`), rounded to
  3 decimals.
"""

from __future__ import annotations

import calendar
import os
import re
import resource
import time

QUERIES = ["q1", "q2", "q3", "q4", "q5"]
QUERY_TITLES = {
    "q1": "Q1 every record of one trace id, oldest first",
    "q2": "Q2 100 newest records containing 결제 실패",
    "q3": "Q3 ERROR count per service per minute",
    "q4": "Q4 100 newest ERROR records of one service with the word timeout",
    "q5": "Q5 p50/p95/p99 of duration_ms per service",
}
PHRASE = "결제 실패"
WORD = "timeout"
QUANTILES = (0.5, 0.95, 0.99)
LIMIT = 100

# The word `timeout` as trawl defines a word: a run of letters or digits, compared without case.
# `_`, `.`, `=` and spaces separate words; Hangul next to it does not.
WORD_RE_PYTHON = re.compile(r"(?<![^\W_])timeout(?![^\W_])", re.IGNORECASE)
# The same for RE2 (DuckDB, ClickHouse): no look-around there, so the neighbours are matched.
WORD_RE_RE2 = r"(?i)(^|[^\pL\pN])timeout([^\pL\pN]|$)"


def has_word(text: str) -> bool:
    return WORD_RE_PYTHON.search(text) is not None


def parse_time_us(text: str) -> int:
    """`2026-10-31T12:34:56.123456Z` (the generator's form) to epoch microseconds."""
    return calendar.timegm(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")) * 1_000_000 + int(text[20:26])


def r7(sorted_values: list, p: float) -> float:
    n = len(sorted_values)
    h = p * (n - 1)
    k = int(h)
    lo = sorted_values[k]
    hi = sorted_values[min(k + 1, n - 1)]
    return lo + (hi - lo) * (h - k)


def q5_row(service: str, values) -> list:
    return [service, *(round(float(v), 3) for v in values)]


class Meter:
    """Wall and CPU time of a block: this process (all threads) plus waited-for children."""

    def __enter__(self):
        self.wall0 = time.perf_counter()
        self.cpu0 = _cpu_self_and_children()
        return self

    def __exit__(self, *exc):
        self.wall_s = time.perf_counter() - self.wall0
        self.cpu_s = _cpu_self_and_children() - self.cpu0
        return False


def _cpu_self_and_children() -> float:
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + c.ru_utime + c.ru_stime


def peak_rss_bytes(pid: int | str = "self") -> int:
    """VmHWM: the highest resident set size the process has had."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def dir_bytes(path: str) -> int:
    """Apparent size of every file under `path` (or of the file itself)."""
    if os.path.isfile(path):
        return os.path.getsize(path)
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total


def rids(records) -> list[int]:
    return [int(r) for r in records]
