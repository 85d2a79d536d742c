//! Root cause for a window: which service and operation broke, how unusual that is, and the
//! evidence (see `docs/root-cause.md`).
//!
//! Fleet-wide (no query, no service), the answer comes from *changes*:
//! 1. The window is compared with its baseline (the same hours a week before when spans exist
//!    then, else the window of the same length just before) on every signal the rollups hold,
//!    per operation, service and call edge ([`evidence`]), each change judged by a
//!    significance test with a minimum effect ([`significance`]).
//! 2. The changes are attributed down the call graph to the deepest party whose own change
//!    explains its callers' ([`attribution`]).
//! 3. Each cause is completed from the window's data: the operation behind a log change and its
//!    patterns ([`logs`]), example traces and messages from the newest failing traces
//!    ([`traces`]), the versions it ran (a change specific to one version is a bad deploy),
//!    and a timeline of deploys, pattern births and steps.
//!
//! Scoped to a query or a service (an alert's evidence), the answer is the failing traces of
//! that scope grouped by their root-cause span ([`traces`]), each group marked against the
//! same in the baseline.

mod attribution;
mod evidence;
mod logs;
pub(crate) mod significance;
pub(crate) mod traces;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use serde::Serialize;
use trawl_rollup::RollupSet;
use trawl_storage::{ScanFilter, Snapshot, Store};
use trawl_trace::{rank_causes, AssembledTrace, Cause, CauseKey, CauseStatus, RootCauseKind};

pub use evidence::{Anomaly, ChangeKind, Figures};
pub use logs::PatternFigure;
pub use traces::fetch_traces;

use crate::ast::Query;
use crate::QueryError;
use attribution::{attribute, Attributed};
use evidence::Evidence;
use significance::change_z;

const WEEK_NS: i64 = 7 * 24 * 3600 * 1_000_000_000;
/// Causes completed with versions, patterns and examples; further ones keep their figures.
const MAX_DETAILED_CAUSES: usize = 3;
/// A version first seen this long after the window began was deployed during it.
const DEPLOY_GRACE_NS: i64 = 60 * 1_000_000_000;

/// Which window the causes are compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BaselineKind {
    PreviousWindow,
    SameTimeLastWeek,
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

/// One cause.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub service: String,
    pub operation: String,
    /// Exception type or masked message of its failures; `slow` for latency, `log` for logs.
    pub error_kind: String,
    pub change: ChangeKind,
    /// How unusual the incident it explains is: the largest standard score along its chain.
    pub score: f64,
    pub status: CauseStatus,
    /// Its own figures (for a callee named by its callers: the calls to it).
    pub window: Figures,
    pub baseline: Figures,
    /// The callers whose calls to it failed or slowed, when it is known by its callers.
    pub via: Vec<String>,
    /// The changes it explains (callers affected, transitively), by falling score.
    pub explains: Vec<Anomaly>,
    /// Analysed failing traces in which it failed, and their share.
    pub traces: usize,
    pub share: f64,
    pub first_seen_ns: i64,
    pub last_seen_ns: i64,
    pub example_trace_id: String,
    pub example_reason: String,
    /// Masked messages with counts, most frequent first.
    pub top_messages: Vec<(String, usize)>,
    /// Its ERROR log patterns, changed ones first.
    pub patterns: Vec<PatternFigure>,
    pub versions: Vec<(String, usize)>,
    pub version_specific: Option<String>,
    /// Failing traces with this cause in the baseline (scoped answers only).
    pub baseline_traces: usize,
}

/// What happened when, in the window.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineEvent {
    pub time_ns: i64,
    pub kind: TimelineKind,
    pub service: String,
    pub operation: String,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimelineKind {
    /// A `service.version` first seen during the window.
    Deploy,
    /// A log pattern first seen during the window.
    PatternBirth,
    /// The first minute whose errors departed from the baseline rate.
    ErrorStep,
}

#[derive(Debug, Serialize)]
pub struct RootCauseReport {
    pub start_ns: i64,
    pub end_ns: i64,
    pub baseline_start_ns: i64,
    pub baseline_end_ns: i64,
    pub baseline_kind: BaselineKind,
    /// False when nothing changed significantly: "nothing unusual".
    pub unusual: bool,
    /// One line for a human.
    pub summary: String,
    pub failing_traces: usize,
    pub analysed_traces: usize,
    pub baseline_failing_traces: usize,
    /// Significant causes by falling score, then the window's steady failures.
    pub causes: Vec<Finding>,
    pub timeline: Vec<TimelineEvent>,
    pub warnings: Vec<String>,
    /// Where the time went, by step.
    pub phases: Vec<(&'static str, f64)>,
    pub elapsed_ms: f64,
}

/// True when some span may start in `[start, end)`.
fn has_spans(snapshot: &Snapshot, start: i64, end: i64) -> bool {
    snapshot.may_hold(&ScanFilter::spans(start, end - 1))
}

struct Phases {
    list: Vec<(&'static str, f64)>,
    lap: Instant,
}

impl Phases {
    fn done(&mut self, name: &'static str) {
        self.list.push((name, self.lap.elapsed().as_secs_f64() * 1e3));
        self.lap = Instant::now();
    }
}

pub fn root_cause(store: &Store, request: &RootCauseRequest<'_>) -> Result<RootCauseReport, QueryError> {
    let started = Instant::now();
    if request.start_ns >= request.end_ns {
        return Err(QueryError::Invalid("start must be before end".into()));
    }
    let snapshot = store.snapshot();
    let length = request.end_ns - request.start_ns;
    // The same hours a week earlier when spans exist then (daily and weekly rhythms cancel out),
    // else the window just before.
    let week_start = request.start_ns.saturating_sub(WEEK_NS);
    let (baseline_start, baseline_end, baseline_kind) = if has_spans(&snapshot, week_start, week_start + length) {
        (week_start, week_start + length, BaselineKind::SameTimeLastWeek)
    } else {
        (request.start_ns.saturating_sub(length), request.start_ns, BaselineKind::PreviousWindow)
    };
    let mut report = RootCauseReport {
        start_ns: request.start_ns,
        end_ns: request.end_ns,
        baseline_start_ns: baseline_start,
        baseline_end_ns: baseline_end,
        baseline_kind,
        unusual: false,
        summary: String::new(),
        failing_traces: 0,
        analysed_traces: 0,
        baseline_failing_traces: 0,
        causes: Vec::new(),
        timeline: Vec::new(),
        warnings: Vec::new(),
        phases: Vec::new(),
        elapsed_ms: 0.0,
    };
    let mut phases = Phases { list: Vec::new(), lap: Instant::now() };
    if request.query.expr.is_some() || request.service.is_some() {
        scoped(&snapshot, request, &mut report, &mut phases)?;
    } else {
        fleet(store, &snapshot, request, &mut report, &mut phases)?;
    }
    report.summary = summary(&report);
    report.phases = phases.list;
    report.elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
    Ok(report)
}

fn summary(report: &RootCauseReport) -> String {
    let Some(top) = report.causes.first().filter(|_| report.unusual) else {
        return "nothing unusual".into();
    };
    let what = match top.change {
        ChangeKind::Errors => "errors",
        ChangeKind::Latency => "slower",
        ChangeKind::LogErrors => "ERROR logs",
        ChangeKind::FailedCalls => "calls to it fail",
        ChangeKind::Version => "errors in one version",
    };
    let operation = if top.operation.is_empty() { String::new() } else { format!(" `{}`", top.operation) };
    let via = if top.via.is_empty() { String::new() } else { format!(" (from {})", top.via.join(", ")) };
    format!("{}{operation}: {what}{via}", top.service)
}

/// A query's or a service's failing traces, grouped by root-cause span.
fn scoped(snapshot: &Snapshot, request: &RootCauseRequest<'_>, report: &mut RootCauseReport, phases: &mut Phases) -> Result<(), QueryError> {
    let warnings = &mut report.warnings;
    let (start, end) = (request.start_ns, request.end_ns);
    let (baseline_start, baseline_end) = (report.baseline_start_ns, report.baseline_end_ns);
    let window = traces::failing_traces(snapshot, request, start, end, warnings)?;
    let baseline = traces::failing_traces(snapshot, request, baseline_start, baseline_end, warnings)?;
    phases.done("find_failing_ms");
    let (window_traces, n_window) = traces::assemble_newest(snapshot, &window, request, start, end, warnings);
    let (baseline_traces, n_baseline) = traces::assemble_newest(snapshot, &baseline, request, baseline_start, baseline_end, warnings);
    phases.done("fetch_and_assemble_ms");
    let wants = |t: &AssembledTrace| request.query.expr.is_some() || t.root_cause.as_ref().is_some_and(|rc| rc.kind == RootCauseKind::Error);
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
    let preliminary = rank_causes(&analysed, &baseline_counts, &HashMap::new());
    let services = leading_services(preliminary.iter().map(|c| c.key.service.as_str()));
    let context = traces::cause_context(snapshot, &services, start, end, warnings);
    phases.done("versions_ms");
    let mut causes = rank_causes(&analysed, &baseline_counts, &context.versions);
    for cause in &mut causes {
        if let Some(&first) = context.first_error.get(&(cause.key.service.clone(), cause.key.operation.clone())) {
            cause.first_seen_ns = cause.first_seen_ns.min(first);
        }
    }
    report.unusual = causes.iter().any(|c| matches!(c.status, CauseStatus::New | CauseStatus::Grown));
    report.failing_traces = n_window;
    report.analysed_traces = analysed.len();
    report.baseline_failing_traces = n_baseline;
    report.causes = causes.into_iter().map(finding_of_trace_cause).collect();
    Ok(())
}

fn leading_services<'a>(services: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in services {
        if out.len() >= MAX_DETAILED_CAUSES {
            break;
        }
        if !out.iter().any(|o| o == s) {
            out.push(s.to_string());
        }
    }
    out
}

fn finding_of_trace_cause(c: Cause) -> Finding {
    Finding {
        service: c.key.service,
        operation: c.key.operation,
        error_kind: c.key.error_kind,
        change: if c.version_specific.is_some() { ChangeKind::Version } else { ChangeKind::Errors },
        score: 0.0,
        status: c.status,
        window: Figures { requests: c.traces as u64, errors: c.traces as u64, error_rate: 1.0, p50_ms: None, p95_ms: None },
        baseline: Figures { requests: c.baseline_traces as u64, errors: c.baseline_traces as u64, error_rate: 1.0, p50_ms: None, p95_ms: None },
        via: Vec::new(),
        explains: Vec::new(),
        traces: c.traces,
        share: c.share,
        first_seen_ns: c.first_seen_ns,
        last_seen_ns: c.last_seen_ns,
        example_trace_id: c.example_trace_id,
        example_reason: c.example_reason,
        top_messages: c.top_messages,
        patterns: Vec::new(),
        versions: c.versions,
        version_specific: c.version_specific,
        baseline_traces: c.baseline_traces,
    }
}

/// The rollups of the window and of the baseline.
fn rollups(store: &Store, report: &RootCauseReport) -> Result<(RollupSet, Vec<String>), QueryError> {
    let contiguous = report.baseline_end_ns == report.start_ns;
    let mut view = store.rollups(if contiguous { report.baseline_start_ns } else { report.start_ns }, report.end_ns - 1)?;
    if !contiguous {
        let before = store.rollups(report.baseline_start_ns, report.baseline_end_ns - 1)?;
        view.rollups.merge(before.rollups);
        view.warnings.extend(before.warnings);
    }
    Ok((view.rollups, view.warnings))
}

/// The fleet-wide answer, from changes (see the module documentation).
fn fleet(store: &Store, snapshot: &Snapshot, request: &RootCauseRequest<'_>, report: &mut RootCauseReport, phases: &mut Phases) -> Result<(), QueryError> {
    let window = (request.start_ns, request.end_ns);
    let baseline = (report.baseline_start_ns, report.baseline_end_ns);
    let (set, rollup_warnings) = rollups(store, report)?;
    report.warnings.extend(rollup_warnings);
    let evidence = Evidence::from_rollups(&set, window, baseline);
    drop(set);
    if !evidence.ops.is_empty() && evidence.ops.values().all(|(_, b)| b.total.requests == 0) {
        report.warnings.push("the baseline window holds no spans: everything that fails in the window counts as new".into());
    }
    let mut own = evidence.op_anomalies();
    own.extend(evidence.log_anomalies());
    let attributed = attribute(&evidence, own);
    phases.done("changes_ms");

    // Failing requests: the errors of the entry services (those no other service calls).
    report.failing_traces = evidence.entry_failures() as usize;

    let mut findings: Vec<Finding> = Vec::new();
    let services = leading_services(attributed.iter().map(|a| a.service.as_str()));
    let context = traces::cause_context(snapshot, &services, window.0, window.1, &mut report.warnings);
    phases.done("versions_ms");
    let mut analysed_ids: HashSet<String> = HashSet::new();
    for (i, cause) in attributed.into_iter().enumerate() {
        let detailed = i < MAX_DETAILED_CAUSES;
        // Traces only to confirm and for examples: the newest failing traces of the party,
        // or of its callers for a party known by its callers.
        let examples = if detailed { examples(snapshot, request, &cause, window, &mut report.warnings)? } else { Vec::new() };
        analysed_ids.extend(examples.iter().map(|t| t.trace_id.clone()));
        let finding = complete(snapshot, &evidence, cause, &examples, &context, detailed, window, baseline, &mut report.warnings);
        // Two changes of one party (an operation that fails and slows) are one cause.
        if let Some(seen) = findings.iter_mut().find(|f| f.service == finding.service && f.operation == finding.operation) {
            seen.explains.extend(finding.explains);
            continue;
        }
        findings.push(finding);
    }
    report.analysed_traces = analysed_ids.len();
    phases.done("complete_ms");
    report.unusual = !findings.is_empty();
    report.timeline = timeline(&findings, &context, &evidence, window);

    // The window's failures that no change explains: steady, shown after the causes.
    let mut steady: Vec<(&evidence::OpKey, &evidence::Side, &evidence::Side)> =
        evidence.ops.iter().filter(|(_, (w, _))| w.total.errors > 0).map(|(k, (w, b))| (k, w, b)).collect();
    steady.sort_by(|a, b| b.1.total.errors.cmp(&a.1.total.errors).then_with(|| a.0.cmp(b.0)));
    for (key, w, b) in steady {
        if findings.len() >= MAX_DETAILED_CAUSES + MAX_STEADY {
            break;
        }
        let covered = findings.iter().any(|f| {
            (f.service == key.service && f.operation == key.operation)
                || f.explains.iter().any(|a| a.service == key.service && a.operation == key.operation)
                || f.via.contains(&key.service)
        });
        if covered {
            continue;
        }
        let exposure = if b.total.requests == 0 { 1.0 } else { w.total.requests as f64 / b.total.requests as f64 };
        let score = change_z(w.total.errors as f64, b.total.errors as f64, exposure, 1.0);
        findings.push(Finding {
            service: key.service.clone(),
            operation: key.operation.clone(),
            error_kind: String::new(),
            change: ChangeKind::Errors,
            score,
            status: if score <= -significance::Z_MIN { CauseStatus::Shrunk } else { CauseStatus::Steady },
            window: Figures::of(&w.total),
            baseline: Figures::of(&b.total),
            via: Vec::new(),
            explains: Vec::new(),
            traces: 0,
            share: 0.0,
            first_seen_ns: w.minutes.keys().next().copied().unwrap_or(window.0),
            last_seen_ns: window.1,
            example_trace_id: String::new(),
            example_reason: String::new(),
            top_messages: Vec::new(),
            patterns: Vec::new(),
            versions: Vec::new(),
            version_specific: None,
            baseline_traces: 0,
        });
    }
    report.causes = findings;
    phases.done("steady_ms");
    Ok(())
}

/// Steady failures listed after the causes.
const MAX_STEADY: usize = 5;
/// Failing traces assembled per cause for its examples and messages (few enough for the row
/// index to find them).
const EXAMPLES_PER_CAUSE: usize = 16;
/// Examples are looked for in the newest part of the window first.
const EXAMPLE_SLICE_NS: i64 = 2 * 60 * 1_000_000_000;

/// The newest failing traces in which the cause's party (or, for a party known by its callers,
/// a caller) has an error span: the last minutes of the window first, all of it if they hold
/// none.
fn examples(snapshot: &Snapshot, request: &RootCauseRequest<'_>, cause: &Attributed, window: (i64, i64), warnings: &mut Vec<String>) -> Result<Vec<AssembledTrace>, QueryError> {
    if cause.change == ChangeKind::Latency && cause.anomaly.window.errors == 0 {
        return Ok(Vec::new());
    }
    let parties: Vec<&str> = if cause.via.is_empty() { vec![cause.service.as_str()] } else { cause.via.iter().map(String::as_str).collect() };
    let mut out = Vec::new();
    for party in parties {
        let scoped = RootCauseRequest { service: Some(party), max_traces: EXAMPLES_PER_CAUSE, ..*request };
        let mut found = HashMap::new();
        for start in [window.1.saturating_sub(EXAMPLE_SLICE_NS).max(window.0), window.0] {
            found = traces::failing_traces(snapshot, &scoped, start, window.1, warnings)?;
            if !found.is_empty() || start == window.0 {
                break;
            }
        }
        let (assembled, _) = traces::assemble_newest(snapshot, &found, &scoped, window.0, window.1, warnings);
        out.extend(assembled.into_iter().filter(|t| t.root_cause.as_ref().is_some_and(|rc| rc.kind == RootCauseKind::Error)));
    }
    Ok(out)
}

/// Fills in a cause's operation, examples, messages, patterns and versions.
#[allow(clippy::too_many_arguments)]
fn complete(
    snapshot: &Snapshot,
    evidence: &Evidence,
    cause: Attributed,
    analysed: &[AssembledTrace],
    context: &traces::CauseContext,
    detailed: bool,
    window: (i64, i64),
    baseline: (i64, i64),
    warnings: &mut Vec<String>,
) -> Finding {
    let Attributed { service, mut operation, change, anomaly, via, explains, score } = cause;
    let mut patterns = Vec::new();
    if detailed || change == ChangeKind::LogErrors {
        let exposure = evidence
            .logs
            .get(&service)
            .map(|(w, b, _)| if b.total() == 0 { 1.0 } else { w.total() as f64 / b.total() as f64 })
            .unwrap_or(1.0);
        if evidence.logs.contains_key(&service) {
            patterns = logs::error_patterns(snapshot, &service, window, baseline, exposure, warnings);
        }
    }
    // A callee known by its callers: the calls to it are named by the callers' CLIENT spans.
    let calls: Vec<(&AssembledTrace, usize)> = analysed
        .iter()
        .flat_map(|t| t.nodes.iter().enumerate().map(move |(i, n)| (t, i, n)))
        .filter(|(_, _, n)| n.is_error())
        .filter(|(_, _, n)| {
            if via.is_empty() {
                n.span.service == service && (operation.is_empty() || n.span.name == operation)
            } else {
                via.contains(&n.span.service) && trawl_rollup::peer_of(&n.span) == Some(service.as_str())
            }
        })
        .map(|(t, i, _)| (t, i))
        .collect();
    if operation.is_empty() {
        operation = if change == ChangeKind::LogErrors {
            patterns.iter().find_map(|p| p.operation.clone()).unwrap_or_default()
        } else {
            most_common(calls.iter().map(|(t, i)| t.nodes[*i].span.name.as_str())).unwrap_or_else(|| {
                // No failing trace shows the calls (they may only be slower): the callers'
                // CLIENT operation with the same change, the most unusual first.
                let same = |a: &Anomaly| a.change == change || (change == ChangeKind::FailedCalls && a.change == ChangeKind::Errors);
                explains
                    .iter()
                    .find(|a| via.contains(&a.service) && a.kind == "CLIENT" && same(a))
                    .map(|a| a.operation.clone())
                    .unwrap_or_default()
            })
        };
    }
    let calls: Vec<(&AssembledTrace, usize)> =
        calls.into_iter().filter(|(t, i)| operation.is_empty() || t.nodes[*i].span.name == operation || !via.is_empty()).collect();
    let mut traces_seen: HashSet<&str> = HashSet::new();
    let mut messages: BTreeMap<String, usize> = BTreeMap::new();
    let mut versions: BTreeMap<String, usize> = BTreeMap::new();
    let (mut first, mut last) = (i64::MAX, i64::MIN);
    let mut example: Option<(&AssembledTrace, usize)> = None;
    for &(t, i) in &calls {
        let span = &t.nodes[i].span;
        traces_seen.insert(t.trace_id.as_str());
        let message = if span.status_message.is_empty() { "error".to_string() } else { span.status_message.clone() };
        *messages.entry(trawl_trace::mask_message(&message)).or_default() += 1;
        // The versions of its own failing spans (a callee named by its callers has none).
        if let Some((_, v)) = span.resource.iter().find(|(k, _)| k == "service.version").filter(|_| via.is_empty()) {
            *versions.entry(v.to_text().into_owned()).or_default() += 1;
        }
        first = first.min(span.start_ns);
        last = last.max(span.start_ns);
        if example.is_none_or(|(et, ei)| span.start_ns < et.nodes[ei].span.start_ns) {
            example = Some((t, i));
        }
    }
    let top = |m: BTreeMap<String, usize>, n: usize| {
        let mut v: Vec<(String, usize)> = m.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.truncate(n);
        v
    };
    let versions = top(versions, 5);
    // Specific to one version: most of its failures are in one version, at least twice that
    // version's share of the service's spans, while the service also ran others (a canary or a
    // partial roll-out). Failures of other origins (noise) dilute the share, hence no 100 %.
    let version_specific = versions.first().and_then(|(v, n)| {
        let failures: usize = versions.iter().map(|(_, n)| n).sum();
        let seen = context.versions.get(&service)?;
        let spans: usize = seen.values().sum();
        let in_version = seen.get(v).copied().unwrap_or(0);
        let (failure_share, span_share) = (*n as f64 / failures.max(1) as f64, in_version as f64 / spans.max(1) as f64);
        let others = spans - in_version.min(spans);
        (failures >= 10 && failure_share >= 0.5 && span_share > 0.0 && failure_share >= 2.0 * span_share && others as f64 >= 0.1 * spans as f64)
            .then(|| v.clone())
    });
    let change = if version_specific.is_some() && change == ChangeKind::Errors { ChangeKind::Version } else { change };
    let (mut example_trace_id, mut example_reason) = match example {
        Some((t, _)) => (t.trace_id.clone(), t.root_cause.as_ref().map(|rc| rc.reason.clone()).unwrap_or_default()),
        None => (String::new(), String::new()),
    };
    let mut error_kind = example
        .and_then(|(t, i)| {
            let span = &t.nodes[i].span;
            span.events
                .iter()
                .flat_map(|e| &e.attributes)
                .find(|(k, _)| k == "exception.type")
                .map(|(_, v)| v.to_text().into_owned())
                .or_else(|| (!span.status_message.is_empty()).then(|| trawl_trace::mask_message(&span.status_message)))
        })
        .unwrap_or_default();
    match change {
        ChangeKind::Latency => {
            error_kind = "slow".into();
            if example_trace_id.is_empty() && detailed {
                if let Some((trace, reason)) = slow_example(snapshot, &service, &operation, &anomaly, window, warnings) {
                    example_trace_id = trace;
                    example_reason = reason;
                }
            }
        }
        ChangeKind::LogErrors => {
            error_kind = "log".into();
            if let Some(p) = patterns.first() {
                example_trace_id = p.example_trace_id.clone().unwrap_or_default();
                example_reason = format!("{} logged `{}` {} times (baseline {})", service, p.template, p.window, p.baseline);
                first = first.min(p.born_ns.unwrap_or(i64::MAX));
            }
        }
        _ => {}
    }
    if first == i64::MAX {
        first = anomaly.step_ns.unwrap_or(window.0);
    }
    if last < first {
        last = window.1;
    }
    let status = if anomaly.baseline.errors == 0 && matches!(change, ChangeKind::Errors | ChangeKind::FailedCalls | ChangeKind::Version | ChangeKind::LogErrors) {
        CauseStatus::New
    } else {
        CauseStatus::Grown
    };
    Finding {
        service,
        operation,
        error_kind,
        change,
        score,
        status,
        window: anomaly.window.clone(),
        baseline: anomaly.baseline.clone(),
        via,
        explains,
        traces: traces_seen.len(),
        share: traces_seen.len() as f64 / analysed.len().max(1) as f64,
        first_seen_ns: first,
        last_seen_ns: last,
        example_trace_id,
        example_reason,
        top_messages: top(messages, 3),
        patterns,
        versions,
        version_specific,
        baseline_traces: 0,
    }
}

fn most_common<'a>(names: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for n in names {
        *counts.entry(n).or_default() += 1;
    }
    counts.into_iter().max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0))).map(|(n, _)| n.to_string())
}

/// A trace in which `operation` of `service` was about as slow as its window's 95th percentile.
fn slow_example(snapshot: &Snapshot, service: &str, operation: &str, anomaly: &Anomaly, window: (i64, i64), warnings: &mut Vec<String>) -> Option<(String, String)> {
    let target_ns = anomaly.window.p95_ms? * 1e6;
    let filter = ScanFilter { services: Some(vec![service.to_lowercase()]), ..ScanFilter::spans(window.0, window.1 - 1) };
    let mut best: Option<(f64, String, i64)> = None;
    let mut consider = |svc: &str, name: &str, trace: &str, duration: i64| {
        if svc == service && name == operation {
            let distance = (duration as f64 - target_ns).abs();
            if best.as_ref().is_none_or(|(d, _, _)| distance < *d) {
                best = Some((distance, trace.to_string(), duration));
            }
        }
    };
    traces::scan(snapshot, &filter, Some(&["start", "duration_ns", "trace_id", "service", "name"]), warnings, |rows| match rows {
        trawl_storage::ScanRows::Span(s) => consider(&s.service, &s.name, &s.trace_id, s.duration_ns),
        trawl_storage::ScanRows::Batch(b, _) => {
            let (Some(svc), Some(name), Some(trace), Some(duration)) = (
                traces::strings(b, "service"),
                traces::strings(b, "name"),
                traces::strings(b, "trace_id"),
                b.column_by_name("duration_ns").and_then(|c| c.as_any().downcast_ref::<arrow::array::Int64Array>()),
            ) else {
                return;
            };
            use arrow::array::Array;
            for i in 0..b.num_rows() {
                consider(svc.value(i), name.value(i), trace.value(i), duration.value(i));
            }
        }
        trawl_storage::ScanRows::Record(_) => {}
    });
    let (_, trace, duration) = best?;
    let baseline = anomaly.baseline.p95_ms.map(|ms| format!(" (baseline p95 {ms:.1} ms)")).unwrap_or_default();
    Some((trace, format!("{service} `{operation}` took {:.1} ms{baseline}", duration as f64 / 1e6)))
}

/// Deploys of the causes' services, births of their patterns and the steps of their changes.
fn timeline(findings: &[Finding], context: &traces::CauseContext, evidence: &Evidence, window: (i64, i64)) -> Vec<TimelineEvent> {
    let mut events = Vec::new();
    for ((service, version), &first) in &context.version_first_ns {
        if first >= window.0 + DEPLOY_GRACE_NS && findings.iter().any(|f| &f.service == service) {
            let spans = context.versions.get(service).and_then(|v| v.get(version)).copied().unwrap_or(0);
            events.push(TimelineEvent {
                time_ns: first,
                kind: TimelineKind::Deploy,
                service: service.clone(),
                operation: String::new(),
                detail: format!("version {version} first seen ({spans} spans in the window)"),
            });
        }
    }
    for f in findings.iter().filter(|f| f.status != CauseStatus::Steady) {
        for p in &f.patterns {
            if let Some(born) = p.born_ns.filter(|_| p.changed) {
                events.push(TimelineEvent {
                    time_ns: born,
                    kind: TimelineKind::PatternBirth,
                    service: f.service.clone(),
                    operation: p.operation.clone().unwrap_or_default(),
                    detail: format!("new log pattern `{}` ({} lines)", p.template, p.window),
                });
            }
        }
        let own = std::iter::once((&f.service, &f.operation, f.change, &f.window, &f.baseline));
        let explained = f.explains.iter().map(|a| (&a.service, &a.operation, a.change, &a.window, &a.baseline));
        for (service, operation, change, now, before) in own.chain(explained).take(6) {
            if change != ChangeKind::Errors && change != ChangeKind::FailedCalls && change != ChangeKind::Version {
                continue;
            }
            let step = evidence
                .ops
                .iter()
                .filter(|(k, _)| &k.service == service && &k.operation == operation)
                .filter_map(|(_, (w, _))| evidence::first_step_of(w, before.error_rate))
                .min();
            if let Some(time_ns) = step {
                events.push(TimelineEvent {
                    time_ns,
                    kind: TimelineKind::ErrorStep,
                    service: service.clone(),
                    operation: operation.clone(),
                    detail: format!("error rate {:.1}% → {:.1}%", before.error_rate * 100.0, now.error_rate * 100.0),
                });
            }
        }
    }
    events.sort_by(|a, b| a.time_ns.cmp(&b.time_ns).then_with(|| a.service.cmp(&b.service)));
    events.dedup_by(|a, b| a.kind == b.kind && a.service == b.service && a.operation == b.operation);
    events
}
