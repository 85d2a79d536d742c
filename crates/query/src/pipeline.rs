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

use trawl_model::{Record, Span};
use trawl_storage::Snapshot;

use crate::ast::{Pipe, Query, SortKey, ValueExpr};
use crate::eval::RowView;
use crate::search::{Columns, Scan, SearchStats, Sink, TopN};
use crate::stats::{Stats, StatsSink};
use crate::value::{eval, Column, Fields, Key, RecordFields, TableRow, Value};
use crate::QueryError;

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
    let budget = Budget { limit: request.limits.memory_bytes, used: 0 };
    let limit = request.limit;

    let first = pipes.get(at);
    let mut output = match first {
        Some(Pipe::Stats { aggregates, by }) => {
            at += 1;
            let mut acc = StatsSink { stats: Stats::new(aggregates, by, request.start_ns, request.end_ns, budget) };
            scan.run(snapshot, &mut acc, &mut stats, &mut warnings)?;
            QueryOutput::Table(acc.stats.finish())
        }
        Some(Pipe::Top { n, field, by }) => {
            at += 1;
            let mut acc = TopSink { top: TopCounter::new(*n, field, by.as_deref(), budget) };
            scan.run(snapshot, &mut acc, &mut stats, &mut warnings)?;
            QueryOutput::Table(acc.top.finish())
        }
        Some(Pipe::Patterns) => {
            at += 1;
            let mut acc = PatternSink::new(limit, budget, snapshot, request.start_ns, request.end_ns)?;
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
            QueryOutput::Table(traces_table(snapshot, acc, &mut warnings))
        }
        _ => {
            let n = match first {
                Some(Pipe::Limit(k)) => {
                    at += 1;
                    within_cap(*k, limit)
                }
                _ => limit + 1,
            };
            let mut top = TopN::new(n);
            scan.run(snapshot, &mut top, &mut stats, &mut warnings)?;
            QueryOutput::Records(top.into_newest_first())
        }
    };

    for pipe in &pipes[at..] {
        scan.check()?;
        output = QueryOutput::Table(apply_to_table(into_table(output, pipe), pipe, budget)?);
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
fn within_cap(k: usize, limit: usize) -> usize {
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

fn table_row(t: &Table, i: usize) -> TableRow<'_> {
    TableRow { columns: &t.columns, values: &t.rows[i] }
}

fn compare_keys(keys: &[SortKey], a: &[Value], b: &[Value]) -> Ordering {
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

/// Approximate memory accounting against the query's cap.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    limit: usize,
    used: usize,
}

impl Budget {
    pub(crate) fn charge(&mut self, bytes: usize, what: &str) -> Result<(), QueryError> {
        self.used += bytes;
        if self.used > self.limit {
            return Err(QueryError::TooLarge(format!(
                "the query needs more than its memory cap of {} MiB for {what}; narrow the search or group by fewer values",
                self.limit >> 20
            )));
        }
        Ok(())
    }
}

/// `| sort`: keeps the first `n` rows by the keys, ties broken by arrival.
struct SortSink<'a> {
    keys: &'a [SortKey],
    n: usize,
    rows: Vec<(Vec<Value>, u64, Record)>,
    seq: u64,
}

impl SortSink<'_> {
    fn shrink(&mut self) {
        let keys = self.keys;
        self.rows.sort_by(|a, b| compare_keys(keys, &a.0, &b.0).then(a.1.cmp(&b.1)));
        self.rows.truncate(self.n);
    }

    fn finish(mut self) -> Vec<Record> {
        self.shrink();
        self.rows.into_iter().map(|(_, _, r)| r).collect()
    }
}

impl Sink for SortSink<'_> {
    fn offer<R: RowView>(&mut self, row: &R, record: impl FnOnce() -> Record) -> Result<(), QueryError> {
        if self.n == 0 {
            return Ok(());
        }
        let fields = RecordFields(row);
        let key: Vec<Value> = self.keys.iter().map(|k| fields.get(&k.field)).collect();
        self.seq += 1;
        self.rows.push((key, self.seq, record()));
        if self.rows.len() >= 2 * self.n.max(512) {
            self.shrink();
        }
        Ok(())
    }
}

/// `| traces`: the newest `max` distinct trace ids among the matches.
struct TraceSink {
    max: usize,
    newest: HashMap<String, i64, FastHash>,
}

impl TraceSink {
    fn floor_of(&self) -> Option<i64> {
        (self.newest.len() >= self.max).then(|| self.newest.values().copied().min()).flatten()
    }
}

impl Sink for TraceSink {
    fn floor(&self) -> Option<i64> {
        self.floor_of()
    }

    fn columns(&self) -> Option<Columns> {
        Some(Columns::from(["time", "trace_id"]))
    }

    fn offer<R: RowView>(&mut self, row: &R, _record: impl FnOnce() -> Record) -> Result<(), QueryError> {
        let id = row.trace_id();
        if id.is_empty() || self.max == 0 {
            return Ok(());
        }
        let t = row.time_ns();
        if let Some(known) = self.newest.get_mut(id) {
            *known = (*known).max(t);
            return Ok(());
        }
        self.newest.insert(id.to_string(), t);
        if self.newest.len() > self.max {
            if let Some(oldest) = self.newest.iter().min_by_key(|(_, t)| **t).map(|(k, _)| k.clone()) {
                self.newest.remove(&oldest);
            }
        }
        Ok(())
    }
}

const TRACE_COLUMNS: [&str; 12] =
    ["trace_id", "time", "kind", "service", "level", "name", "duration_ms", "status", "span_id", "parent_span_id", "body", "host"];

/// Every record and span of the traces found, grouped by trace (newest match first) and in time
/// order within a trace.
fn traces_table(snapshot: &Snapshot, sink: TraceSink, warnings: &mut Vec<String>) -> Table {
    let mut order: Vec<(String, i64)> = sink.newest.into_iter().collect();
    order.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let wanted: HashSet<&str> = order.iter().map(|(id, _)| id.as_str()).collect();
    let (spans, records) = crate::fetch_traces(snapshot, &wanted, i64::MIN, i64::MAX, warnings);
    let mut by_trace: HashMap<&str, Vec<(i64, u8, Vec<Value>)>> = HashMap::new();
    for s in &spans {
        by_trace.entry(s.trace_id.as_str()).or_default().push((s.start_ns, 0, span_row(s)));
    }
    for r in &records {
        by_trace.entry(r.trace_id.as_str()).or_default().push((r.time_ns, 1, record_row(r)));
    }
    let mut rows = Vec::new();
    for (id, _) in &order {
        if let Some(mut items) = by_trace.remove(id.as_str()) {
            items.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
            rows.extend(items.into_iter().map(|(_, _, r)| r));
        }
    }
    Table { columns: TRACE_COLUMNS.map(String::from).to_vec(), rows }
}

fn text_or_null(s: &str) -> Value {
    if s.is_empty() {
        Value::Null
    } else {
        Value::Str(s.to_string())
    }
}

fn span_row(s: &Span) -> Vec<Value> {
    vec![
        Value::Str(s.trace_id.clone()),
        Value::Time(s.start_ns),
        Value::Str("span".into()),
        Value::Str(s.service.clone()),
        Value::Null,
        Value::Str(s.name.clone()),
        Value::Float(s.duration_ns as f64 / 1e6),
        Value::Str(s.status_code.as_str().to_string()),
        text_or_null(&s.span_id),
        text_or_null(&s.parent_span_id),
        text_or_null(&s.status_message),
        text_or_null(&s.host),
    ]
}

fn record_row(r: &Record) -> Vec<Value> {
    vec![
        Value::Str(r.trace_id.clone()),
        Value::Time(r.time_ns),
        Value::Str("log".into()),
        Value::Str(r.service.clone()),
        Value::Str(r.level.as_str().to_string()),
        Value::Null,
        Value::Null,
        Value::Null,
        text_or_null(&r.span_id),
        Value::Null,
        Value::Str(r.body.clone()),
        text_or_null(&r.host),
    ]
}

/// `| top N field [by g]`: the N most frequent values of `field` (in each `g`).
struct TopCounter<'a> {
    n: usize,
    field: &'a str,
    by: Option<&'a str>,
    counts: HashMap<(Key, Key), u64, FastHash>,
    budget: Budget,
}

impl<'a> TopCounter<'a> {
    fn new(n: usize, field: &'a str, by: Option<&'a str>, budget: Budget) -> TopCounter<'a> {
        TopCounter { n, field, by, counts: HashMap::default(), budget }
    }

    fn add(&mut self, row: &dyn Fields) -> Result<(), QueryError> {
        let group = self.by.map_or(Key::Null, |g| row.get(g).key());
        let key = (group, row.get(self.field).key());
        match self.counts.get_mut(&key) {
            Some(c) => *c += 1,
            None => {
                self.budget.charge(key.0.size() + key.1.size() + 32, "the values of top")?;
                self.counts.insert(key, 1);
            }
        }
        Ok(())
    }

    fn finish(self) -> Table {
        let mut totals: HashMap<Key, u64> = HashMap::new();
        for ((g, _), c) in &self.counts {
            *totals.entry(g.clone()).or_default() += c;
        }
        let mut items: Vec<((Key, Key), u64)> = self.counts.into_iter().collect();
        items.sort_by(|a, b| a.0 .0.cmp(&b.0 .0).then(b.1.cmp(&a.1)).then(a.0 .1.cmp(&b.0 .1)));
        let mut columns = Vec::new();
        if let Some(g) = self.by {
            columns.push(g.to_string());
        }
        columns.extend([self.field.to_string(), "count".to_string(), "percent".to_string()]);
        let mut rows = Vec::new();
        let mut current: Option<Key> = None;
        let mut taken = 0;
        for ((g, v), c) in items {
            if current.as_ref() != Some(&g) {
                current = Some(g.clone());
                taken = 0;
            }
            if taken >= self.n {
                continue;
            }
            taken += 1;
            let total = totals.get(&g).copied().unwrap_or(1).max(1);
            let mut row = Vec::new();
            if self.by.is_some() {
                row.push(g.to_value());
            }
            row.extend([v.to_value(), Value::Int(c as i64), Value::Float((c as f64 * 10_000.0 / total as f64).round() / 100.0)]);
            rows.push(row);
        }
        if self.by.is_some() {
            // Groups with the most rows first.
            rows.sort_by(|a, b| {
                let ta = totals.get(&a[0].key()).copied().unwrap_or(0);
                let tb = totals.get(&b[0].key()).copied().unwrap_or(0);
                tb.cmp(&ta).then(a[0].sort_cmp(&b[0])).then(b[2].sort_cmp(&a[2]))
            });
        }
        Table { columns, rows }
    }
}

struct TopSink<'a> {
    top: TopCounter<'a>,
}

impl Sink for TopSink<'_> {
    fn offer<R: RowView>(&mut self, row: &R, _record: impl FnOnce() -> Record) -> Result<(), QueryError> {
        self.top.add(&RecordFields(row))
    }

    fn columns(&self) -> Option<Columns> {
        let mut out = Columns::new();
        out.field(self.top.field);
        if let Some(by) = self.top.by {
            out.field(by);
        }
        Some(out)
    }
}

/// `| patterns`: the message templates of the matches, most frequent first.
///
/// Records given a pattern id at ingest are grouped by (service, id) as they stream by, and
/// named at the end from the ingest miners' dictionary (merged ids resolved); records without
/// one (segments older than the column) are mined here. Groups with the same template, from
/// different services or from both paths, are one row.
struct PatternSink {
    /// Mines the messages of records without a stored id.
    miner: trawl_patterns::Miner,
    /// By service, then stored pattern id.
    stored: HashMap<String, HashMap<u64, PatternInfo>>,
    /// By id of `miner`.
    mined: HashMap<u64, PatternInfo>,
    lookup: trawl_storage::PatternLookup,
    trend: TrendRange,
    n_matches: u64,
    limit: usize,
    budget: Budget,
}

/// Buckets of the `trend` column.
const TREND_BUCKETS: usize = 12;

/// The time range cut into [`TREND_BUCKETS`] equal buckets.
#[derive(Debug, Clone, Copy)]
struct TrendRange {
    start_ns: i64,
    end_ns: i64,
}

impl TrendRange {
    /// The query's range, with an open side (start 0, end `i64::MAX`) narrowed to the data.
    fn new(snapshot: &Snapshot, start_ns: i64, end_ns: i64) -> TrendRange {
        let mut start = start_ns;
        let mut end = end_ns;
        if start_ns <= 0 || end_ns == i64::MAX {
            if let Some((lo, hi)) = snapshot.time_bounds(trawl_storage::SegmentKind::Records) {
                if start_ns <= 0 {
                    start = start_ns.max(lo);
                }
                if end_ns == i64::MAX {
                    end = end_ns.min(hi);
                }
            }
        }
        TrendRange { start_ns: start, end_ns: end.max(start) }
    }

    fn bucket(&self, t: i64) -> usize {
        let width = self.end_ns as i128 - self.start_ns as i128 + 1;
        let at = (t as i128 - self.start_ns as i128).clamp(0, width - 1);
        ((at * TREND_BUCKETS as i128) / width) as usize
    }
}

struct PatternInfo {
    count: u64,
    example: String,
    services: Vec<String>,
    first_ns: i64,
    last_ns: i64,
    trend: [u64; TREND_BUCKETS],
}

impl PatternInfo {
    fn new(row: &impl RowView) -> PatternInfo {
        let t = row.time_ns();
        PatternInfo {
            count: 0,
            example: row.body().chars().take(512).collect(),
            services: Vec::new(),
            first_ns: t,
            last_ns: t,
            trend: [0; TREND_BUCKETS],
        }
    }

    fn add(&mut self, row: &impl RowView, trend: &TrendRange) {
        let t = row.time_ns();
        self.count += 1;
        self.first_ns = self.first_ns.min(t);
        self.last_ns = self.last_ns.max(t);
        self.trend[trend.bucket(t)] += 1;
        if self.services.len() < 8 && !self.services.iter().any(|s| s == row.service()) {
            self.services.push(row.service().to_string());
        }
    }

    fn merge(&mut self, other: PatternInfo) {
        if other.count > self.count {
            self.example = other.example;
        }
        self.count += other.count;
        self.first_ns = self.first_ns.min(other.first_ns);
        self.last_ns = self.last_ns.max(other.last_ns);
        for (a, b) in self.trend.iter_mut().zip(other.trend) {
            *a += b;
        }
        for s in other.services {
            if self.services.len() < 8 && !self.services.contains(&s) {
                self.services.push(s);
            }
        }
    }
}

impl PatternSink {
    fn new(limit: usize, budget: Budget, snapshot: &Snapshot, start_ns: i64, end_ns: i64) -> Result<PatternSink, QueryError> {
        let miner = trawl_patterns::Miner::new(trawl_patterns::Config::default())
            .map_err(|e| QueryError::Invalid(format!("pattern miner: {e}")))?;
        Ok(PatternSink {
            miner,
            stored: HashMap::new(),
            mined: HashMap::new(),
            lookup: snapshot.patterns.clone(),
            trend: TrendRange::new(snapshot, start_ns, end_ns),
            n_matches: 0,
            limit,
            budget,
        })
    }

    fn finish(mut self, warnings: &mut Vec<String>) -> Table {
        // Stored ids: their dictionary templates; unknown ones are mined from their example.
        let keys: Vec<(String, u64)> =
            self.stored.iter().flat_map(|(service, ids)| ids.keys().map(move |id| (service.clone(), *id))).collect();
        let templates = self.lookup.templates(&keys).unwrap_or_else(|e| {
            warnings.push(format!("pattern dictionary: {e}"));
            HashMap::new()
        });
        let mut by_template: HashMap<String, PatternInfo> = HashMap::new();
        let mut stored: Vec<((String, u64), PatternInfo)> =
            self.stored.drain().flat_map(|(service, ids)| ids.into_iter().map(move |(id, info)| ((service.clone(), id), info))).collect();
        // A fixed order, so the fallback miner and merged examples are deterministic.
        stored.sort_by(|a, b| a.0.cmp(&b.0));
        for (key, info) in stored {
            match templates.get(&key) {
                Some((_, template)) => merge_into(&mut by_template, template.clone(), info),
                None => {
                    let (id, _) = self.miner.add(&info.example);
                    match self.mined.get_mut(&id.get()) {
                        Some(m) => m.merge(info),
                        None => {
                            self.mined.insert(id.get(), info);
                        }
                    }
                }
            }
        }
        let mut mined: Vec<(u64, PatternInfo)> = self.mined.drain().collect();
        mined.sort_by_key(|m| m.0);
        for (id, info) in mined {
            let template = self.miner.template(trawl_patterns::PatternId::new(id)).map(str::to_string);
            // Evicted from this miner (past its cap): the example stands for itself.
            let template = template.unwrap_or_else(|| trawl_patterns::mask(&info.example));
            merge_into(&mut by_template, template, info);
        }
        let total = self.n_matches.max(1);
        let mut patterns: Vec<(String, PatternInfo)> = by_template.into_iter().collect();
        patterns.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.1.first_ns.cmp(&b.1.first_ns)).then(a.0.cmp(&b.0)));
        let rows = patterns
            .into_iter()
            .take(self.limit)
            .map(|(template, info)| {
                vec![
                    Value::Str(template),
                    Value::Int(info.count as i64),
                    Value::Float((info.count as f64 * 10_000.0 / total as f64).round() / 100.0),
                    Value::Str(info.services.join(", ")),
                    Value::Time(info.first_ns),
                    Value::Time(info.last_ns),
                    Value::Str(info.trend.iter().map(u64::to_string).collect::<Vec<_>>().join(",")),
                    Value::Str(info.example),
                ]
            })
            .collect();
        let columns =
            ["pattern", "count", "percent", "services", "first_seen", "last_seen", "trend", "example"].map(String::from).to_vec();
        Table { columns, rows }
    }
}

fn merge_into(by_template: &mut HashMap<String, PatternInfo>, template: String, info: PatternInfo) {
    match by_template.get_mut(&template) {
        Some(m) => m.merge(info),
        None => {
            by_template.insert(template, info);
        }
    }
}

impl Sink for PatternSink {
    fn columns(&self) -> Option<Columns> {
        Some(Columns::from(["time", "service", "body", "pattern_id"]))
    }

    fn offer<R: RowView>(&mut self, row: &R, _record: impl FnOnce() -> Record) -> Result<(), QueryError> {
        self.n_matches += 1;
        let stored_id = row.pattern_id();
        let info = if stored_id != 0 {
            if !self.stored.contains_key(row.service()) {
                self.budget.charge(64 + row.service().len(), "its patterns")?;
                self.stored.insert(row.service().to_string(), HashMap::new());
            }
            let ids = self.stored.get_mut(row.service()).expect("inserted above");
            match ids.entry(stored_id) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    self.budget.charge(256 + row.body().len().min(512), "its patterns")?;
                    e.insert(PatternInfo::new(row))
                }
            }
        } else {
            let (id, _) = self.miner.add(row.body());
            match self.mined.entry(id.get()) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    self.budget.charge(256 + row.body().len().min(512), "its patterns")?;
                    e.insert(PatternInfo::new(row))
                }
            }
        };
        info.add(row, &self.trend);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
