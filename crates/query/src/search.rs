use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use serde::Serialize;
use trawl_model::Record;
use trawl_storage::{read_record_batches_filtered, record_from_batch, RecordColumns, RowPrefilter, SegmentKind, Snapshot, StoreError};

use crate::ast::Query;
use crate::eval::{matches, BatchRow, RowView};
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
struct TopN {
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

    fn into_newest_first(self) -> Vec<Record> {
        let mut items: Vec<(i64, u64, Record)> = self.heap.into_iter().map(|Reverse((t, s, r))| (t, s, r.0)).collect();
        items.sort_by(|a, b| (b.0, b.1).cmp(&(a.0, a.1)));
        items.into_iter().map(|(_, _, r)| r).collect()
    }
}

/// Runs a search over a snapshot: the buffer first, then segments newest first, each pruned by
/// time range and the query's requirements; stops when older segments cannot change the answer.
pub fn search(snapshot: &Snapshot, request: &SearchRequest<'_>) -> Result<SearchResult, QueryError> {
    let started = Instant::now();
    if request.start_ns > request.end_ns {
        return Err(QueryError::Invalid("start is after end".into()));
    }
    let (start, end) = (request.start_ns, request.end_ns);
    let expr = request.query.expr.as_ref();
    let requirements = Requirements::of(expr);
    let mut top = TopN { limit: request.limit, heap: BinaryHeap::new(), seq: 0 };
    let mut stats = SearchStats::default();
    let mut warnings = Vec::new();
    let row_matches = |row: &dyn Fn(&crate::ast::Expr) -> bool| expr.is_none_or(row);

    for chunk in &snapshot.chunks {
        for r in &chunk.records {
            stats.buffer_rows_scanned += 1;
            if r.time_ns < start || r.time_ns > end || !top.wants(r.time_ns) {
                continue;
            }
            if row_matches(&|e| matches(e, r)) {
                top.push(r.time_ns, || r.clone());
            }
        }
    }

    // Rows outside the range, or of other services or levels, are dropped while decoding.
    let prefilter = RowPrefilter {
        services: requirements.services.clone(),
        levels: requirements.levels.as_ref().map(|ls| ls.iter().map(|l| l.as_str()).collect()),
        ..RowPrefilter::time_range("time", start, end)
    };
    let selective = prefilter.services.is_some() || prefilter.levels.is_some();
    let mut segments: Vec<_> = snapshot.segments.iter().filter(|s| s.kind == SegmentKind::Records).collect();
    segments.sort_by_key(|s| Reverse(s.index.max_time_ns));
    stats.segments_total = segments.len();
    for seg in segments {
        let mut row_groups = requirements.row_groups(&seg.index, start, end);
        stats.row_groups_skipped += seg.index.row_groups.len() - row_groups.len();
        if row_groups.is_empty() || top.floor().is_some_and(|f| seg.index.max_time_ns < f) {
            stats.segments_skipped += 1;
            stats.row_groups_skipped += row_groups.len();
            continue;
        }
        stats.segments_scanned += 1;
        row_groups.sort_by_key(|&i| Reverse(seg.index.row_groups[i].max_time_ns));
        for rg in row_groups {
            if top.floor().is_some_and(|f| seg.index.row_groups[rg].max_time_ns < f) {
                stats.row_groups_skipped += 1;
                continue;
            }
            stats.row_groups_scanned += 1;
            let index = &seg.index.row_groups[rg];
            let partly_outside = index.min_time_ns < start || index.max_time_ns > end;
            let filter = (selective || partly_outside).then_some(&prefilter);
            let batches = match read_record_batches_filtered(&seg.path, vec![rg], filter) {
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
                for i in 0..cols.len() {
                    stats.rows_scanned += 1;
                    let t = cols.time.value(i);
                    if t < start || t > end || !top.wants(t) {
                        continue;
                    }
                    let row = BatchRow::new(&cols, i);
                    if row_matches(&|e| matches(e, &row)) {
                        top.push(row.time_ns(), || record_from_batch(&cols, i));
                    }
                }
            }
        }
    }
    stats.elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
    Ok(SearchResult { records: top.into_newest_first(), stats, warnings })
}

pub(crate) fn corrupt_warning(e: &StoreError) -> String {
    format!("skipped: {e}")
}
