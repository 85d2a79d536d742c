"""tantivy through its Python package: the message indexed with positions by the default
tokenizer (letters and digits, lowercased: the same words as trawl's), trace id, service and
level as raw terms, time and duration as fast fields, and each source line stored (as
Elasticsearch's or Quickwit's `_source`). Loaded from Python, one `add_document` per line."""

from __future__ import annotations

import json
import os

from .common import LIMIT, QUANTILES, WORD, parse_time_us, q5_row

NAME = "tantivy"
PYTHON_BOUND_LOAD = True
CONFIG = ("tantivy-py: `message` text, default tokenizer (alphanumeric runs, lowercased, as trawl's words), "
          "positions; `trace_id`, `service`, `level` raw tokenizer (service and level also fast, for aggregations); "
          "`time` (µs) and `duration_ms` i64 fast fields; the source line stored as bytes (`_source`). "
          "Writer with 2 threads and a 512 MB heap, one commit, merges awaited. "
          "Q2 `regex_phrase_query(['.*결제', '실패.*'])` (a word ending in 결제 then a word starting with 실패: "
          "exactly the substring on this data), sorted by the `time` fast field; Q4 term queries; Q3 `terms` × "
          "`histogram` aggregation (split into time slices when tantivy's 65,000-bucket limit is hit); "
          "Q5 the `percentiles` aggregation, which is approximate (a sketch), so its answer is checked for the "
          "same services and its largest deviation from the exact answer is reported.")
Q5_APPROXIMATE = True


def version() -> str:
    import importlib.metadata
    return "tantivy-py " + importlib.metadata.version("tantivy")


def index_dir(work_dir: str) -> str:
    return os.path.join(work_dir, "tantivy")


def _schema():
    import tantivy
    sb = tantivy.SchemaBuilder()
    sb.add_integer_field("time", stored=False, indexed=False, fast=True)
    sb.add_text_field("service", stored=False, tokenizer_name="raw", fast=True, index_option="basic")
    sb.add_text_field("level", stored=False, tokenizer_name="raw", fast=True, index_option="basic")
    sb.add_text_field("trace_id", stored=False, tokenizer_name="raw", index_option="basic")
    sb.add_text_field("message", stored=False, tokenizer_name="default", index_option="position")
    sb.add_integer_field("duration_ms", stored=False, indexed=False, fast=True)
    sb.add_bytes_field("source", stored=True, indexed=False, fast=False)
    return sb.build()


def load(data_path: str, work_dir: str) -> dict:
    import tantivy
    os.makedirs(index_dir(work_dir), exist_ok=True)
    index = tantivy.Index(_schema(), path=index_dir(work_dir))
    writer = index.writer(heap_size=512_000_000, num_threads=2)
    n = 0
    with open(data_path, "rb") as f:
        for line in f:
            r = json.loads(line)
            fields = {"time": parse_time_us(r["timestamp"]), "service": r["service"], "level": r["level"],
                      "message": r["message"], "source": line.rstrip(b"\n")}
            if "trace_id" in r:
                fields["trace_id"] = r["trace_id"]
            http = r.get("http")
            if http:
                fields["duration_ms"] = http["duration_ms"]
            writer.add_document(tantivy.Document(**fields))
            n += 1
    writer.commit()
    writer.wait_merging_threads()
    index.reload()
    return {"records": index.searcher().num_docs, "segments": index.searcher().num_segments}


def disk_path(work_dir: str) -> str:
    return index_dir(work_dir)


class Queries:
    def __init__(self, work_dir: str):
        import tantivy
        self.t = tantivy
        self.index = tantivy.Index.open(index_dir(work_dir))
        self.schema = self.index.schema
        self.searcher = self.index.searcher()

    def _docs(self, query, limit: int, ascending: bool):
        order = self.t.Order.Asc if ascending else self.t.Order.Desc
        result = self.searcher.search(query, limit, count=False, order_by_field="time", order=order)
        return [json.loads(self.searcher.doc(addr)["source"][0])["rid"] for _, addr in result.hits]

    def _term(self, field: str, value: str):
        return self.t.Query.term_query(self.schema, field, value)

    def q1(self, trace_id: str):
        return self._docs(self._term("trace_id", trace_id), 100_000, ascending=True)

    def q2(self):
        query = self.t.Query.regex_phrase_query(self.schema, "message", [".*결제", "실패.*"])
        return self._docs(query, LIMIT, ascending=False)

    def q4(self, service: str):
        must = self.t.Occur.Must
        query = self.t.Query.boolean_query([(must, self._term("service", service)), (must, self._term("level", "ERROR")),
                                            (must, self._term("message", WORD))])
        return self._docs(query, LIMIT, ascending=False)

    def q3(self):
        errors = self._term("level", "ERROR")
        counts: dict = {}
        self._q3_slice(errors, None, None, counts)
        return sorted([s, m, c] for (s, m), c in counts.items())

    def _q3_slice(self, errors, lo, hi, counts):
        query = errors
        if lo is not None:
            time_range = self.t.Query.range_query(self.schema, "time", self.t.FieldType.Integer, lo, hi, include_upper=False)
            query = self.t.Query.boolean_query([(self.t.Occur.Must, errors), (self.t.Occur.Must, time_range)])
        agg = {"svc": {"terms": {"field": "service", "size": 100_000},
                       "aggs": {"m": {"histogram": {"field": "time", "interval": 60_000_000, "min_doc_count": 1}}}}}
        try:
            result = self.searcher.aggregate(query, agg)
        except ValueError as e:
            if "bucket limit" not in str(e):
                raise
            if lo is None:
                lo, hi = self._time_bounds()
            mid = (lo + hi) // 2 // 60_000_000 * 60_000_000
            self._q3_slice(errors, lo, mid, counts)
            self._q3_slice(errors, mid, hi, counts)
            return
        for b in result["svc"]["buckets"]:
            for m in b["m"]["buckets"]:
                key = (b["key"], int(m["key"]) // 1_000_000)
                counts[key] = counts.get(key, 0) + int(m["doc_count"])

    def _time_bounds(self):
        stats = self.searcher.aggregate(self.t.Query.all_query(), {"lo": {"min": {"field": "time"}}, "hi": {"max": {"field": "time"}}})
        lo = int(stats["lo"]["value"]) // 60_000_000 * 60_000_000
        return lo, int(stats["hi"]["value"]) + 60_000_000

    def q5(self):
        agg = {"svc": {"terms": {"field": "service", "size": 100_000},
                       "aggs": {"p": {"percentiles": {"field": "duration_ms", "percents": [p * 100 for p in QUANTILES]}}}}}
        result = self.searcher.aggregate(self.t.Query.exists_query("duration_ms"), agg)
        out = []
        for b in result["svc"]["buckets"]:
            values = b["p"]["values"]
            out.append(q5_row(b["key"], [values[_pct_key(values, p)] for p in QUANTILES]))
        return sorted(out)


def _pct_key(values: dict, p: float) -> str:
    want = p * 100
    return min(values, key=lambda k: abs(float(k) - want))
