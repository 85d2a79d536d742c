//! Runs a whole query: the search part and the pipes.
//!
//! The leading `where` pipes run inside the scan, on every matching row, before anything is
//! materialised. The first other pipe decides what the scan feeds:
//! - nothing, `limit` or `fields`: the newest N matches (the scan stops early, as a search does);
//! - `sort`: the first N by the sort keys (a bounded heap, N from a following `limit` or the
//!   row cap);
//! - `stats`, `top`, `patterns`: every match, aggregated as it streams by;
//! - `traces`: the newest matches until N distinct traces, then every record and span of them.
//!
//! Whatever follows runs on the resulting table.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use trawl_model::Record;
use trawl_storage::Snapshot;

use crate::ast::{Pipe, Query, SortKey, ValueExpr};
use crate::search::{Scan, SearchStats, TopN};
use crate::stats::{Stats, StatsSink};
use crate::value::{eval, Column, Fields, RecordFields, TableRow, Value};
use crate::QueryError;
use crate::sinks::patterns::PatternSink;
use crate::sinks::sort::SortSink;
use crate::sinks::top::{TopCounter, TopSink};
use crate::sinks::traces::{traces_table, TraceSink};

/// The hasher of per-row maps (groups, distinct values, counts): a few times faster than the
/// standard one and still seeded per map, so crafted values cannot make groups collide.
pub(crate) type FastHash = ahash::RandomState;

/// Bounds on one query's time and memory.
#[derive(Debug, Clone, Copy)]
pub struct QueryLimits {
    pub timeout: Duration,
    /// Approximate bytes a query may hold in groups, distinct values and rows.
    pub memory_bytes: usize,
}

impl Default for QueryLimits {
    fn default() -> QueryLimits {
        QueryLimits { timeout: Duration::from_secs(30), memory_bytes: 512 << 20 }
    }
}

pub struct QueryRequest<'a> {
    pub query: &'a Query,
    /// Inclusive, nanoseconds (already narrowed by the query's `_time`).
    pub start_ns: i64,
    pub end_ns: i64,
    /// Most rows in the answer.
    pub limit: usize,
    pub limits: QueryLimits,
    /// Set when the client has gone: the query stops at its next check.
    pub cancel: Option<&'a AtomicBool>,
}

/// A result table: named, typed columns and rows of values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

impl Table {
    /// Column names with the type of their first non-null value.
    pub fn schema(&self) -> Vec<Column> {
        self.columns
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let kind = self.rows.iter().map(|r| &r[i]).find(|v| !v.is_null()).map_or("null", Value::kind);
                Column { name: name.clone(), kind }
            })
            .collect()
    }
}

#[derive(Debug)]
pub enum QueryOutput {
    /// Whole records (no pipe changed their shape), in the order the query asked for.
    Records(Vec<Record>),
    Table(Table),
}

#[derive(Debug)]
pub struct QueryResult {
    pub output: QueryOutput,
    pub stats: SearchStats,
    pub warnings: Vec<String>,
    /// True when the row cap cut the answer.
    pub truncated: bool,
}

/// Runs `request` over `snapshot`.
pub fn run_query(snapshot: &Snapshot, request: &QueryRequest<'_>) -> Result<QueryResult, QueryError> {
    let started = Instant::now();
    let query = request.query;
    let pipes = &query.pipes;
    let filters: Vec<ValueExpr> =
        pipes.iter().map_while(|p| if let Pipe::Where(e) = p { Some(e.clone()) } else { None }).collect();
    let mut at = filters.len();
    let scan = Scan {
        expr: query.expr.as_ref(),
        start: request.start_ns,
        end: request.end_ns,
        filters: &filters,
        deadline: Some(started + request.limits.timeout),
        cancel: request.cancel,
    };
    let mut stats = SearchStats::default();
    let mut warnings = Vec::new();
    let budget = Budget::new(request.limits.memory_bytes);
    let limit = request.limit;

    let first = pipes.get(at);
    let mut output = match first {
        Some(Pipe::Stats { aggregates, by }) => {
            at += 1;
            let mut acc = StatsSink { stats: Stats::new(aggregates, by, request.start_ns, request.end_ns, budget.clone()) };
            scan.run(snapshot, &mut acc, &mut stats, &mut warnings)?;
            QueryOutput::Table(acc.stats.finish())
        }
        Some(Pipe::Top { n, field, by }) => {
            at += 1;
            let mut acc = TopSink { top: TopCounter::new(*n, field, by.as_deref(), budget.clone()) };
            scan.run(snapshot, &mut acc, &mut stats, &mut warnings)?;
            QueryOutput::Table(acc.top.finish())
        }
        Some(Pipe::Patterns) => {
            at += 1;
            let mut acc = PatternSink::new(limit, budget.clone(), snapshot, request.start_ns, request.end_ns)?;
            scan.run(snapshot, &mut acc, &mut stats, &mut warnings)?;
            QueryOutput::Table(acc.finish(&mut warnings))
        }
        Some(Pipe::Sort(keys)) => {
            at += 1;
            let n = match pipes.get(at) {
                Some(Pipe::Limit(k)) => {
                    at += 1;
                    within_cap(*k, limit)
                }
                _ => limit + 1,
            };
            let mut acc = SortSink { keys, n, rows: Vec::new(), seq: 0 };
            scan.run(snapshot, &mut acc, &mut stats, &mut warnings)?;
            QueryOutput::Records(acc.finish())
        }
        Some(Pipe::Traces { max_traces }) => {
            at += 1;
            let mut acc = TraceSink { max: *max_traces, newest: HashMap::default() };
            scan.run(snapshot, &mut acc, &mut stats, &mut warnings)?;
            QueryOutput::Table(traces_table(snapshot, acc, &mut budget.clone(), &mut warnings)?)
        }
        _ => {
            let n = match first {
                Some(Pipe::Limit(k)) => {
                    at += 1;
                    within_cap(*k, limit)
                }
                _ => limit + 1,
            };
            let mut top = TopN::new(n, request.limits.memory_bytes);
            scan.run(snapshot, &mut top, &mut stats, &mut warnings)?;
            QueryOutput::Records(top.into_newest_first())
        }
    };

    for pipe in &pipes[at..] {
        scan.check()?;
        output = QueryOutput::Table(apply_to_table(into_table(output, pipe), pipe, budget.clone())?);
    }
    let mut truncated = false;
    match &mut output {
        QueryOutput::Records(r) if r.len() > limit => {
            r.truncate(limit);
            truncated = true;
        }
        QueryOutput::Table(t) if t.rows.len() > limit => {
            t.rows.truncate(limit);
            truncated = true;
        }
        _ => {}
    }
    stats.elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
    Ok(QueryResult { output, stats, warnings, truncated })
}

/// Rows to keep for a user's `limit k` under the row cap `limit`: one more than the cap when `k`
/// passes it, so the answer can say it was cut.
pub(crate) fn within_cap(k: usize, limit: usize) -> usize {
    if k <= limit {
        k
    } else {
        limit + 1
    }
}

/// Records become a table when a pipe needs one: the core columns, then every attribute name
/// seen (at most 256), or just the columns a `fields` pipe names.
fn into_table(output: QueryOutput, next: &Pipe) -> Table {
    let records = match output {
        QueryOutput::Table(t) => return t,
        QueryOutput::Records(r) => r,
    };
    let columns: Vec<String> = match next {
        Pipe::Fields(names) => names.clone(),
        _ => {
            let mut columns: Vec<String> =
                ["time", "service", "level", "host", "environment", "trace_id", "span_id", "body"].map(String::from).to_vec();
            let mut seen: HashSet<String> = columns.iter().cloned().collect();
            for r in &records {
                for (k, _) in r.attributes.iter().chain(&r.resource) {
                    if seen.len() < 256 + 8 && seen.insert(k.clone()) {
                        columns.push(k.clone());
                    }
                }
            }
            columns
        }
    };
    let rows = records.iter().map(|r| columns.iter().map(|c| RecordFields(r).get(c)).collect()).collect();
    Table { columns, rows }
}

fn apply_to_table(mut table: Table, pipe: &Pipe, budget: Budget) -> Result<Table, QueryError> {
    Ok(match pipe {
        Pipe::Where(e) => {
            let keep: Vec<bool> = (0..table.rows.len()).map(|i| eval(e, &table_row(&table, i)).truthy()).collect();
            let mut k = keep.into_iter();
            table.rows.retain(|_| k.next().unwrap_or(false));
            table
        }
        Pipe::Fields(names) => {
            let rows = (0..table.rows.len()).map(|i| names.iter().map(|n| table_row(&table, i).get(n)).collect()).collect();
            Table { columns: names.clone(), rows }
        }
        Pipe::Sort(keys) => {
            let mut keyed: Vec<(Vec<Value>, Vec<Value>)> = std::mem::take(&mut table.rows)
                .into_iter()
                .map(|r| {
                    let k = keys.iter().map(|k| TableRow { columns: &table.columns, values: &r }.get(&k.field)).collect();
                    (k, r)
                })
                .collect();
            keyed.sort_by(|a, b| compare_keys(keys, &a.0, &b.0));
            table.rows = keyed.into_iter().map(|(_, r)| r).collect();
            table
        }
        Pipe::Limit(n) => {
            table.rows.truncate(*n);
            table
        }
        Pipe::Stats { aggregates, by } => {
            let mut stats = Stats::new(aggregates, by, i64::MIN, i64::MAX, budget);
            for i in 0..table.rows.len() {
                let r = table_row(&table, i);
                let time = match r.get("time") {
                    Value::Time(t) => t,
                    _ => 0,
                };
                stats.add(&r, time)?;
            }
            stats.finish()
        }
        Pipe::Top { n, field, by } => {
            let mut top = TopCounter::new(*n, field, by.as_deref(), budget);
            for i in 0..table.rows.len() {
                top.add(&table_row(&table, i))?;
            }
            top.finish()
        }
        Pipe::Traces { .. } => {
            return Err(QueryError::Invalid("traces must come before stats, top, sort, fields and limit: it follows the matched records' traces".into()))
        }
        Pipe::Patterns => {
            return Err(QueryError::Invalid("patterns must come right after the search and where pipes: it mines the matched records' messages".into()))
        }
    })
}

pub(crate) fn table_row(t: &Table, i: usize) -> TableRow<'_> {
    TableRow { columns: &t.columns, values: &t.rows[i] }
}

pub(crate) fn compare_keys(keys: &[SortKey], a: &[Value], b: &[Value]) -> Ordering {
    for (k, (x, y)) in keys.iter().zip(a.iter().zip(b)) {
        let o = match (x.is_null(), y.is_null()) {
            // Missing values go last in either direction.
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            _ if k.descending => y.sort_cmp(x),
            _ => x.sort_cmp(y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// Approximate memory accounting against the query's cap; what is charged shows in the
/// process's `queries` memory gauge until the budget is dropped. A clone starts empty.
#[derive(Debug)]
pub(crate) struct Budget {
    limit: usize,
    used: usize,
}

impl Clone for Budget {
    fn clone(&self) -> Budget {
        Budget { limit: self.limit, used: 0 }
    }
}

impl Drop for Budget {
    fn drop(&mut self) {
        trawl_model::memory::QUERIES.sub(self.used);
    }
}

impl Budget {
    pub(crate) fn new(limit: usize) -> Budget {
        Budget { limit, used: 0 }
    }

    pub(crate) fn charge(&mut self, bytes: usize, what: &str) -> Result<(), QueryError> {
        self.used += bytes;
        trawl_model::memory::QUERIES.add(bytes);
        if bytes >= 1 << 16 || self.used % (1 << 20) < bytes {
            trawl_model::memory::over_cap().map_err(|p| QueryError::Overloaded(p.0))?;
        }
        if self.used > self.limit {
            return Err(QueryError::TooLarge(format!(
                "the query needs more than its memory cap of {} MiB for {what}; narrow the search or group by fewer values",
                self.limit >> 20
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sinks::patterns::TREND_BUCKETS;
    use trawl_model::Span;
    use trawl_model::{AttrValue, Level, SpanKind, StatusCode};
    use trawl_storage::{Store, StoreConfig};

    const T0: i64 = 1_700_000_000_000_000_000;
    const SEC: i64 = 1_000_000_000;

    /// 600 records over 10 minutes: three services, every 10th an error with a status, half of
    /// them flushed to segments and half still in the buffer.
    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(StoreConfig::new(dir.path())).unwrap();
        let services = ["checkout", "payment", "web"];
        let mut batches = vec![Vec::new(), Vec::new()];
        for i in 0..600i64 {
            let mut r = Record::new(T0 + i * SEC);
            r.service = services[(i % 3) as usize].to_string();
            r.trace_id = format!("{:032x}", i / 6);
            if i % 10 == 0 {
                r.level = Level::Error;
                r.body = format!("결제가 실패했습니다 order={i} after {}ms", 100 + i);
                r.attributes.push(("status".into(), AttrValue::Int(500 + (i % 4))));
            } else {
                r.body = format!("request {i} done");
            }
            r.attributes.push(("duration_ms".into(), AttrValue::Int(i)));
            batches[(i >= 300) as usize].push(r);
        }
        let mut span = Span {
            trace_id: format!("{:032x}", 0),
            span_id: "00000000000000aa".into(),
            parent_span_id: String::new(),
            service: "web".into(),
            environment: String::new(),
            host: String::new(),
            name: "GET /pay".into(),
            kind: SpanKind::Server,
            start_ns: T0,
            duration_ns: 5 * SEC,
            status_code: StatusCode::Error,
            status_message: String::new(),
            attributes: Vec::new(),
            resource: Vec::new(),
            events: Vec::new(),
            links: Vec::new(),
        };
        let second = Span { span_id: "00000000000000bb".into(), parent_span_id: "00000000000000aa".into(), service: "payment".into(), ..span.clone() };
        span.name = "GET /pay".into();
        store.write_blocking(std::mem::take(&mut batches[0]), vec![span, second]).unwrap();
        assert!(store.flush(Duration::from_secs(10)));
        store.write_blocking(std::mem::take(&mut batches[1]), Vec::new()).unwrap();
        (dir, store)
    }

    fn run(store: &Store, q: &str) -> Result<QueryResult, QueryError> {
        let query = crate::parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
        let request = QueryRequest { query: &query, start_ns: 0, end_ns: i64::MAX, limit: 1000, limits: QueryLimits::default(), cancel: None };
        run_query(&store.snapshot(), &request)
    }

    fn table(store: &Store, q: &str) -> Table {
        match run(store, q).unwrap().output {
            QueryOutput::Table(t) => t,
            QueryOutput::Records(r) => panic!("{q}: records {}", r.len()),
        }
    }

    fn text(t: &Table) -> Vec<String> {
        t.rows.iter().map(|r| r.iter().map(Value::to_text).collect::<Vec<_>>().join(" ")).collect()
    }

    #[test]
    fn stats_count_and_group_over_buffer_and_segments() {
        let (_d, s) = store();
        let t = table(&s, "| stats count() as n, count_if(level = \"error\") as errors by service");
        assert_eq!(t.columns, ["service", "n", "errors"]);
        assert_eq!(text(&t), ["checkout 200 20", "payment 200 20", "web 200 20"]);
        let t = table(&s, "level:error | stats count(), min(status), max(status), avg(duration_ms), sum(duration_ms), uniq(status)");
        assert_eq!(text(&t), ["60 500 502 295 17700 2"]);
        let t = table(&s, "| stats p50(duration_ms), p99(duration_ms), median(duration_ms)");
        assert_eq!(text(&t), ["299.5 593.01 299.5"]);
        let t = table(&s, "nothing-matches-this | stats count()");
        assert_eq!(text(&t), ["0"]);
    }

    #[test]
    fn time_bins_and_rate() {
        let (_d, s) = store();
        let t = table(&s, "| stats count() as n, rate() by bin(time, 5m)");
        assert_eq!(t.columns, ["bin(time, 5m)", "n", "rate()"]);
        assert_eq!(t.rows.len(), 3, "{:?}", text(&t));
        let total: i64 = t.rows.iter().map(|r| if let Value::Int(n) = r[1] { n } else { 0 }).sum();
        assert_eq!(total, 600);
        assert!(t.rows.windows(2).all(|w| w[0][0].sort_cmp(&w[1][0]).is_lt()), "bins ascending");
        let Value::Float(rate) = t.rows[1][2] else { panic!() };
        assert!((rate - 1.0).abs() < 1e-9, "a full 5-minute bin holds 300 records: {rate}");
    }

    #[test]
    fn where_sort_limit_fields_and_top() {
        let (_d, s) = store();
        let services = ["checkout", "payment", "web"];
        let expected: Vec<String> = (0..600i64)
            .rev()
            .filter(|i| i % 10 == 0 && 500 + i % 4 >= 502 && services[(i % 3) as usize] != "web")
            .map(|i| i.to_string())
            .take(3)
            .collect();
        let r = run(&s, "level:error | where status >= 502 and service != \"web\" | sort by duration_ms desc | limit 3").unwrap();
        let QueryOutput::Records(records) = r.output else { panic!("sort then limit keeps records") };
        let durations: Vec<String> = records.iter().map(|r| r.attribute("duration_ms").unwrap().to_text().into_owned()).collect();
        assert_eq!(durations, expected);

        let t = table(&s, "결제 | where duration_ms < 100 | fields service, status, duration_ms");
        assert_eq!(t.columns, ["service", "status", "duration_ms"]);
        // Newest first without a sort.
        assert_eq!(text(&t), ["checkout 502 90", "web 500 80", "payment 502 70", "checkout 500 60", "web 502 50", "payment 500 40", "checkout 502 30", "web 500 20", "payment 502 10", "checkout 500 0"]);

        let t = table(&s, "level:error | top 2 status by service");
        assert_eq!(t.columns, ["service", "status", "count", "percent"]);
        assert_eq!(t.rows.len(), 6);
        let t = table(&s, "| top service");
        assert_eq!(text(&t), ["checkout 200 33.33", "payment 200 33.33", "web 200 33.33"]);

        let t = table(&s, "| stats count() as n by service | where n > 100 | sort by service desc | limit 2");
        assert_eq!(text(&t), ["web 200", "payment 200"]);
    }

    #[test]
    fn traces_pipe_gathers_records_and_spans_of_the_matched_traces() {
        let (_d, s) = store();
        let t = table(&s, "order=0 | traces");
        assert_eq!(t.columns[0], "trace_id");
        // Trace 0 has six records (i = 0..6) and two spans.
        assert_eq!(t.rows.len(), 8, "{:#?}", text(&t));
        let kinds: Vec<String> = t.rows.iter().map(|r| r[2].to_text()).collect();
        assert_eq!(kinds.iter().filter(|k| *k == "span").count(), 2);
        let t = table(&s, "level:error | traces 3");
        let ids: HashSet<String> = t.rows.iter().map(|r| r[0].to_text()).collect();
        assert_eq!(ids.len(), 3);
        // The newest three error traces: errors at i = 590, 580, 570 → traces 98, 96, 95.
        assert!(ids.contains(&format!("{:032x}", 98)) && ids.contains(&format!("{:032x}", 95)), "{ids:?}");
    }

    #[test]
    fn patterns_pipe_mines_the_matches() {
        let (_d, s) = store();
        let t = table(&s, "| patterns");
        assert_eq!(t.columns[..3], ["pattern", "count", "percent"]);
        let counts: Vec<i64> = t.rows.iter().map(|r| if let Value::Int(n) = r[1] { n } else { 0 }).collect();
        assert_eq!(counts.iter().sum::<i64>(), 600);
        assert_eq!(counts[0], 540, "{:?}", text(&t));
    }

    #[test]
    fn patterns_pipe_groups_by_stored_ids_with_a_trend() {
        let (_d, s) = store();
        let t = table(&s, "| patterns");
        assert_eq!(t.columns, ["pattern", "count", "percent", "services", "first_seen", "last_seen", "trend", "example"]);
        // Every record of the fixture has an id from ingest, buffered or in a segment.
        let snap = s.snapshot();
        assert!(snap.chunks.iter().flat_map(|c| c.records.iter()).all(|r| r.pattern_id != 0));
        assert_eq!(text(&t)[0].split(' ').take(3).collect::<Vec<_>>(), ["request", "<*>", "done"]);
        // One template over three services is one row.
        assert_eq!(t.rows[0][3], Value::Str("checkout, payment, web".into()));
        for row in &t.rows {
            let Value::Str(trend) = &row[6] else { panic!("{row:?}") };
            let buckets: Vec<i64> = trend.split(',').map(|n| n.parse().unwrap()).collect();
            assert_eq!(buckets.len(), TREND_BUCKETS);
            assert_eq!(Value::Int(buckets.iter().sum()), row[1]);
        }
        // 10 minutes of evenly spread records: 45 per bucket of 50 s for the main template.
        assert_eq!(t.rows[0][6], Value::Str(["45"; 12].join(",")));

        // The stored id decides the group, not the text: a record carrying the id of
        // `request <*> done` joins it whatever its message.
        let mut odd = Record::new(T0 + 5 * SEC);
        odd.service = "web".into();
        odd.body = "something else entirely".into();
        odd.pattern_id = snap.chunks[0].records.iter().find(|r| r.body.starts_with("request") && r.service == "web").unwrap().pattern_id;
        let mut chunks = snap.chunks.clone();
        chunks.push(std::sync::Arc::new(trawl_storage::Chunk::new(vec![odd], vec![])));
        let with_odd = Snapshot { chunks, segments: snap.segments.clone(), patterns: snap.patterns.clone() };
        let query = crate::parse("| patterns").unwrap();
        let request = QueryRequest { query: &query, start_ns: 0, end_ns: i64::MAX, limit: 1000, limits: QueryLimits::default(), cancel: None };
        let QueryOutput::Table(t2) = run_query(&with_odd, &request).unwrap().output else { panic!() };
        assert_eq!(t2.rows[0][1], Value::Int(541));
        assert!(!text(&t2).iter().any(|r| r.starts_with("something")));
    }

    #[test]
    fn patterns_pipe_mines_records_without_stored_ids() {
        // No ids and no dictionary (segments older than the column): mined in the pipe.
        let records: Vec<Record> = (0..30)
            .map(|i| {
                let mut r = Record::new(T0 + i * SEC);
                r.body = if i % 3 == 0 { format!("user u{i} logged in") } else { format!("disk {i} is full") };
                r
            })
            .collect();
        let snap = Snapshot { chunks: vec![std::sync::Arc::new(trawl_storage::Chunk::new(records, vec![]))], segments: vec![], patterns: Default::default() };
        let query = crate::parse("| patterns").unwrap();
        let request = QueryRequest { query: &query, start_ns: 0, end_ns: i64::MAX, limit: 1000, limits: QueryLimits::default(), cancel: None };
        let QueryOutput::Table(t) = run_query(&snap, &request).unwrap().output else { panic!() };
        assert_eq!(text(&t).len(), 2, "{:?}", text(&t));
        assert_eq!(t.rows[0][0], Value::Str("disk <*> is full".into()));
        assert_eq!(t.rows[0][1], Value::Int(20));
        assert_eq!(t.rows[1][0], Value::Str("user <*> logged in".into()));
    }

    #[test]
    fn limits_refuse_instead_of_exhausting() {
        let (_d, s) = store();
        let query = crate::parse("| stats count() by body").unwrap();
        let limits = QueryLimits { timeout: Duration::from_secs(30), memory_bytes: 4096 };
        let request = QueryRequest { query: &query, start_ns: 0, end_ns: i64::MAX, limit: 10, limits, cancel: None };
        let e = run_query(&s.snapshot(), &request).unwrap_err();
        assert!(matches!(e, QueryError::TooLarge(_)), "{e}");
        assert!(e.to_string().contains("memory cap"), "{e}");

        let cancel = AtomicBool::new(true);
        let request = QueryRequest { query: &query, start_ns: 0, end_ns: i64::MAX, limit: 10, limits: QueryLimits::default(), cancel: Some(&cancel) };
        assert!(matches!(run_query(&s.snapshot(), &request), Err(QueryError::Cancelled)));

        let limits = QueryLimits { timeout: Duration::ZERO, memory_bytes: 1 << 30 };
        let request = QueryRequest { query: &query, start_ns: 0, end_ns: i64::MAX, limit: 10, limits, cancel: None };
        assert!(matches!(run_query(&s.snapshot(), &request), Err(QueryError::Timeout)));

        let r = run(&s, "| limit 5000").unwrap();
        assert!(!r.truncated);
        let query = crate::parse("").unwrap();
        let request = QueryRequest { query: &query, start_ns: 0, end_ns: i64::MAX, limit: 7, limits: QueryLimits::default(), cancel: None };
        let QueryOutput::Records(r) = run_query(&s.snapshot(), &request).unwrap().output else { panic!() };
        assert_eq!(r.len(), 7);
    }

    #[test]
    fn pipes_in_the_wrong_place_are_explained() {
        let (_d, s) = store();
        let e = run(&s, "| stats count() by service | traces").unwrap_err().to_string();
        assert!(e.contains("traces must come before"), "{e}");
        let e = run(&s, "| limit 3 | patterns").unwrap_err().to_string();
        assert!(e.contains("patterns must come right after"), "{e}");
    }
}
