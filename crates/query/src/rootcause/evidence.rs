//! What every operation, service and call edge did in the window and in its baseline, read off
//! the rollups (aggregated at ingest, so this costs the same for ten thousand spans or ten
//! million), and which of them changed.
//!
//! Four signals, each a count with an opportunity (see [`super::significance`]):
//! - errors of an operation (service, span name, span kind): error spans among its spans;
//! - slow requests of an operation: spans slower than the baseline's 99th percentile (95th
//!   with little baseline), among its spans, when the 50th or 95th percentile also grew by half;
//! - ERROR and FATAL log lines of a service among its records;
//! - failed or slow calls along a call edge (caller → callee), measured by the callee's span,
//!   or by the caller's CLIENT span when the callee sent none (uninstrumented or unreachable).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use trawl_rollup::{LevelCounts, RedStats, Resolution, RollupSet};

use super::significance::{dispersion, significant_increase};

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// More of its spans fail.
    Errors,
    /// Its spans got slower (nothing needs to fail).
    Latency,
    /// It logs more ERROR lines (its spans may all be OK).
    LogErrors,
    /// Calls to it fail before it sees them (connection refused, unreachable): its callers'
    /// CLIENT spans fail and it received no spans from them.
    FailedCalls,
    /// It fails only in one `service.version` that it runs beside others.
    Version,
}

/// Counts and latency of one side (window or baseline) of a comparison.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Figures {
    pub requests: u64,
    pub errors: u64,
    pub error_rate: f64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
}

impl Figures {
    pub fn of(stats: &RedStats) -> Figures {
        Figures {
            requests: stats.requests,
            errors: stats.errors,
            error_rate: stats.error_rate(),
            p50_ms: stats.latency_ms(0.5),
            p95_ms: stats.latency_ms(0.95),
        }
    }

    /// Log lines: `requests` counts records, `errors` the ERROR and FATAL ones.
    pub fn of_logs(levels: &LevelCounts) -> Figures {
        let total = levels.total();
        Figures {
            requests: total,
            errors: levels.errors(),
            error_rate: if total == 0 { 0.0 } else { levels.errors() as f64 / total as f64 },
            p50_ms: None,
            p95_ms: None,
        }
    }
}

/// One side of a comparison, with its minutes (for overdispersion and for when a step began).
#[derive(Debug, Clone, Default)]
pub struct Side {
    pub total: RedStats,
    /// Minute bucket start → (events, opportunity).
    pub minutes: BTreeMap<i64, (u64, u64)>,
}

impl Side {
    fn add(&mut self, bucket: i64, stats: &RedStats) {
        self.total.merge(stats);
        let m = self.minutes.entry(bucket).or_default();
        m.0 += stats.errors;
        m.1 += stats.requests;
    }

    fn minute_pairs(&self) -> Vec<(f64, f64)> {
        self.minutes.values().map(|&(e, n)| (e as f64, n as f64)).collect()
    }
}

/// An operation: service, span name, span kind.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OpKey {
    pub service: String,
    pub operation: String,
    pub kind: String,
}

/// The window and the baseline of everything the rollups know.
#[derive(Debug, Default)]
pub struct Evidence {
    pub ops: BTreeMap<OpKey, (Side, Side)>,
    /// (caller, callee) → calls.
    pub edges: BTreeMap<(String, String), (Side, Side)>,
    /// Service → records by level, window and baseline, with ERROR minutes.
    pub logs: BTreeMap<String, (LevelCounts, LevelCounts, Side)>,
    /// Services that sent spans (in either window): the others are known only as callees.
    pub instrumented: BTreeSet<String>,
}

/// A significant change of one signal.
#[derive(Debug, Clone, Serialize)]
pub struct Anomaly {
    pub service: String,
    pub operation: String,
    /// Span kind (`SERVER`, `CLIENT`, …), `LOG` for log lines, `CALL` for a call edge.
    pub kind: String,
    pub change: ChangeKind,
    /// Standard score of the change (see `significance`).
    pub z: f64,
    pub window: Figures,
    pub baseline: Figures,
    /// The first minute of the window whose count alone departs from the baseline rate.
    pub step_ns: Option<i64>,
}

impl Evidence {
    /// Splits `set` into the window `[start, end)` and the baseline `[baseline_start,
    /// baseline_end)`. A bucket that overlaps the window belongs to it, even when it began
    /// before: a window rarely starts on a minute, and the minute it starts in holds the first
    /// of what changed, which must not count as what was normal. Otherwise a bucket belongs to
    /// the baseline when it starts in it.
    pub fn from_rollups(set: &RollupSet, window: (i64, i64), baseline: (i64, i64)) -> Evidence {
        let side = |resolution: Resolution, bucket: i64| {
            if bucket < window.1 && bucket.saturating_add(resolution.width_ns()) > window.0 {
                Some(0)
            } else if bucket >= baseline.0 && bucket < baseline.1 {
                Some(1)
            } else {
                None
            }
        };
        let mut evidence = Evidence::default();
        for (key, stats) in &set.red {
            let Some(which) = side(key.resolution, key.bucket_start_ns) else { continue };
            evidence.instrumented.insert(key.service.clone());
            let op = OpKey { service: key.service.clone(), operation: key.operation.clone(), kind: key.kind.clone() };
            let sides = evidence.ops.entry(op).or_default();
            if which == 0 { &mut sides.0 } else { &mut sides.1 }.add(key.bucket_start_ns, stats);
        }
        for (key, stats) in &set.edges {
            let Some(which) = side(key.resolution, key.bucket_start_ns) else { continue };
            let sides = evidence.edges.entry((key.caller.clone(), key.callee.clone())).or_default();
            if which == 0 { &mut sides.0 } else { &mut sides.1 }.add(key.bucket_start_ns, stats);
        }
        for (key, levels) in &set.levels {
            let Some(which) = side(key.resolution, key.bucket_start_ns) else { continue };
            let entry = evidence.logs.entry(key.service.clone()).or_default();
            if which == 0 {
                entry.0.merge(levels);
                let m = entry.2.minutes.entry(key.bucket_start_ns).or_default();
                m.0 += levels.errors();
                m.1 += levels.total();
            } else {
                entry.1.merge(levels);
            }
        }
        evidence
    }

    /// Failing requests in the window at the entry services (services no other service calls):
    /// their SERVER and CONSUMER error spans.
    pub fn entry_failures(&self) -> u64 {
        let called: BTreeSet<&str> = self.edges.iter().filter(|(_, (w, _))| w.total.requests > 0).map(|((_, callee), _)| callee.as_str()).collect();
        self.ops
            .iter()
            .filter(|(k, _)| !called.contains(k.service.as_str()) && (k.kind == "SERVER" || k.kind == "CONSUMER"))
            .map(|(_, (w, _))| w.total.errors)
            .sum()
    }

    /// Every significant change of an operation's errors or latency.
    pub fn op_anomalies(&self) -> Vec<Anomaly> {
        let mut out = Vec::new();
        for (key, (window, baseline)) in &self.ops {
            for change in [ChangeKind::Errors, ChangeKind::Latency] {
                if let Some(a) = compare(&key.service, &key.operation, &key.kind, change, window, baseline) {
                    out.push(a);
                }
            }
        }
        out
    }

    /// Every significant change of the calls along an edge, keyed by (caller, callee); the
    /// anomaly names the callee as its service.
    pub fn edge_anomalies(&self) -> BTreeMap<(String, String), Vec<Anomaly>> {
        let mut out: BTreeMap<(String, String), Vec<Anomaly>> = BTreeMap::new();
        for ((caller, callee), (window, baseline)) in &self.edges {
            for change in [ChangeKind::Errors, ChangeKind::Latency] {
                if let Some(a) = compare(callee, caller, "CALL", change, window, baseline) {
                    out.entry((caller.clone(), callee.clone())).or_default().push(a);
                }
            }
        }
        out
    }

    /// Every service whose share of ERROR and FATAL log lines grew significantly.
    pub fn log_anomalies(&self) -> Vec<Anomaly> {
        let mut out = Vec::new();
        for (service, (window, baseline, minutes)) in &self.logs {
            let (w, b) = (window.errors() as f64, baseline.errors() as f64);
            let exposure = exposure(window.total(), baseline.total());
            let Some(z) = significant_increase(w, b, exposure, 1.0) else { continue };
            let rate = if baseline.total() > 0 { b / baseline.total() as f64 } else { 0.0 };
            out.push(Anomaly {
                service: service.clone(),
                operation: String::new(),
                kind: "LOG".into(),
                change: ChangeKind::LogErrors,
                z,
                window: Figures::of_logs(window),
                baseline: Figures::of_logs(baseline),
                step_ns: first_step(&minutes.minutes, rate),
            });
        }
        out
    }
}

/// Window opportunity over baseline opportunity; 1 when the baseline had none (everything in
/// the window is then new, and judged by its count alone).
fn exposure(window: u64, baseline: u64) -> f64 {
    if baseline == 0 {
        1.0
    } else {
        window as f64 / baseline as f64
    }
}

/// Spans slower than this baseline quantile count as slow: the 99th percentile with enough
/// baseline, the 95th with less, nothing below this many baseline spans.
const MIN_BASELINE_SPANS: u64 = 40;
const MIN_WINDOW_SPANS: u64 = 20;
/// A latency change must also move the median or the 95th percentile by half and by 2 ms.
const MIN_LATENCY_RATIO: f64 = 1.5;
const MIN_LATENCY_DELTA_NS: f64 = 2e6;

fn compare(service: &str, operation: &str, kind: &str, change: ChangeKind, window: &Side, baseline: &Side) -> Option<Anomaly> {
    let (w, b) = (&window.total, &baseline.total);
    let z = match change {
        ChangeKind::Errors => {
            let dispersion = dispersion(&baseline.minute_pairs());
            significant_increase(w.errors as f64, b.errors as f64, exposure(w.requests, b.requests), dispersion)?
        }
        ChangeKind::Latency => latency_z(w, b)?,
        _ => return None,
    };
    let step_ns = match change {
        ChangeKind::Errors => first_step(&window.minutes, b.error_rate()),
        _ => None,
    };
    Some(Anomaly {
        service: service.to_string(),
        operation: operation.to_string(),
        kind: kind.to_string(),
        change,
        z,
        window: Figures::of(w),
        baseline: Figures::of(b),
        step_ns,
    })
}

fn latency_z(w: &RedStats, b: &RedStats) -> Option<f64> {
    if b.requests < MIN_BASELINE_SPANS || w.requests < MIN_WINDOW_SPANS {
        return None;
    }
    let q = if b.requests >= 200 { 0.99 } else { 0.95 };
    let slow = b.latency.quantile(q)?;
    let z = significant_increase(
        w.latency.count_above(slow) as f64,
        b.latency.count_above(slow) as f64,
        exposure(w.requests, b.requests),
        1.0,
    )?;
    let grew = |q: f64| match (w.latency.quantile(q), b.latency.quantile(q)) {
        (Some(now), Some(before)) => now >= MIN_LATENCY_RATIO * before && now - before >= MIN_LATENCY_DELTA_NS,
        _ => false,
    };
    (grew(0.5) || grew(0.95)).then_some(z)
}

/// The first minute of `side` whose errors alone are significantly above `rate`.
pub fn first_step_of(side: &Side, rate: f64) -> Option<i64> {
    first_step(&side.minutes, rate)
}

/// The first minute whose events alone are significantly above `rate` times its opportunity.
fn first_step(minutes: &BTreeMap<i64, (u64, u64)>, rate: f64) -> Option<i64> {
    minutes.iter().find_map(|(&start, &(events, n))| {
        let expected = rate * n as f64;
        let departs = events as f64 >= (2.0 * expected).max(expected + 3.0 * expected.sqrt()).max(3.0);
        departs.then_some(start)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use trawl_model::{Span, SpanKind, StatusCode};

    const MIN: i64 = 60_000_000_000;

    fn span(service: &str, name: &str, start_ns: i64, duration_ms: i64, error: bool) -> Span {
        Span {
            trace_id: format!("{start_ns:032x}"),
            span_id: format!("{start_ns:016x}"),
            parent_span_id: String::new(),
            service: service.into(),
            environment: String::new(),
            host: String::new(),
            name: name.into(),
            kind: SpanKind::Server,
            start_ns,
            duration_ns: duration_ms * 1_000_000,
            status_code: if error { StatusCode::Error } else { StatusCode::Ok },
            status_message: String::new(),
            attributes: Vec::new(),
            resource: Vec::new(),
            events: Vec::new(),
            links: Vec::new(),
        }
    }

    /// 20 minutes of one steady, noisy operation and one that breaks after minute 12.
    fn evidence() -> Evidence {
        let mut spans = Vec::new();
        for minute in 0..20 {
            for i in 0..100 {
                let t = minute * MIN + i * 500_000_000;
                spans.push(span("noisy", "GET /", t, 10 + i % 7, i % 20 == 0));
                let broken = minute >= 12;
                spans.push(span("api", "POST /pay", t, if broken && i % 2 == 0 { 400 } else { 20 + i % 5 }, broken && i % 3 == 0));
            }
        }
        let set = RollupSet::from_items([], &spans);
        Evidence::from_rollups(&set, (10 * MIN, 20 * MIN), (0, 10 * MIN))
    }

    #[test]
    fn a_broken_operation_changes_and_a_noisy_one_does_not() {
        let anomalies = evidence().op_anomalies();
        let found: Vec<(&str, ChangeKind)> = anomalies.iter().map(|a| (a.service.as_str(), a.change)).collect();
        assert_eq!(found, vec![("api", ChangeKind::Errors), ("api", ChangeKind::Latency)]);
        assert_eq!(anomalies[0].step_ns, Some(12 * MIN));
        assert_eq!(anomalies[0].baseline.errors, 0);
        assert!(anomalies[1].window.p95_ms.unwrap() > 300.0);
    }

    /// A window that starts in the middle of a minute: that minute's slow spans, logged after
    /// the window began, are the window's and not a normal the window is compared with.
    #[test]
    fn the_minute_a_window_starts_in_is_not_baseline() {
        let mut spans = Vec::new();
        for second in 0..600 {
            let t = second * 1_000_000_000;
            // Slow from 5 min 10 s on; the window starts at 5 min 30 s.
            let slow = second >= 310;
            spans.push(span("api", "GET /", t, if slow { 80 } else { 5 + second % 3 }, false));
        }
        let set = RollupSet::from_items([], &spans);
        let window_start = 5 * MIN + 30_000_000_000;
        let evidence = Evidence::from_rollups(&set, (window_start, 10 * MIN + 30_000_000_000), (30_000_000_000, window_start));
        let (window, baseline) = evidence.ops.values().next().unwrap();
        assert_eq!(baseline.total.requests, 240, "the baseline is minutes 1 to 4: none of the slow spans");
        assert_eq!(window.total.requests, 300);
        let found: Vec<ChangeKind> = evidence.op_anomalies().iter().map(|a| a.change).collect();
        assert_eq!(found, vec![ChangeKind::Latency]);
    }
}
