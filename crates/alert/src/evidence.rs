//! The evidence of a firing alert, computed when it fires and stored with it: the figure and
//! its baseline (with a sparkline), the root cause of the failing requests in the alert's scope
//! with an example trace, the top log patterns (new ones marked) with masked sample lines, what
//! changed at the same time (deploys, other services whose error rate moved), and links into
//! the UI.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use trawl_rollup::summary;
use trawl_rollup::{Resolution, RollupSet};
use trawl_storage::{Snapshot, Store};

use crate::mask::mask_sensitive;
use crate::state::{Band, Instance};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub computed_at_ns: i64,
    pub window_start_ns: i64,
    pub window_end_ns: i64,
    pub figure: Figure,
    /// Ranked causes of the failing requests in the scope.
    pub root_causes: Vec<CauseSummary>,
    pub failing_traces: usize,
    pub patterns: Vec<PatternSummary>,
    pub changes: Changes,
    pub links: Links,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    pub took_ms: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    pub metric: String,
    pub unit: String,
    pub value: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub band: Option<Band>,
    /// The figure per step before and through the window (None where there was no data).
    pub series: Vec<Option<f64>>,
    pub series_step_ns: i64,
    /// The series as block characters, for text channels.
    pub sparkline: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CauseSummary {
    pub service: String,
    pub operation: String,
    pub error_kind: String,
    pub traces: usize,
    pub share: f64,
    pub example_trace_id: String,
    pub reason: String,
    /// new, grown, steady or shrunk against the baseline.
    pub status: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
    /// The one version the cause is specific to (a bad deploy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_specific: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PatternSummary {
    pub service: String,
    pub template: String,
    pub count: u64,
    /// First seen in the service during (or just before) the window.
    pub new: bool,
    /// Newest lines, masked.
    pub samples: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Changes {
    /// `service.version`s first seen in the window or just before it.
    pub deploys: Vec<Deploy>,
    /// Other services whose error rate moved in the window.
    pub moved: Vec<Moved>,
    pub new_patterns: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Deploy {
    pub service: String,
    pub version: String,
    pub first_seen_ns: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Moved {
    pub service: String,
    pub error_rate: f64,
    pub baseline_error_rate: f64,
    pub requests: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Links {
    pub alert: String,
    pub search: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    pub rule: String,
}

/// Most causes, patterns and moved services kept.
const MAX_CAUSES: usize = 3;
const MAX_PATTERNS: usize = 5;
const MAX_MOVED: usize = 5;
/// The evidence's window is at least this long (root cause needs some failing requests), and at
/// most this long (a rule with a long lookback does not make its evidence scan days).
const MIN_WINDOW_NS: i64 = 5 * 60 * 1_000_000_000;
const MAX_WINDOW_NS: i64 = 15 * 60 * 1_000_000_000;

/// Block characters of sparklines, lowest to highest.
const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

pub fn sparkline(series: &[Option<f64>]) -> String {
    let values: Vec<f64> = series.iter().flatten().copied().filter(|v| v.is_finite()).collect();
    let (lo, hi) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    series
        .iter()
        .map(|v| match v {
            Some(v) if v.is_finite() => {
                if hi <= lo {
                    BLOCKS[0]
                } else {
                    BLOCKS[(((v - lo) / (hi - lo)) * 7.0).round().clamp(0.0, 7.0) as usize]
                }
            }
            _ => ' ',
        })
        .collect()
}

/// URL building for the UI.
pub struct UiLinks<'a> {
    pub public_url: &'a str,
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl UiLinks<'_> {
    fn base(&self) -> &str {
        self.public_url.trim_end_matches('/')
    }
    pub fn alert(&self, fingerprint: &str) -> String {
        format!("{}/alerts/{}", self.base(), encode(fingerprint))
    }
    pub fn rule(&self, rule: &str) -> String {
        format!("{}/rules/{}", self.base(), encode(rule))
    }
    pub fn search(&self, query: &str, start_ns: i64, end_ns: i64) -> String {
        format!(
            "{}/search?q={}&from={}&to={}",
            self.base(),
            encode(query),
            encode(&trawl_model::format_rfc3339(start_ns)),
            encode(&trawl_model::format_rfc3339(end_ns))
        )
    }
    pub fn trace(&self, trace_id: &str) -> String {
        format!("{}/trace/{}", self.base(), encode(trace_id))
    }
    pub fn service(&self, service: &str) -> String {
        format!("{}/services/{}", self.base(), encode(service))
    }
}

fn quote(value: &str) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| format!("\"{value}\""))
}

/// The search behind an alert: its scope's query, narrowed to its service.
pub fn scope_query(instance: &Instance) -> String {
    let mut parts = Vec::new();
    if let Some(q) = &instance.scope.query {
        if !q.trim().is_empty() {
            parts.push(q.trim().to_string());
        }
    }
    if let Some(service) = &instance.scope.service {
        let term = format!("service:{}", quote(service));
        if !parts.iter().any(|p| p.contains(&term)) {
            parts.push(term);
        }
    }
    if parts.is_empty() {
        "level:(error OR fatal)".to_string()
    } else {
        parts.join(" ")
    }
}

/// Inputs of one evidence computation.
pub struct EvidenceRequest<'a> {
    pub instance: &'a Instance,
    /// The rule's window at firing time.
    pub window_start_ns: i64,
    pub window_end_ns: i64,
    pub public_url: &'a str,
    /// The figure per step, computed by the rule's kind (None: not available).
    pub series: Option<(Vec<Option<f64>>, i64)>,
}

/// Computes the evidence of a firing alert. Each part that fails adds a warning; the others
/// are still given.
pub fn compute(store: &Arc<Store>, request: &EvidenceRequest<'_>, now_ns: i64) -> Evidence {
    let started = Instant::now();
    let i = request.instance;
    let links = UiLinks { public_url: request.public_url };
    let end = request.window_end_ns;
    let start = request.window_start_ns.min(end - MIN_WINDOW_NS).max(end - MAX_WINDOW_NS);
    let mut warnings = Vec::new();
    let snapshot = store.snapshot();

    let (mut series, step) = request.series.clone().unwrap_or_default();
    // Steps before the figure had any data say nothing; the series ends at the window's end.
    let first = series.iter().position(Option::is_some).unwrap_or(series.len());
    series.drain(..first);
    let figure = Figure {
        metric: i.scope.metric.clone(),
        unit: i.scope.unit.clone(),
        value: i.value,
        threshold: i.threshold,
        band: i.band,
        sparkline: sparkline(&series),
        series,
        series_step_ns: step,
    };

    // Root cause of the failing requests of the scope.
    let query_text = scope_query(i);
    let (root_causes, failing_traces) = root_causes(store, i, start, end, &mut warnings);

    // Log patterns of the scope's warnings and errors, new ones marked.
    let patterns = top_patterns(&snapshot, i, start, end, &mut warnings);

    // Other services whose error rate moved, from the rollups.
    let moved = moved_services(store, i, start, end, &mut warnings);
    let deploys = deploys(&snapshot, i, &root_causes, start, end, &mut warnings);
    let new_patterns = patterns.iter().filter(|p| p.new).count();

    let example = root_causes.first().map(|c| c.example_trace_id.clone()).filter(|t| !t.is_empty());
    let evidence_links = Links {
        alert: links.alert(&i.fingerprint),
        search: links.search(&query_text, start, end),
        trace: example.as_deref().map(|t| links.trace(t)),
        service: i.scope.service.as_deref().map(|s| links.service(s)),
        rule: links.rule(&i.rule),
    };
    Evidence {
        computed_at_ns: now_ns,
        window_start_ns: start,
        window_end_ns: end,
        figure,
        root_causes,
        failing_traces,
        patterns,
        changes: Changes { deploys, moved, new_patterns },
        links: evidence_links,
        warnings,
        took_ms: started.elapsed().as_secs_f64() * 1e3,
    }
}

fn root_causes(store: &Store, i: &Instance, start: i64, end: i64, warnings: &mut Vec<String>) -> (Vec<CauseSummary>, usize) {
    // A service's alert: the failing traces in which that service failed. A query-based alert
    // without a service: the traces of its matching records.
    let query_text = match (&i.scope.service, &i.scope.query) {
        (None, Some(q)) if !q.trim().is_empty() => q.clone(),
        _ => String::new(),
    };
    let query = match trawl_query::parse(&query_text) {
        Ok(q) => q,
        Err(e) => {
            warnings.push(format!("root cause: {e}"));
            return (Vec::new(), 0);
        }
    };
    let request = trawl_query::RootCauseRequest {
        query: &query,
        start_ns: start,
        end_ns: end,
        max_traces: 300,
        service: if query_text.is_empty() { i.scope.service.as_deref() } else { None },
    };
    let report = match trawl_query::root_cause(store, &request) {
        Ok(r) => r,
        Err(e) => {
            warnings.push(format!("root cause: {e}"));
            return (Vec::new(), 0);
        }
    };
    warnings.extend(report.warnings.iter().take(3).cloned());
    let causes = report
        .causes
        .iter()
        .take(MAX_CAUSES)
        .map(|c| {
            let mut versions: Vec<&(String, usize)> = c.versions.iter().collect();
            versions.sort_by(|a, b| b.1.cmp(&a.1));
            CauseSummary {
                service: c.service.clone(),
                operation: c.operation.clone(),
                error_kind: c.error_kind.clone(),
                traces: c.traces,
                share: c.share,
                example_trace_id: c.example_trace_id.clone(),
                reason: mask_sensitive(&c.example_reason),
                status: format!("{:?}", c.status).to_lowercase(),
                versions: versions.into_iter().take(3).map(|(v, _)| v.clone()).collect(),
                version_specific: c.version_specific.clone(),
            }
        })
        .collect();
    (causes, report.failing_traces)
}

fn top_patterns(snapshot: &Snapshot, i: &Instance, start: i64, end: i64, warnings: &mut Vec<String>) -> Vec<PatternSummary> {
    let mut text = match &i.scope.service {
        Some(s) => format!("service:{}", quote(s)),
        None => i.scope.query.clone().unwrap_or_default(),
    };
    if !text.to_lowercase().contains("level:") {
        text = format!("{text} level:(warn OR error OR fatal)").trim().to_string();
    }
    let query = match trawl_query::parse(&text) {
        Ok(q) => q,
        Err(e) => {
            warnings.push(format!("patterns: {e}"));
            return Vec::new();
        }
    };
    let request = trawl_query::PatternGroupsRequest {
        query: &query,
        start_ns: start,
        end_ns: end,
        max_groups: 5_000,
        timeout: Duration::from_secs(10),
        cancel: None,
    };
    let groups = match trawl_query::pattern_groups(snapshot, &request) {
        Ok(g) => g,
        Err(e) => {
            warnings.push(format!("patterns: {e}"));
            return Vec::new();
        }
    };
    let keys: Vec<(String, u64)> = groups.groups.iter().take(MAX_PATTERNS).filter(|g| g.pattern_id != 0).map(|g| (g.service.clone(), g.pattern_id)).collect();
    let first_seen = snapshot.patterns.first_seen(&keys).unwrap_or_default();
    // New: first seen no earlier than a window's length before the window.
    let new_after = start - (end - start);
    groups
        .groups
        .iter()
        .take(MAX_PATTERNS)
        .map(|g| PatternSummary {
            service: g.service.clone(),
            template: mask_sensitive(&g.template),
            count: g.count,
            new: first_seen.get(&(g.service.clone(), g.pattern_id)).is_some_and(|&t| t > 0 && t >= new_after),
            samples: g.samples.iter().map(|s| mask_sensitive(&s.body)).collect(),
        })
        .collect()
}

fn moved_services(store: &Arc<Store>, i: &Instance, start: i64, end: i64, warnings: &mut Vec<String>) -> Vec<Moved> {
    let length = end - start;
    let view = match store.rollups(start - length, end) {
        Ok(v) => v,
        Err(e) => {
            warnings.push(format!("rollups: {e}"));
            return Vec::new();
        }
    };
    let start_bucket = Resolution::Minute.bucket_start(start);
    let classes = summary::request_classes(&view.rollups);
    let (before, now): (RollupSet, RollupSet) = view.rollups.split_at(start_bucket);
    let now = summary::service_summaries(&now, &classes);
    let before = summary::service_summaries(&before, &classes);
    let mut moved: Vec<Moved> = now
        .iter()
        .filter(|(name, _)| Some(name.as_str()) != i.scope.service.as_deref())
        .filter_map(|(name, s)| {
            let base = before.get(name).map(|b| b.requests.error_rate()).unwrap_or(0.0);
            let rate = s.requests.error_rate();
            (s.requests.requests >= 10 && rate - base >= 0.02 && rate >= 2.0 * base)
                .then(|| Moved { service: name.clone(), error_rate: rate, baseline_error_rate: base, requests: s.requests.requests })
        })
        .collect();
    moved.sort_by(|a, b| (b.error_rate - b.baseline_error_rate).total_cmp(&(a.error_rate - a.baseline_error_rate)));
    moved.truncate(MAX_MOVED);
    moved
}

/// Versions first seen in the window (or a window's length before it) of the alert's service
/// and of its causes' services: a deploy next to a failure.
fn deploys(snapshot: &Snapshot, i: &Instance, causes: &[CauseSummary], start: i64, end: i64, warnings: &mut Vec<String>) -> Vec<Deploy> {
    let mut services: Vec<String> = i.scope.service.iter().cloned().collect();
    for c in causes {
        if !services.contains(&c.service) {
            services.push(c.service.clone());
        }
    }
    services.truncate(4);
    if services.is_empty() {
        return Vec::new();
    }
    let length = end - start;
    // First sighting per (service, version) over the window and three windows before it.
    let from = start - 3 * length;
    let terms: Vec<String> = services.iter().map(|s| format!("service:{}", quote(s))).collect();
    let text = format!("({}) | stats min(time) as first by service, service.version", terms.join(" OR "));
    let query = match trawl_query::parse(&text) {
        Ok(q) => q,
        Err(e) => {
            warnings.push(format!("deploys: {e}"));
            return Vec::new();
        }
    };
    let request = trawl_query::QueryRequest {
        query: &query,
        start_ns: from,
        end_ns: end,
        limit: 1_000,
        limits: trawl_query::QueryLimits { timeout: Duration::from_secs(10), memory_bytes: 64 << 20 },
        cancel: None,
    };
    let table = match trawl_query::run_query(snapshot, &request) {
        Ok(trawl_query::QueryResult { output: trawl_query::QueryOutput::Table(t), .. }) => t,
        Ok(_) => return Vec::new(),
        Err(e) => {
            warnings.push(format!("deploys: {e}"));
            return Vec::new();
        }
    };
    let mut versions_per_service: HashMap<String, HashSet<String>> = HashMap::new();
    let mut firsts = Vec::new();
    for row in &table.rows {
        let (service, version, first) = (row[0].to_text(), row[1].to_text(), &row[2]);
        if version.is_empty() {
            continue;
        }
        versions_per_service.entry(service.clone()).or_default().insert(version.clone());
        if let trawl_query::Value::Time(t) = first {
            firsts.push(Deploy { service, version, first_seen_ns: *t });
        }
    }
    // A version is a deploy when it appeared in the window or the one before, next to an older
    // version of the same service (the oldest version seen is the one that was running).
    let mut oldest: HashMap<&str, i64> = HashMap::new();
    for d in &firsts {
        let t = oldest.entry(d.service.as_str()).or_insert(d.first_seen_ns);
        *t = (*t).min(d.first_seen_ns);
    }
    let mut out: Vec<Deploy> = firsts
        .iter()
        .filter(|d| d.first_seen_ns >= start - length && versions_per_service.get(&d.service).is_some_and(|v| v.len() > 1))
        .filter(|d| oldest.get(d.service.as_str()).is_some_and(|&t| d.first_seen_ns > t))
        .cloned()
        .collect();
    out.sort_by(|a, b| b.first_seen_ns.cmp(&a.first_seen_ns));
    out.truncate(5);
    out
}

/// The evidence as plain text lines (e-mail, console, chat channels without rich text).
pub fn text_lines(e: &Evidence) -> Vec<String> {
    let mut out = Vec::new();
    let f = &e.figure;
    let value = crate::format::figure(f.value, &f.unit);
    let mut line = format!("{}: {value}", if f.metric.is_empty() { "value" } else { &f.metric });
    if let Some(b) = f.band {
        line.push_str(&format!(" (normal {}–{})", crate::format::figure(b.low, &f.unit), crate::format::figure(b.high, &f.unit)));
    } else if let Some(t) = f.threshold {
        line.push_str(&format!(" (threshold {})", crate::format::figure(t, &f.unit)));
    }
    if !f.sparkline.trim().is_empty() {
        line.push_str(&format!("  {}", f.sparkline));
    }
    out.push(line);
    if let Some(c) = e.root_causes.first() {
        out.push(format!(
            "Root cause: {} · {} ({} of the failing traces; {} failing in all)",
            c.service,
            c.operation,
            crate::format::percent(c.share),
            e.failing_traces
        ));
        if !c.reason.is_empty() {
            out.push(format!("  {}", c.reason));
        }
        if !c.example_trace_id.is_empty() {
            out.push(format!("  example trace: {}", c.example_trace_id));
        }
    }
    for c in e.root_causes.iter().skip(1) {
        out.push(format!("Also: {} · {} ({} traces)", c.service, c.operation, c.traces));
    }
    for p in &e.patterns {
        out.push(format!("{}{} ×{} [{}]", if p.new { "NEW " } else { "" }, p.template, p.count, p.service));
        for s in &p.samples {
            out.push(format!("  | {}", crate::template::clip(s.replace('\n', " "), 300)));
        }
    }
    for d in &e.changes.deploys {
        out.push(format!("Deploy: {} {} at {}", d.service, d.version, trawl_model::format_rfc3339(d.first_seen_ns)));
    }
    for m in &e.changes.moved {
        out.push(format!(
            "Also moved: {} error rate {} (was {})",
            m.service,
            crate::format::percent(m.error_rate),
            crate::format::percent(m.baseline_error_rate)
        ));
    }
    out
}
