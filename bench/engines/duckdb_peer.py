"""DuckDB: one table created from `read_json` over the NDJSON file, in file (time) order, with an
ART index on the trace id. Queries are SQL; returned records are whole rows (`SELECT *`)."""

from __future__ import annotations

import os

from .common import LIMIT, PHRASE, QUANTILES, WORD_RE_RE2, q5_row

NAME = "duckdb"
PYTHON_BOUND_LOAD = False
CONFIG = ("`CREATE TABLE logs AS SELECT ... FROM read_json(file, format='newline_delimited', columns=...)` "
          "(native JSON reader, explicit column types, `http` flattened to columns, rows in file = time order, "
          "so zone maps prune time), then `CREATE INDEX ON logs(trace_id)` (ART) and `CHECKPOINT`; "
          "one database file; default threads (one per core). Q2 `contains(message, '결제 실패')`, "
          "Q4 `regexp_matches` with the word pattern, Q5 `quantile_cont`.")


def version() -> str:
    import duckdb
    return duckdb.__version__


def db_path(work_dir: str) -> str:
    return os.path.join(work_dir, "logs.duckdb")


def load(data_path: str, work_dir: str) -> dict:
    import duckdb
    con = duckdb.connect(db_path(work_dir))
    con.execute("SET TimeZone = 'UTC'")
    con.execute("""
        CREATE TABLE logs AS
        SELECT timestamp AS time, service, level, trace_id, span_id, host, message, user_id,
               http.method AS http_method, http.path AS http_path, http.status AS http_status,
               http.duration_ms AS duration_ms, rid
        FROM read_json(?, format = 'newline_delimited', columns = {
            timestamp: 'TIMESTAMPTZ', service: 'VARCHAR', level: 'VARCHAR', trace_id: 'VARCHAR',
            span_id: 'VARCHAR', host: 'VARCHAR', message: 'VARCHAR', user_id: 'VARCHAR',
            http: 'STRUCT(method VARCHAR, path VARCHAR, status INTEGER, duration_ms INTEGER)',
            rid: 'BIGINT'})
    """, [data_path])
    con.execute("CREATE INDEX logs_trace_id ON logs (trace_id)")
    con.execute("CHECKPOINT")
    n = con.execute("SELECT count(*) FROM logs").fetchone()[0]
    con.close()
    return {"records": n}


def disk_path(work_dir: str) -> str:
    return db_path(work_dir)


class Queries:
    def __init__(self, work_dir: str):
        import duckdb
        self.con = duckdb.connect(db_path(work_dir), read_only=True)
        self.con.execute("SET TimeZone = 'UTC'")

    def q1(self, trace_id: str):
        rows = self.con.execute("SELECT * FROM logs WHERE trace_id = ? ORDER BY time", [trace_id]).fetchall()
        return [r[-1] for r in rows]

    def q2(self):
        rows = self.con.execute(f"SELECT * FROM logs WHERE contains(message, ?) ORDER BY time DESC LIMIT {LIMIT}", [PHRASE]).fetchall()
        return [r[-1] for r in rows]

    def q3(self):
        rows = self.con.execute("""
            SELECT service, epoch_us(time) // 60000000 * 60 AS minute, count(*)
            FROM logs WHERE level = 'ERROR' GROUP BY ALL ORDER BY ALL""").fetchall()
        return [[s, int(m), int(c)] for s, m, c in rows]

    def q4(self, service: str):
        rows = self.con.execute(f"""
            SELECT * FROM logs WHERE service = ? AND level = 'ERROR' AND regexp_matches(message, ?)
            ORDER BY time DESC LIMIT {LIMIT}""", [service, WORD_RE_RE2]).fetchall()
        return [r[-1] for r in rows]

    def q5(self):
        ps = ", ".join(str(p) for p in QUANTILES)
        rows = self.con.execute(f"""
            SELECT service, quantile_cont(duration_ms, [{ps}]) FROM logs
            WHERE duration_ms IS NOT NULL GROUP BY service ORDER BY service""").fetchall()
        return [q5_row(s, qs) for s, qs in rows]
