use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use trawl_model::Record;
use trawl_storage::{read_record_rows, record_from_batch, RecordColumns, RowPrefilter, SegmentIndex, SegmentKind, Snapshot, StoreError, TraceIdSet};

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
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct SearchStats {
    pub segments_total: usize,
    pub segments_scanned: usize,
    pub segments_skipped: usize,
    pub row_groups_scanned: usize,
    pub row_groups_skipped: usize,
    pub rows_scanned: usize,
    pub buffer_rows_scanned: usize,
    pub bytes_scanned: u64,
    pub elapsed_ms: f64,
}

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
    pub(crate) fn new(limit: usize) -> TopN {
        TopN { limit, heap: BinaryHeap::new(), seq: 0 }
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

    fn push(&mut self, time_ns: i64, make: impl FnOnce() -> Record) {
        if !self.wants(time_ns) {
            return;
        }
        self.seq += 1;
        self.heap.push(Reverse((time_ns, self.seq, Box::new(RecordBox(make())))));
        if self.heap.len() > self.limit {
            self.heap.pop();
        }
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
    let mut top = TopN { limit: request.limit, heap: BinaryHeap::new(), seq: 0 };
    let mut stats = SearchStats::default();
    let mut warnings = Vec::new();
    let scan = Scan::new(request.query.expr.as_ref(), request.start_ns, request.end_ns);
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
        self.push(row.time_ns(), record);
        Ok(())
    }
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
        Ok(())
    }

    fn row_matches<R: RowView>(&self, row: &R) -> bool {
        self.expr.is_none_or(|e| matches(e, row))
            && self.filters.iter().all(|f| eval(f, &RecordFields(row)).truthy())
    }

    pub fn run(&self, snapshot: &Snapshot, sink: &mut impl Sink, stats: &mut SearchStats, warnings: &mut Vec<String>) -> Result<(), QueryError> {
        if self.start > self.end {
            return Err(QueryError::Invalid("start is after end".into()));
        }
        let (start, end) = (self.start, self.end);
        let requirements = Requirements::of(self.expr);
        for chunk in &snapshot.chunks {
            for (n, r) in chunk.records.iter().enumerate() {
                if n % 4096 == 4095 {
                    self.check()?;
                }
                stats.buffer_rows_scanned += 1;
                if r.time_ns < start || r.time_ns > end || !sink.wants(r.time_ns) {
                    continue;
                }
                if self.row_matches(r) {
                    sink.offer(r, || r.clone())?;
                }
            }
        }

        // Rows outside the range, or of other services or levels, are dropped while decoding.
        let prefilter = RowPrefilter {
            services: requirements.services.clone(),
            levels: requirements.levels.as_ref().map(|ls| ls.iter().map(|l| l.as_str()).collect()),
            trace_ids: requirements.trace_id.as_deref().map(|id| Arc::new(TraceIdSet::new([id]))),
            ..RowPrefilter::time_range("time", start, end)
        };
        let selective = prefilter.services.is_some() || prefilter.levels.is_some() || prefilter.trace_ids.is_some();
        // What to decode: a sink that keeps whole records reads every column (only for rows the
        // prefilter keeps); an aggregating sink reads only the columns it and the conditions
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
        let mut segments: Vec<_> = snapshot.segments.iter().filter(|s| s.kind == SegmentKind::Records).collect();
        segments.sort_by_key(|s| Reverse(s.index.max_time_ns));
        stats.segments_total += segments.len();
        let mut selected: Vec<u32> = Vec::new();
        for seg in segments {
            let mut row_groups = requirements.row_groups(&seg.index, start, end);
            stats.row_groups_skipped += seg.index.row_groups.len() - row_groups.len();
            if row_groups.is_empty() || sink.floor().is_some_and(|f| seg.index.max_time_ns <= f) {
                stats.segments_skipped += 1;
                stats.row_groups_skipped += row_groups.len();
                continue;
            }
            // The row index names the rows that can match: only their pages are read.
            let candidates = match seg.row_index.as_ref().map(|ri| requirements.rows(ri)) {
                Some(Ok(rows)) => rows,
                Some(Err(e)) => {
                    warnings.push(format!("row index not used: {e}"));
                    None
                }
                None => None,
            };
            if candidates.as_ref().is_some_and(|c| c.is_empty()) {
                stats.segments_skipped += 1;
                stats.row_groups_skipped += row_groups.len();
                continue;
            }
            stats.segments_scanned += 1;
            // Per segment: a key with a typed column there reads that column only.
            let projection: Option<Vec<String>> = wanted.as_ref().map(|w| w.resolve(&seg.index));
            let projection: Option<Vec<&str>> = projection.as_ref().map(|p| p.iter().map(String::as_str).collect());
            row_groups.sort_by_key(|&i| Reverse(seg.index.row_groups[i].max_time_ns));
            let (reads, skipped) = plan_reads(&seg.index, &row_groups, candidates.as_deref());
            stats.row_groups_skipped += skipped;
            for read in reads {
                self.check()?;
                if sink.floor().is_some_and(|f| read.max_time_ns <= f) {
                    stats.row_groups_skipped += read.row_groups.len();
                    continue;
                }
                stats.row_groups_scanned += read.row_groups.len();
                stats.rows_scanned += read.n_rows;
                let partly_outside = read.min_time_ns < start || read.max_time_ns > end;
                let filter = (selective || partly_outside).then_some(&prefilter);
                let batches = match read_record_rows(&seg.path, read.row_groups, projection.as_deref(), filter, read.rows.as_deref()) {
                    Ok(b) => b,
                    Err(e) => {
                        warnings.push(corrupt_warning(&e));
                        break;
                    }
                };
                for batch in &batches {
                    stats.bytes_scanned += batch.get_array_memory_size() as u64;
                    let cols = match RecordColumns::new(batch, &seg.path) {
                        Ok(c) => c,
                        Err(e) => {
                            warnings.push(corrupt_warning(&e));
                            continue;
                        }
                    };
                    if sink.batched() {
                        selected.clear();
                        for i in 0..cols.len() {
                            let t = cols.time.value(i);
                            if t >= start && t <= end && ((self.expr.is_none() && self.filters.is_empty()) || self.row_matches(&BatchRow::new(&cols, i))) {
                                selected.push(i as u32);
                            }
                        }
                        sink.offer_batch(&cols, &selected)?;
                        continue;
                    }
                    for i in 0..cols.len() {
                        let t = cols.time.value(i);
                        if t < start || t > end || !sink.wants(t) {
                            continue;
                        }
                        let row = BatchRow::new(&cols, i);
                        if self.row_matches(&row) {
                            sink.offer(&row, || record_from_batch(&cols, i))?;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// One read of a segment: row groups, and the rows of them to decode (None: all).
struct Read {
    row_groups: Vec<usize>,
    /// Ascending, numbered from the first row of the first row group of `row_groups`.
    rows: Option<Vec<u32>>,
    n_rows: usize,
    min_time_ns: i64,
    max_time_ns: i64,
}

/// The reads of a segment's row groups `row_groups` (newest first): each row group on its own
/// when it is read whole, and the row groups where the row index names few rows together, in
/// one read of only those rows (one file open and one pass over the column chunks). Also the
/// number of row groups left out because the row index names none of their rows.
fn plan_reads(index: &SegmentIndex, row_groups: &[usize], candidates: Option<&[u32]>) -> (Vec<Read>, usize) {
    let whole = |rg: usize| {
        let i = &index.row_groups[rg];
        Read { row_groups: vec![rg], rows: None, n_rows: i.n_rows as usize, min_time_ns: i.min_time_ns, max_time_ns: i.max_time_ns }
    };
    let Some(candidates) = candidates else { return (row_groups.iter().map(|&rg| whole(rg)).collect(), 0) };
    // The segment's row number of each row group's first row.
    let first_rows: Vec<u64> = index
        .row_groups
        .iter()
        .scan(0u64, |next, rg| {
            let first = *next;
            *next += rg.n_rows;
            Some(first)
        })
        .collect();
    let mut reads = Vec::new();
    let mut sparse: Vec<(usize, Vec<u32>)> = Vec::new();
    let mut skipped = 0;
    for &rg in row_groups {
        let n_rows = index.row_groups[rg].n_rows;
        let rows = rows_in(candidates, first_rows[rg], n_rows);
        if rows.is_empty() {
            skipped += 1;
        } else if rows.len() as u64 * 8 < n_rows {
            sparse.push((rg, rows));
        } else {
            // Candidates spread over much of the row group: reading it whole is cheaper than
            // alternating between skipping and reading.
            reads.push(whole(rg));
        }
    }
    if !sparse.is_empty() {
        sparse.sort_by_key(|(rg, _)| *rg);
        let (mut rows, mut offset) = (Vec::new(), 0u32);
        for (rg, rg_rows) in &sparse {
            rows.extend(rg_rows.iter().map(|r| r + offset));
            offset += index.row_groups[*rg].n_rows as u32;
        }
        let groups = || sparse.iter().map(|(rg, _)| &index.row_groups[*rg]);
        reads.insert(
            0,
            Read {
                n_rows: rows.len(),
                row_groups: sparse.iter().map(|(rg, _)| *rg).collect(),
                rows: Some(rows),
                min_time_ns: groups().map(|g| g.min_time_ns).min().unwrap_or(i64::MIN),
                max_time_ns: groups().map(|g| g.max_time_ns).max().unwrap_or(i64::MAX),
            },
        );
    }
    (reads, skipped)
}

/// The rows of `candidates` (ascending, numbered in the segment) within the row group of
/// `n_rows` rows starting at row `first`, numbered in that row group.
fn rows_in(candidates: &[u32], first: u64, n_rows: u64) -> Vec<u32> {
    let from = candidates.partition_point(|&r| (r as u64) < first);
    let to = candidates.partition_point(|&r| (r as u64) < first + n_rows);
    candidates[from..to].iter().map(|&r| r - first as u32).collect()
}

pub(crate) fn corrupt_warning(e: &StoreError) -> String {
    format!("skipped: {e}")
}
