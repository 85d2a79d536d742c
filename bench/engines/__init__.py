"""The engines of the benchmark: trawl (driven over HTTP by `run.py`) and its peers, each a module
with `NAME`, `CONFIG`, `PYTHON_BOUND_LOAD`, `version()`, `load(data_path, work_dir)`,
`disk_path(work_dir)` (or `disk_bytes(work_dir)`) and a `Queries(work_dir)` class whose methods
`q1`..`q5` return answers in the shapes of `common.py` (a missing method: not expressible)."""

from __future__ import annotations

import importlib

PEERS = ["clickhouse", "duckdb", "tantivy", "sqlite", "ripgrep"]
ALIASES = {"chdb": "clickhouse", "sqlite3": "sqlite", "rg": "ripgrep", "tantivy-py": "tantivy"}
PIP_PACKAGES = {"clickhouse": ("chdb", "chdb"), "duckdb": ("duckdb", "duckdb"), "tantivy": ("tantivy", "tantivy")}


def module(name: str):
    return importlib.import_module(f"engines.{name}_peer")
