//! RED rollups: what the service views read instead of scanning spans.
//!
//! Per minute, [`RollupSet`] holds for every service, operation (span name) and span kind the
//! request count, the error count (status ERROR) and a [`LatencySketch`]; for every service the
//! records by level; and for every service edge found among the spans ([`service_calls`]) the
//! calls, errors and callee latency. Everything here is pure and mergeable: storage computes a
//! set per flushed buffer and stores it with its segments, queries compute one over the buffer
//! and add it. [`summary`] reads a set as per-service figures and scores deviations.

mod edges;
mod error;
mod level_counts;
mod red;
mod resolution;
mod rollup_set;
mod sketch;
pub mod summary;
#[cfg(test)]
mod testing;

pub use edges::{peer_of, service_calls, ServiceCall, PEER_ATTRIBUTES, PEER_SERVICE_ATTRIBUTE};
pub use error::RollupError;
pub use level_counts::LevelCounts;
pub use red::RedStats;
pub use resolution::Resolution;
pub use rollup_set::{EdgeKey, LevelKey, RedKey, RollupSet, MAX_OPERATIONS_PER_SERVICE, OTHER_OPERATION};
pub use sketch::{LatencySketch, MAX_BUCKETS, RELATIVE_ACCURACY};
