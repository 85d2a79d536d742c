//! Alert rules: what a rule file, the API and the UI say ([`RuleSpec`]), checked and compiled
//! into what the evaluator runs ([`Rule`]). One validation path for every source: a spec is
//! refused with every problem listed, each naming its field and, for queries and conditions,
//! the column in them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use trawl_query::{Query, ValueExpr};

use crate::duration::Dur;
use crate::labels::{valid_label_name, NamePattern, MAX_LABELS, MAX_LABEL_VALUE};
use crate::template;

/// The kinds of rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// A query's result against a condition, one alert per result row (group).
    Threshold,
    /// A RED figure of a service or operation, read from the rollups, against a fixed threshold.
    Red,
    /// A RED figure against its own normal band (seasonal baseline from the rollups).
    Baseline,
    /// A log pattern new in a service, or one whose rate grew by a factor.
    Pattern,
    /// A service that stopped sending.
    Absence,
    /// Multi-window, multi-burn-rate alerts on an availability or latency objective.
    Slo,
}

impl RuleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::Threshold => "threshold",
            RuleKind::Red => "red",
            RuleKind::Baseline => "baseline",
            RuleKind::Pattern => "pattern",
            RuleKind::Absence => "absence",
            RuleKind::Slo => "slo",
        }
    }

    pub const ALL: [RuleKind; 6] = [RuleKind::Threshold, RuleKind::Red, RuleKind::Baseline, RuleKind::Pattern, RuleKind::Absence, RuleKind::Slo];
}

/// A figure the rollups give per service (or operation) and window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Failed requests / requests (entry spans).
    ErrorRate,
    /// Requests per second.
    RequestRate,
    /// Failed requests in the window.
    Errors,
    /// Requests in the window.
    Requests,
    /// Latency quantiles of requests, milliseconds.
    LatencyP50,
    LatencyP90,
    LatencyP95,
    LatencyP99,
    /// ERROR and FATAL log records in the window (failures that only logs show).
    LogErrors,
    /// ERROR and FATAL records / all records of the service.
    LogErrorRate,
    /// Log records per second.
    RecordRate,
}

impl Metric {
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::ErrorRate => "error_rate",
            Metric::RequestRate => "request_rate",
            Metric::Errors => "errors",
            Metric::Requests => "requests",
            Metric::LatencyP50 => "latency_p50",
            Metric::LatencyP90 => "latency_p90",
            Metric::LatencyP95 => "latency_p95",
            Metric::LatencyP99 => "latency_p99",
            Metric::LogErrors => "log_errors",
            Metric::LogErrorRate => "log_error_rate",
            Metric::RecordRate => "record_rate",
        }
    }

    /// The latency quantile of a latency metric.
    pub fn quantile(self) -> Option<f64> {
        match self {
            Metric::LatencyP50 => Some(0.5),
            Metric::LatencyP90 => Some(0.9),
            Metric::LatencyP95 => Some(0.95),
            Metric::LatencyP99 => Some(0.99),
            _ => None,
        }
    }

    /// A ratio or a quantile: meaningful over any stretch of time, so it can be read with the
    /// current, unfinished minute (counts and rates per second need whole minutes).
    pub fn is_proportion(self) -> bool {
        matches!(self, Metric::ErrorRate | Metric::LogErrorRate | Metric::LatencyP50 | Metric::LatencyP90 | Metric::LatencyP95 | Metric::LatencyP99)
    }

    /// Read from log records (level rollups) rather than spans.
    pub fn from_logs(self) -> bool {
        matches!(self, Metric::LogErrors | Metric::LogErrorRate | Metric::RecordRate)
    }

    pub fn unit(self) -> &'static str {
        match self {
            Metric::ErrorRate | Metric::LogErrorRate => "ratio",
            Metric::RequestRate | Metric::RecordRate => "per_second",
            Metric::Errors | Metric::Requests | Metric::LogErrors => "count",
            _ => "ms",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CmpOp {
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
}

impl CmpOp {
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            CmpOp::Gt => value > threshold,
            CmpOp::Ge => value >= threshold,
            CmpOp::Lt => value < threshold,
            CmpOp::Le => value <= threshold,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
        }
    }
}

/// Which way a baseline rule looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    #[default]
    Up,
    Down,
    Both,
}

/// How far outside its band a figure must be: low (fewer alerts) to high (more).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Sensitivity {
    Named(SensitivityName),
    /// The band's half-width in robust standard deviations.
    Sigmas(f64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SensitivityName {
    Low,
    Medium,
    High,
}

impl Sensitivity {
    pub fn sigmas(self) -> f64 {
        match self {
            Sensitivity::Named(SensitivityName::Low) => 5.0,
            Sensitivity::Named(SensitivityName::Medium) => 4.0,
            Sensitivity::Named(SensitivityName::High) => 3.0,
            Sensitivity::Sigmas(k) => k,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PatternMode {
    /// A pattern never seen before in the service.
    #[default]
    New,
    /// A pattern whose rate grew by `factor` against its own recent rate.
    Spike,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Sli {
    /// Good requests are those without an error status.
    #[default]
    Availability,
    /// Good requests are those at or under `latency_threshold`.
    Latency,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// A rule as written. Settings that do not apply to its kind are refused by validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub name: String,
    pub kind: RuleKind,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub enabled: bool,
    /// How often it is evaluated (default 1m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Dur>,
    /// The window each evaluation looks at (default 5m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookback: Option<Dur>,
    /// The window ends this long before now, so late data is in (default 30s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<Dur>,
    /// Pending this long before firing (default 0: fire at once).
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub pending_for: Option<Dur>,
    /// Keeps firing this long after the condition stops holding (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_firing_for: Option<Dur>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// `summary`, `description`, `runbook_url`, …: templates over the result.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// The notification policy (a named route) to use, instead of routing by labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,

    // threshold, pattern
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,

    // red, baseline, absence, slo
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<Metric>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<CmpOp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// Fewer requests (or records, for log metrics) than this in the window: no alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_requests: Option<u64>,

    // baseline
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensitivity: Option<Sensitivity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// The smallest change that can alert, whatever the band: an absolute difference for
    /// rates and counts, a ratio for latencies and volumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_change: Option<f64>,
    /// Weeks of the same hour used for the seasonal baseline (1–4, default 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weeks: Option<u32>,

    // pattern
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<PatternMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_count: Option<u64>,
    /// A service must have sent records for this long before any of its patterns is "new".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_history: Option<Dur>,

    // absence
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub absent_for: Option<Dur>,
    /// Services seen within this long count as expected senders (default 2h).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<Dur>,

    // slo
    /// Percent of good requests, e.g. 99.9.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sli: Option<Sli>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_threshold: Option<Dur>,
    /// The SLO's window (default 30d).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Dur>,
}

/// One problem of a rule, naming the field; `column` points into a query or condition.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    pub field: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.column {
            Some(c) => write!(f, "{}: {} (column {c})", self.field, self.message),
            None => write!(f, "{}: {}", self.field, self.message),
        }
    }
}

fn problem(field: &str, message: impl Into<String>) -> Problem {
    Problem { field: field.to_string(), message: message.into(), column: None }
}

/// Which services (and operation) a rollup rule watches.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub service: NamePattern,
    pub operation: Option<NamePattern>,
}

/// What the evaluator runs, per kind.
#[derive(Debug, Clone)]
pub enum Compiled {
    Threshold(ThresholdRule),
    Red { target: Target, metric: Metric, op: CmpOp, threshold: f64, min_requests: u64 },
    Baseline(BaselineRule),
    Pattern(PatternRule),
    Absence { target: Target, absent_for: Dur, history: Dur },
    Slo(SloRule),
}

#[derive(Debug, Clone)]
pub struct ThresholdRule {
    pub query: Query,
    pub condition: ValueExpr,
    /// The column the condition compares (`n` of `n > 100`), when it is that simple.
    pub value_column: Option<String>,
    pub op: Option<CmpOp>,
    pub threshold: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct BaselineRule {
    pub target: Target,
    pub metric: Metric,
    pub direction: Direction,
    pub sigmas: f64,
    pub min_change: f64,
    pub min_requests: u64,
    pub weeks: u32,
}

#[derive(Debug, Clone)]
pub struct PatternRule {
    pub query: Query,
    pub mode: PatternMode,
    pub factor: f64,
    pub min_count: u64,
    pub min_history: Dur,
}

#[derive(Debug, Clone)]
pub struct SloRule {
    pub target: Target,
    /// Fraction, e.g. 0.999.
    pub objective: f64,
    pub sli: Sli,
    pub latency_threshold: Dur,
    pub window: Dur,
}

/// A checked rule with its place in the store.
#[derive(Debug, Clone)]
pub struct Rule {
    pub spec: RuleSpec,
    pub compiled: Compiled,
    /// `api`, or the file it came from.
    pub source: String,
    pub version: i64,
}

/// Limits on what a rule may ask for.
pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_QUERY_BYTES: usize = 16 * 1024;
pub const MAX_CONDITION_BYTES: usize = 4 * 1024;
pub const MAX_ANNOTATIONS: usize = 32;
pub const MAX_ANNOTATION_BYTES: usize = 16 * 1024;
pub const MIN_INTERVAL: Dur = Dur::secs(10);
pub const MAX_INTERVAL: Dur = Dur::days(1);
/// Longest lookback of a query-based rule (threshold, pattern): each evaluation scans it.
pub const MAX_SCAN_LOOKBACK: Dur = Dur::days(1);
/// Longest lookback of a rollup rule.
pub const MAX_ROLLUP_LOOKBACK: Dur = Dur::days(7);

const DEFAULT_PATTERN_QUERY: &str = "level:(warn OR error OR fatal)";

impl RuleSpec {
    pub fn interval(&self) -> Dur {
        self.interval.unwrap_or(Dur::mins(1))
    }

    pub fn lookback(&self) -> Dur {
        self.lookback.unwrap_or(match self.kind {
            RuleKind::Pattern => Dur::mins(10),
            RuleKind::Slo => Dur::hours(1),
            _ => Dur::mins(5),
        })
    }

    pub fn delay(&self) -> Dur {
        self.delay.unwrap_or(Dur::secs(30))
    }

    pub fn pending_for(&self) -> Dur {
        self.pending_for.unwrap_or(Dur(0))
    }

    pub fn keep_firing_for(&self) -> Dur {
        self.keep_firing_for.unwrap_or(Dur(0))
    }

    /// Checks the spec and compiles it; every problem is listed.
    pub fn compile(&self) -> Result<Compiled, Vec<Problem>> {
        let mut problems = Vec::new();
        self.check_common(&mut problems);
        let compiled = match self.kind {
            RuleKind::Threshold => self.compile_threshold(&mut problems),
            RuleKind::Red => self.compile_red(&mut problems),
            RuleKind::Baseline => self.compile_baseline(&mut problems),
            RuleKind::Pattern => self.compile_pattern(&mut problems),
            RuleKind::Absence => self.compile_absence(&mut problems),
            RuleKind::Slo => self.compile_slo(&mut problems),
        };
        self.check_settings_apply(&mut problems);
        match compiled {
            Some(c) if problems.is_empty() => Ok(c),
            _ => Err(problems),
        }
    }

    fn check_common(&self, problems: &mut Vec<Problem>) {
        let name = self.name.trim();
        if self.description.len() > MAX_ANNOTATION_BYTES {
            problems.push(problem("description", format!("longer than {MAX_ANNOTATION_BYTES} bytes")));
        }
        if name.is_empty() {
            problems.push(problem("name", "a rule needs a name"));
        } else if name.chars().count() > MAX_NAME_CHARS {
            problems.push(problem("name", format!("longer than {MAX_NAME_CHARS} characters")));
        } else if name.chars().any(|c| c.is_control() || c == '/') || name != self.name {
            problems.push(problem("name", "no control characters, slashes, or spaces at either end"));
        }
        let interval = self.interval();
        if interval < MIN_INTERVAL || interval > MAX_INTERVAL {
            problems.push(problem("interval", format!("must be between {MIN_INTERVAL} and {MAX_INTERVAL} (is {interval})")));
        }
        let lookback = self.lookback();
        let max_lookback = if matches!(self.kind, RuleKind::Threshold | RuleKind::Pattern) { MAX_SCAN_LOOKBACK } else { MAX_ROLLUP_LOOKBACK };
        if lookback.ns() <= 0 || lookback > max_lookback {
            problems.push(problem("lookback", format!("must be above 0 and at most {max_lookback} for a {} rule (is {lookback})", self.kind.as_str())));
        } else if matches!(self.kind, RuleKind::Red | RuleKind::Baseline | RuleKind::Slo | RuleKind::Absence) && lookback.ns() % Dur::mins(1).ns() != 0 {
            problems.push(problem("lookback", format!("a {} rule reads per-minute rollups: whole minutes (is {lookback})", self.kind.as_str())));
        }
        for (field, d, max) in [
            ("delay", self.delay(), Dur::hours(1)),
            ("for", self.pending_for(), Dur::days(1)),
            ("keep_firing_for", self.keep_firing_for(), Dur::days(1)),
        ] {
            if d.ns() < 0 || d > max {
                problems.push(problem(field, format!("must be between 0s and {max} (is {d})")));
            }
        }
        if self.labels.len() > MAX_LABELS {
            problems.push(problem("labels", format!("at most {MAX_LABELS} labels")));
        }
        for (k, v) in &self.labels {
            if !valid_label_name(k) {
                problems.push(problem(&format!("labels.{k}"), "a label name is letters, digits and _, not starting with a digit"));
            } else if k == crate::labels::RULE_LABEL {
                problems.push(problem(&format!("labels.{k}"), "`rule` is set to the rule's name by trawl"));
            }
            if v.len() > MAX_LABEL_VALUE {
                problems.push(problem(&format!("labels.{k}"), format!("longer than {MAX_LABEL_VALUE} bytes")));
            }
        }
        if self.annotations.len() > MAX_ANNOTATIONS {
            problems.push(problem("annotations", format!("at most {MAX_ANNOTATIONS} annotations")));
        }
        for (k, v) in &self.annotations {
            if k.is_empty() || k.len() > crate::labels::MAX_LABEL_NAME {
                problems.push(problem("annotations", format!("an annotation's name is 1 to {} bytes", crate::labels::MAX_LABEL_NAME)));
            } else if v.len() > MAX_ANNOTATION_BYTES {
                problems.push(problem(&format!("annotations.{k}"), format!("longer than {MAX_ANNOTATION_BYTES} bytes")));
            } else if let Err(e) = template::check(v) {
                problems.push(problem(&format!("annotations.{k}"), e));
            }
        }
        if let Some(p) = &self.policy {
            if p.trim().is_empty() {
                problems.push(problem("policy", "empty: leave it out to route by labels"));
            }
        }
    }

    /// Settings given that the kind does not read are refused, so a typo'd rule never runs
    /// as something other than what was meant.
    fn check_settings_apply(&self, problems: &mut Vec<Problem>) {
        use RuleKind::*;
        let given: [(&str, bool, &[RuleKind]); 18] = [
            ("query", self.query.is_some(), &[Threshold, Pattern]),
            ("condition", self.condition.is_some(), &[Threshold]),
            ("service", self.service.is_some(), &[Red, Baseline, Absence, Slo]),
            ("operation", self.operation.is_some(), &[Red, Baseline, Slo]),
            ("metric", self.metric.is_some(), &[Red, Baseline]),
            ("op", self.op.is_some(), &[Red]),
            ("threshold", self.threshold.is_some(), &[Red]),
            ("min_requests", self.min_requests.is_some(), &[Red, Baseline]),
            ("sensitivity", self.sensitivity.is_some(), &[Baseline]),
            ("direction", self.direction.is_some(), &[Baseline]),
            ("min_change", self.min_change.is_some(), &[Baseline]),
            ("weeks", self.weeks.is_some(), &[Baseline]),
            ("mode", self.mode.is_some(), &[Pattern]),
            ("factor", self.factor.is_some(), &[Pattern]),
            ("min_count", self.min_count.is_some(), &[Pattern]),
            ("min_history", self.min_history.is_some(), &[Pattern]),
            ("absent_for", self.absent_for.is_some() || self.history.is_some(), &[Absence]),
            ("objective", self.objective.is_some() || self.sli.is_some() || self.latency_threshold.is_some() || self.window.is_some(), &[Slo]),
        ];
        for (field, is_given, kinds) in given {
            if is_given && !kinds.contains(&self.kind) {
                let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
                problems.push(problem(field, format!("not a setting of a {} rule (only of {})", self.kind.as_str(), names.join(", "))));
            }
        }
    }

    fn target(&self, problems: &mut Vec<Problem>, operation_allowed: bool) -> Target {
        let service = self.service.as_deref().unwrap_or("*");
        if service.trim().is_empty() {
            problems.push(problem("service", "empty: use `*` for every service"));
        }
        for (field, value) in [("service", Some(service)), ("operation", self.operation.as_deref())] {
            if value.is_some_and(|v| v.len() > MAX_NAME_CHARS * 4) {
                problems.push(problem(field, format!("longer than {} bytes", MAX_NAME_CHARS * 4)));
            }
        }
        let operation = match (&self.operation, operation_allowed) {
            (Some(op), true) if op.trim().is_empty() => {
                problems.push(problem("operation", "empty: leave it out for the service's requests"));
                None
            }
            (Some(op), _) => Some(NamePattern::new(op)),
            (None, _) => None,
        };
        Target { service: NamePattern::new(service), operation }
    }

    fn parse_query(&self, text: &str, problems: &mut Vec<Problem>) -> Option<Query> {
        if text.len() > MAX_QUERY_BYTES {
            problems.push(problem("query", format!("longer than {MAX_QUERY_BYTES} bytes")));
            return None;
        }
        if trawl_query::is_sql(text) {
            problems.push(problem("query", "SQL is not taken by rules: use the query language"));
            return None;
        }
        match trawl_query::parse(text) {
            Ok(q) => Some(q),
            Err(e) => {
                problems.push(query_problem("query", e));
                None
            }
        }
    }

    fn compile_threshold(&self, problems: &mut Vec<Problem>) -> Option<Compiled> {
        let Some(text) = self.query.as_deref() else {
            problems.push(problem("query", "a threshold rule needs a query, e.g. `level:error | stats count() as n by service`"));
            return None;
        };
        let query = self.parse_query(text, problems);
        let Some(condition_text) = self.condition.as_deref() else {
            problems.push(problem("condition", "a threshold rule needs a condition on the result, e.g. `n > 100`"));
            return None;
        };
        if condition_text.len() > MAX_CONDITION_BYTES {
            problems.push(problem("condition", format!("longer than {MAX_CONDITION_BYTES} bytes")));
            return None;
        }
        let condition = match trawl_query::parse_condition(condition_text) {
            Ok(c) => c,
            Err(e) => {
                problems.push(query_problem("condition", e));
                return None;
            }
        };
        let (value_column, op, threshold) = simple_comparison(&condition);
        Some(Compiled::Threshold(ThresholdRule { query: query?, condition, value_column, op, threshold }))
    }

    fn metric(&self, problems: &mut Vec<Problem>) -> Metric {
        self.metric.unwrap_or_else(|| {
            problems.push(problem("metric", "needed: error_rate, request_rate, errors, requests, latency_p50/p90/p95/p99, log_errors, log_error_rate or record_rate"));
            Metric::ErrorRate
        })
    }

    fn compile_red(&self, problems: &mut Vec<Problem>) -> Option<Compiled> {
        let target = self.target(problems, true);
        let metric = self.metric(problems);
        if metric.from_logs() && target.operation.is_some() {
            problems.push(problem("operation", "log metrics are per service: records have no operation"));
        }
        let Some(threshold) = self.threshold else {
            problems.push(problem("threshold", "a red rule compares its metric with a threshold"));
            return None;
        };
        if !threshold.is_finite() {
            problems.push(problem("threshold", "must be a number"));
        }
        Some(Compiled::Red { target, metric, op: self.op.unwrap_or(CmpOp::Gt), threshold, min_requests: self.min_requests.unwrap_or(0) })
    }

    fn compile_baseline(&self, problems: &mut Vec<Problem>) -> Option<Compiled> {
        let target = self.target(problems, true);
        let metric = self.metric(problems);
        if metric.from_logs() && target.operation.is_some() {
            problems.push(problem("operation", "log metrics are per service: records have no operation"));
        }
        let sigmas = self.sensitivity.map_or(4.0, Sensitivity::sigmas);
        if !(sigmas.is_finite() && (0.5..=20.0).contains(&sigmas)) {
            problems.push(problem("sensitivity", "low, medium, high, or a number of standard deviations between 0.5 and 20"));
        }
        let weeks = self.weeks.unwrap_or(4);
        if !(1..=4).contains(&weeks) {
            problems.push(problem("weeks", "between 1 and 4"));
        }
        let min_change = self.min_change.unwrap_or(default_min_change(metric));
        if !(min_change.is_finite() && min_change >= 0.0) {
            problems.push(problem("min_change", "a number at or above 0"));
        }
        Some(Compiled::Baseline(BaselineRule {
            target,
            metric,
            direction: self.direction.unwrap_or_default(),
            sigmas,
            min_change,
            min_requests: self.min_requests.unwrap_or(20),
            weeks,
        }))
    }

    fn compile_pattern(&self, problems: &mut Vec<Problem>) -> Option<Compiled> {
        let text = self.query.as_deref().unwrap_or(DEFAULT_PATTERN_QUERY);
        let query = self.parse_query(text, problems)?;
        if query.pipes.iter().any(|p| !matches!(p, trawl_query::Pipe::Where(_))) {
            problems.push(problem("query", "a pattern rule takes a search and `where` pipes only: it groups the matches by pattern itself"));
        }
        let factor = self.factor.unwrap_or(5.0);
        if !(factor.is_finite() && factor > 1.0) {
            problems.push(problem("factor", "a number above 1"));
        }
        if self.min_history.is_some_and(|h| h.ns() < 0 || h > Dur::days(30)) {
            problems.push(problem("min_history", "between 0s and 30d"));
        }
        Some(Compiled::Pattern(PatternRule {
            query,
            mode: self.mode.unwrap_or_default(),
            factor,
            min_count: self.min_count.unwrap_or(5).max(1),
            min_history: self.min_history.unwrap_or(Dur::hours(1)),
        }))
    }

    fn compile_absence(&self, problems: &mut Vec<Problem>) -> Option<Compiled> {
        let target = self.target(problems, false);
        let absent_for = self.absent_for.unwrap_or(Dur::mins(10));
        let history = self.history.unwrap_or(Dur::hours(2));
        if absent_for < Dur::mins(1) || absent_for > Dur::days(1) {
            problems.push(problem("absent_for", "between 1m and 1d"));
        }
        if history <= absent_for || history > Dur::days(7) {
            problems.push(problem("history", "longer than absent_for and at most 7d"));
        }
        Some(Compiled::Absence { target, absent_for, history })
    }

    fn compile_slo(&self, problems: &mut Vec<Problem>) -> Option<Compiled> {
        let target = self.target(problems, true);
        let Some(objective) = self.objective else {
            problems.push(problem("objective", "an SLO needs its objective in percent, e.g. 99.9"));
            return None;
        };
        if !(objective.is_finite() && objective > 0.0 && objective < 100.0) {
            problems.push(problem("objective", "a percentage above 0 and below 100"));
        }
        let sli = self.sli.unwrap_or_default();
        let latency_threshold = self.latency_threshold.unwrap_or(Dur(0));
        if sli == Sli::Latency && latency_threshold.ns() <= 0 {
            problems.push(problem("latency_threshold", "a latency SLO needs the latency a good request stays under, e.g. 300ms"));
        }
        let window = self.window.unwrap_or(Dur::days(30));
        if window < Dur::days(1) || window > Dur::days(90) {
            problems.push(problem("window", "between 1d and 90d (28d and 30d are usual)"));
        }
        Some(Compiled::Slo(SloRule { target, objective: objective / 100.0, sli, latency_threshold, window }))
    }
}

/// The smallest change a baseline rule alerts on, by metric: 5 points of error rate, 50 %
/// more latency, twice or half the volume, 10 more errors.
pub fn default_min_change(metric: Metric) -> f64 {
    match metric {
        Metric::ErrorRate | Metric::LogErrorRate => 0.05,
        Metric::Errors | Metric::LogErrors => 10.0,
        Metric::LatencyP50 | Metric::LatencyP90 | Metric::LatencyP95 | Metric::LatencyP99 => 1.5,
        Metric::RequestRate | Metric::Requests | Metric::RecordRate => 2.0,
    }
}

fn query_problem(field: &str, e: trawl_query::QueryError) -> Problem {
    match e {
        trawl_query::QueryError::Syntax { message, line, column } => {
            let message = if line > 1 { format!("{message} (line {line})") } else { message };
            Problem { field: field.to_string(), message, column: Some(column) }
        }
        other => problem(field, other.to_string()),
    }
}

/// `column OP number` (either way round): the value and threshold to show.
fn simple_comparison(expr: &ValueExpr) -> (Option<String>, Option<CmpOp>, Option<f64>) {
    use trawl_query::BinOp;
    let ValueExpr::Binary(l, op, r) = expr else {
        // `a > 1 and b > 2`: the first comparison names the value.
        return (first_field(expr), None, None);
    };
    let cmp = |op: &BinOp, flipped: bool| -> Option<CmpOp> {
        Some(match (op, flipped) {
            (BinOp::Gt, false) | (BinOp::Lt, true) => CmpOp::Gt,
            (BinOp::Ge, false) | (BinOp::Le, true) => CmpOp::Ge,
            (BinOp::Lt, false) | (BinOp::Gt, true) => CmpOp::Lt,
            (BinOp::Le, false) | (BinOp::Ge, true) => CmpOp::Le,
            _ => return None,
        })
    };
    match (l.as_ref(), r.as_ref()) {
        (ValueExpr::Field(f), ValueExpr::Number(n)) => (Some(f.clone()), cmp(op, false), Some(*n)),
        (ValueExpr::Number(n), ValueExpr::Field(f)) => (Some(f.clone()), cmp(op, true), Some(*n)),
        _ => (first_field(expr), None, None),
    }
}

fn first_field(expr: &ValueExpr) -> Option<String> {
    match expr {
        ValueExpr::Field(f) => Some(f.clone()),
        ValueExpr::Binary(l, _, r) => first_field(l).or_else(|| first_field(r)),
        ValueExpr::Not(e) | ValueExpr::Neg(e) => first_field(e),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> RuleSpec {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    #[test]
    fn a_threshold_rule_compiles_with_its_value_and_threshold() {
        let s = spec("name: errors\nkind: threshold\nquery: 'level:error | stats count() as n by service'\ncondition: n > 100\nfor: 2m\n");
        let Compiled::Threshold(t) = s.compile().unwrap() else { panic!() };
        assert_eq!((t.value_column.as_deref(), t.op, t.threshold), (Some("n"), Some(CmpOp::Gt), Some(100.0)));
        assert_eq!(s.pending_for(), Dur::mins(2));
        assert_eq!(s.interval(), Dur::mins(1));
        let s = spec("name: e\nkind: threshold\nquery: x\ncondition: 5 <= n\n");
        let Compiled::Threshold(t) = s.compile().unwrap() else { panic!() };
        assert_eq!((t.op, t.threshold), (Some(CmpOp::Ge), Some(5.0)));
    }

    #[test]
    fn every_problem_is_listed_with_its_field_and_column() {
        let s = spec(
            "name: bad\nkind: threshold\nquery: 'level:error | stats count( as n'\ncondition: 'n >'\ninterval: 1s\nlabels: {rule: x, 'bad-name': y}\nthreshold: 3\n",
        );
        let problems = s.compile().unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert!(fields.contains(&"query") && fields.contains(&"condition"), "{problems:?}");
        assert!(fields.contains(&"interval") && fields.contains(&"labels.rule") && fields.contains(&"labels.bad-name"), "{problems:?}");
        assert!(fields.contains(&"threshold"), "{problems:?}");
        let condition = problems.iter().find(|p| p.field == "condition").unwrap();
        assert!(condition.column.is_some_and(|c| c <= 4), "{condition:?}");
    }

    #[test]
    fn kinds_take_their_settings_and_defaults() {
        let s = spec("name: b\nkind: baseline\nservice: '*'\nmetric: error_rate\nsensitivity: high\n");
        let Compiled::Baseline(b) = s.compile().unwrap() else { panic!() };
        assert_eq!((b.sigmas, b.min_change, b.weeks, b.direction), (3.0, 0.05, 4, Direction::Up));
        let s = spec("name: s\nkind: slo\nservice: payment-service\nobjective: 99.9\n");
        let Compiled::Slo(slo) = s.compile().unwrap() else { panic!() };
        assert!((slo.objective - 0.999).abs() < 1e-12);
        assert_eq!(slo.window, Dur::days(30));
        assert!(spec("name: s\nkind: slo\nobjective: 99.9\nsli: latency\n").compile().is_err());
        assert!(spec("name: a\nkind: absence\nabsent_for: 5m\n").compile().is_ok());
        let s = spec("name: p\nkind: pattern\nmode: spike\n");
        let Compiled::Pattern(p) = s.compile().unwrap() else { panic!() };
        assert_eq!((p.mode, p.factor), (PatternMode::Spike, 5.0));
        assert!(spec("name: p\nkind: pattern\nquery: 'x | stats count()'\n").compile().is_err());
        assert!(serde_yaml_ng::from_str::<RuleSpec>("name: x\nkind: red\nthreshhold: 1\n").is_err());
    }

    #[test]
    fn annotation_templates_are_checked() {
        let s = spec("name: t\nkind: red\nmetric: error_rate\nthreshold: 0.1\nannotations: {summary: '{{ labels.service'}\n");
        let problems = s.compile().unwrap_err();
        assert_eq!(problems[0].field, "annotations.summary");
    }
}
