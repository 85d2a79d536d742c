//! Root cause for a window: which services and operations broke the failing requests.
//!
//! 1. The failing traces of the window: traces with an error span in it (a scan of three small
//!    columns), or, when a query is given, the traces of the records it matches.
//! 2. The newest of them (`max_traces`): all their spans and records (a margin around the window
//!    catches the parts of a trace outside it), assembled, each attributed to its root-cause span
//!    (`trawl_trace::assemble`).
//! 3. The same for the baseline window (the same hours a week before when spans exist then,
//!    else the window of the same length just before), counted by cause, so each cause is marked
//!    new, grown, steady or shrunk.
//! 4. For the services that are causes only: the `service.version`s they ran in the window (a
//!    cause specific to one version is a bad deploy) and when each operation first failed.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use serde::Serialize;
use trawl_model::{Record, Span, StatusCode};
use arrow::array::{Array, RecordBatch, StringArray, TimestampNanosecondArray};
use trawl_storage::{
    parse_attributes, record_from_batch, span_from_batch, RecordColumns, ScanFilter, ScanRows, ScanStats, SegmentKind, Snapshot, SpanColumns,
};
use trawl_trace::{assemble, rank_causes, AssembledTrace, Cause, CauseKey};

use crate::ast::Query;
use crate::{search, QueryError, SearchRequest};

/// The spans of a failing trace are looked for this long before and after its error span's
/// window: requests, unlike batch jobs, last seconds.
const MARGIN_NS: i64 = 60 * 1_000_000_000;

const WEEK_NS: i64 = 7 * 24 * 3600 * 1_000_000_000;

/// Which window the causes are compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BaselineKind {
    PreviousWindow,
    SameTimeLastWeek,
}

/// True when some span may start in `[start, end)`: in the buffer, or in a segment whose
/// sidecar says a row group covers that time.
fn has_spans(snapshot: &Snapshot, start: i64, end: i64) -> bool {
    snapshot.may_hold(&ScanFilter::spans(start, end - 1))
}

pub struct RootCauseRequest<'a> {
    pub query: &'a Query,
    pub start_ns: i64,
    pub end_ns: i64,
    /// At most this many failing traces are assembled: the newest ones.
    pub max_traces: usize,
    /// Without a query: only the failing traces in which this service has an error span (an
    /// alert about one service explains that service's failures).
    pub service: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub struct RootCauseReport {
    pub start_ns: i64,
    pub end_ns: i64,
    pub baseline_start_ns: i64,
    pub baseline_end_ns: i64,
    pub baseline_kind: BaselineKind,
    pub failing_traces: usize,
    pub analysed_traces: usize,
    pub baseline_failing_traces: usize,
    pub causes: Vec<Cause>,
    pub warnings: Vec<String>,
    /// Where the time went, by step.
    pub phases: Vec<(&'static str, f64)>,
    pub elapsed_ms: f64,
}

pub fn root_cause(snapshot: &Snapshot, request: &RootCauseRequest<'_>) -> Result<RootCauseReport, QueryError> {
    let started = Instant::now();
    if request.start_ns >= request.end_ns {
        return Err(QueryError::Invalid("start must be before end".into()));
    }
    let mut warnings = Vec::new();
    let length = request.end_ns - request.start_ns;
    // The same hours a week earlier when spans exist then (daily and weekly rhythms cancel out),
    // else the window just before.
    let week_start = request.start_ns.saturating_sub(WEEK_NS);
    let (baseline_start, baseline_end, baseline_kind) = if has_spans(snapshot, week_start, week_start + length) {
        (week_start, week_start + length, BaselineKind::SameTimeLastWeek)
    } else {
        (request.start_ns.saturating_sub(length), request.start_ns, BaselineKind::PreviousWindow)
    };

    let mut phases = Vec::new();
    let mut lap = Instant::now();
    let mut phase = |name: &'static str| {
        phases.push((name, lap.elapsed().as_secs_f64() * 1e3));
        lap = Instant::now();
    };
    let window = failing_traces(snapshot, request, request.start_ns, request.end_ns, &mut warnings)?;
    let baseline = failing_traces(snapshot, request, baseline_start, baseline_end, &mut warnings)?;
    phase("find_failing_ms");
    let (window_traces, n_window) = assemble_newest(snapshot, &window, request, request.start_ns, request.end_ns, &mut warnings);
    let (baseline_traces, n_baseline) = assemble_newest(snapshot, &baseline, request, baseline_start, baseline_end, &mut warnings);
    phase("fetch_and_assemble_ms");
    let wants = |t: &AssembledTrace| {
        request.query.expr.is_some() || t.root_cause.as_ref().is_some_and(|rc| rc.kind == trawl_trace::RootCauseKind::Error)
    };
    let mut baseline_counts: HashMap<CauseKey, usize> = HashMap::new();
    for t in baseline_traces.iter().filter(|t| wants(t)) {
        if let Some(k) = CauseKey::of(t) {
            *baseline_counts.entry(k).or_default() += 1;
        }
    }
    // Both windows are sampled: compare rates, so scale the baseline to the window's sampling.
    let window_rate = window_traces.len() as f64 / n_window.max(1) as f64;
    let baseline_rate = baseline_traces.len() as f64 / n_baseline.max(1) as f64;
    let baseline_counts = baseline_counts
        .into_iter()
        .map(|(k, n)| (k, if baseline_rate > 0.0 { (n as f64 * window_rate / baseline_rate).round() as usize } else { n }))
        .collect();
    let analysed: Vec<AssembledTrace> = window_traces.into_iter().filter(|t| wants(t)).collect();
    // Versions and first failures only for the services of the leading causes: rank once to
    // know them, look them up in one projected scan, rank again with the versions.
    let preliminary = rank_causes(&analysed, &baseline_counts, &HashMap::new());
    let mut services: Vec<String> = Vec::new();
    for cause in &preliminary {
        if services.len() >= MAX_CAUSE_SERVICES {
            break;
        }
        if !services.contains(&cause.key.service) {
            services.push(cause.key.service.clone());
        }
    }
    let context = cause_context(snapshot, &services, request.start_ns, request.end_ns, &mut warnings);
    phase("versions_ms");
    let mut causes = rank_causes(&analysed, &baseline_counts, &context.versions);
    for cause in &mut causes {
        if let Some(&first) = context.first_error.get(&(cause.key.service.clone(), cause.key.operation.clone())) {
            cause.first_seen_ns = cause.first_seen_ns.min(first);
        }
    }
    Ok(RootCauseReport {
        start_ns: request.start_ns,
        end_ns: request.end_ns,
        baseline_start_ns: baseline_start,
        baseline_end_ns: baseline_end,
        baseline_kind,
        failing_traces: n_window,
        analysed_traces: analysed.len(),
        baseline_failing_traces: n_baseline,
        causes,
        warnings,
        phases,
        elapsed_ms: started.elapsed().as_secs_f64() * 1e3,
    })
}

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

/// The services of this many leading causes get their versions and first failures looked up.
const MAX_CAUSE_SERVICES: usize = 3;

/// The window's failing traces (or the traces of the query's matches), each with the time of
/// its latest error span (or matching record).
fn failing_traces(
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
        let found = search(snapshot, &SearchRequest { query: request.query, start_ns: start, end_ns: end - 1, limit: 10_000 })?;
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

fn strings<'a>(batch: &'a RecordBatch, name: &str) -> Option<&'a StringArray> {
    batch.column_by_name(name).and_then(|c| c.as_any().downcast_ref::<StringArray>())
}

fn timestamps<'a>(batch: &'a RecordBatch, name: &str) -> Option<&'a TimestampNanosecondArray> {
    batch.column_by_name(name).and_then(|c| c.as_any().downcast_ref::<TimestampNanosecondArray>())
}

/// A scan whose warnings are kept as text and whose statistics are not kept.
fn scan(snapshot: &Snapshot, filter: &ScanFilter, columns: Option<&[&str]>, warnings: &mut Vec<String>, f: impl FnMut(ScanRows<'_>)) {
    let mut scan_warnings = Vec::new();
    snapshot.scan_with(filter, columns, &mut ScanStats::default(), &mut scan_warnings, f);
    warnings.extend(scan_warnings.iter().map(ToString::to_string));
}

/// Versions seen per service, and the first error span per (service, operation), in a window.
struct CauseContext {
    versions: HashMap<String, HashMap<String, usize>>,
    first_error: HashMap<(String, String), i64>,
}

fn cause_context(snapshot: &Snapshot, services: &[String], start: i64, end: i64, warnings: &mut Vec<String>) -> CauseContext {
    let mut context = CauseContext { versions: HashMap::new(), first_error: HashMap::new() };
    if services.is_empty() {
        return context;
    }
    let mut visit = |service: &str, name: &str, time: i64, error: bool, version: Option<String>| {
        if let Some(v) = version {
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
fn assemble_newest(
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
