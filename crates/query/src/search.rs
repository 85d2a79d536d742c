use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use trawl_model::Record;
use arrow::array::RecordBatch;
use std::path::Path;
use trawl_storage::{record_from_batch, RecordColumns, ScanVisitor, SegmentIndex, Snapshot};

use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};

use crate::ast::{Expr, Query, ValueExpr};
pub(crate) use crate::columns::Columns;
use crate::eval::{matches, BatchRow, RowView};
use crate::value::{eval, RecordFields};
use crate::plan::Requirements;
use crate::QueryError;

pub struct SearchRequest<'a> {
    pub query: &'a Query,
    /// Inclusive, nanoseconds.
    pub start_ns: i64,
    /// Inclusive, nanoseconds.
    pub end_ns: i64,
    pub limit: usize,
    /// Longest the search may run (None: no limit).
    pub timeout: Option<std::time::Duration>,
}

/// What a search read and left out.
pub type SearchStats = trawl_storage::ScanStats;

#[derive(Debug, Default)]
pub struct SearchResult {
    /// Newest first.
    pub records: Vec<Record>,
    pub stats: SearchStats,
    /// Damaged segments that were skipped, with the reason.
    pub warnings: Vec<String>,
}

/// Keeps the newest `limit` matches; ties broken by arrival order (stable output).
pub(crate) struct TopN {
    limit: usize,
    heap: BinaryHeap<Reverse<(i64, u64, Box<RecordBox>)>>,
    seq: u64,
    /// Approximate bytes of the records kept, and the most they may take (the query's memory
    /// cap: a hundred thousand records of 256 KiB would be 25 GiB).
    bytes: usize,
    max_bytes: usize,
}

/// Ordering wrapper: records compare equal so the heap orders by (time, seq) only.
struct RecordBox(Record);
impl PartialEq for RecordBox {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for RecordBox {}
impl PartialOrd for RecordBox {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for RecordBox {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

impl TopN {
    pub(crate) fn new(limit: usize, max_bytes: usize) -> TopN {
        TopN { limit, heap: BinaryHeap::new(), seq: 0, bytes: 0, max_bytes }
    }

    fn full(&self) -> bool {
        self.heap.len() >= self.limit
    }

    /// Time of the oldest kept match once full: anything older cannot enter.
    fn floor(&self) -> Option<i64> {
        if self.full() {
            self.heap.peek().map(|Reverse((t, ..))| *t)
        } else {
            None
        }
    }

    fn wants(&self, time_ns: i64) -> bool {
        self.limit > 0 && self.floor().is_none_or(|f| time_ns > f)
    }

    fn push(&mut self, time_ns: i64, make: impl FnOnce() -> Record) -> Result<(), QueryError> {
        if !self.wants(time_ns) {
            return Ok(());
        }
        self.seq += 1;
        let record = make();
        self.bytes += record_bytes(&record);
        self.heap.push(Reverse((time_ns, self.seq, Box::new(RecordBox(record)))));
        if self.heap.len() > self.limit {
            if let Some(Reverse((_, _, dropped))) = self.heap.pop() {
                self.bytes -= record_bytes(&dropped.0);
            }
        }
        if self.bytes > self.max_bytes {
            return Err(QueryError::TooLarge(format!(
                "the {} newest records hold more than the query's memory cap of {} MiB; ask for fewer (limit) or narrow the search",
                self.heap.len(),
                self.max_bytes >> 20
            )));
        }
        Ok(())
    }

    pub(crate) fn into_newest_first(self) -> Vec<Record> {
        let mut items: Vec<(i64, u64, Record)> = self.heap.into_iter().map(|Reverse((t, s, r))| (t, s, r.0)).collect();
        items.sort_by(|a, b| (b.0, b.1).cmp(&(a.0, a.1)));
        items.into_iter().map(|(_, _, r)| r).collect()
    }
}

/// Runs a search over a snapshot: the buffer first, then segments newest first, each pruned by
/// time range and the query's requirements; stops when older segments cannot change the answer.
pub fn search(snapshot: &Snapshot, request: &SearchRequest<'_>) -> Result<SearchResult, QueryError> {
    let started = Instant::now();
    let mut top = TopN::new(request.limit, crate::QueryLimits::default().memory_bytes);
    let mut stats = SearchStats::default();
    let mut warnings = Vec::new();
    let mut scan = Scan::new(request.query.expr.as_ref(), request.start_ns, request.end_ns);
    scan.deadline = request.timeout.map(|t| started + t);
    scan.run(snapshot, &mut top, &mut stats, &mut warnings)?;
    stats.elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
    Ok(SearchResult { records: top.into_newest_first(), stats, warnings })
}

/// Receives the rows a [`Scan`] matched.
pub(crate) trait Sink {
    /// Once set, rows at or before this time cannot change the answer and are not offered.
    fn floor(&self) -> Option<i64> {
        None
    }

    fn wants(&self, time_ns: i64) -> bool {
        self.floor().is_none_or(|f| time_ns > f)
    }

    /// A matching row; `record` materialises it when the sink keeps it.
    fn offer<R: RowView>(&mut self, row: &R, record: impl FnOnce() -> Record) -> Result<(), QueryError>;

    /// The columns of the records schema the sink reads; None when it keeps whole records (and
    /// calls `record`). Columns left out are not decoded and read as empty.
    fn columns(&self) -> Option<Columns> {
        None
    }

    /// True when the sink takes the matches of a segment batch at once ([`Sink::offer_batch`]).
    fn batched(&self) -> bool {
        false
    }

    /// The rows `selected` of a segment batch matched (called only when [`Sink::batched`]).
    fn offer_batch(&mut self, cols: &RecordColumns<'_>, selected: &[u32]) -> Result<(), QueryError> {
        for &i in selected {
            let i = i as usize;
            self.offer(&BatchRow::new(cols, i), || record_from_batch(cols, i))?;
        }
        Ok(())
    }
}

impl Sink for TopN {
    fn floor(&self) -> Option<i64> {
        TopN::floor(self)
    }

    fn wants(&self, time_ns: i64) -> bool {
        TopN::wants(self, time_ns)
    }

    fn offer<R: RowView>(&mut self, row: &R, record: impl FnOnce() -> Record) -> Result<(), QueryError> {
        self.push(row.time_ns(), record)
    }
}

/// About the memory a record holds.
fn record_bytes(r: &Record) -> usize {
    let attributes = |a: &trawl_model::Attributes| a.iter().map(|(k, v)| k.len() + 32 + if let trawl_model::AttrValue::Str(s) = v { s.len() } else { 0 }).sum::<usize>();
    256 + r.body.len() + attributes(&r.attributes) + attributes(&r.resource)
}

/// One pass over the buffer and the segments for the rows matching a search expression and
/// `where` conditions, pruned before anything is read; bounded by a deadline and a cancel flag.
pub(crate) struct Scan<'a> {
    pub expr: Option<&'a Expr>,
    pub start: i64,
    pub end: i64,
    pub filters: &'a [ValueExpr],
    pub deadline: Option<Instant>,
    pub cancel: Option<&'a AtomicBool>,
}

impl<'a> Scan<'a> {
    pub fn new(expr: Option<&'a Expr>, start: i64, end: i64) -> Scan<'a> {
        Scan { expr, start, end, filters: &[], deadline: None, cancel: None }
    }

    /// Errors once the deadline has passed or the client has gone.
    pub fn check(&self) -> Result<(), QueryError> {
        if self.cancel.is_some_and(|c| c.load(AtomicOrdering::Relaxed)) {
            return Err(QueryError::Cancelled);
        }
        if self.deadline.is_some_and(|d| Instant::now() > d) {
            return Err(QueryError::Timeout);
        }
        trawl_model::memory::over_cap().map_err(|p| QueryError::Overloaded(p.0))
    }

    fn row_matches<R: RowView>(&self, row: &R) -> bool {
        self.expr.is_none_or(|e| matches(e, row))
            && self.filters.iter().all(|f| eval(f, &RecordFields(row)).truthy())
    }

    pub fn run(&self, snapshot: &Snapshot, sink: &mut impl Sink, stats: &mut SearchStats, warnings: &mut Vec<String>) -> Result<(), QueryError> {
        if self.start > self.end {
            return Err(QueryError::Invalid("start is after end".into()));
        }
        let filter = Requirements::of(self.expr).filter(self.start, self.end);
        // What to decode: a sink that keeps whole records reads every column (only for rows the
        // filter keeps); an aggregating sink reads only the columns it and the conditions
        // need. (Running the whole condition inside the reader as well was measured: the
        // columns it needs are the heavy ones, body and attributes, so their pages were
        // decompressed twice, and `service:… level:error word` got slower.)
        let mut condition_columns = Columns::from(["time"]);
        if let Some(e) = self.expr {
            condition_columns.expr(e);
        }
        self.filters.iter().for_each(|f| condition_columns.value(f));
        let wanted: Option<Columns> = sink.columns().map(|mut c| {
            c.extend(&condition_columns);
            c
        });
        let mut visitor = Matcher { scan: self, sink, wanted, selected: Vec::new() };
        let mut scan_warnings = Vec::new();
        let result = snapshot.scan(&filter, &mut visitor, stats, &mut scan_warnings);
        warnings.extend(scan_warnings.iter().map(ToString::to_string));
        result
    }
}

/// Rows matched between two checks of the deadline and the cancel flag inside a batch: a
/// batch holds up to a row group (16,384 rows), and matching a row against a long expression
/// is not free.
const CHECK_EVERY: usize = 1024;

/// Matches the rows a scan hands out against the search expression and the `where`s, and
/// offers the matches to the sink.
struct Matcher<'s, 'a, S: Sink> {
    scan: &'s Scan<'a>,
    sink: &'s mut S,
    /// The columns decoded (None: all).
    wanted: Option<Columns>,
    selected: Vec<u32>,
}

impl<S: Sink> ScanVisitor for Matcher<'_, '_, S> {
    type Error = QueryError;

    fn floor(&self) -> Option<i64> {
        self.sink.floor()
    }

    fn check(&self) -> Result<(), QueryError> {
        self.scan.check()
    }

    fn columns(&self, index: &SegmentIndex) -> Option<Vec<String>> {
        // Per segment: a key with a typed column there reads that column only.
        self.wanted.as_ref().map(|w| w.resolve(index))
    }

    fn record(&mut self, r: &Record) -> Result<(), QueryError> {
        if self.sink.wants(r.time_ns) && self.scan.row_matches(r) {
            self.sink.offer(r, || r.clone())?;
        }
        Ok(())
    }

    fn batch(&mut self, batch: &RecordBatch, path: &Path) -> Result<(), QueryError> {
        let cols = RecordColumns::new(batch, path)?;
        let (start, end) = (self.scan.start, self.scan.end);
        if self.sink.batched() {
            self.selected.clear();
            let everything = self.scan.expr.is_none() && self.scan.filters.is_empty();
            for i in 0..cols.len() {
                if i % CHECK_EVERY == CHECK_EVERY - 1 {
                    self.scan.check()?;
                }
                let t = cols.time.value(i);
                if t >= start && t <= end && (everything || self.scan.row_matches(&BatchRow::new(&cols, i))) {
                    self.selected.push(i as u32);
                }
            }
            return self.sink.offer_batch(&cols, &self.selected);
        }
        for i in 0..cols.len() {
            if i % CHECK_EVERY == CHECK_EVERY - 1 {
                self.scan.check()?;
            }
            let t = cols.time.value(i);
            if t < start || t > end || !self.sink.wants(t) {
                continue;
            }
            let row = BatchRow::new(&cols, i);
            if self.scan.row_matches(&row) {
                self.sink.offer(&row, || record_from_batch(&cols, i))?;
            }
        }
        Ok(())
    }
}
