//! A mergeable latency sketch in the manner of DDSketch (Masson, Rim and Lee, VLDB 2019).
//!
//! A value `x >= 1` falls into bucket `i = ceil(log_γ x)`, with `γ = (1 + α) / (1 - α)`; the
//! bucket is represented by `2γ^i / (γ + 1)`, which is within the relative accuracy `α` of every
//! value of the bucket. Values below 1 (a latency of zero nanoseconds) go to a zero bucket.
//! Buckets are counters, so two sketches merge by adding counts, and the merge of two sketches is
//! the sketch of the union of their values, exactly.
//!
//! Contract: `quantile(q)` is within [`RELATIVE_ACCURACY`] (relative) of the value of rank
//! `floor(q · (n - 1))` (0-based) of the sorted values. Values are nanoseconds: an `i64` value
//! stays below bucket 2,427, so a sketch never holds more than [`MAX_BUCKETS`] counters whatever
//! its input.

use crate::RollupError;

/// Relative accuracy `α` of every quantile; 0.9 %, so a 1 % bound holds with room for rounding.
pub const RELATIVE_ACCURACY: f64 = 0.009;
/// `γ = (1 + α) / (1 - α)`.
const GAMMA: f64 = (1.0 + RELATIVE_ACCURACY) / (1.0 - RELATIVE_ACCURACY);
/// Largest value kept as it is; larger ones (there are none among `i64` nanoseconds) are clamped.
const MAX_VALUE: f64 = 1e19;
/// Most buckets a sketch can hold: the index of `MAX_VALUE`, with room to spare.
pub const MAX_BUCKETS: usize = 4096;
/// First byte of the encoded form.
const ENCODING_VERSION: u8 = 1;

/// A latency distribution with relative-error quantiles. See the module documentation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LatencySketch {
    /// Values below 1.
    zero_count: u64,
    /// Bucket index of `counts[0]`.
    offset: i32,
    counts: Vec<u64>,
    /// Every value added, `zero_count` included.
    count: u64,
    /// Smallest and largest values added; 0 when empty. Quantiles are clamped to them.
    min: f64,
    max: f64,
}

fn log_gamma() -> f64 {
    GAMMA.ln()
}

fn bucket_index(value: f64) -> i32 {
    // `value` is in [1, MAX_VALUE]: the index is in [0, 2,427].
    (value.ln() / log_gamma()).ceil() as i32
}

fn bucket_value(index: i32) -> f64 {
    (index as f64 * log_gamma()).exp() * 2.0 / (GAMMA + 1.0)
}

impl LatencySketch {
    /// An empty sketch.
    pub fn new() -> LatencySketch {
        LatencySketch::default()
    }

    /// Adds one value (nanoseconds). Negative values count as zero; NaN is ignored.
    pub fn add(&mut self, value: f64) {
        if value.is_nan() {
            return;
        }
        let value = value.clamp(0.0, MAX_VALUE);
        if self.count == 0 {
            self.min = value;
            self.max = value;
        } else {
            self.min = self.min.min(value);
            self.max = self.max.max(value);
        }
        self.count = self.count.saturating_add(1);
        if value < 1.0 {
            self.zero_count = self.zero_count.saturating_add(1);
        } else {
            self.add_to_bucket(bucket_index(value), 1);
        }
    }

    fn add_to_bucket(&mut self, index: i32, n: u64) {
        if self.counts.is_empty() {
            self.offset = index;
            self.counts.push(0);
        } else if index < self.offset {
            let grow = (self.offset - index) as usize;
            self.counts.splice(0..0, std::iter::repeat_n(0, grow));
            self.offset = index;
        } else if (index - self.offset) as usize >= self.counts.len() {
            self.counts.resize((index - self.offset) as usize + 1, 0);
        }
        let slot = &mut self.counts[(index - self.offset) as usize];
        *slot = slot.saturating_add(n);
    }

    /// Adds every value of `other`; the result equals the sketch of both inputs together.
    pub fn merge(&mut self, other: &LatencySketch) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            self.min = other.min;
            self.max = other.max;
        } else {
            self.min = self.min.min(other.min);
            self.max = self.max.max(other.max);
        }
        self.count = self.count.saturating_add(other.count);
        self.zero_count = self.zero_count.saturating_add(other.zero_count);
        for (j, &n) in other.counts.iter().enumerate() {
            if n > 0 {
                self.add_to_bucket(other.offset + j as i32, n);
            }
        }
    }

    /// How many values were added.
    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The `q`-quantile (`q` in 0..=1, clamped), None when empty or `q` is NaN.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 || q.is_nan() {
            return None;
        }
        let rank = q.clamp(0.0, 1.0) * (self.count - 1) as f64;
        let mut seen = self.zero_count;
        if seen as f64 > rank {
            return Some(0f64.clamp(self.min, self.max));
        }
        for (j, &n) in self.counts.iter().enumerate() {
            seen = seen.saturating_add(n);
            if seen as f64 > rank {
                return Some(bucket_value(self.offset + j as i32).clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }

    /// How many values are above `value` (nanoseconds), within the sketch's accuracy: a bucket
    /// counts as above when its representative value is. What a latency SLO counts as slow.
    pub fn count_above(&self, value: f64) -> u64 {
        if self.count == 0 || value.is_nan() || value >= self.max {
            return 0;
        }
        if value < self.min {
            return self.count;
        }
        let mut above = 0u64;
        for (j, &n) in self.counts.iter().enumerate() {
            if bucket_value(self.offset + j as i32) > value {
                above = above.saturating_add(n);
            }
        }
        above
    }

    /// The compact binary form stored in the metastore: version, zero count, bucket count,
    /// first bucket index, counts (LEB128 varints), then min and max (f64, little endian).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.counts.len() * 2 + 16);
        out.push(ENCODING_VERSION);
        put_varint(&mut out, self.zero_count);
        put_varint(&mut out, self.counts.len() as u64);
        if !self.counts.is_empty() {
            put_varint(&mut out, self.offset as u64);
            for &n in &self.counts {
                put_varint(&mut out, n);
            }
        }
        if self.count > 0 {
            out.extend_from_slice(&self.min.to_le_bytes());
            out.extend_from_slice(&self.max.to_le_bytes());
        }
        out
    }

    /// Reads [`LatencySketch::encode`]'s form; any inconsistency is an error, never a panic.
    pub fn decode(bytes: &[u8]) -> Result<LatencySketch, RollupError> {
        let corrupt = |why: &str| RollupError::CorruptSketch(why.to_string());
        let mut reader = Reader { bytes, pos: 0 };
        match reader.byte() {
            Some(ENCODING_VERSION) => {}
            Some(v) => return Err(RollupError::CorruptSketch(format!("unknown encoding version {v}"))),
            None => return Err(corrupt("empty")),
        }
        let zero_count = reader.varint().ok_or_else(|| corrupt("truncated zero count"))?;
        let n_buckets = reader.varint().ok_or_else(|| corrupt("truncated bucket count"))?;
        if n_buckets > MAX_BUCKETS as u64 {
            return Err(RollupError::CorruptSketch(format!("{n_buckets} buckets, at most {MAX_BUCKETS} expected")));
        }
        let mut sketch = LatencySketch { zero_count, count: zero_count, ..LatencySketch::default() };
        if n_buckets > 0 {
            let offset = reader.varint().ok_or_else(|| corrupt("truncated bucket offset"))?;
            if offset.saturating_add(n_buckets) > MAX_BUCKETS as u64 {
                return Err(RollupError::CorruptSketch(format!("buckets {offset}..{} out of range", offset.saturating_add(n_buckets))));
            }
            sketch.offset = offset as i32;
            for _ in 0..n_buckets {
                let n = reader.varint().ok_or_else(|| corrupt("truncated bucket counts"))?;
                sketch.count = sketch.count.checked_add(n).ok_or_else(|| corrupt("count overflows"))?;
                sketch.counts.push(n);
            }
        }
        if sketch.count > 0 {
            let min = reader.f64().ok_or_else(|| corrupt("truncated min"))?;
            let max = reader.f64().ok_or_else(|| corrupt("truncated max"))?;
            if !(min.is_finite() && max.is_finite() && 0.0 <= min && min <= max && max <= MAX_VALUE) {
                return Err(RollupError::CorruptSketch(format!("bad range {min}..{max}")));
            }
            sketch.min = min;
            sketch.max = max;
        }
        if reader.pos != bytes.len() {
            return Err(corrupt("trailing bytes"));
        }
        Ok(sketch)
    }
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    fn varint(&mut self) -> Option<u64> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            let part = u64::from(b & 0x7f);
            if shift == 63 && part > 1 {
                return None;
            }
            n |= part << shift;
            if b & 0x80 == 0 {
                return Some(n);
            }
        }
        None
    }

    fn f64(&mut self) -> Option<f64> {
        let raw: [u8; 8] = self.bytes.get(self.pos..self.pos + 8)?.try_into().ok()?;
        self.pos += 8;
        Some(f64::from_le_bytes(raw))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_values_above_a_latency() {
        let mut s = LatencySketch::new();
        for ms in 1..=100 {
            s.add(ms as f64 * 1e6);
        }
        assert_eq!(s.count_above(50.5e6), 50);
        assert_eq!(s.count_above(0.0), 100);
        assert_eq!(s.count_above(100e6), 0);
        assert_eq!(LatencySketch::new().count_above(1.0), 0);
    }
    use proptest::prelude::*;

    /// The value of rank `floor(q · (n - 1))`: what the contract promises to approximate.
    fn exact_quantile(sorted: &[f64], q: f64) -> f64 {
        sorted[(q * (sorted.len() - 1) as f64).floor() as usize]
    }

    fn sketch_of(values: &[f64]) -> LatencySketch {
        let mut s = LatencySketch::new();
        for &v in values {
            s.add(v);
        }
        s
    }

    /// Largest relative error of the usual quantiles and of `extra_qs` over `values`.
    fn max_relative_error(values: &[f64], extra_qs: &[f64]) -> f64 {
        let sketch = sketch_of(values);
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let mut worst: f64 = 0.0;
        for &q in [0.0, 0.5, 0.9, 0.95, 0.99, 1.0].iter().chain(extra_qs) {
            let exact = exact_quantile(&sorted, q);
            let estimate = sketch.quantile(q).unwrap();
            let error = if exact == 0.0 { estimate } else { (estimate - exact).abs() / exact };
            worst = worst.max(error);
        }
        worst
    }

    /// Latencies as they come: integers of nanoseconds, log-uniform from 0 to about 100 s,
    /// with a few zeros.
    fn latencies() -> impl Strategy<Value = Vec<f64>> {
        prop::collection::vec(
            prop_oneof![1 => Just(0.0), 30 => (0.0f64..25.3).prop_map(|e| e.exp().round())],
            1..2000,
        )
    }

    proptest! {
        #[test]
        fn quantiles_are_within_one_percent_of_exact(values in latencies(), q in 0.0f64..=1.0) {
            let error = max_relative_error(&values, &[q]);
            prop_assert!(error <= 0.01, "relative error {error}");
        }

        #[test]
        fn merge_equals_the_sketch_of_the_union(a in latencies(), b in latencies()) {
            let mut merged = sketch_of(&a);
            merged.merge(&sketch_of(&b));
            let union: Vec<f64> = a.iter().chain(&b).copied().collect();
            prop_assert_eq!(merged, sketch_of(&union));
        }

        #[test]
        fn encoding_round_trips(values in latencies()) {
            let sketch = sketch_of(&values);
            prop_assert_eq!(LatencySketch::decode(&sketch.encode()).unwrap(), sketch);
        }

        #[test]
        fn decoding_garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(sketch) = LatencySketch::decode(&bytes) {
                // Whatever decodes is a usable sketch.
                let _ = sketch.quantile(0.99);
                let mut copy = sketch.clone();
                copy.merge(&sketch);
            }
        }
    }

    #[test]
    fn measured_error_over_many_distributions_stays_below_the_bound() {
        // Deterministic pseudo-random data (xorshift), several shapes; prints the worst error
        // (run with --nocapture to see it).
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let qs: Vec<f64> = (0..=100).map(|i| i as f64 / 100.0).collect();
        let mut worst: f64 = 0.0;
        for shape in 0..4 {
            let values: Vec<f64> = (0..20_000)
                .map(|_| match shape {
                    0 => (next() * 25.0).exp().round(),
                    1 => (1e6 + next() * 1e6).round(),
                    2 => (-(next().max(1e-12)).ln() * 5e6).round(),
                    _ => (1e3 / next().max(1e-9)).round().min(1e13),
                })
                .collect();
            worst = worst.max(max_relative_error(&values, &qs));
        }
        eprintln!("latency sketch: worst relative quantile error {:.5} %", worst * 100.0);
        assert!(worst <= RELATIVE_ACCURACY + 1e-9, "worst relative error {worst}");
    }

    #[test]
    fn edge_values_are_kept_in_range() {
        let mut s = LatencySketch::new();
        assert_eq!(s.quantile(0.5), None);
        for v in [f64::NAN, -5.0, 0.0, 1.0, i64::MAX as f64, f64::INFINITY] {
            s.add(v);
        }
        assert_eq!(s.count(), 5);
        assert_eq!(s.quantile(0.0), Some(0.0));
        assert_eq!(s.quantile(1.0), Some(MAX_VALUE));
        assert!(s.counts.len() <= MAX_BUCKETS);
        assert_eq!(LatencySketch::decode(&s.encode()).unwrap(), s);
    }

    #[test]
    fn bad_encodings_are_errors() {
        let good = sketch_of(&[5.0, 10.0]).encode();
        assert!(LatencySketch::decode(&good[..good.len() - 1]).is_err());
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(LatencySketch::decode(&trailing).is_err());
        assert!(LatencySketch::decode(&[2]).is_err());
        assert!(LatencySketch::decode(&[]).is_err());
        // A huge bucket count is refused before anything is allocated.
        assert!(LatencySketch::decode(&[1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f]).is_err());
    }
}
