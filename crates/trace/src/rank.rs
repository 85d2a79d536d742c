//! Root causes of many failing traces, ranked, with what changed against a baseline window.

use std::collections::HashMap;

use serde::Serialize;

use crate::assemble::AssembledTrace;
use crate::mask_message;

/// What a failure is attributed to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct CauseKey {
    pub service: String,
    pub operation: String,
    /// Exception type, masked status message, or `slow`.
    pub error_kind: String,
}

impl CauseKey {
    /// The cause of one assembled trace, if it has a root cause.
    pub fn of(trace: &AssembledTrace) -> Option<CauseKey> {
        let rc = trace.root_cause.as_ref()?;
        let span = &trace.nodes[rc.node].span;
        Some(CauseKey { service: span.service.clone(), operation: span.name.clone(), error_kind: rc.error_kind.clone() })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CauseStatus {
    /// Absent from the baseline window.
    New,
    /// At least twice as frequent as in the baseline.
    Grown,
    Steady,
    /// At most half as frequent as in the baseline.
    Shrunk,
}

#[derive(Debug, Clone, Serialize)]
pub struct Cause {
    pub key: CauseKey,
    pub traces: usize,
    /// Fraction of the failing traces attributed to this cause.
    pub share: f64,
    pub first_seen_ns: i64,
    pub last_seen_ns: i64,
    pub example_trace_id: String,
    pub example_reason: String,
    /// Masked messages (variables replaced by `<*>`) with counts, most frequent first.
    pub top_messages: Vec<(String, usize)>,
    /// `service.version` of the root-cause spans, with counts.
    pub versions: Vec<(String, usize)>,
    /// The version this cause is specific to, when the service also ran other versions that did
    /// not fail this way (a bad deploy or canary).
    pub version_specific: Option<String>,
    pub baseline_traces: usize,
    pub status: CauseStatus,
}

fn version_of(span: &trawl_model::Span) -> Option<String> {
    span.resource
        .iter()
        .chain(&span.attributes)
        .find(|(k, _)| k == "service.version")
        .map(|(_, v)| v.to_text().into_owned())
}

/// Ranks the causes of `traces` (the failing traces of a window). `baseline` counts traces per
/// cause in the baseline window of the same length; `service_versions` counts spans per
/// service and `service.version` in the window, to tell version-specific causes.
pub fn rank_causes(
    traces: &[AssembledTrace],
    baseline: &HashMap<CauseKey, usize>,
    service_versions: &HashMap<String, HashMap<String, usize>>,
) -> Vec<Cause> {
    struct Acc<'a> {
        traces: usize,
        first: i64,
        last: i64,
        example: &'a AssembledTrace,
        messages: HashMap<String, usize>,
        versions: HashMap<String, usize>,
    }
    let mut by_key: HashMap<CauseKey, Acc> = HashMap::new();
    let mut total = 0;
    for t in traces {
        let Some(key) = CauseKey::of(t) else { continue };
        total += 1;
        let rc = t.root_cause.as_ref().expect("a key implies a root cause");
        let node = &t.nodes[rc.node];
        let at = node.span.start_ns;
        let acc = by_key.entry(key).or_insert_with(|| Acc {
            traces: 0,
            first: at,
            last: at,
            example: t,
            messages: HashMap::new(),
            versions: HashMap::new(),
        });
        acc.traces += 1;
        if at < acc.first {
            acc.first = at;
            acc.example = t;
        }
        acc.last = acc.last.max(at);
        let message = if node.span.status_message.is_empty() { rc.error_kind.clone() } else { node.span.status_message.clone() };
        *acc.messages.entry(mask_message(&message)).or_default() += 1;
        if let Some(v) = version_of(&node.span) {
            *acc.versions.entry(v).or_default() += 1;
        }
    }
    let top = |m: HashMap<String, usize>, n: usize| {
        let mut v: Vec<(String, usize)> = m.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.truncate(n);
        v
    };
    let mut causes: Vec<Cause> = by_key
        .into_iter()
        .map(|(key, acc)| {
            let baseline_traces = baseline.get(&key).copied().unwrap_or(0);
            let status = if baseline_traces == 0 {
                CauseStatus::New
            } else if acc.traces >= 2 * baseline_traces {
                CauseStatus::Grown
            } else if 2 * acc.traces <= baseline_traces {
                CauseStatus::Shrunk
            } else {
                CauseStatus::Steady
            };
            let versions = top(acc.versions, 5);
            let version_specific = versions.first().and_then(|(v, n)| {
                let dominant = *n as f64 >= 0.9 * acc.traces as f64;
                let seen = service_versions.get(&key.service)?;
                let total_spans: usize = seen.values().sum();
                let others: usize = seen.iter().filter(|(ver, _)| *ver != v).map(|(_, c)| *c).sum();
                (dominant && others as f64 >= 0.1 * total_spans as f64).then(|| v.clone())
            });
            let example_reason = acc.example.root_cause.as_ref().map(|rc| rc.reason.clone()).unwrap_or_default();
            Cause {
                share: acc.traces as f64 / total.max(1) as f64,
                traces: acc.traces,
                first_seen_ns: acc.first,
                last_seen_ns: acc.last,
                example_trace_id: acc.example.trace_id.clone(),
                example_reason,
                top_messages: top(acc.messages, 3),
                versions,
                version_specific,
                baseline_traces,
                status,
                key,
            }
        })
        .collect();
    causes.sort_by(|a, b| b.traces.cmp(&a.traces).then_with(|| a.key.cmp(&b.key)));
    causes
}
