"""ClickHouse embedded through chdb: a MergeTree table shaped like the OpenTelemetry exporter's
`otel_logs` (ORDER BY service, level, time; ZSTD; a bloom filter index on the trace id and a
token bloom filter on the body), loaded by `INSERT ... SELECT FROM file(..., JSONEachRow)` and
merged to one part."""

from __future__ import annotations

import json
import os

from .common import LIMIT, PHRASE, QUANTILES, q5_row

NAME = "clickhouse"
PYTHON_BOUND_LOAD = False
CONFIG = ("chdb (ClickHouse embedded), MergeTree shaped like the OpenTelemetry exporter's `otel_logs`: "
          "`Timestamp DateTime64(6)` (Delta+ZSTD), `TraceId`, `SpanId`, `SeverityText`/`ServiceName`/`HostName` "
          "LowCardinality, `Body`, `LogAttributes Map(LowCardinality(String), String)` (user id, http method/path/status), "
          "all ZSTD(1); plus typed `Rid` and `DurationMs` columns (the exporter would keep duration in the map; a typed "
          "column is the better setup for Q5); `PARTITION BY toDate(Timestamp) ORDER BY (ServiceName, SeverityText, Timestamp)`; "
          "`INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1`, "
          "`INDEX idx_body Body TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8` (as the exporter). "
          "Loaded by `INSERT INTO logs SELECT ... FROM file(path, 'JSONEachRow', schema)`, then `OPTIMIZE TABLE logs FINAL` "
          "(one part). Q2 `position(Body, '결제 실패') > 0`, Q4 `hasTokenCaseInsensitive(Body, 'timeout')`, "
          "Q5 `quantilesExactInclusive`.")

SCHEMA = """
CREATE TABLE logs (
  Timestamp DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
  TraceId String CODEC(ZSTD(1)),
  SpanId String CODEC(ZSTD(1)),
  SeverityText LowCardinality(String) CODEC(ZSTD(1)),
  ServiceName LowCardinality(String) CODEC(ZSTD(1)),
  HostName LowCardinality(String) CODEC(ZSTD(1)),
  Body String CODEC(ZSTD(1)),
  LogAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
  Rid UInt64 CODEC(ZSTD(1)),
  DurationMs Nullable(UInt32) CODEC(ZSTD(1)),
  INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
  INDEX idx_body Body TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8
) ENGINE = MergeTree
PARTITION BY toDate(Timestamp)
ORDER BY (ServiceName, SeverityText, Timestamp)
SETTINGS index_granularity = 8192
"""

INSERT = """
INSERT INTO logs SELECT
  parseDateTime64BestEffort(timestamp, 6, 'UTC'), ifNull(trace_id, ''), ifNull(span_id, ''), level, service, host,
  message,
  mapFilter((k, v) -> v != '', map('user_id', ifNull(user_id, ''), 'http.method', ifNull(http.method, ''),
                                   'http.path', ifNull(http.path, ''), 'http.status', ifNull(toString(http.status), ''))),
  rid, http.duration_ms
FROM file({path}, 'JSONEachRow', 'timestamp String, service String, level String, trace_id Nullable(String),
  span_id Nullable(String), host String, message String, user_id Nullable(String),
  http Nullable(Tuple(method String, path String, status UInt16, duration_ms UInt32)), rid UInt64')
"""


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _session(work_dir: str):
    from chdb import session
    return session.Session(os.path.join(work_dir, "chdb"))


def _rows(sess, sql: str) -> list:
    result = sess.query(sql, "JSONCompact")
    text = result.data() if hasattr(result, "data") else str(result)
    return json.loads(text)["data"] if text.strip() else []


def version() -> str:
    import chdb
    sess = _session_tmp()
    v = _rows(sess, "SELECT version()")[0][0]
    sess.close()
    return f"chdb {chdb.__version__} (ClickHouse {v})"


def _session_tmp():
    from chdb import session
    return session.Session()


def load(data_path: str, work_dir: str) -> dict:
    sess = _session(work_dir)
    sess.query(SCHEMA)
    sess.query(INSERT.format(path=_quote(os.path.abspath(data_path))))
    sess.query("OPTIMIZE TABLE logs FINAL")
    n, parts = _rows(sess, "SELECT count(), uniqExact(_part) FROM logs")[0]
    sess.close()
    return {"records": int(n), "parts": int(parts)}


def disk_path(work_dir: str) -> str:
    return os.path.join(work_dir, "chdb")


def disk_bytes(work_dir: str) -> int:
    """Bytes of the table's active parts (the session directory also holds ClickHouse's own
    system logs and metadata, which are not the data)."""
    sess = _session(work_dir)
    n = _rows(sess, "SELECT sum(bytes_on_disk) FROM system.parts WHERE database = currentDatabase() AND table = 'logs' AND active")[0][0]
    sess.close()
    return int(n)


class Queries:
    def __init__(self, work_dir: str):
        self.sess = _session(work_dir)

    def q1(self, trace_id: str):
        rows = _rows(self.sess, f"SELECT * FROM logs WHERE TraceId = {_quote(trace_id)} ORDER BY Timestamp")
        return [int(r[8]) for r in rows]

    def q2(self):
        rows = _rows(self.sess, f"SELECT * FROM logs WHERE position(Body, {_quote(PHRASE)}) > 0 ORDER BY Timestamp DESC LIMIT {LIMIT}")
        return [int(r[8]) for r in rows]

    def q3(self):
        rows = _rows(self.sess, """
            SELECT ServiceName, toUnixTimestamp(toStartOfMinute(Timestamp)) AS minute, count()
            FROM logs WHERE SeverityText = 'ERROR' GROUP BY ServiceName, minute ORDER BY ServiceName, minute""")
        return [[s, int(m), int(c)] for s, m, c in rows]

    def q4(self, service: str):
        rows = _rows(self.sess, f"""
            SELECT * FROM logs WHERE ServiceName = {_quote(service)} AND SeverityText = 'ERROR'
              AND hasTokenCaseInsensitive(Body, 'timeout')
            ORDER BY Timestamp DESC LIMIT {LIMIT}""")
        return [int(r[8]) for r in rows]

    def q5(self):
        ps = ", ".join(str(p) for p in QUANTILES)
        rows = _rows(self.sess, f"""
            SELECT ServiceName, quantilesExactInclusive({ps})(DurationMs) FROM logs
            WHERE DurationMs IS NOT NULL GROUP BY ServiceName ORDER BY ServiceName""")
        return [q5_row(s, qs) for s, qs in rows]
