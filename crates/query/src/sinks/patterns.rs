//! `| patterns`: matches grouped by message template, with a trend over the time range.


use std::collections::HashMap;

use trawl_model::Record;
use trawl_storage::Snapshot;

use crate::eval::RowView;
use crate::search::{Columns, Sink};
use crate::value::Value;
use crate::QueryError;

use crate::pipeline::{Budget, Table};

/// `| patterns`: the message templates of the matches, most frequent first.
///
/// Records given a pattern id at ingest are grouped by (service, id) as they stream by, and
/// named at the end from the ingest miners' dictionary (merged ids resolved); records without
/// one (segments older than the column) are mined here. Groups with the same template, from
/// different services or from both paths, are one row.
pub(crate) struct PatternSink {
    /// Mines the messages of records without a stored id.
    pub(crate) miner: trawl_patterns::Miner,
    /// By service, then stored pattern id.
    pub(crate) stored: HashMap<String, HashMap<u64, PatternInfo>>,
    /// By id of `miner`.
    pub(crate) mined: HashMap<u64, PatternInfo>,
    pub(crate) lookup: trawl_storage::PatternLookup,
    pub(crate) trend: TrendRange,
    pub(crate) n_matches: u64,
    pub(crate) limit: usize,
    pub(crate) budget: Budget,
}

/// Buckets of the `trend` column.
pub(crate) const TREND_BUCKETS: usize = 12;

/// The time range cut into [`TREND_BUCKETS`] equal buckets.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TrendRange {
    pub(crate) start_ns: i64,
    pub(crate) end_ns: i64,
}

impl TrendRange {
    /// The query's range, with an open side (start 0, end `i64::MAX`) narrowed to the data.
    pub(crate) fn new(snapshot: &Snapshot, start_ns: i64, end_ns: i64) -> TrendRange {
        let mut start = start_ns;
        let mut end = end_ns;
        if start_ns <= 0 || end_ns == i64::MAX {
            if let Some((lo, hi)) = snapshot.time_bounds(trawl_storage::SegmentKind::Records) {
                if start_ns <= 0 {
                    start = start_ns.max(lo);
                }
                if end_ns == i64::MAX {
                    end = end_ns.min(hi);
                }
            }
        }
        TrendRange { start_ns: start, end_ns: end.max(start) }
    }

    pub(crate) fn bucket(&self, t: i64) -> usize {
        let width = self.end_ns as i128 - self.start_ns as i128 + 1;
        let at = (t as i128 - self.start_ns as i128).clamp(0, width - 1);
        ((at * TREND_BUCKETS as i128) / width) as usize
    }
}

pub(crate) struct PatternInfo {
    pub(crate) count: u64,
    pub(crate) example: String,
    pub(crate) services: Vec<String>,
    pub(crate) first_ns: i64,
    pub(crate) last_ns: i64,
    pub(crate) trend: [u64; TREND_BUCKETS],
}

impl PatternInfo {
    pub(crate) fn new(row: &impl RowView) -> PatternInfo {
        let t = row.time_ns();
        PatternInfo {
            count: 0,
            example: row.body().chars().take(512).collect(),
            services: Vec::new(),
            first_ns: t,
            last_ns: t,
            trend: [0; TREND_BUCKETS],
        }
    }

    pub(crate) fn add(&mut self, row: &impl RowView, trend: &TrendRange) {
        let t = row.time_ns();
        self.count += 1;
        self.first_ns = self.first_ns.min(t);
        self.last_ns = self.last_ns.max(t);
        self.trend[trend.bucket(t)] += 1;
        if self.services.len() < 8 && !self.services.iter().any(|s| s == row.service()) {
            self.services.push(row.service().to_string());
        }
    }

    pub(crate) fn merge(&mut self, other: PatternInfo) {
        if other.count > self.count {
            self.example = other.example;
        }
        self.count += other.count;
        self.first_ns = self.first_ns.min(other.first_ns);
        self.last_ns = self.last_ns.max(other.last_ns);
        for (a, b) in self.trend.iter_mut().zip(other.trend) {
            *a += b;
        }
        for s in other.services {
            if self.services.len() < 8 && !self.services.contains(&s) {
                self.services.push(s);
            }
        }
    }
}

impl PatternSink {
    pub(crate) fn new(limit: usize, budget: Budget, snapshot: &Snapshot, start_ns: i64, end_ns: i64) -> Result<PatternSink, QueryError> {
        let miner = trawl_patterns::Miner::new(trawl_patterns::Config::default())
            .map_err(|e| QueryError::Invalid(format!("pattern miner: {e}")))?;
        Ok(PatternSink {
            miner,
            stored: HashMap::new(),
            mined: HashMap::new(),
            lookup: snapshot.patterns.clone(),
            trend: TrendRange::new(snapshot, start_ns, end_ns),
            n_matches: 0,
            limit,
            budget,
        })
    }

    pub(crate) fn finish(mut self, warnings: &mut Vec<String>) -> Table {
        // Stored ids: their dictionary templates; unknown ones are mined from their example.
        let keys: Vec<(String, u64)> =
            self.stored.iter().flat_map(|(service, ids)| ids.keys().map(move |id| (service.clone(), *id))).collect();
        let templates = self.lookup.templates(&keys).unwrap_or_else(|e| {
            warnings.push(format!("pattern dictionary: {e}"));
            HashMap::new()
        });
        let mut by_template: HashMap<String, PatternInfo> = HashMap::new();
        let mut stored: Vec<((String, u64), PatternInfo)> =
            self.stored.drain().flat_map(|(service, ids)| ids.into_iter().map(move |(id, info)| ((service.clone(), id), info))).collect();
        // A fixed order, so the fallback miner and merged examples are deterministic.
        stored.sort_by(|a, b| a.0.cmp(&b.0));
        for (key, info) in stored {
            match templates.get(&key) {
                Some((_, template)) => merge_into(&mut by_template, template.clone(), info),
                None => {
                    let (id, _) = self.miner.add(&info.example);
                    match self.mined.get_mut(&id.get()) {
                        Some(m) => m.merge(info),
                        None => {
                            self.mined.insert(id.get(), info);
                        }
                    }
                }
            }
        }
        let mut mined: Vec<(u64, PatternInfo)> = self.mined.drain().collect();
        mined.sort_by_key(|m| m.0);
        for (id, info) in mined {
            let template = self.miner.template(trawl_patterns::PatternId::new(id)).map(str::to_string);
            // Evicted from this miner (past its cap): the example stands for itself.
            let template = template.unwrap_or_else(|| trawl_patterns::mask(&info.example));
            merge_into(&mut by_template, template, info);
        }
        let total = self.n_matches.max(1);
        let mut patterns: Vec<(String, PatternInfo)> = by_template.into_iter().collect();
        patterns.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.1.first_ns.cmp(&b.1.first_ns)).then(a.0.cmp(&b.0)));
        let rows = patterns
            .into_iter()
            .take(self.limit)
            .map(|(template, info)| {
                vec![
                    Value::Str(template),
                    Value::Int(info.count as i64),
                    Value::Float((info.count as f64 * 10_000.0 / total as f64).round() / 100.0),
                    Value::Str(info.services.join(", ")),
                    Value::Time(info.first_ns),
                    Value::Time(info.last_ns),
                    Value::Str(info.trend.iter().map(u64::to_string).collect::<Vec<_>>().join(",")),
                    Value::Str(info.example),
                ]
            })
            .collect();
        let columns =
            ["pattern", "count", "percent", "services", "first_seen", "last_seen", "trend", "example"].map(String::from).to_vec();
        Table { columns, rows }
    }
}

pub(crate) fn merge_into(by_template: &mut HashMap<String, PatternInfo>, template: String, info: PatternInfo) {
    match by_template.get_mut(&template) {
        Some(m) => m.merge(info),
        None => {
            by_template.insert(template, info);
        }
    }
}

impl Sink for PatternSink {
    fn columns(&self) -> Option<Columns> {
        Some(Columns::from(["time", "service", "body", "pattern_id"]))
    }

    fn offer<R: RowView>(&mut self, row: &R, _record: impl FnOnce() -> Record) -> Result<(), QueryError> {
        self.n_matches += 1;
        let stored_id = row.pattern_id();
        let info = if stored_id != 0 {
            if !self.stored.contains_key(row.service()) {
                self.budget.charge(64 + row.service().len(), "its patterns")?;
                self.stored.insert(row.service().to_string(), HashMap::new());
            }
            let ids = self.stored.get_mut(row.service()).expect("inserted above");
            match ids.entry(stored_id) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    self.budget.charge(256 + row.body().len().min(512), "its patterns")?;
                    e.insert(PatternInfo::new(row))
                }
            }
        } else {
            let (id, _) = self.miner.add(row.body());
            match self.mined.entry(id.get()) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    self.budget.charge(256 + row.body().len().min(512), "its patterns")?;
                    e.insert(PatternInfo::new(row))
                }
            }
        };
        info.add(row, &self.trend);
        Ok(())
    }
}
