use trawl_model::{normalize_id, Record, Span};
use trawl_storage::Snapshot;

/// Every record and span of one trace, across services, oldest first.
#[derive(Debug, Default)]
pub struct TraceResult {
    pub records: Vec<Record>,
    pub spans: Vec<Span>,
    pub warnings: Vec<String>,
}

/// Looks a trace up in the buffer and in the row groups whose trace-id filter may hold it.
pub fn find_trace(snapshot: &Snapshot, trace_id: &str) -> TraceResult {
    let id = normalize_id(trace_id);
    let mut out = TraceResult::default();
    if id.is_empty() {
        return out;
    }
    let wanted = std::collections::HashSet::from([id.as_str()]);
    let (spans, records) = crate::fetch_traces(snapshot, &wanted, i64::MIN, i64::MAX, &mut out.warnings);
    out.spans = spans;
    out.records = records;
    out.records.sort_by_key(|r| r.time_ns);
    out.spans.sort_by_key(|s| s.start_ns);
    out
}
