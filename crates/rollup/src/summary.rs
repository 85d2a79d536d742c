//! What a service did in a window, read off a [`RollupSet`], and how unusual that is compared
//! with its own baseline (the previous window of the same length).
//!
//! A service's *requests* are its entry spans: SERVER and CONSUMER spans. A service without any
//! falls back to its INTERNAL and UNSPECIFIED spans (hand-made instrumentation often sets no
//! kind), and a service with only CLIENT and PRODUCER spans (a job calling others) to those. The
//! choice is made once per service over everything fetched (window and baseline), so both sides of
//! a comparison and every step of a series count the same spans.

use std::collections::BTreeMap;

use crate::{LevelCounts, RedStats, RollupSet};

/// Which span kinds count as a service's requests (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum KindClass {
    /// SERVER and CONSUMER.
    Entry,
    /// INTERNAL and UNSPECIFIED.
    Local,
    /// CLIENT and PRODUCER.
    Outgoing,
}

impl KindClass {
    /// The class of a stored kind name (`SERVER`, …).
    pub fn of(kind: &str) -> KindClass {
        match kind {
            "SERVER" | "CONSUMER" => KindClass::Entry,
            "CLIENT" | "PRODUCER" => KindClass::Outgoing,
            _ => KindClass::Local,
        }
    }
}

/// For every service with spans in `set`, the kind class its requests are counted from.
pub fn request_classes(set: &RollupSet) -> BTreeMap<String, KindClass> {
    let mut classes: BTreeMap<String, KindClass> = BTreeMap::new();
    for key in set.red.keys() {
        let class = KindClass::of(&key.kind);
        classes.entry(key.service.clone()).and_modify(|c| *c = (*c).min(class)).or_insert(class);
    }
    classes
}

/// One service over a window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceSummary {
    /// Its requests (entry spans, see [`request_classes`]).
    pub requests: RedStats,
    /// Its records by level.
    pub records: LevelCounts,
}

/// Every service of `set` (with spans or records) and its summary; `classes` from
/// [`request_classes`] (a service missing there counts no requests).
pub fn service_summaries(set: &RollupSet, classes: &BTreeMap<String, KindClass>) -> BTreeMap<String, ServiceSummary> {
    let mut out: BTreeMap<String, ServiceSummary> = BTreeMap::new();
    for (key, stats) in &set.red {
        let summary = out.entry(key.service.clone()).or_default();
        if classes.get(&key.service) == Some(&KindClass::of(&key.kind)) {
            summary.requests.merge(stats);
        }
    }
    for (key, counts) in &set.levels {
        out.entry(key.service.clone()).or_default().records.merge(counts);
    }
    out
}

/// The requests of `service` per step: step `i` covers buckets starting in
/// `start_ns + i·step_ns .. start_ns + (i+1)·step_ns`; buckets outside the `n_steps` are ignored.
pub fn service_series(set: &RollupSet, service: &str, class: KindClass, start_ns: i64, step_ns: i64, n_steps: usize) -> Vec<RedStats> {
    let mut steps = vec![RedStats::default(); n_steps];
    if step_ns <= 0 {
        return steps;
    }
    for (key, stats) in set.red.iter().filter(|(k, _)| k.service == service && KindClass::of(&k.kind) == class) {
        let Some(offset) = key.bucket_start_ns.checked_sub(start_ns).filter(|o| *o >= 0) else { continue };
        if let Some(step) = usize::try_from(offset / step_ns).ok().and_then(|i| steps.get_mut(i)) {
            step.merge(stats);
        }
    }
    steps
}

/// Calls along each edge (caller, callee) of `set`.
pub fn edge_totals(set: &RollupSet) -> BTreeMap<(String, String), RedStats> {
    let mut out: BTreeMap<(String, String), RedStats> = BTreeMap::new();
    for (key, stats) in &set.edges {
        out.entry((key.caller.clone(), key.callee.clone())).or_default().merge(stats);
    }
    out
}

/// How a service's window differs from its baseline, and the combined score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Deviation {
    /// Error rate of requests now minus before (fraction, -1..=1).
    pub error_rate_delta: f64,
    /// p95 latency now over before; None without requests on either side.
    pub latency_ratio: Option<f64>,
    /// Requests now over before (same window length); None without requests before.
    pub rate_ratio: Option<f64>,
    /// Share of ERROR and FATAL records now minus before.
    pub record_error_share_delta: f64,
    /// The combined score, 0 for a service behaving as before; see [`deviation`].
    pub unusual: f64,
}

/// Weight of one unit (100 percentage points) of error-rate increase.
const ERROR_WEIGHT: f64 = 10.0;
/// Weight of one unit of increase of the share of error records.
const RECORD_ERROR_WEIGHT: f64 = 5.0;
/// Weight of one doubling or halving of traffic; at most four doublings count.
const TRAFFIC_WEIGHT: f64 = 0.25;
/// Counts at which a signal is trusted half: one error in two requests is not an incident.
const HALF_CONFIDENCE: f64 = 10.0;

fn confidence(n: u64) -> f64 {
    n as f64 / (n as f64 + HALF_CONFIDENCE)
}

/// Compares a window with its baseline. The score adds, each damped by a confidence that grows
/// with the counts involved (`n / (n + 10)`):
/// - 10 × the error-rate increase (+10 percentage points → 1),
/// - log2 of the p95 latency ratio when it grew (twice as slow → 1),
/// - 0.25 × |log2| of the traffic ratio, at most 1 (four times more or less traffic, or silence),
/// - 5 × the increase of the share of ERROR/FATAL records.
///
/// Decreases of errors and latency do not count: the score ranks what may need attention.
pub fn deviation(current: &ServiceSummary, baseline: &ServiceSummary) -> Deviation {
    let (now, before) = (&current.requests, &baseline.requests);
    let error_rate_delta = now.error_rate() - before.error_rate();
    let latency_ratio = match (now.latency.quantile(0.95), before.latency.quantile(0.95)) {
        // Nanoseconds; a floor of 1 ns keeps zero-length spans from dividing by zero.
        (Some(a), Some(b)) => Some(a.max(1.0) / b.max(1.0)),
        _ => None,
    };
    let rate_ratio = (before.requests > 0).then(|| now.requests as f64 / before.requests as f64);
    let share = |c: &LevelCounts| if c.total() == 0 { 0.0 } else { c.errors() as f64 / c.total() as f64 };
    let record_error_share_delta = share(&current.records) - share(&baseline.records);

    let mut unusual = ERROR_WEIGHT * error_rate_delta.max(0.0) * confidence(now.requests);
    if let Some(ratio) = latency_ratio.filter(|r| *r > 1.0) {
        unusual += ratio.log2() * confidence(now.requests.min(before.requests));
    }
    if let Some(ratio) = rate_ratio {
        let doublings = if ratio == 0.0 { 4.0 } else { ratio.log2().abs().min(4.0) };
        unusual += TRAFFIC_WEIGHT * doublings * confidence(now.requests.max(before.requests));
    }
    unusual += RECORD_ERROR_WEIGHT * record_error_share_delta.max(0.0) * confidence(current.records.total());
    Deviation { error_rate_delta, latency_ratio, rate_ratio, record_error_share_delta, unusual }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::span;
    use trawl_model::{SpanKind, StatusCode};

    fn summary(requests: u64, errors: u64, latency_ns: i64) -> ServiceSummary {
        let mut s = ServiceSummary::default();
        for i in 0..requests {
            s.requests.add(latency_ns, i < errors);
        }
        s
    }

    #[test]
    fn requests_count_entry_spans_with_fallbacks() {
        let mut spans = vec![
            span("t", "1", "", "web", SpanKind::Server),
            span("t", "2", "1", "web", SpanKind::Internal),
            span("t", "3", "2", "web", SpanKind::Client),
            span("t", "4", "", "batch", SpanKind::Internal),
            span("t", "5", "4", "batch", SpanKind::Client),
            span("t", "6", "", "cron", SpanKind::Producer),
        ];
        spans[0].status_code = StatusCode::Error;
        let set = RollupSet::from_items([], &spans);
        let classes = request_classes(&set);
        assert_eq!(classes["web"], KindClass::Entry);
        assert_eq!(classes["batch"], KindClass::Local);
        assert_eq!(classes["cron"], KindClass::Outgoing);
        let summaries = service_summaries(&set, &classes);
        let counts: Vec<(&str, u64, u64)> =
            summaries.iter().map(|(k, v)| (k.as_str(), v.requests.requests, v.requests.errors)).collect();
        assert_eq!(counts, vec![("batch", 1, 0), ("cron", 1, 0), ("web", 1, 1)]);
        let series = service_series(&set, "web", KindClass::Entry, 0, 60_000_000_000, 2);
        assert_eq!(series.iter().map(|s| s.requests).collect::<Vec<_>>(), vec![1, 0]);
    }

    #[test]
    fn deviation_scores_errors_latency_and_traffic() {
        let calm = deviation(&summary(100, 1, 1_000_000), &summary(100, 1, 1_000_000));
        assert_eq!((calm.error_rate_delta, calm.latency_ratio, calm.rate_ratio, calm.unusual), (0.0, Some(1.0), Some(1.0), 0.0));

        let erroring = deviation(&summary(100, 21, 1_000_000), &summary(100, 1, 1_000_000));
        assert!((erroring.error_rate_delta - 0.2).abs() < 1e-9);
        assert!((erroring.unusual - 2.0 * 100.0 / 110.0).abs() < 1e-9, "{erroring:?}");

        let slow = deviation(&summary(100, 0, 3_000_000), &summary(100, 0, 1_000_000));
        assert!((slow.latency_ratio.unwrap() - 3.0).abs() < 1e-9);
        assert!(slow.unusual > 1.0 && slow.unusual < erroring.unusual, "{slow:?}");

        let silent = deviation(&summary(0, 0, 0), &summary(100, 0, 1_000_000));
        assert_eq!(silent.rate_ratio, Some(0.0));
        assert!((silent.unusual - 0.25 * 4.0 * 100.0 / 110.0).abs() < 1e-9);

        // Few requests: one error in two is damped.
        let tiny = deviation(&summary(2, 1, 1_000_000), &ServiceSummary::default());
        assert!(tiny.unusual < erroring.unusual);
        assert_eq!(tiny.rate_ratio, None);
    }
}
