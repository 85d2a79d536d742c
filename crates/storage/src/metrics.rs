//! Counters and histograms of the storage layer, read by `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A fixed-bucket histogram (Prometheus style: cumulative on export).
pub struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    /// Latency buckets in seconds, 100 µs to 30 s.
    pub const LATENCY_BOUNDS: &'static [f64] =
        &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram { bounds, counts: (0..bounds.len()).map(|_| AtomicU64::new(0)).collect(), sum_micros: AtomicU64::new(0), count: AtomicU64::new(0) }
    }

    pub fn observe(&self, seconds: f64) {
        if let Some(i) = self.bounds.iter().position(|b| seconds <= *b) {
            self.counts[i].fetch_add(1, Relaxed);
        }
        self.sum_micros.fetch_add((seconds * 1e6) as u64, Relaxed);
        self.count.fetch_add(1, Relaxed);
    }

    /// Writes the histogram in Prometheus text format.
    pub fn render(&self, name: &str, labels: &str, out: &mut String) {
        use std::fmt::Write;
        let mut cumulative = 0;
        let sep = if labels.is_empty() { "" } else { "," };
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            cumulative += count.load(Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {cumulative}");
        }
        let total = self.count.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {total}");
        let braces = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum_micros.load(Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count{braces} {total}");
    }
}

pub struct StoreMetrics {
    pub records_written: AtomicU64,
    pub spans_written: AtomicU64,
    pub wal_bytes_written: AtomicU64,
    pub wal_fsync_seconds: Histogram,
    pub wal_write_errors: AtomicU64,
    pub wal_corrupt_tails: AtomicU64,
    pub wal_replayed_frames: AtomicU64,
    pub segments_flushed: AtomicU64,
    pub flush_errors: AtomicU64,
    pub corrupt_segments: AtomicU64,
    pub writes_refused_overload: AtomicU64,
    /// Writes refused because the data disk was under its free-space watermark.
    pub writes_refused_disk: AtomicU64,
}

impl Default for StoreMetrics {
    fn default() -> Self {
        StoreMetrics {
            records_written: AtomicU64::new(0),
            spans_written: AtomicU64::new(0),
            wal_bytes_written: AtomicU64::new(0),
            wal_fsync_seconds: Histogram::new(Histogram::LATENCY_BOUNDS),
            wal_write_errors: AtomicU64::new(0),
            wal_corrupt_tails: AtomicU64::new(0),
            wal_replayed_frames: AtomicU64::new(0),
            segments_flushed: AtomicU64::new(0),
            flush_errors: AtomicU64::new(0),
            corrupt_segments: AtomicU64::new(0),
            writes_refused_overload: AtomicU64::new(0),
            writes_refused_disk: AtomicU64::new(0),
        }
    }
}
