//! Root cause for a window: which services and operations broke the failing requests.
//!
//! 1. The failing traces of the window: traces with an error span in it, or, when a query is
//!    given, the traces of the records it matches.
//! 2. All spans and records of those traces (a margin around the window catches the parts of a
//!    trace that started before or ended after it), assembled, each attributed to its root-cause
//!    span (`trawl_trace::assemble`).
//! 3. The same for the baseline window (the same hours a week before when spans exist then,
//!    else the window of the same length just before), counted by cause, so each cause is marked new, grown, steady or shrunk; and the `service.version`s seen
//!    in the window, so a cause specific to one version (a bad deploy) says so.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use serde::Serialize;
use trawl_model::{Record, Span, StatusCode};
use arrow::array::{Array, StringArray};
use trawl_storage::{
    parse_attributes, read_projected, read_record_batches_filtered, read_span_batches_filtered, record_from_batch, span_from_batch,
    RecordColumns, RowPrefilter, SegmentKind, Snapshot, SpanColumns,
};
use trawl_trace::{assemble, rank_causes, AssembledTrace, Cause, CauseKey};

use crate::ast::Query;
use crate::search::corrupt_warning;
use crate::{search, QueryError, SearchRequest};

/// Spans of a trace may start this long before the window or end this long after it.
const MARGIN_NS: i64 = 5 * 60 * 1_000_000_000;

const WEEK_NS: i64 = 7 * 24 * 3600 * 1_000_000_000;

/// Which window the causes are compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BaselineKind {
    PreviousWindow,
    SameTimeLastWeek,
}

/// True when some span starts in `[start, end)`: in the buffer, or in a segment whose sidecar
/// says a row group covers that time.
fn has_spans(snapshot: &Snapshot, start: i64, end: i64) -> bool {
    snapshot.chunks.iter().any(|c| c.spans.iter().any(|s| s.start_ns >= start && s.start_ns < end))
        || snapshot.segments.iter().filter(|s| s.kind == SegmentKind::Spans).any(|s| {
            s.index.row_groups.iter().any(|rg| rg.min_time_ns < end && rg.max_time_ns >= start)
        })
}

pub struct RootCauseRequest<'a> {
    pub query: &'a Query,
    pub start_ns: i64,
    pub end_ns: i64,
    /// At most this many failing traces are assembled (a deterministic sample beyond it).
    pub max_traces: usize,
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

    let mut versions: HashMap<String, HashMap<String, usize>> = HashMap::new();
    let window = failing_trace_ids(snapshot, request, request.start_ns, request.end_ns, Some(&mut versions), &mut warnings)?;
    let baseline = failing_trace_ids(snapshot, request, baseline_start, baseline_end, None, &mut warnings)?;

    let (window_traces, n_window) = assemble_sample(snapshot, &window, request, request.start_ns, request.end_ns, &mut warnings);
    let (baseline_traces, n_baseline) = assemble_sample(snapshot, &baseline, request, baseline_start, baseline_end, &mut warnings);
    let wants = |t: &AssembledTrace| {
        request.query.expr.is_some() || t.root_cause.as_ref().is_some_and(|rc| rc.kind == trawl_trace::RootCauseKind::Error)
    };
    let mut baseline_counts: HashMap<CauseKey, usize> = HashMap::new();
    for t in baseline_traces.iter().filter(|t| wants(t)) {
        if let Some(k) = CauseKey::of(t) {
            *baseline_counts.entry(k).or_default() += 1;
        }
    }
    // Baseline counts are of a sample: scale them to the same sampling rate as the window.
    let scale = |n: usize, total: usize, sampled: usize| if sampled == 0 { n } else { n * total / sampled.max(1) };
    let baseline_counts = baseline_counts
        .into_iter()
        .map(|(k, n)| (k, scale(n, n_baseline, baseline_traces.len())))
        .collect();
    let analysed: Vec<AssembledTrace> = window_traces.into_iter().filter(|t| wants(t)).collect();
    let causes = rank_causes(&analysed, &baseline_counts, &versions);
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

/// Trace ids of the window's failing traces (or of the query's matches), and, when asked, the
/// span count per service and version in the window.
fn failing_trace_ids(
    snapshot: &Snapshot,
    request: &RootCauseRequest<'_>,
    start: i64,
    end: i64,
    mut versions: Option<&mut HashMap<String, HashMap<String, usize>>>,
    warnings: &mut Vec<String>,
) -> Result<HashSet<String>, QueryError> {
    let mut ids = HashSet::new();
    if request.query.expr.is_some() {
        let found = search(snapshot, &SearchRequest { query: request.query, start_ns: start, end_ns: end - 1, limit: 10_000 })?;
        ids.extend(found.records.into_iter().map(|r| r.trace_id).filter(|t| !t.is_empty()));
        warnings.extend(found.warnings);
        if versions.is_none() {
            return Ok(ids);
        }
    }
    let by_query = request.query.expr.is_some();
    let need_all_rows = versions.is_some();
    let mut visit = |trace_id: &str, service: &str, error: bool, version: &dyn Fn() -> Option<String>| {
        if error && !by_query {
            ids.insert(trace_id.to_string());
        }
        if let Some(v) = versions.as_deref_mut() {
            if let Some(version) = version() {
                *v.entry(service.to_string()).or_default().entry(version).or_default() += 1;
            }
        }
    };
    for chunk in &snapshot.chunks {
        for s in chunk.spans.iter().filter(|s| s.start_ns >= start && s.start_ns < end) {
            visit(&s.trace_id, &s.service, s.status_code == StatusCode::Error, &|| version_of(&s.resource));
        }
    }
    // Only the columns needed, only the rows in the window: bodies of spans are never decoded.
    let prefilter = RowPrefilter::time_range("start", start, end - 1);
    let columns = ["start", "trace_id", "service", "status_code", "resource"];
    for seg in snapshot.segments.iter().filter(|s| s.kind == SegmentKind::Spans) {
        let row_groups: Vec<usize> = seg
            .index
            .row_groups
            .iter()
            .enumerate()
            .filter(|(_, rg)| rg.max_time_ns >= start && rg.min_time_ns < end)
            .filter(|(_, rg)| need_all_rows || rg.has_level(trawl_model::Level::Error))
            .map(|(i, _)| i)
            .collect();
        if row_groups.is_empty() {
            continue;
        }
        let batches = match read_projected(&seg.path, row_groups, &columns, Some(&prefilter)) {
            Ok(b) => b,
            Err(e) => {
                warnings.push(corrupt_warning(&e));
                continue;
            }
        };
        for b in &batches {
            let string_column = |name: &str| b.column_by_name(name).and_then(|c| c.as_any().downcast_ref::<StringArray>());
            let (Some(trace_id), Some(service), Some(status), Some(resource)) =
                (string_column("trace_id"), string_column("service"), string_column("status_code"), string_column("resource"))
            else {
                continue;
            };
            for i in 0..b.num_rows() {
                visit(trace_id.value(i), service.value(i), status.value(i) == "ERROR", &|| version_in_json(resource.value(i)));
            }
        }
    }
    Ok(ids)
}

/// Assembles a deterministic sample of at most `max_traces` of `ids`; returns the traces and
/// how many ids there were.
fn assemble_sample(
    snapshot: &Snapshot,
    ids: &HashSet<String>,
    request: &RootCauseRequest<'_>,
    start: i64,
    end: i64,
    warnings: &mut Vec<String>,
) -> (Vec<AssembledTrace>, usize) {
    let mut sorted: Vec<&String> = ids.iter().collect();
    sorted.sort();
    if sorted.len() > request.max_traces {
        // Trace ids are random: the smallest ones are an unbiased, repeatable sample.
        sorted.truncate(request.max_traces);
    }
    let wanted: HashSet<&str> = sorted.iter().map(|s| s.as_str()).collect();
    let (spans, records) = fetch_traces(snapshot, &wanted, start.saturating_sub(MARGIN_NS), end.saturating_add(MARGIN_NS), warnings);
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
    if wanted.is_empty() {
        return (spans, records);
    }
    for chunk in &snapshot.chunks {
        spans.extend(chunk.spans.iter().filter(|s| wanted.contains(s.trace_id.as_str())).cloned());
        records.extend(chunk.records.iter().filter(|r| wanted.contains(r.trace_id.as_str())).cloned());
    }
    // Rows of other traces are dropped while decoding, before their bodies and attributes are.
    let ids: std::sync::Arc<HashSet<String>> = std::sync::Arc::new(wanted.iter().map(|s| s.to_string()).collect());
    let span_filter = RowPrefilter { trace_ids: Some(ids.clone()), ..RowPrefilter::time_range("start", start, end) };
    let record_filter = RowPrefilter { trace_ids: Some(ids), ..RowPrefilter::time_range("time", start, end) };
    for seg in &snapshot.segments {
        let row_groups: Vec<usize> = seg
            .index
            .row_groups
            .iter()
            .enumerate()
            .filter(|(_, rg)| rg.max_time_ns >= start && rg.min_time_ns <= end)
            .filter(|(_, rg)| wanted.iter().any(|id| rg.may_contain_trace(id)))
            .map(|(i, _)| i)
            .collect();
        if row_groups.is_empty() {
            continue;
        }
        match seg.kind {
            SegmentKind::Spans => match read_span_batches_filtered(&seg.path, row_groups, Some(&span_filter)) {
                Ok(batches) => {
                    for b in &batches {
                        let Ok(c) = SpanColumns::new(b, &seg.path) else { continue };
                        spans.extend((0..c.len()).filter(|&i| wanted.contains(c.trace_id.value(i))).map(|i| span_from_batch(&c, i)));
                    }
                }
                Err(e) => warnings.push(corrupt_warning(&e)),
            },
            SegmentKind::Records => match read_record_batches_filtered(&seg.path, row_groups, Some(&record_filter)) {
                Ok(batches) => {
                    for b in &batches {
                        let Ok(c) = RecordColumns::new(b, &seg.path) else { continue };
                        records.extend((0..c.len()).filter(|&i| wanted.contains(c.trace_id.value(i))).map(|i| record_from_batch(&c, i)));
                    }
                }
                Err(e) => warnings.push(corrupt_warning(&e)),
            },
        }
    }
    (spans, records)
}
