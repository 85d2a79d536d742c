//! The time of the server's own schedules (alert evaluation, the demo's fleet): the wall clock,
//! or a clock that runs faster than it, so a demo or a test can live through an hour in minutes.
//! Data timestamps never come from here; they come with the data.

use std::time::{Duration, Instant};

/// A source of "now" and the speed at which it runs against real time.
pub trait Clock: Send + Sync {
    /// Nanoseconds since the Unix epoch.
    fn now_ns(&self) -> i64;
    /// Clock seconds per real second (1 for the wall clock).
    fn speed(&self) -> f64 {
        1.0
    }
    /// The real time that `clock_time` of this clock takes.
    fn real(&self, clock_time: Duration) -> Duration {
        clock_time.div_f64(self.speed().max(1e-9))
    }
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ns(&self) -> i64 {
        crate::now_ns()
    }
}

/// A clock that starts at the wall clock's time and runs `speed` times faster.
#[derive(Debug, Clone, Copy)]
pub struct ScaledClock {
    origin: Instant,
    origin_ns: i64,
    speed: f64,
}

impl ScaledClock {
    /// `speed` is clamped to 1..=1000.
    pub fn new(speed: f64) -> ScaledClock {
        ScaledClock::starting_at(crate::now_ns(), speed)
    }

    /// A clock that reads `start_ns` now. Started `(1 - 1/speed) × span` in the past, it reaches
    /// the wall clock's time after `span` of its own time, so everything it stamps stays in the
    /// past of the wall clock (where relative time ranges such as "the last 15 minutes" see it).
    pub fn starting_at(start_ns: i64, speed: f64) -> ScaledClock {
        let speed = if speed.is_finite() { speed.clamp(1.0, 1000.0) } else { 1.0 };
        ScaledClock { origin: Instant::now(), origin_ns: start_ns, speed }
    }
}

impl Clock for ScaledClock {
    fn now_ns(&self) -> i64 {
        let elapsed = self.origin.elapsed().as_nanos() as f64 * self.speed;
        self.origin_ns.saturating_add(elapsed as i64)
    }
    fn speed(&self) -> f64 {
        self.speed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scaled_clock_runs_faster_and_converts_durations() {
        let clock = ScaledClock::new(50.0);
        let start = clock.now_ns();
        std::thread::sleep(Duration::from_millis(20));
        let advanced = clock.now_ns() - start;
        assert!(advanced >= 900_000_000, "{advanced}");
        assert_eq!(clock.real(Duration::from_secs(10)), Duration::from_millis(200));
        assert_eq!(SystemClock.real(Duration::from_secs(3)), Duration::from_secs(3));
        assert_eq!(ScaledClock::new(f64::NAN).speed(), 1.0);
        let behind = ScaledClock::starting_at(crate::now_ns() - 60_000_000_000, 10.0);
        assert!(behind.now_ns() < crate::now_ns());
    }
}
