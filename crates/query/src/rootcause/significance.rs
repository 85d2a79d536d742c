//! How unusual a window's count is against its baseline.
//!
//! Every change the analysis reports (errors, slow requests, ERROR log lines, failed calls) is a
//! count of events with an opportunity (requests, records, calls) in the window and in the
//! baseline. Given both totals, the window's share of the events is binomial under "nothing
//! changed", with the window's share of the opportunity as its probability; [`change_z`] is the
//! standard score of the observed share, its variance inflated by the baseline's minute-to-minute
//! overdispersion (a service that fails in bursts is allowed bigger swings). A change counts
//! when it is both significant ([`Z_MIN`], strict because a fleet of 1,000 services makes
//! thousands of tests per answer) and large ([`MIN_RATIO`], [`MIN_EXTRA`]): a steadily noisy
//! service is not news, however many errors it makes.

/// Standard score from which a change counts (one-sided p ≈ 3·10⁻⁶: with ten thousand tests
/// per answer, a false alarm in about one answer of thirty).
pub const Z_MIN: f64 = 4.5;
/// The window's rate must be at least this multiple of the baseline's...
pub const MIN_RATIO: f64 = 2.0;
/// ...and exceed the expected count by at least this many events.
pub const MIN_EXTRA: f64 = 10.0;

/// The standard score of `window` events against `baseline` events when the window had
/// `exposure` times the baseline's opportunity, with the variance multiplied by `dispersion`
/// (at least 1). Positive when the window has more than its share.
pub fn change_z(window: f64, baseline: f64, exposure: f64, dispersion: f64) -> f64 {
    let n = window + baseline;
    if n <= 0.0 || exposure <= 0.0 || !exposure.is_finite() {
        return 0.0;
    }
    let p = exposure / (1.0 + exposure);
    let variance = n * p * (1.0 - p) * dispersion.max(1.0);
    (window - n * p) / variance.max(1e-12).sqrt()
}

/// The expected window count had the baseline rate held.
pub fn expected(baseline: f64, exposure: f64) -> f64 {
    baseline * exposure
}

/// The standard score of the change when it counts (significant and large), else None.
pub fn significant_increase(window: f64, baseline: f64, exposure: f64, dispersion: f64) -> Option<f64> {
    let z = change_z(window, baseline, exposure, dispersion);
    let expected = expected(baseline, exposure);
    (z >= Z_MIN && window >= MIN_RATIO * expected && window - expected >= MIN_EXTRA).then_some(z)
}

/// Pearson's overdispersion of per-minute counts `(events, opportunity)` around their common
/// rate: 1 for Poisson-like counts, more for bursts; clamped to `[1, 25]`, and 1 with fewer
/// than three minutes.
pub fn dispersion(minutes: &[(f64, f64)]) -> f64 {
    let events: f64 = minutes.iter().map(|m| m.0).sum();
    let opportunity: f64 = minutes.iter().map(|m| m.1).sum();
    let used: Vec<&(f64, f64)> = minutes.iter().filter(|m| m.1 > 0.0).collect();
    if used.len() < 3 || events <= 0.0 || opportunity <= 0.0 {
        return 1.0;
    }
    let rate = events / opportunity;
    let chi2: f64 = used
        .iter()
        .map(|(e, o)| {
            let expected = rate * o;
            if expected > 0.0 {
                (e - expected).powi(2) / expected
            } else {
                0.0
            }
        })
        .sum();
    (chi2 / (used.len() - 1) as f64).clamp(1.0, 25.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_is_not_news() {
        // 20 failures against 8 at equal traffic: the swing of a steadily noisy service.
        assert!(change_z(20.0, 8.0, 1.0, 1.0) < 2.5);
        assert_eq!(significant_increase(20.0, 8.0, 1.0, 1.0), None);
        // Twice the traffic, twice the errors: nothing changed.
        assert!(change_z(200.0, 100.0, 2.0, 1.0).abs() < 1e-9);
        // A few new errors are not enough; many are.
        assert_eq!(significant_increase(9.0, 0.0, 1.0, 1.0), None);
        assert!(significant_increase(60.0, 0.0, 1.0, 1.0).is_some());
        // A real step: 5 % → 30 % of the same traffic.
        assert!(significant_increase(300.0, 50.0, 1.0, 1.0).unwrap() > 10.0);
        // The same step in a bursty service counts less.
        assert!(change_z(300.0, 50.0, 1.0, 4.0) < change_z(300.0, 50.0, 1.0, 1.0));
    }

    #[test]
    fn dispersion_of_steady_and_bursty_minutes() {
        let steady: Vec<(f64, f64)> = (0..10).map(|_| (5.0, 100.0)).collect();
        assert_eq!(dispersion(&steady), 1.0);
        let bursty: Vec<(f64, f64)> = (0..10).map(|i| (if i % 5 == 0 { 40.0 } else { 0.0 }, 100.0)).collect();
        assert!(dispersion(&bursty) > 10.0);
        assert_eq!(dispersion(&[(1.0, 1.0)]), 1.0);
    }
}
