//! The ERROR log lines behind a service's log change: which patterns grew, in which operation
//! they were logged, and when each pattern was born.
//!
//! Records carry the trace and span id of the span they were logged in, so a failure that
//! shows only in logs (every span OK) maps to the operation of that span: the spans of a few
//! sample records are fetched by their trace ids (the row index answers those).

use std::collections::{BTreeMap, HashMap, HashSet};

use arrow::array::{Array, UInt64Array};
use serde::Serialize;
use trawl_model::Level;
use trawl_storage::{ScanFilter, ScanRows, Snapshot};

use super::significance::{change_z, significant_increase};
use super::traces::{fetch_spans, scan, strings, timestamps};

/// Records whose spans are fetched to find the operation of a pattern.
const SAMPLES: usize = 12;
/// Patterns reported per cause.
const MAX_PATTERNS: usize = 5;

/// One log pattern of a service, window against baseline.
#[derive(Debug, Clone, Serialize)]
pub struct PatternFigure {
    pub pattern_id: u64,
    /// The pattern's template (variables as `<*>`), or the masked sample when the pattern is
    /// not known.
    pub template: String,
    pub window: u64,
    pub baseline: u64,
    pub z: f64,
    /// The pattern changed significantly.
    pub changed: bool,
    /// When the pattern was first seen, if within the window (a pattern born in the incident).
    pub born_ns: Option<i64>,
    /// One line of it, variables masked.
    pub sample: String,
    /// The operation (span name) its lines were logged in, most often, among the samples.
    pub operation: Option<String>,
    pub example_trace_id: Option<String>,
}

#[derive(Default)]
struct Acc {
    count: u64,
    first_ns: i64,
    sample: String,
    samples: Vec<(String, String)>,
}

/// The ERROR and FATAL patterns of `service` in `window` against `baseline` (both `[start,
/// end)`), with `exposure` the window's records over the baseline's; changed patterns first.
pub fn error_patterns(
    snapshot: &Snapshot,
    service: &str,
    window: (i64, i64),
    baseline: (i64, i64),
    exposure: f64,
    warnings: &mut Vec<String>,
) -> Vec<PatternFigure> {
    let levels = Some(vec![Level::Error, Level::Fatal]);
    let lower = service.to_lowercase();
    let filter = |(start, end): (i64, i64)| ScanFilter { services: Some(vec![lower.clone()]), levels: levels.clone(), ..ScanFilter::records(start, end - 1) };
    let is_error = |level: &str| level == Level::Error.as_str() || level == Level::Fatal.as_str();

    let mut now: HashMap<u64, Acc> = HashMap::new();
    let mut note = |pattern: u64, time: i64, trace: &str, span: &str, body: &str| {
        let acc = now.entry(pattern).or_insert_with(|| Acc { first_ns: time, sample: body.to_string(), ..Acc::default() });
        acc.count += 1;
        if time < acc.first_ns {
            acc.first_ns = time;
        }
        if acc.samples.len() < SAMPLES && !trace.is_empty() && !span.is_empty() {
            acc.samples.push((trace.to_string(), span.to_string()));
        }
    };
    let columns = ["time", "service", "level", "trace_id", "span_id", "pattern_id", "body"];
    scan(snapshot, &filter(window), Some(&columns), warnings, |rows| match rows {
        ScanRows::Record(r) => {
            if r.service == service && (r.level == Level::Error || r.level == Level::Fatal) {
                note(r.pattern_id, r.time_ns, &r.trace_id, &r.span_id, &r.body);
            }
        }
        ScanRows::Batch(b, _) => {
            let (Some(time), Some(svc), Some(level), Some(trace), Some(span), Some(body)) =
                (timestamps(b, "time"), strings(b, "service"), strings(b, "level"), strings(b, "trace_id"), strings(b, "span_id"), strings(b, "body"))
            else {
                return;
            };
            let pattern = b.column_by_name("pattern_id").and_then(|c| c.as_any().downcast_ref::<UInt64Array>());
            for i in 0..b.num_rows() {
                let t = time.value(i);
                if svc.value(i) == service && is_error(level.value(i)) && t >= window.0 && t < window.1 {
                    note(pattern.map_or(0, |p| p.value(i)), t, trace.value(i), span.value(i), body.value(i));
                }
            }
        }
        ScanRows::Span(_) => {}
    });
    let mut before: HashMap<u64, u64> = HashMap::new();
    let columns = ["time", "service", "level", "pattern_id"];
    scan(snapshot, &filter(baseline), Some(&columns), warnings, |rows| match rows {
        ScanRows::Record(r) => {
            if r.service == service && (r.level == Level::Error || r.level == Level::Fatal) {
                *before.entry(r.pattern_id).or_default() += 1;
            }
        }
        ScanRows::Batch(b, _) => {
            let (Some(time), Some(svc), Some(level)) = (timestamps(b, "time"), strings(b, "service"), strings(b, "level")) else { return };
            let pattern = b.column_by_name("pattern_id").and_then(|c| c.as_any().downcast_ref::<UInt64Array>());
            for i in 0..b.num_rows() {
                let t = time.value(i);
                if svc.value(i) == service && is_error(level.value(i)) && t >= baseline.0 && t < baseline.1 {
                    *before.entry(pattern.map_or(0, |p| p.value(i))).or_default() += 1;
                }
            }
        }
        ScanRows::Span(_) => {}
    });

    let keys: Vec<(String, u64)> = now.keys().filter(|&&p| p != 0).map(|&p| (service.to_string(), p)).collect();
    let templates = snapshot.patterns.templates(&keys).unwrap_or_else(|e| {
        warnings.push(format!("log patterns: {e}"));
        HashMap::new()
    });
    let born = snapshot.patterns.first_seen(&keys).unwrap_or_default();
    let mut figures: Vec<(PatternFigure, Vec<(String, String)>)> = now
        .into_iter()
        .map(|(pattern, acc)| {
            let baseline_count = before.get(&pattern).copied().unwrap_or(0);
            let (w, b) = (acc.count as f64, baseline_count as f64);
            let significant = significant_increase(w, b, exposure, 1.0);
            let key = (service.to_string(), pattern);
            let sample = trawl_trace::mask_message(acc.sample.lines().next().unwrap_or(""));
            let template = templates.get(&key).map(|(_, t)| t.clone()).unwrap_or_else(|| sample.clone());
            let born_ns = born.get(&key).copied().filter(|&t| t >= window.0 && t < window.1);
            let figure = PatternFigure {
                pattern_id: pattern,
                template,
                window: acc.count,
                baseline: baseline_count,
                z: significant.unwrap_or_else(|| change_z(w, b, exposure, 1.0)),
                changed: significant.is_some(),
                born_ns,
                sample,
                operation: None,
                example_trace_id: acc.samples.first().map(|(t, _)| t.clone()),
            };
            (figure, acc.samples)
        })
        .collect();
    figures.sort_by(|a, b| b.0.changed.cmp(&a.0.changed).then(b.0.z.total_cmp(&a.0.z)).then(b.0.window.cmp(&a.0.window)));
    figures.truncate(MAX_PATTERNS);
    // The operation of the leading pattern, from the spans its lines were logged in.
    if let Some((figure, samples)) = figures.first_mut() {
        figure.operation = operation_of(snapshot, service, samples, window, warnings);
    }
    figures.into_iter().map(|(f, _)| f).collect()
}

/// The span name most of `samples` (trace id, span id) were logged in.
fn operation_of(snapshot: &Snapshot, service: &str, samples: &[(String, String)], window: (i64, i64), warnings: &mut Vec<String>) -> Option<String> {
    let traces: HashSet<&str> = samples.iter().map(|(t, _)| t.as_str()).collect();
    let spans_wanted: HashSet<&str> = samples.iter().map(|(_, s)| s.as_str()).collect();
    // A margin: a span starts before the lines logged in it.
    let spans = fetch_spans(snapshot, &traces, window.0.saturating_sub(MARGIN_NS), window.1.saturating_add(MARGIN_NS), warnings);
    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    for s in &spans {
        if s.service == service && spans_wanted.contains(s.span_id.as_str()) {
            *names.entry(s.name.as_str()).or_default() += 1;
        }
    }
    names.into_iter().max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0))).map(|(n, _)| n.to_string())
}

const MARGIN_NS: i64 = 60 * 1_000_000_000;
