use crate::LatencySketch;

/// Rate, errors and duration of a set of spans: what a RED rollup row holds, for an operation
/// of a service or for the calls along a service edge.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RedStats {
    /// Spans (requests or calls) counted.
    pub requests: u64,
    /// Of which with status ERROR.
    pub errors: u64,
    /// Their durations, nanoseconds.
    pub latency: LatencySketch,
}

impl RedStats {
    /// Counts one span of `duration_ns`.
    pub fn add(&mut self, duration_ns: i64, is_error: bool) {
        self.requests = self.requests.saturating_add(1);
        self.errors = self.errors.saturating_add(u64::from(is_error));
        self.latency.add(duration_ns as f64);
    }

    pub fn merge(&mut self, other: &RedStats) {
        self.requests = self.requests.saturating_add(other.requests);
        self.errors = self.errors.saturating_add(other.errors);
        self.latency.merge(&other.latency);
    }

    /// Errors per request, 0 without requests.
    pub fn error_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.errors as f64 / self.requests as f64
        }
    }

    /// The `q`-quantile of the duration in milliseconds, None without spans.
    pub fn latency_ms(&self, q: f64) -> Option<f64> {
        self.latency.quantile(q).map(|ns| ns / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_rates() {
        let mut a = RedStats::default();
        assert_eq!((a.error_rate(), a.latency_ms(0.5)), (0.0, None));
        a.add(2_000_000, false);
        a.add(4_000_000, true);
        let mut b = RedStats::default();
        b.add(1_000_000, false);
        b.merge(&a);
        assert_eq!((b.requests, b.errors), (3, 1));
        assert!((b.latency_ms(0.5).unwrap() - 2.0).abs() < 0.02);
    }
}
