use trawl_model::{normalize_id, Record, Span};
use trawl_storage::{read_record_batches, read_span_batches, record_from_batch, span_from_batch, RecordColumns, SegmentKind, Snapshot, SpanColumns};

use crate::search::corrupt_warning;

/// Every record and span of one trace, across services, oldest first.
#[derive(Debug, Default)]
pub struct TraceResult {
    pub records: Vec<Record>,
    pub spans: Vec<Span>,
    pub warnings: Vec<String>,
    pub row_groups_scanned: usize,
}

/// Looks a trace up in the buffer and in the row groups whose trace-id filter may hold it.
pub fn find_trace(snapshot: &Snapshot, trace_id: &str) -> TraceResult {
    let id = normalize_id(trace_id);
    let mut out = TraceResult::default();
    if id.is_empty() {
        return out;
    }
    for chunk in &snapshot.chunks {
        out.records.extend(chunk.records.iter().filter(|r| r.trace_id == id).cloned());
        out.spans.extend(chunk.spans.iter().filter(|s| s.trace_id == id).cloned());
    }
    for seg in &snapshot.segments {
        let row_groups: Vec<usize> = seg
            .index
            .row_groups
            .iter()
            .enumerate()
            .filter(|(_, rg)| rg.may_contain_trace(&id))
            .map(|(i, _)| i)
            .collect();
        if row_groups.is_empty() {
            continue;
        }
        out.row_groups_scanned += row_groups.len();
        match seg.kind {
            SegmentKind::Records => match read_record_batches(&seg.path, row_groups) {
                Ok(batches) => {
                    for b in &batches {
                        let Ok(c) = RecordColumns::new(b, &seg.path) else { continue };
                        out.records.extend((0..c.len()).filter(|&i| c.trace_id.value(i) == id).map(|i| record_from_batch(&c, i)));
                    }
                }
                Err(e) => out.warnings.push(corrupt_warning(&e)),
            },
            SegmentKind::Spans => match read_span_batches(&seg.path, row_groups) {
                Ok(batches) => {
                    for b in &batches {
                        let Ok(c) = SpanColumns::new(b, &seg.path) else { continue };
                        out.spans.extend((0..c.len()).filter(|&i| c.trace_id.value(i) == id).map(|i| span_from_batch(&c, i)));
                    }
                }
                Err(e) => out.warnings.push(corrupt_warning(&e)),
            },
        }
    }
    out.records.sort_by_key(|r| r.time_ns);
    out.spans.sort_by_key(|s| s.start_ns);
    out
}
