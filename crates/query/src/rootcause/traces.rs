//! The failing traces of a window, assembled: each attributed to its root-cause span (the
//! deepest failing span no child explains, `trawl_trace::assemble`). They give the answer its
//! examples and messages, and answer alone for a query or a service's alert (the failing
//! traces that query or service is in).
//!
//! 1. The failing traces of the window: traces with an error span in it (a scan of three small
//!    columns), or, when a query is given, the traces of the records it matches.
//! 2. The newest of them (`max_traces`): all their spans and records (a margin around the window
//!    catches the parts of a trace outside it), assembled.
//! 3. For the services that are causes only: the `service.version`s they ran in the window (a
//!    cause specific to one version is a bad deploy) and when each operation first failed.

use std::collections::{HashMap, HashSet};

use arrow::array::{Array, RecordBatch, StringArray, TimestampNanosecondArray};
use trawl_model::{Record, Span, StatusCode};
use trawl_storage::{
    parse_attributes, record_from_batch, span_from_batch, RecordColumns, ScanFilter, ScanRows, ScanStats, SegmentKind, Snapshot, SpanColumns,
};
use trawl_trace::{assemble, AssembledTrace};

use super::RootCauseRequest;
use crate::{search, QueryError, SearchRequest};

/// The spans of a failing trace are looked for this long before and after its error span's
/// window: requests, unlike batch jobs, last seconds.
const MARGIN_NS: i64 = 60 * 1_000_000_000;

fn version_of(resource: &trawl_model::Attributes) -> Option<String> {
    resource.iter().find(|(k, _)| k == "service.version").map(|(_, v)| v.to_text().into_owned())
}

/// `service.version` from a stored resource JSON object, without parsing all of it (this runs
/// for every span of a window); anything unusual (escapes, a non-string) takes the slow path.
fn version_in_json(json: &str) -> Option<String> {
    const KEY: &str = "\"service.version\":";
    let at = json.find(KEY)? + KEY.len();
    let rest = json[at..].trim_start();
    if let Some(value) = rest.strip_prefix('"') {
        if let Some(end) = value.find(['"', '\\']) {
            if value.as_bytes()[end] == b'"' {
                return Some(value[..end].to_string());
            }
        }
    }
    version_of(&parse_attributes(json))
}

/// The window's failing traces (or the traces of the query's matches), each with the time of
/// its latest error span (or matching record).
pub(super) fn failing_traces(
    snapshot: &Snapshot,
    request: &RootCauseRequest<'_>,
    start: i64,
    end: i64,
    warnings: &mut Vec<String>,
) -> Result<HashMap<String, i64>, QueryError> {
    let mut ids: HashMap<String, i64> = HashMap::new();
    let mut note = |id: &str, t: i64| {
        if !id.is_empty() {
            let latest = ids.entry(id.to_string()).or_insert(t);
            *latest = (*latest).max(t);
        }
    };
    if request.query.expr.is_some() {
        let found = search(snapshot, &SearchRequest { query: request.query, start_ns: start, end_ns: end - 1, limit: 10_000, timeout: None })?;
        for r in &found.records {
            note(&r.trace_id, r.time_ns);
        }
        warnings.extend(found.warnings);
        return Ok(ids);
    }
    let in_scope = |service: &str| request.service.is_none_or(|s| s == service);
    // Only a few small columns, only the error spans of the window.
    let filter = ScanFilter {
        services: request.service.map(|s| vec![s.to_lowercase()]),
        levels: Some(vec![trawl_model::Level::Error]),
        ..ScanFilter::spans(start, end - 1)
    };
    let columns: &[&str] = if request.service.is_some() { &["start", "trace_id", "status_code", "service"] } else { &["start", "trace_id", "status_code"] };
    scan(snapshot, &filter, Some(columns), warnings, |rows| match rows {
        ScanRows::Span(s) => {
            if s.status_code == StatusCode::Error && in_scope(&s.service) {
                note(&s.trace_id, s.start_ns);
            }
        }
        ScanRows::Batch(b, _) => {
            let (Some(time), Some(trace_id), Some(status)) = (timestamps(b, "start"), strings(b, "trace_id"), strings(b, "status_code")) else {
                return;
            };
            let service = strings(b, "service");
            for i in 0..b.num_rows() {
                if status.value(i) == StatusCode::Error.as_str() && service.is_none_or(|s| in_scope(s.value(i))) {
                    note(trace_id.value(i), time.value(i));
                }
            }
        }
        ScanRows::Record(_) => {}
    });
    Ok(ids)
}

pub(crate) fn strings<'a>(batch: &'a RecordBatch, name: &str) -> Option<&'a StringArray> {
    batch.column_by_name(name).and_then(|c| c.as_any().downcast_ref::<StringArray>())
}

pub(crate) fn timestamps<'a>(batch: &'a RecordBatch, name: &str) -> Option<&'a TimestampNanosecondArray> {
    batch.column_by_name(name).and_then(|c| c.as_any().downcast_ref::<TimestampNanosecondArray>())
}

/// A scan whose warnings are kept as text and whose statistics are not kept.
pub(crate) fn scan(snapshot: &Snapshot, filter: &ScanFilter, columns: Option<&[&str]>, warnings: &mut Vec<String>, f: impl FnMut(ScanRows<'_>)) {
    let mut scan_warnings = Vec::new();
    snapshot.scan_with(filter, columns, &mut ScanStats::default(), &mut scan_warnings, f);
    warnings.extend(scan_warnings.iter().map(ToString::to_string));
}

/// Versions seen per service, and the first error span per (service, operation), in a window.
pub(super) struct CauseContext {
    pub versions: HashMap<String, HashMap<String, usize>>,
    /// The first span of each (service, version).
    pub version_first_ns: HashMap<(String, String), i64>,
    pub first_error: HashMap<(String, String), i64>,
}

pub(super) fn cause_context(snapshot: &Snapshot, services: &[String], start: i64, end: i64, warnings: &mut Vec<String>) -> CauseContext {
    let mut context = CauseContext { versions: HashMap::new(), version_first_ns: HashMap::new(), first_error: HashMap::new() };
    if services.is_empty() {
        return context;
    }
    let mut visit = |service: &str, name: &str, time: i64, error: bool, version: Option<String>| {
        if let Some(v) = version {
            let first = context.version_first_ns.entry((service.to_string(), v.clone())).or_insert(time);
            *first = (*first).min(time);
            *context.versions.entry(service.to_string()).or_default().entry(v).or_default() += 1;
        }
        if error {
            let first = context.first_error.entry((service.to_string(), name.to_string())).or_insert(time);
            *first = (*first).min(time);
        }
    };
    let wanted: HashSet<&str> = services.iter().map(|s| s.as_str()).collect();
    let filter = ScanFilter { services: Some(services.iter().map(|s| s.to_lowercase()).collect()), ..ScanFilter::spans(start, end - 1) };
    let columns = ["start", "service", "name", "status_code", "resource"];
    scan(snapshot, &filter, Some(&columns), warnings, |rows| match rows {
        ScanRows::Span(s) => {
            if wanted.contains(s.service.as_str()) {
                visit(&s.service, &s.name, s.start_ns, s.status_code == StatusCode::Error, version_of(&s.resource));
            }
        }
        ScanRows::Batch(b, _) => {
            let (Some(time), Some(service), Some(name), Some(status), Some(resource)) =
                (timestamps(b, "start"), strings(b, "service"), strings(b, "name"), strings(b, "status_code"), strings(b, "resource"))
            else {
                return;
            };
            for i in 0..b.num_rows() {
                if wanted.contains(service.value(i)) {
                    visit(service.value(i), name.value(i), time.value(i), status.value(i) == StatusCode::Error.as_str(), version_in_json(resource.value(i)));
                }
            }
        }
        ScanRows::Record(_) => {}
    });
    context
}

/// Assembles the newest `max_traces` of the failing traces (by their latest error): what is
/// failing now, and traces that sit together in the newest row groups, so fetching them reads
/// few of them. Returns the traces and how many failing traces there were.
pub(super) fn assemble_newest(
    snapshot: &Snapshot,
    ids: &HashMap<String, i64>,
    request: &RootCauseRequest<'_>,
    start: i64,
    end: i64,
    warnings: &mut Vec<String>,
) -> (Vec<AssembledTrace>, usize) {
    let mut newest: Vec<(&String, i64)> = ids.iter().map(|(id, t)| (id, *t)).collect();
    newest.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    newest.truncate(request.max_traces);
    let wanted: HashSet<&str> = newest.iter().map(|(id, _)| id.as_str()).collect();
    let oldest = newest.iter().map(|(_, t)| *t).min().unwrap_or(start);
    let (spans, records) = fetch_traces(snapshot, &wanted, oldest.max(start).saturating_sub(MARGIN_NS), end.saturating_add(MARGIN_NS), warnings);
    let mut by_trace: HashMap<&str, (Vec<Span>, Vec<Record>)> = HashMap::new();
    for s in spans {
        if let Some(&id) = wanted.get(s.trace_id.as_str()) {
            by_trace.entry(id).or_default().0.push(s);
        }
    }
    for r in records {
        if let Some(&id) = wanted.get(r.trace_id.as_str()) {
            by_trace.entry(id).or_default().1.push(r);
        }
    }
    let mut traces: Vec<AssembledTrace> = by_trace.into_iter().map(|(id, (s, r))| assemble(id, s, r)).collect();
    traces.sort_by(|a, b| a.trace_id.cmp(&b.trace_id));
    (traces, ids.len())
}

/// Every span and record of the wanted traces within `[start, end]`.
pub fn fetch_traces(
    snapshot: &Snapshot,
    wanted: &HashSet<&str>,
    start: i64,
    end: i64,
    warnings: &mut Vec<String>,
) -> (Vec<Span>, Vec<Record>) {
    fetch(snapshot, wanted, start, end, true, warnings)
}

/// Every span of the wanted traces within `[start, end]`.
pub(super) fn fetch_spans(snapshot: &Snapshot, wanted: &HashSet<&str>, start: i64, end: i64, warnings: &mut Vec<String>) -> Vec<Span> {
    fetch(snapshot, wanted, start, end, false, warnings).0
}

fn fetch(snapshot: &Snapshot, wanted: &HashSet<&str>, start: i64, end: i64, with_records: bool, warnings: &mut Vec<String>) -> (Vec<Span>, Vec<Record>) {
    let mut spans = Vec::new();
    let mut records = Vec::new();
    let mut corrupt = Vec::new();
    if wanted.is_empty() {
        return (spans, records);
    }
    // Rows of other traces are dropped while decoding, before their bodies and attributes are.
    let ids: Vec<String> = wanted.iter().map(|id| id.to_string()).collect();
    let filter = ScanFilter { trace_ids: Some(ids), ..ScanFilter::spans(start, end) };
    scan(snapshot, &filter, None, warnings, |rows| match rows {
        ScanRows::Span(s) => spans.push(s.clone()),
        ScanRows::Batch(b, path) => match SpanColumns::new(b, path) {
            Ok(c) => spans.extend((0..c.len()).filter(|&i| wanted.contains(c.trace_id.value(i))).map(|i| span_from_batch(&c, i))),
            Err(e) => corrupt.push(e.to_string()),
        },
        ScanRows::Record(_) => {}
    });
    if !with_records {
        warnings.append(&mut corrupt);
        return (spans, records);
    }
    let filter = ScanFilter { kind: SegmentKind::Records, ..filter };
    scan(snapshot, &filter, None, warnings, |rows| match rows {
        ScanRows::Record(r) => records.push(r.clone()),
        ScanRows::Batch(b, path) => match RecordColumns::new(b, path) {
            Ok(c) => records.extend((0..c.len()).filter(|&i| wanted.contains(c.trace_id.value(i))).map(|i| record_from_batch(&c, i))),
            Err(e) => corrupt.push(e.to_string()),
        },
        ScanRows::Span(_) => {}
    });
    warnings.append(&mut corrupt);
    (spans, records)
}
