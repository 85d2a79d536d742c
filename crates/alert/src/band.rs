//! The normal band of a figure, from its values in comparable past windows: the median, and a
//! half-width of `k` robust standard deviations (1.4826 × the median absolute deviation)
//! combined with the sampling noise the current window's volume implies, never narrower than
//! the rule's smallest change. Rates use binomial noise, counts Poisson noise, latencies and
//! volumes are compared as ratios (in log space).

use crate::rule::Metric;
use crate::state::Band;

/// One past window's figure and the volume (requests or records) behind it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub value: f64,
    pub volume: f64,
}

/// Fewer usable past windows than this: no band from history.
pub const MIN_POINTS: usize = 3;

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        return 0.0;
    }
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// Median and robust standard deviation.
fn robust(values: &[f64]) -> (f64, f64) {
    let mut v: Vec<f64> = values.to_vec();
    let mid = median(&mut v);
    let mut dev: Vec<f64> = values.iter().map(|x| (x - mid).abs()).collect();
    (mid, 1.4826 * median(&mut dev))
}

/// Is the metric compared as a ratio (latency, volume) rather than a difference?
pub fn multiplicative(metric: Metric) -> bool {
    matches!(
        metric,
        Metric::LatencyP50 | Metric::LatencyP90 | Metric::LatencyP95 | Metric::LatencyP99 | Metric::RequestRate | Metric::Requests | Metric::RecordRate
    )
}

/// The band for a window with `volume` (requests or records) in it, from `points` (past windows
/// with enough volume), `k` standard deviations wide, at least `min_change` from the middle.
/// None when history is too thin to say what is normal, except for rates, whose band without
/// history is 0 to `min_change`.
pub fn band(metric: Metric, points: &[Point], volume: f64, k: f64, min_change: f64) -> Option<Band> {
    if points.len() < MIN_POINTS {
        return match metric {
            Metric::ErrorRate | Metric::LogErrorRate => Some(Band { low: 0.0, mid: 0.0, high: min_change }),
            _ => None,
        };
    }
    let values: Vec<f64> = points.iter().map(|p| p.value).collect();
    if multiplicative(metric) {
        // In log space, with a floor of 1 (ms or requests) so zeros stay finite.
        let logs: Vec<f64> = values.iter().map(|v| v.max(1e-3).ln()).collect();
        let (mid_log, spread) = robust(&logs);
        // Sampling noise of a latency quantile or a count shrinks with the volume.
        let noise = if volume > 0.0 { 1.0 / volume.sqrt() } else { 1.0 };
        let sigma = (spread * spread + noise * noise).sqrt();
        let ratio = (k * sigma).exp().max(min_change.max(1.0));
        let mid = mid_log.exp();
        return Some(Band { low: mid / ratio, mid, high: mid * ratio });
    }
    let (mid, spread) = robust(&values);
    let noise = match metric {
        Metric::ErrorRate | Metric::LogErrorRate => {
            // Binomial: p(1-p)/n, with p at least one event in the baseline's typical volume.
            let typical = {
                let mut v: Vec<f64> = points.iter().map(|p| p.volume).collect();
                median(&mut v).max(1.0)
            };
            let p = mid.max(1.0 / typical).min(1.0);
            if volume > 0.0 {
                (p * (1.0 - p) / volume).sqrt()
            } else {
                1.0
            }
        }
        // Counts: Poisson, the variance is the expected count.
        _ => mid.max(1.0).sqrt(),
    };
    let half = (k * (spread * spread + noise * noise).sqrt()).max(min_change);
    Some(Band { low: (mid - half).max(0.0), mid, high: mid + half })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(values: &[f64], volume: f64) -> Vec<Point> {
        values.iter().map(|&value| Point { value, volume }).collect()
    }

    #[test]
    fn a_noisy_busy_service_stays_inside_and_a_step_goes_out() {
        // A service failing a steady 5 % ± 1 %, 2,000 requests a window.
        let history = points(&[0.05, 0.04, 0.06, 0.05, 0.055, 0.045, 0.05, 0.06, 0.04, 0.05, 0.052, 0.048], 2000.0);
        let b = band(Metric::ErrorRate, &history, 2000.0, 4.0, 0.05).unwrap();
        assert!((b.mid - 0.05).abs() < 0.001);
        for noisy in [0.03, 0.065, 0.08, 0.095] {
            assert!(noisy < b.high, "{noisy} vs {b:?}");
        }
        assert!(0.25 > b.high, "{b:?}");
        // Without history a rate's band is 0 to min_change; a latency has none.
        assert_eq!(band(Metric::ErrorRate, &history[..2], 100.0, 4.0, 0.05).unwrap().high, 0.05);
        assert!(band(Metric::LatencyP95, &history[..2], 100.0, 4.0, 1.5).is_none());
    }

    #[test]
    fn latency_is_compared_as_a_ratio() {
        let history = points(&[120.0, 130.0, 110.0, 125.0, 118.0, 135.0, 122.0], 500.0);
        let b = band(Metric::LatencyP95, &history, 500.0, 4.0, 1.5).unwrap();
        assert!(b.high >= 1.5 * b.mid - 1e-9 && b.high < 300.0, "{b:?}");
        assert!(1200.0 > b.high);
        assert!(b.low < b.mid && b.low > 0.0);
    }

    #[test]
    fn few_events_widen_the_band() {
        // 1 % errors normally; a window of 30 requests with 2 errors (6.7 %) is not news.
        let history = points(&[0.01; 10], 30.0);
        let b = band(Metric::ErrorRate, &history, 30.0, 4.0, 0.05).unwrap();
        assert!(2.0 / 30.0 < b.high, "{b:?}");
        let b = band(Metric::LogErrors, &points(&[10.0, 12.0, 9.0, 11.0, 10.0], 1000.0), 1000.0, 4.0, 10.0).unwrap();
        assert!(20.0 < b.high && 40.0 > b.high, "{b:?}");
    }
}
