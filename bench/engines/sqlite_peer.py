"""SQLite: a table keyed by `rid`, an FTS5 index with the trigram tokenizer over the message
(external content), and B-tree indexes on the trace id and on (service, level, time). Loaded from
Python: every line is parsed by `json.loads` and inserted with `executemany`."""

from __future__ import annotations

import json
import os
import sqlite3

from .common import LIMIT, PHRASE, QUANTILES, has_word, parse_time_us

NAME = "sqlite"
PYTHON_BOUND_LOAD = True
CONFIG = ("Python `sqlite3`: `logs(rid INTEGER PRIMARY KEY, time INTEGER (µs), service, level, trace_id, span_id, host, "
          "message, user_id, http_method, http_path, http_status, duration_ms)`; rows inserted in one transaction "
          "with `journal_mode=OFF, synchronous=OFF` during the load, then `CREATE INDEX` on `trace_id` and on "
          "`(service, level, time)`, an external-content FTS5 table `tokenize='trigram'` over `message` "
          "(`rebuild`, `optimize`), `ANALYZE`, `VACUUM`. Q2 `logs_fts MATCH '\"결제 실패\"'`, Q4 walks the "
          "(service, level, time) index newest first with a Python `REGEXP` for the word, Q5 window functions "
          "(`row_number`/`count` per service) pick the two ranks of each R-7 quantile.")


def version() -> str:
    return "SQLite " + sqlite3.sqlite_version


def db_path(work_dir: str) -> str:
    return os.path.join(work_dir, "logs.sqlite")


def _rows(data_path: str):
    with open(data_path, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            http = r.get("http") or {}
            yield (r["rid"], parse_time_us(r["timestamp"]), r["service"], r["level"], r.get("trace_id"),
                   r.get("span_id"), r.get("host"), r["message"], r.get("user_id"), http.get("method"),
                   http.get("path"), http.get("status"), http.get("duration_ms"))


def load(data_path: str, work_dir: str) -> dict:
    con = sqlite3.connect(db_path(work_dir))
    con.execute("PRAGMA journal_mode = OFF")
    con.execute("PRAGMA synchronous = OFF")
    con.execute("PRAGMA cache_size = -262144")
    con.execute("""CREATE TABLE logs (rid INTEGER PRIMARY KEY, time INTEGER NOT NULL, service TEXT NOT NULL,
        level TEXT NOT NULL, trace_id TEXT, span_id TEXT, host TEXT, message TEXT NOT NULL, user_id TEXT,
        http_method TEXT, http_path TEXT, http_status INTEGER, duration_ms INTEGER)""")
    with con:
        con.executemany("INSERT INTO logs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", _rows(data_path))
    with con:
        con.execute("CREATE INDEX logs_trace_id ON logs (trace_id)")
        con.execute("CREATE INDEX logs_service_level_time ON logs (service, level, time)")
        con.execute("CREATE VIRTUAL TABLE logs_fts USING fts5(message, content='logs', content_rowid='rid', tokenize='trigram')")
        con.execute("INSERT INTO logs_fts(logs_fts) VALUES ('rebuild')")
        con.execute("INSERT INTO logs_fts(logs_fts) VALUES ('optimize')")
    con.execute("ANALYZE")
    con.execute("VACUUM")
    n = con.execute("SELECT count(*) FROM logs").fetchone()[0]
    con.close()
    return {"records": n}


def disk_path(work_dir: str) -> str:
    return db_path(work_dir)


def _regexp(pattern, text):
    return text is not None and has_word(text)


class Queries:
    def __init__(self, work_dir: str):
        self.con = sqlite3.connect(f"file:{db_path(work_dir)}?mode=ro", uri=True)
        self.con.execute("PRAGMA cache_size = -262144")
        self.con.create_function("REGEXP", 2, _regexp, deterministic=True)

    def q1(self, trace_id: str):
        rows = self.con.execute("SELECT * FROM logs WHERE trace_id = ? ORDER BY time", [trace_id]).fetchall()
        return [r[0] for r in rows]

    def q2(self):
        rows = self.con.execute(f"""SELECT * FROM logs WHERE rid IN (SELECT rowid FROM logs_fts WHERE logs_fts MATCH ?)
            ORDER BY time DESC LIMIT {LIMIT}""", ['"%s"' % PHRASE]).fetchall()
        return [r[0] for r in rows]

    def q3(self):
        rows = self.con.execute("""SELECT service, time / 60000000 * 60 AS minute, count(*) FROM logs
            WHERE level = 'ERROR' GROUP BY service, minute ORDER BY service, minute""").fetchall()
        return [[s, int(m), int(c)] for s, m, c in rows]

    def q4(self, service: str):
        rows = self.con.execute(f"""SELECT * FROM logs WHERE service = ? AND level = 'ERROR' AND message REGEXP 'timeout'
            ORDER BY time DESC LIMIT {LIMIT}""", [service]).fetchall()
        return [r[0] for r in rows]

    def q5(self):
        picks = []
        for i, p in enumerate(QUANTILES):
            picks.append(f"max(CASE WHEN i = CAST({p} * (n - 1) AS INTEGER) THEN v END) AS lo{i}")
            picks.append(f"max(CASE WHEN i = CAST({p} * (n - 1) AS INTEGER) + 1 THEN v END) AS hi{i}")
        rows = self.con.execute(f"""
            WITH d AS (
              SELECT service, duration_ms AS v,
                     row_number() OVER (PARTITION BY service ORDER BY duration_ms) - 1 AS i,
                     count(*) OVER (PARTITION BY service) AS n
              FROM logs WHERE duration_ms IS NOT NULL)
            SELECT service, max(n), {', '.join(picks)} FROM d GROUP BY service ORDER BY service""").fetchall()
        out = []  # v[k] + (v[k+1] - v[k]) * frac, with k + frac = p * (n - 1)
        for row in rows:
            service, n = row[0], row[1]
            values = []
            for i, p in enumerate(QUANTILES):
                lo, hi = row[2 + 2 * i], row[3 + 2 * i]
                h = p * (n - 1)
                hi = lo if hi is None else hi
                values.append(round(lo + (hi - lo) * (h - int(h)), 3))
            out.append([service, *values])
        return out

