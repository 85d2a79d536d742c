//! The one read path over a [`Snapshot`]: every reader of records or spans (search and pipes,
//! SQL, traces, root cause, error messages, field discovery) asks for its rows here.
//!
//! A scan takes a [`ScanFilter`] (kind, time range, services, levels, trace ids, index terms)
//! and hands a [`ScanVisitor`] the buffer's rows that pass it one by one, then the segments'
//! rows as Arrow batches, segments newest first. Before anything is read the filter prunes:
//! segments and row groups by their sidecar index (time range, services, levels, trace-id
//! Bloom), then rows by the segment's row index (only the pages holding candidate rows are
//! decoded), then rows while decoding (the exact conditions on the cheap columns, before the
//! bodies and attributes are decoded).
//!
//! Invariants:
//! - Time range, services, levels (for spans: error status) are exact: no row failing them is
//!   handed out, from the buffer or a segment.
//! - Trace ids and index terms narrow what is read, and are not exact: a segment row may fail
//!   them (a hash collision, a row block shared with a match), so visitors check their own
//!   conditions. Buffer rows are not narrowed by terms at all.
//! - A damaged file never fails the scan: it becomes a [`ScanWarning`] and the scan goes on.
//! - This is where a per-request scope (tenant, services, environments) is to be applied, so
//!   that no reader can see past it.

use std::cmp::Reverse;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::RecordBatch;
use serde::Serialize;
use trawl_model::{Level, Record, Span, StatusCode};

use crate::row_index::{IndexKey, RowIndex};
use crate::segment_index::{RowGroupIndex, SegmentIndex, SegmentKind, TraceIdSet};
use crate::segment_reader::{read_record_rows, read_span_rows, RowPrefilter};
use crate::snapshot::{SegmentHandle, Snapshot};
use crate::StoreError;

/// Trace ids looked up in a row index; a scan for more leaves them to the Bloom filters and the
/// prefilter.
const MAX_TRACE_LOOKUPS: usize = 16;

/// Which rows a scan hands out, and what lets it leave the others unread.
#[derive(Debug, Clone)]
pub struct ScanFilter {
    pub kind: SegmentKind,
    /// Inclusive, nanoseconds (records by `time`, spans by `start`).
    pub start_ns: i64,
    /// Inclusive, nanoseconds.
    pub end_ns: i64,
    /// Lowercased service names, one of which a row's service must be (None: any).
    pub services: Option<Vec<String>>,
    /// Levels, one of which a record's level must be (None: any). For spans, `Error` and
    /// `Fatal` stand for the error status and any other level for the rest.
    pub levels: Option<Vec<Level>>,
    /// Trace ids (normalised), one of which a row's trace id may be (None: any). Narrows only.
    pub trace_ids: Option<Vec<String>>,
    /// Index terms every record must hold (see `record_terms`). Narrows segment reads only.
    pub terms: Vec<String>,
}

impl ScanFilter {
    /// Every row of `kind` within `[start_ns, end_ns]`.
    pub fn new(kind: SegmentKind, start_ns: i64, end_ns: i64) -> ScanFilter {
        ScanFilter { kind, start_ns, end_ns, services: None, levels: None, trace_ids: None, terms: Vec::new() }
    }

    pub fn records(start_ns: i64, end_ns: i64) -> ScanFilter {
        ScanFilter::new(SegmentKind::Records, start_ns, end_ns)
    }

    pub fn spans(start_ns: i64, end_ns: i64) -> ScanFilter {
        ScanFilter::new(SegmentKind::Spans, start_ns, end_ns)
    }

    fn service_allowed(&self, service: &str) -> bool {
        self.services.as_ref().is_none_or(|wanted| wanted.iter().any(|w| service_matches(service, w)))
    }

    fn level_allowed(&self, level: Level) -> bool {
        self.levels.as_ref().is_none_or(|wanted| wanted.contains(&level))
    }

    fn trace_allowed(&self, trace_id: &str) -> bool {
        self.trace_ids.as_ref().is_none_or(|wanted| wanted.iter().any(|w| w == trace_id))
    }

    /// The exact conditions, on a record of the buffer.
    pub fn record_passes(&self, r: &Record) -> bool {
        (self.start_ns..=self.end_ns).contains(&r.time_ns)
            && self.level_allowed(r.level)
            && self.service_allowed(&r.service)
            && self.trace_allowed(&r.trace_id)
    }

    /// The exact conditions, on a span of the buffer.
    pub fn span_passes(&self, s: &Span) -> bool {
        let level = if s.status_code == StatusCode::Error { Level::Error } else { Level::Info };
        (self.start_ns..=self.end_ns).contains(&s.start_ns)
            && self.levels.as_ref().is_none_or(|wanted| wanted.iter().any(|&l| span_level(l) == level))
            && self.service_allowed(&s.service)
            && self.trace_allowed(&s.trace_id)
    }

    /// The buffer's records that pass the filter (for readers that take the buffer whole).
    pub fn buffered_records<'s>(&'s self, snapshot: &'s Snapshot) -> impl Iterator<Item = &'s Record> + 's {
        snapshot.chunks.iter().flat_map(|c| c.records.iter()).filter(|r| self.record_passes(r))
    }

    /// The buffer's spans that pass the filter (for readers that take the buffer whole).
    pub fn buffered_spans<'s>(&'s self, snapshot: &'s Snapshot) -> impl Iterator<Item = &'s Span> + 's {
        snapshot.chunks.iter().flat_map(|c| c.spans.iter()).filter(|s| self.span_passes(s))
    }

    /// The registered segments of this kind that may hold a row in the time range, newest first.
    pub fn segments<'s>(&self, snapshot: &'s Snapshot) -> Vec<&'s Arc<SegmentHandle>> {
        let mut segments: Vec<_> = snapshot
            .segments
            .iter()
            .filter(|s| s.kind == self.kind && s.index.max_time_ns >= self.start_ns && s.index.min_time_ns <= self.end_ns)
            .collect();
        segments.sort_by_key(|s| Reverse(s.index.max_time_ns));
        segments
    }

    /// Indexes (into the segment's service list) of the services allowed, None for any.
    fn allowed_services(&self, index: &SegmentIndex) -> Option<Vec<u32>> {
        let wanted = self.services.as_ref()?;
        Some(
            index
                .services
                .iter()
                .enumerate()
                .filter(|(_, s)| wanted.iter().any(|w| service_matches(s, w)))
                .map(|(i, _)| i as u32)
                .collect(),
        )
    }

    /// The trace ids as hashes, made once per scan for the Bloom filters and the prefilter.
    fn trace_set(&self) -> Option<Arc<TraceIdSet>> {
        self.trace_ids.as_ref().map(|ids| Arc::new(TraceIdSet::new(ids.iter().map(String::as_str))))
    }

    /// Row groups of `index` that may hold a row passing the filter (`trace_ids`: its
    /// [`ScanFilter::trace_set`]).
    fn row_groups(&self, index: &SegmentIndex, trace_ids: Option<&TraceIdSet>) -> Vec<usize> {
        if index.max_time_ns < self.start_ns || index.min_time_ns > self.end_ns {
            return Vec::new();
        }
        let services = self.allowed_services(index);
        if services.as_ref().is_some_and(|s| s.is_empty()) {
            return Vec::new();
        }
        index
            .row_groups
            .iter()
            .enumerate()
            .filter(|(_, rg)| self.row_group_may_match(rg, services.as_deref(), trace_ids))
            .map(|(i, _)| i)
            .collect()
    }

    fn row_group_may_match(&self, rg: &RowGroupIndex, services: Option<&[u32]>, trace_ids: Option<&TraceIdSet>) -> bool {
        if rg.max_time_ns < self.start_ns || rg.min_time_ns > self.end_ns {
            return false;
        }
        if services.is_some_and(|services| !rg.services.iter().any(|s| services.contains(s))) {
            return false;
        }
        if let Some(levels) = &self.levels {
            let has = |l: Level| match self.kind {
                SegmentKind::Records => rg.has_level(l),
                SegmentKind::Spans => rg.has_level(span_level(l)),
            };
            if !levels.iter().any(|&l| has(l)) {
                return false;
            }
        }
        if trace_ids.is_some_and(|ids| !rg.may_contain_any_trace(ids)) {
            return false;
        }
        self.kind == SegmentKind::Spans || rg.may_contain_terms(&self.terms)
    }

    /// The rows of a segment that may pass, from its row index: ascending, a superset of the
    /// rows meeting every condition the index holds (the row blocks holding them). None when
    /// the filter names nothing the index holds.
    fn rows(&self, index: &RowIndex) -> Result<Option<Vec<u32>>, StoreError> {
        let union_of = |keys: &mut dyn Iterator<Item = IndexKey<'_>>| -> Result<Vec<u32>, StoreError> {
            let mut all = Vec::new();
            for k in keys {
                all = crate::postings::union(&all, &index.blocks(k)?);
            }
            Ok(all)
        };
        let mut lists: Vec<Vec<u32>> = Vec::new();
        // A lookup reads a key block: for the hundreds of traces root cause fetches at once, the
        // trace-id Bloom filters and the decoding prefilter are cheaper than the lookups.
        if let Some(ids) = self.trace_ids.as_ref().filter(|ids| ids.len() <= MAX_TRACE_LOOKUPS) {
            lists.push(union_of(&mut ids.iter().map(|id| IndexKey::Term(id)))?);
        }
        for t in &self.terms {
            if lists.last().is_some_and(|l| l.is_empty()) {
                return Ok(Some(Vec::new()));
            }
            lists.push(index.blocks(IndexKey::Term(t))?);
        }
        if let Some(services) = &self.services {
            lists.push(union_of(&mut services.iter().map(|s| IndexKey::Service(s)))?);
        }
        if let Some(levels) = &self.levels {
            lists.push(union_of(&mut levels.iter().map(|&l| IndexKey::Level(l)))?);
        }
        lists.sort_by_key(|l| l.len());
        let mut lists = lists.into_iter();
        let Some(mut blocks) = lists.next() else { return Ok(None) };
        for l in lists {
            if blocks.is_empty() {
                break;
            }
            blocks = crate::postings::intersect(&blocks, &l);
        }
        Ok(Some(index.rows_of(&blocks)))
    }

    /// The exact conditions on the cheap columns, applied while decoding.
    fn prefilter(&self, trace_ids: Option<Arc<TraceIdSet>>) -> RowPrefilter {
        let mut filter = RowPrefilter::time_range(self.kind.time_column(), self.start_ns, self.end_ns);
        filter.services = self.services.clone();
        filter.trace_ids = trace_ids;
        match self.kind {
            SegmentKind::Records => filter.levels = self.levels.as_ref().map(|ls| ls.iter().map(|l| l.as_str()).collect()),
            SegmentKind::Spans => {
                filter.error_status = self.levels.as_ref().and_then(|ls| {
                    let errors = ls.iter().any(|&l| span_level(l) == Level::Error);
                    let others = ls.iter().any(|&l| span_level(l) != Level::Error);
                    (errors != others).then_some(errors)
                })
            }
        }
        filter
    }

    /// True when the filter drops rows beyond the time range.
    fn selective(&self) -> bool {
        self.services.is_some() || self.levels.is_some() || self.trace_ids.is_some()
    }
}

/// A span's stand-in level for a level asked for: error (ERROR, FATAL) or not.
fn span_level(l: Level) -> Level {
    if matches!(l, Level::Error | Level::Fatal) {
        Level::Error
    } else {
        Level::Info
    }
}

/// True when a stored service name is `wanted` (lowercased): ASCII case ignored, or the same
/// once lowercased (Unicode).
pub(crate) fn service_matches(stored: &str, wanted: &str) -> bool {
    stored.eq_ignore_ascii_case(wanted) || (!stored.is_ascii() && stored.to_lowercase() == wanted)
}

/// Receives what a scan reads.
pub trait ScanVisitor {
    type Error;

    /// Rows at or before this time cannot change the answer: they are not handed out, and
    /// segments and row groups holding only such rows are not read.
    fn floor(&self) -> Option<i64> {
        None
    }

    /// Called between reads: an error (a deadline, a client gone) stops the scan.
    fn check(&self) -> Result<(), Self::Error> {
        Ok(())
    }

    /// The columns to decode from a segment (None: all). Records batches always have the whole
    /// records schema (a column left out is null); spans batches have the columns asked for.
    fn columns(&self, _index: &SegmentIndex) -> Option<Vec<String>> {
        None
    }

    /// A record of the buffer that passed the filter.
    fn record(&mut self, _record: &Record) -> Result<(), Self::Error> {
        Ok(())
    }

    /// A span of the buffer that passed the filter.
    fn span(&mut self, _span: &Span) -> Result<(), Self::Error> {
        Ok(())
    }

    /// Rows of the segment at `path` that passed the filter's exact conditions.
    fn batch(&mut self, batch: &RecordBatch, path: &Path) -> Result<(), Self::Error>;
}

/// What a scan read and left out.
#[derive(Debug, Default, Clone, Serialize)]
pub struct ScanStats {
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

/// A file a scan could not use as it should; the scan went on without it.
#[derive(Debug, Clone, PartialEq)]
pub enum ScanWarning {
    /// A segment (or part of it) could not be read: its remaining rows were skipped.
    Damaged { path: PathBuf, reason: String },
    /// A row index could not be read: the segment was read row group by row group instead.
    RowIndexUnused { path: PathBuf, reason: String },
}

impl std::fmt::Display for ScanWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScanWarning::Damaged { path, reason } => write!(f, "skipped: corrupt file {}: {reason}", path.display()),
            ScanWarning::RowIndexUnused { path, reason } => write!(f, "row index of {} not used: {reason}", path.display()),
        }
    }
}

impl ScanWarning {
    fn from_error(path: &Path, e: StoreError) -> ScanWarning {
        match e {
            StoreError::Corrupt { path, reason } => ScanWarning::Damaged { path, reason },
            other => ScanWarning::Damaged { path: path.to_path_buf(), reason: other.to_string() },
        }
    }
}

impl Snapshot {
    /// Hands `visitor` the rows passing `filter`: the buffer's first, then the segments',
    /// newest segment first and, within one, newest row groups first (see the module
    /// documentation for what is exact).
    pub fn scan<V: ScanVisitor>(
        &self,
        filter: &ScanFilter,
        visitor: &mut V,
        stats: &mut ScanStats,
        warnings: &mut Vec<ScanWarning>,
    ) -> Result<(), V::Error> {
        if filter.start_ns > filter.end_ns {
            return Ok(());
        }
        let below_floor = |v: &V, t: i64| v.floor().is_some_and(|f| t <= f);
        for chunk in &self.chunks {
            match filter.kind {
                SegmentKind::Records => {
                    for (n, r) in chunk.records.iter().enumerate() {
                        if n % 4096 == 4095 {
                            visitor.check()?;
                        }
                        stats.buffer_rows_scanned += 1;
                        if !below_floor(visitor, r.time_ns) && filter.record_passes(r) {
                            visitor.record(r)?;
                        }
                    }
                }
                SegmentKind::Spans => {
                    for (n, s) in chunk.spans.iter().enumerate() {
                        if n % 4096 == 4095 {
                            visitor.check()?;
                        }
                        stats.buffer_rows_scanned += 1;
                        if !below_floor(visitor, s.start_ns) && filter.span_passes(s) {
                            visitor.span(s)?;
                        }
                    }
                }
            }
        }

        let trace_set = filter.trace_set();
        let prefilter = filter.prefilter(trace_set.clone());
        let selective = filter.selective();
        let total = self.segments.iter().filter(|s| s.kind == filter.kind).count();
        let segments = filter.segments(self);
        stats.segments_total += total;
        stats.segments_skipped += total - segments.len();
        for seg in segments {
            let mut row_groups = filter.row_groups(&seg.index, trace_set.as_deref());
            stats.row_groups_skipped += seg.index.row_groups.len() - row_groups.len();
            if row_groups.is_empty() || below_floor(visitor, seg.index.max_time_ns) {
                stats.segments_skipped += 1;
                stats.row_groups_skipped += row_groups.len();
                continue;
            }
            // The row index names the rows that can pass: only their pages are read.
            let candidates = match seg.row_index.as_ref().map(|ri| filter.rows(ri)) {
                Some(Ok(rows)) => rows,
                Some(Err(e)) => {
                    warnings.push(ScanWarning::RowIndexUnused { path: seg.path.clone(), reason: e.to_string() });
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
            let projection: Option<Vec<String>> = visitor.columns(&seg.index);
            let projection: Option<Vec<&str>> = projection.as_ref().map(|p| p.iter().map(String::as_str).collect());
            row_groups.sort_by_key(|&i| Reverse(seg.index.row_groups[i].max_time_ns));
            let (reads, skipped) = plan_reads(&seg.index, &row_groups, candidates.as_deref());
            stats.row_groups_skipped += skipped;
            for read in reads {
                visitor.check()?;
                if below_floor(visitor, read.max_time_ns) {
                    stats.row_groups_skipped += read.row_groups.len();
                    continue;
                }
                stats.row_groups_scanned += read.row_groups.len();
                stats.rows_scanned += read.n_rows;
                let partly_outside = read.min_time_ns < filter.start_ns || read.max_time_ns > filter.end_ns;
                let exact = (selective || partly_outside).then_some(&prefilter);
                let batches = match filter.kind {
                    SegmentKind::Records => read_record_rows(&seg.path, read.row_groups, projection.as_deref(), exact, read.rows.as_deref()),
                    SegmentKind::Spans => read_span_rows(&seg.path, read.row_groups, projection.as_deref(), exact),
                };
                let batches = match batches {
                    Ok(b) => b,
                    Err(e) => {
                        warnings.push(ScanWarning::from_error(&seg.path, e));
                        break;
                    }
                };
                for batch in &batches {
                    visitor.check()?;
                    stats.bytes_scanned += batch.get_array_memory_size() as u64;
                    visitor.batch(batch, &seg.path)?;
                }
            }
        }
        Ok(())
    }
}

/// What [`Snapshot::scan_with`] hands its closure.
pub enum ScanRows<'a> {
    /// A record of the buffer that passed the filter.
    Record(&'a Record),
    /// A span of the buffer that passed the filter.
    Span(&'a Span),
    /// Rows of the segment at the path that passed the filter's exact conditions.
    Batch(&'a RecordBatch, &'a Path),
}

struct ClosureVisitor<'c, F> {
    columns: Option<&'c [&'c str]>,
    f: F,
}

impl<F: FnMut(ScanRows<'_>)> ScanVisitor for ClosureVisitor<'_, F> {
    type Error = StoreError;

    fn columns(&self, _index: &SegmentIndex) -> Option<Vec<String>> {
        self.columns.map(|c| c.iter().map(|s| s.to_string()).collect())
    }

    fn record(&mut self, record: &Record) -> Result<(), StoreError> {
        (self.f)(ScanRows::Record(record));
        Ok(())
    }

    fn span(&mut self, span: &Span) -> Result<(), StoreError> {
        (self.f)(ScanRows::Span(span));
        Ok(())
    }

    fn batch(&mut self, batch: &RecordBatch, path: &Path) -> Result<(), StoreError> {
        (self.f)(ScanRows::Batch(batch, path));
        Ok(())
    }
}

impl Snapshot {
    /// [`Snapshot::scan`] with a closure for the visitor, decoding `columns` of the segments
    /// (None: all) and reading everything the filter lets through.
    pub fn scan_with(
        &self,
        filter: &ScanFilter,
        columns: Option<&[&str]>,
        stats: &mut ScanStats,
        warnings: &mut Vec<ScanWarning>,
        f: impl FnMut(ScanRows<'_>),
    ) {
        let mut visitor = ClosureVisitor { columns, f };
        // The closure visitor never fails, and nothing else in a scan does.
        let _ = self.scan(filter, &mut visitor, stats, warnings);
    }

    /// True when some row may pass `filter`: a buffer row does, or the sidecar index of a
    /// segment lets a row group through. Nothing is decoded.
    pub fn may_hold(&self, filter: &ScanFilter) -> bool {
        let in_buffer = self.chunks.iter().any(|c| match filter.kind {
            SegmentKind::Records => c.records.iter().any(|r| filter.record_passes(r)),
            SegmentKind::Spans => c.spans.iter().any(|s| filter.span_passes(s)),
        });
        let trace_set = filter.trace_set();
        in_buffer || filter.segments(self).iter().any(|s| !filter.row_groups(&s.index, trace_set.as_deref()).is_empty())
    }

    /// The earliest and latest time of the rows of `kind`, from the buffer and the segments'
    /// indexes; None when there are none.
    pub fn time_bounds(&self, kind: SegmentKind) -> Option<(i64, i64)> {
        let buffer = self.chunks.iter().flat_map(|c| -> Box<dyn Iterator<Item = (i64, i64)> + '_> {
            match kind {
                SegmentKind::Records => Box::new(c.records.iter().map(|r| (r.time_ns, r.time_ns))),
                SegmentKind::Spans => Box::new(c.spans.iter().map(|s| (s.start_ns, s.start_ns))),
            }
        });
        let segments = self.segments.iter().filter(|s| s.kind == kind).map(|s| (s.index.min_time_ns, s.index.max_time_ns));
        let (lo, hi) = buffer.chain(segments).fold((i64::MAX, i64::MIN), |(lo, hi), (a, b)| (lo.min(a), hi.max(b)));
        (lo <= hi).then_some((lo, hi))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_match_ignoring_case_in_any_script() {
        assert!(service_matches("Payment", "payment"));
        assert!(service_matches("ÄPFEL-svc", "äpfel-svc"));
        assert!(service_matches("결제", "결제"));
        assert!(!service_matches("payment", "pay"));
    }

    #[test]
    fn rows_in_numbers_from_the_row_group() {
        assert_eq!(rows_in(&[1, 5, 10, 12, 30], 10, 10), vec![0, 2]);
        assert_eq!(rows_in(&[1, 5], 10, 10), Vec::<u32>::new());
    }

    #[test]
    fn span_levels_stand_for_error_status() {
        let mut f = ScanFilter::spans(0, 10);
        f.levels = Some(vec![Level::Error, Level::Info]);
        assert_eq!(f.prefilter(None).error_status, None);
        f.levels = Some(vec![Level::Error, Level::Fatal]);
        assert_eq!(f.prefilter(None).error_status, Some(true));
        f.levels = Some(vec![Level::Error]);
        assert_eq!(f.prefilter(None).error_status, Some(true));
        f.levels = Some(vec![Level::Info, Level::Warn]);
        assert_eq!(f.prefilter(None).error_status, Some(false));
    }
}
