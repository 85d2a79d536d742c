//! The rollups of a set of records and spans: RED per service, operation and span kind, record
//! counts per service and level, and calls per service edge, each per time bucket.
//!
//! A set is computed from one frozen buffer at flush time (and stored with its segments), or
//! from the buffer at query time; sets merge by adding, so any split of the same items into sets
//! merges to the same totals. Spans count in the bucket of their start, records in the bucket of
//! their time.

use std::collections::{BTreeMap, HashMap, HashSet};

use trawl_model::{Record, Span, StatusCode};

use crate::edges::service_calls;
use crate::{LevelCounts, RedStats, Resolution};

/// Distinct operations kept per service in one computation; further span names count under
/// [`OTHER_OPERATION`], so a span name holding ids cannot flood the rollup tables.
pub const MAX_OPERATIONS_PER_SERVICE: usize = 1000;
/// The operation name of spans over [`MAX_OPERATIONS_PER_SERVICE`].
pub const OTHER_OPERATION: &str = "(other)";

/// Bucket, service, operation (span name) and span kind (`SERVER`, …) of a RED row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RedKey {
    pub resolution: Resolution,
    pub bucket_start_ns: i64,
    pub service: String,
    pub operation: String,
    pub kind: String,
}

/// Bucket and service of a level-count row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LevelKey {
    pub resolution: Resolution,
    pub bucket_start_ns: i64,
    pub service: String,
}

/// Bucket and direction of a service-edge row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EdgeKey {
    pub resolution: Resolution,
    pub bucket_start_ns: i64,
    pub caller: String,
    pub callee: String,
}

/// Rollup rows by key. See the module documentation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RollupSet {
    pub red: BTreeMap<RedKey, RedStats>,
    pub levels: BTreeMap<LevelKey, LevelCounts>,
    pub edges: BTreeMap<EdgeKey, RedStats>,
}

/// Keys of a bucket, for the time filters.
trait Bucketed {
    fn bucket(&self) -> (Resolution, i64);
    fn rebucket(&mut self, to: Resolution);
}

macro_rules! bucketed {
    ($($key:ty),*) => {$(
        impl Bucketed for $key {
            fn bucket(&self) -> (Resolution, i64) {
                (self.resolution, self.bucket_start_ns)
            }
            fn rebucket(&mut self, to: Resolution) {
                self.bucket_start_ns = to.bucket_start(self.bucket_start_ns);
                self.resolution = to;
            }
        }
    )*};
}
bucketed!(RedKey, LevelKey, EdgeKey);

fn merge_into<K: Ord, V>(into: &mut BTreeMap<K, V>, key: K, value: V, merge: impl Fn(&mut V, &V)) {
    match into.entry(key) {
        std::collections::btree_map::Entry::Vacant(e) => {
            e.insert(value);
        }
        std::collections::btree_map::Entry::Occupied(mut e) => merge(e.get_mut(), &value),
    }
}

impl RollupSet {
    /// The minute rollups of `records` and `spans`; service edges are found among `spans` only
    /// (see [`crate::service_calls`]).
    pub fn from_items<'a>(records: impl IntoIterator<Item = &'a Record>, spans: impl IntoIterator<Item = &'a Span>) -> RollupSet {
        let minute = Resolution::Minute;
        let spans: Vec<&Span> = spans.into_iter().collect();
        let mut red: HashMap<(i64, &str, &str, &'static str), RedStats> = HashMap::new();
        let mut operations: HashMap<&str, HashSet<&str>> = HashMap::new();
        for span in &spans {
            let seen = operations.entry(&span.service).or_default();
            let operation = if seen.contains(span.name.as_str()) || seen.len() < MAX_OPERATIONS_PER_SERVICE {
                seen.insert(&span.name);
                span.name.as_str()
            } else {
                OTHER_OPERATION
            };
            red.entry((minute.bucket_start(span.start_ns), &span.service, operation, span.kind.as_str()))
                .or_default()
                .add(span.duration_ns, span.status_code == StatusCode::Error);
        }
        let mut levels: HashMap<(i64, &str), LevelCounts> = HashMap::new();
        for record in records {
            levels.entry((minute.bucket_start(record.time_ns), &record.service)).or_default().add(record.level);
        }
        let mut edges: HashMap<(i64, &str, &str), RedStats> = HashMap::new();
        for call in service_calls(&spans) {
            edges
                .entry((minute.bucket_start(call.span.start_ns), call.caller, call.callee))
                .or_default()
                .add(call.span.duration_ns, call.span.status_code == StatusCode::Error);
        }
        RollupSet {
            red: red
                .into_iter()
                .map(|((bucket_start_ns, service, operation, kind), v)| {
                    let key = RedKey {
                        resolution: minute,
                        bucket_start_ns,
                        service: service.to_string(),
                        operation: operation.to_string(),
                        kind: kind.to_string(),
                    };
                    (key, v)
                })
                .collect(),
            levels: levels
                .into_iter()
                .map(|((bucket_start_ns, service), v)| (LevelKey { resolution: minute, bucket_start_ns, service: service.to_string() }, v))
                .collect(),
            edges: edges
                .into_iter()
                .map(|((bucket_start_ns, caller, callee), v)| {
                    (EdgeKey { resolution: minute, bucket_start_ns, caller: caller.to_string(), callee: callee.to_string() }, v)
                })
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.red.is_empty() && self.levels.is_empty() && self.edges.is_empty()
    }

    /// Rows in all three maps.
    pub fn n_rows(&self) -> usize {
        self.red.len() + self.levels.len() + self.edges.len()
    }

    /// Adds every row of `other` to this set (rows with the same key are merged).
    pub fn merge(&mut self, other: RollupSet) {
        for (k, v) in other.red {
            merge_into(&mut self.red, k, v, RedStats::merge);
        }
        for (k, v) in other.levels {
            merge_into(&mut self.levels, k, v, LevelCounts::merge);
        }
        for (k, v) in other.edges {
            merge_into(&mut self.edges, k, v, RedStats::merge);
        }
    }

    /// Keeps the buckets that overlap `start_ns..=end_ns`.
    pub fn retain_window(&mut self, start_ns: i64, end_ns: i64) {
        let keep = |(resolution, bucket_start): (Resolution, i64)| {
            bucket_start <= end_ns && bucket_start.saturating_add(resolution.width_ns()) > start_ns
        };
        self.red.retain(|k, _| keep(k.bucket()));
        self.levels.retain(|k, _| keep(k.bucket()));
        self.edges.retain(|k, _| keep(k.bucket()));
    }

    /// Splits into the buckets starting before `time_ns` and the others.
    pub fn split_at(self, time_ns: i64) -> (RollupSet, RollupSet) {
        fn split<K: Bucketed + Ord, V>(map: BTreeMap<K, V>, time_ns: i64) -> (BTreeMap<K, V>, BTreeMap<K, V>) {
            map.into_iter().partition(|(k, _)| k.bucket().1 < time_ns)
        }
        let (red_before, red_after) = split(self.red, time_ns);
        let (levels_before, levels_after) = split(self.levels, time_ns);
        let (edges_before, edges_after) = split(self.edges, time_ns);
        (
            RollupSet { red: red_before, levels: levels_before, edges: edges_before },
            RollupSet { red: red_after, levels: levels_after, edges: edges_after },
        )
    }

    /// The same rollups in buckets of `to` (coarser): what compaction stores for old minutes.
    pub fn coarsened(self, to: Resolution) -> RollupSet {
        fn rebucket<K: Bucketed + Ord, V>(map: BTreeMap<K, V>, to: Resolution, merge: impl Fn(&mut V, &V)) -> BTreeMap<K, V> {
            let mut out = BTreeMap::new();
            for (mut k, v) in map {
                k.rebucket(to);
                merge_into(&mut out, k, v, &merge);
            }
            out
        }
        RollupSet {
            red: rebucket(self.red, to, RedStats::merge),
            levels: rebucket(self.levels, to, LevelCounts::merge),
            edges: rebucket(self.edges, to, RedStats::merge),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::span;
    use crate::LatencySketch;
    use proptest::prelude::*;
    use trawl_model::{Level, SpanKind};

    const MIN: i64 = 60_000_000_000;

    fn record(time_ns: i64, service: &str, level: Level) -> Record {
        let mut r = Record::new(time_ns);
        r.service = service.into();
        r.level = level;
        r
    }

    /// Random spans: a few services and names, start within 5 minutes, some errors, some with
    /// parents (which may be in another service).
    fn spans_strategy() -> impl Strategy<Value = Vec<Span>> {
        prop::collection::vec((0usize..3, 0usize..3, 0i64..5 * MIN, 0i64..2_000_000_000, any::<bool>(), prop::option::of(0usize..40)), 0..120)
            .prop_map(|raw| {
                raw.iter()
                    .enumerate()
                    .map(|(i, &(service, name, start, duration, error, parent))| {
                        let service = ["web", "api", "db"][service];
                        let parent = parent.filter(|&p| p < i).map(|p| format!("s{p}")).unwrap_or_default();
                        let mut s = span("t", &format!("s{i}"), &parent, service, SpanKind::Server);
                        s.name = format!("op{name}");
                        s.start_ns = start;
                        s.duration_ns = duration;
                        if error {
                            s.status_code = StatusCode::Error;
                        }
                        s
                    })
                    .collect()
            })
    }

    proptest! {
        /// Every count equals a direct count over the input, and every sketch equals the sketch of
        /// exactly the durations of its key (so its quantiles carry the sketch's guarantee).
        #[test]
        fn rollups_match_exact_computation(spans in spans_strategy()) {
            let set = RollupSet::from_items([], &spans);
            prop_assert_eq!(set.red.values().map(|v| v.requests).sum::<u64>(), spans.len() as u64);
            for (key, stats) in &set.red {
                let mine: Vec<&Span> = spans
                    .iter()
                    .filter(|s| s.service == key.service && s.name == key.operation && s.start_ns / MIN * MIN == key.bucket_start_ns)
                    .collect();
                prop_assert_eq!(stats.requests, mine.len() as u64);
                prop_assert_eq!(stats.errors, mine.iter().filter(|s| s.status_code == StatusCode::Error).count() as u64);
                let mut exact = LatencySketch::new();
                for s in &mine {
                    exact.add(s.duration_ns as f64);
                }
                prop_assert_eq!(&stats.latency, &exact);
            }
            // Edges: a child whose parent (an earlier span) is in another service.
            let cross: Vec<&Span> = spans
                .iter()
                .filter(|s| spans.iter().any(|p| p.span_id == s.parent_span_id && p.service != s.service))
                .collect();
            prop_assert_eq!(set.edges.values().map(|v| v.requests).sum::<u64>(), cross.len() as u64);
            prop_assert_eq!(
                set.edges.values().map(|v| v.errors).sum::<u64>(),
                cross.iter().filter(|s| s.status_code == StatusCode::Error).count() as u64
            );
        }

        /// Computing over halves and merging gives the same RED and level rows as computing over
        /// the whole (edges differ when a pair is split, by design), and hour coarsening keeps
        /// the totals.
        #[test]
        fn merge_of_parts_equals_whole(spans in spans_strategy(), cut in 0usize..120) {
            let cut = cut.min(spans.len());
            let records: Vec<Record> = spans.iter().map(|s| record(s.start_ns, &s.service, Level::ALL[s.duration_ns as usize % 6])).collect();
            let whole = RollupSet::from_items(&records, &spans);
            let mut parts = RollupSet::from_items(&records[..cut], &spans[..cut]);
            parts.merge(RollupSet::from_items(&records[cut..], &spans[cut..]));
            prop_assert_eq!(&parts.red, &whole.red);
            prop_assert_eq!(&parts.levels, &whole.levels);
            let hours = whole.clone().coarsened(Resolution::Hour);
            prop_assert!(hours.red.keys().all(|k| k.resolution == Resolution::Hour && k.bucket_start_ns == 0));
            let total = |s: &RollupSet| (
                s.red.values().map(|v| v.requests).sum::<u64>(),
                s.levels.values().map(|v| v.total()).sum::<u64>(),
                s.edges.values().map(|v| v.errors).sum::<u64>(),
            );
            prop_assert_eq!(total(&hours), total(&whole));
        }
    }

    #[test]
    fn levels_windows_and_splits() {
        let records = vec![
            record(10, "web", Level::Info),
            record(20, "web", Level::Error),
            record(MIN + 5, "web", Level::Info),
            record(2 * MIN + 5, "api", Level::Warn),
        ];
        let set = RollupSet::from_items(&records, []);
        assert_eq!(set.levels.len(), 3);
        let first = LevelKey { resolution: Resolution::Minute, bucket_start_ns: 0, service: "web".into() };
        assert_eq!((set.levels[&first].total(), set.levels[&first].errors()), (2, 1));
        let mut window = set.clone();
        window.retain_window(MIN + 1, 2 * MIN - 1);
        assert_eq!(window.levels.keys().map(|k| k.bucket_start_ns).collect::<Vec<_>>(), vec![MIN]);
        let (before, after) = set.split_at(MIN);
        assert_eq!((before.n_rows(), after.n_rows()), (1, 2));
    }

    #[test]
    fn operations_over_the_cap_fold_into_other() {
        let spans: Vec<Span> = (0..MAX_OPERATIONS_PER_SERVICE + 5)
            .map(|i| {
                let mut s = span("t", &i.to_string(), "", "web", SpanKind::Server);
                s.name = format!("GET /user/{i}");
                s
            })
            .collect();
        let set = RollupSet::from_items([], &spans);
        assert_eq!(set.red.len(), MAX_OPERATIONS_PER_SERVICE + 1);
        assert_eq!(set.red.iter().find(|(k, _)| k.operation == OTHER_OPERATION).map(|(_, v)| v.requests), Some(5));
    }
}
