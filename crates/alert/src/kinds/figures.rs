//! The figures of services and operations in a set of rollups, as rollup rules read them.

use std::collections::BTreeMap;

use trawl_rollup::summary::{self, KindClass};
use trawl_rollup::{LevelCounts, RedStats, Resolution, RollupSet};

use crate::rule::{Metric, Target};

/// What a group (a service, or a service's operation) did in a window.
#[derive(Debug, Clone, Default)]
pub struct GroupFigures {
    pub requests: RedStats,
    pub records: LevelCounts,
}

impl GroupFigures {
    /// Requests, or records for log metrics: what `min_requests` counts.
    pub fn volume(&self, metric: Metric) -> u64 {
        if metric.from_logs() {
            self.records.total()
        } else {
            self.requests.requests
        }
    }
}

/// (service, operation) → figures, for the services (and operations) `target` covers.
/// Operations are counted over every span kind; a service's requests are its entry spans (see
/// `trawl_rollup::summary`).
pub fn group_figures(set: &RollupSet, target: &Target, classes: &BTreeMap<String, KindClass>) -> BTreeMap<(String, Option<String>), GroupFigures> {
    let mut out: BTreeMap<(String, Option<String>), GroupFigures> = BTreeMap::new();
    match &target.operation {
        Some(op) => {
            for (key, stats) in set.red.iter().filter(|(k, _)| target.service.matches(&k.service) && op.matches(&k.operation)) {
                out.entry((key.service.clone(), Some(key.operation.clone()))).or_default().requests.merge(stats);
            }
        }
        None => {
            for (key, stats) in set.red.iter().filter(|(k, _)| target.service.matches(&k.service)) {
                if classes.get(&key.service) == Some(&KindClass::of(&key.kind)) {
                    out.entry((key.service.clone(), None)).or_default().requests.merge(stats);
                } else {
                    out.entry((key.service.clone(), None)).or_default();
                }
            }
            for (key, counts) in set.levels.iter().filter(|(k, _)| target.service.matches(&k.service)) {
                out.entry((key.service.clone(), None)).or_default().records.merge(counts);
            }
        }
    }
    // A named service (and operation) is always a group, with zeros when it sent nothing.
    if let Some(service) = target.service.exact() {
        let op = target.operation.as_ref().and_then(|o| o.exact().map(str::to_string));
        if target.operation.is_none() || op.is_some() {
            out.entry((service.to_string(), op)).or_default();
        }
    }
    out
}

/// The request classes of a set (see `trawl_rollup::summary::request_classes`).
pub fn classes(set: &RollupSet) -> BTreeMap<String, KindClass> {
    summary::request_classes(set)
}

/// The metric's value for a group over `seconds`; None when it has no meaning (a latency or
/// rate without any request).
pub fn metric_value(metric: Metric, g: &GroupFigures, seconds: f64) -> Option<f64> {
    let per_second = |n: u64| if seconds > 0.0 { n as f64 / seconds } else { 0.0 };
    match metric {
        Metric::ErrorRate => (g.requests.requests > 0).then(|| g.requests.error_rate()),
        Metric::RequestRate => Some(per_second(g.requests.requests)),
        Metric::Errors => Some(g.requests.errors as f64),
        Metric::Requests => Some(g.requests.requests as f64),
        Metric::LogErrors => Some(g.records.errors() as f64),
        Metric::LogErrorRate => {
            let total = g.records.total();
            (total > 0).then(|| g.records.errors() as f64 / total as f64)
        }
        Metric::RecordRate => Some(per_second(g.records.total())),
        m => g.requests.latency_ms(m.quantile().unwrap_or(0.5)),
    }
}

/// The seconds a set's buckets cover (an hour row covers an hour), and at least the window's
/// own length: what a count of the set must be scaled by to stand for the window.
pub fn covered_seconds(set: &RollupSet, start_ns: i64, end_ns: i64) -> f64 {
    let buckets = set
        .red
        .keys()
        .map(|k| (k.resolution, k.bucket_start_ns))
        .chain(set.levels.keys().map(|k| (k.resolution, k.bucket_start_ns)));
    let (lo, hi) = buckets.fold((i64::MAX, i64::MIN), |(lo, hi), (r, b)| (lo.min(b), hi.max(b + r.width_ns())));
    let window = (end_ns - start_ns) as f64 / 1e9;
    if lo > hi {
        window
    } else {
        ((hi - lo) as f64 / 1e9).max(window)
    }
}

/// The set's buckets starting in `start..end`.
pub fn slice(set: &RollupSet, start_ns: i64, end_ns: i64) -> RollupSet {
    let mut out = RollupSet::default();
    out.red = set.red.iter().filter(|(k, _)| k.bucket_start_ns >= start_ns && k.bucket_start_ns < end_ns).map(|(k, v)| (k.clone(), v.clone())).collect();
    out.levels =
        set.levels.iter().filter(|(k, _)| k.bucket_start_ns >= start_ns && k.bucket_start_ns < end_ns).map(|(k, v)| (k.clone(), *v)).collect();
    out
}

/// The metric of one group per step of `step_ns` over `start..end` (for sparklines).
pub fn figure_series(
    set: &RollupSet,
    target: &Target,
    service: &str,
    operation: Option<&str>,
    metric: Metric,
    start_ns: i64,
    end_ns: i64,
    step_ns: i64,
) -> Vec<Option<f64>> {
    let classes = classes(set);
    let mut out = Vec::new();
    let step = step_ns.max(Resolution::Minute.width_ns());
    let mut at = start_ns;
    while at < end_ns && out.len() < 240 {
        let part = slice(set, at, at + step);
        let groups = group_figures(&part, target, &classes);
        let key = (service.to_string(), operation.map(str::to_string));
        out.push(groups.get(&key).and_then(|g| metric_value(metric, g, step as f64 / 1e9)));
        at += step;
    }
    out
}
