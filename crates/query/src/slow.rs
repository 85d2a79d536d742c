//! Slow operations across the fleet: which endpoint and which database statement take the time,
//! and which got slower than in the baseline.
//!
//! The spans of the window are grouped by (service, operation, normalised statement): the
//! statement is `db.query.text` (current semantic conventions) or `db.statement` (before 1.25)
//! with its literals masked, so `WHERE id = 42` and `WHERE id = 7` are one row. Each row has
//! its calls, latency quantiles and self time (the span's duration minus its children's, so a
//! slow endpoint that only waits on a slow query does not hide the query), and the same
//! row's latency in the baseline window (the window of the same length just before). Rows that
//! got significantly slower come first (see `rootcause::significance`), then the largest total
//! self time.
//!
//! Self time needs every span's children: at most [`MAX_SPANS`] spans of each window are read,
//! newest first, and the answer says when it was sampled.

use std::collections::HashMap;
use std::time::Instant;

use arrow::array::{Array, Int64Array};
use serde::Serialize;
use trawl_rollup::LatencySketch;
use trawl_storage::{ScanFilter, ScanRows, Snapshot};

use crate::rootcause::significance::significant_increase;
use crate::rootcause::traces::{scan, strings, timestamps};

/// Spans read per window at most.
pub const MAX_SPANS: usize = 2_000_000;
/// Statements longer than this are cut (after masking).
const MAX_STATEMENT_CHARS: usize = 200;

pub struct SlowRequest {
    pub start_ns: i64,
    pub end_ns: i64,
    pub limit: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct SlowOperation {
    pub service: String,
    pub operation: String,
    pub kind: String,
    /// The normalised statement, for database calls.
    pub statement: Option<String>,
    pub calls: u64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Total self time in the window, milliseconds.
    pub self_time_ms: f64,
    pub baseline_calls: u64,
    pub baseline_p95_ms: Option<f64>,
    /// Window p95 over baseline p95; None without baseline.
    pub p95_ratio: Option<f64>,
    /// Significantly slower than in the baseline.
    pub slower: bool,
    /// Standard score of the share of calls slower than the baseline's 99th percentile.
    pub score: f64,
    pub example_trace_id: String,
}

#[derive(Debug, Serialize)]
pub struct SlowReport {
    pub start_ns: i64,
    pub end_ns: i64,
    pub baseline_start_ns: i64,
    pub baseline_end_ns: i64,
    pub operations: Vec<SlowOperation>,
    /// Spans read in the window, and whether that was all of them.
    pub spans: usize,
    pub sampled: bool,
    pub warnings: Vec<String>,
    pub elapsed_ms: f64,
}

#[derive(Default)]
struct Row {
    kind: String,
    latency: LatencySketch,
    self_ns: i64,
    example: String,
    example_ns: i64,
}

type Key = (String, String, Option<String>);

/// The normalised statement of a span's attributes JSON, if it has one.
fn statement(attributes: &str) -> Option<String> {
    if !attributes.contains("db.query.text") && !attributes.contains("db.statement") {
        return None;
    }
    let parsed = trawl_storage::parse_attributes(attributes);
    let text = ["db.query.text", "db.statement"].iter().find_map(|key| parsed.iter().find(|(k, _)| k == key).map(|(_, v)| v.to_text().into_owned()))?;
    Some(normalise(&text))
}

/// A statement with its whitespace collapsed, its literals masked and its length bounded.
fn normalise(text: &str) -> String {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut masked = trawl_patterns::mask(&collapsed);
    if masked.chars().count() > MAX_STATEMENT_CHARS {
        masked = masked.chars().take(MAX_STATEMENT_CHARS).collect::<String>() + "…";
    }
    masked
}

/// Groups the spans of `[start, end)`: per key, latency, self time and an example.
fn group(snapshot: &Snapshot, start: i64, end: i64, with_self_time: bool, warnings: &mut Vec<String>) -> (HashMap<Key, Row>, usize, bool) {
    // Spans are known by a hash of (trace id, span id), their parents likewise: 32 bytes a span
    // instead of three strings (a collision, one in 2^64, would misplace one child's time).
    struct Item {
        key_index: usize,
        id: u64,
        parent: u64,
        duration: i64,
    }
    let ids = ahash::RandomState::with_seeds(1, 2, 3, 4);
    let mut keys: HashMap<Key, usize> = HashMap::new();
    let mut rows: Vec<Row> = Vec::new();
    let mut items: Vec<Item> = Vec::new();
    let mut truncated = false;
    let mut add = |service: &str, name: &str, kind: &str, trace: &str, span: &str, parent: &str, duration: i64, start_ns: i64, statement: Option<String>| {
        if items.len() >= MAX_SPANS {
            truncated = true;
            return;
        }
        let key = (service.to_string(), name.to_string(), statement);
        let next = rows.len();
        let index = *keys.entry(key).or_insert(next);
        if index == next {
            rows.push(Row { kind: kind.to_string(), ..Row::default() });
        }
        let row = &mut rows[index];
        row.latency.add(duration as f64);
        row.self_ns = row.self_ns.saturating_add(duration.max(0));
        if row.example.is_empty() || start_ns > row.example_ns {
            row.example = trace.to_string();
            row.example_ns = start_ns;
        }
        let (id, parent) = if with_self_time && !parent.is_empty() {
            (ids.hash_one((trace, span)), ids.hash_one((trace, parent)))
        } else if with_self_time {
            (ids.hash_one((trace, span)), 0)
        } else {
            (0, 0)
        };
        items.push(Item { key_index: index, id, parent, duration });
    };
    let filter = ScanFilter::spans(start, end - 1);
    let columns = ["start", "duration_ns", "trace_id", "span_id", "parent_span_id", "service", "name", "kind", "attributes"];
    scan(snapshot, &filter, Some(&columns), warnings, |rows| match rows {
        ScanRows::Span(s) => {
            if s.start_ns >= start && s.start_ns < end {
                let text = ["db.query.text", "db.statement"].iter().find_map(|key| s.attributes.iter().find(|(k, _)| k == key).map(|(_, v)| v.to_text().into_owned()));
                add(&s.service, &s.name, s.kind.as_str(), &s.trace_id, &s.span_id, &s.parent_span_id, s.duration_ns, s.start_ns, text.map(|t| normalise(&t)));
            }
        }
        ScanRows::Batch(b, _) => {
            let (Some(time), Some(trace), Some(span), Some(parent), Some(service), Some(name), Some(kind), Some(attributes)) = (
                timestamps(b, "start"),
                strings(b, "trace_id"),
                strings(b, "span_id"),
                strings(b, "parent_span_id"),
                strings(b, "service"),
                strings(b, "name"),
                strings(b, "kind"),
                strings(b, "attributes"),
            ) else {
                return;
            };
            let Some(duration) = b.column_by_name("duration_ns").and_then(|c| c.as_any().downcast_ref::<Int64Array>()) else { return };
            for i in 0..b.num_rows() {
                let t = time.value(i);
                if t >= start && t < end {
                    add(service.value(i), name.value(i), kind.value(i), trace.value(i), span.value(i), parent.value(i), duration.value(i), t, statement(attributes.value(i)));
                }
            }
        }
        ScanRows::Record(_) => {}
    });
    let n = items.len();
    if with_self_time {
        // A child's duration is its parent's waiting time, not the parent's own work.
        let index: HashMap<u64, usize> = items.iter().enumerate().map(|(i, it)| (it.id, i)).collect();
        let mut waiting: Vec<i64> = vec![0; n];
        for it in items.iter().filter(|it| it.parent != 0) {
            if let Some(&p) = index.get(&it.parent) {
                waiting[p] = waiting[p].saturating_add(it.duration.max(0));
            }
        }
        for (it, wait) in items.iter().zip(waiting) {
            rows[it.key_index].self_ns -= wait.min(it.duration.max(0));
        }
    }
    let grouped = keys.into_iter().map(|(k, i)| (k, std::mem::take(&mut rows[i]))).collect();
    (grouped, n, truncated)
}

pub fn slow_operations(snapshot: &Snapshot, request: &SlowRequest) -> SlowReport {
    let started = Instant::now();
    let mut warnings = Vec::new();
    let (start, end) = (request.start_ns, request.end_ns);
    let length = end - start;
    let (baseline_start, baseline_end) = (start.saturating_sub(length), start);
    let (window, spans, sampled) = group(snapshot, start, end, true, &mut warnings);
    let (before, _, _) = group(snapshot, baseline_start, baseline_end, false, &mut warnings);
    let mut operations: Vec<SlowOperation> = window
        .into_iter()
        .map(|((service, operation, statement), row)| {
            let base = before.get(&(service.clone(), operation.clone(), statement.clone()));
            let ms = |s: &LatencySketch, q: f64| s.quantile(q).map(|ns| ns / 1e6);
            let p95 = ms(&row.latency, 0.95);
            let baseline_p95 = base.and_then(|b| ms(&b.latency, 0.95));
            let score = base
                .and_then(|b| {
                    let slow = b.latency.quantile(0.99)?;
                    let exposure = row.latency.count() as f64 / b.latency.count().max(1) as f64;
                    significant_increase(row.latency.count_above(slow) as f64, b.latency.count_above(slow) as f64, exposure, 1.0)
                })
                .unwrap_or(0.0);
            let p95_ratio = match (p95, baseline_p95) {
                (Some(now), Some(before)) if before > 0.0 => Some(now / before),
                _ => None,
            };
            SlowOperation {
                service,
                operation,
                kind: row.kind,
                statement,
                calls: row.latency.count(),
                p50_ms: ms(&row.latency, 0.5),
                p95_ms: p95,
                p99_ms: ms(&row.latency, 0.99),
                self_time_ms: row.self_ns.max(0) as f64 / 1e6,
                baseline_calls: base.map_or(0, |b| b.latency.count()),
                baseline_p95_ms: baseline_p95,
                slower: score > 0.0 && p95_ratio.is_some_and(|r| r >= 1.5),
                p95_ratio,
                score,
                example_trace_id: row.example,
            }
        })
        .collect();
    operations.sort_by(|a, b| {
        b.slower
            .cmp(&a.slower)
            .then(if a.slower { b.score.total_cmp(&a.score) } else { std::cmp::Ordering::Equal })
            .then(b.self_time_ms.total_cmp(&a.self_time_ms))
            .then_with(|| a.service.cmp(&b.service))
            .then_with(|| a.operation.cmp(&b.operation))
    });
    operations.truncate(request.limit);
    if sampled {
        warnings.push(format!("the window has more than {MAX_SPANS} spans: the newest {MAX_SPANS} were analysed"));
    }
    SlowReport {
        start_ns: start,
        end_ns: end,
        baseline_start_ns: baseline_start,
        baseline_end_ns: baseline_end,
        operations,
        spans,
        sampled,
        warnings,
        elapsed_ms: started.elapsed().as_secs_f64() * 1e3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_normalised() {
        assert_eq!(statement(r#"{"db.statement":"SELECT *  FROM stock\n WHERE sku = 'A-1' AND n > 42"}"#).as_deref(), Some("SELECT * FROM stock WHERE sku = '<*>' AND n > <*>"));
        assert_eq!(statement(r#"{"db.query.text":"SELECT 1","db.statement":"old"}"#).as_deref(), Some("SELECT <*>"));
        assert_eq!(statement(r#"{"http.route":"/x"}"#), None);
        let long = format!(r#"{{"db.statement":"SELECT {}"}}"#, "a, ".repeat(200));
        assert!(statement(&long).unwrap().ends_with('…'));
    }
}
