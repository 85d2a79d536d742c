//! The matches of a search grouped by service and log pattern, with sample lines: what pattern
//! alerts count and what an alert's evidence shows. Unlike `| patterns`, which merges the same
//! template across services, a group here is one service's pattern (ids are per service).

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use trawl_model::Record;
use trawl_storage::Snapshot;

use crate::ast::Query;
use crate::eval::RowView;
use crate::search::{Columns, Scan, SearchStats, Sink};
use crate::QueryError;

/// Sample lines kept per group.
pub const SAMPLES_PER_GROUP: usize = 3;
/// Characters of a sample line kept.
const SAMPLE_CHARS: usize = 512;

pub struct PatternGroupsRequest<'a> {
    pub query: &'a Query,
    /// Inclusive, nanoseconds.
    pub start_ns: i64,
    pub end_ns: i64,
    /// Most groups held at once (memory); past it, rows of new groups are counted as `dropped`.
    pub max_groups: usize,
    pub timeout: Duration,
    pub cancel: Option<&'a AtomicBool>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PatternSample {
    pub time_ns: i64,
    pub body: String,
    pub trace_id: String,
    pub level: trawl_model::Level,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PatternGroup {
    pub service: String,
    /// The pattern's id in its service (canonical: merged ids count as the one they joined);
    /// 0 when the records had no stored id (their messages were mined for this answer).
    pub pattern_id: u64,
    pub template: String,
    pub count: u64,
    pub first_ns: i64,
    pub last_ns: i64,
    /// The newest few lines.
    pub samples: Vec<PatternSample>,
}

#[derive(Debug, Default)]
pub struct PatternGroups {
    /// Most frequent first.
    pub groups: Vec<PatternGroup>,
    /// Matches that found no room (past `max_groups`).
    pub dropped: u64,
    pub stats: SearchStats,
    pub warnings: Vec<String>,
}

struct Group {
    count: u64,
    first_ns: i64,
    last_ns: i64,
    samples: Vec<PatternSample>,
}

impl Group {
    fn add<R: RowView>(&mut self, row: &R) {
        let t = row.time_ns();
        self.count += 1;
        self.first_ns = self.first_ns.min(t);
        self.last_ns = self.last_ns.max(t);
        // Keep the newest samples.
        let sample = || PatternSample {
            time_ns: t,
            body: row.body().chars().take(SAMPLE_CHARS).collect(),
            trace_id: row.trace_id().to_string(),
            level: row.level(),
        };
        if self.samples.len() < SAMPLES_PER_GROUP {
            self.samples.push(sample());
        } else if let Some((i, oldest)) = self.samples.iter().enumerate().min_by_key(|(_, s)| s.time_ns) {
            if oldest.time_ns < t {
                self.samples[i] = sample();
            }
        }
    }

    fn merge(&mut self, other: Group) {
        self.count += other.count;
        self.first_ns = self.first_ns.min(other.first_ns);
        self.last_ns = self.last_ns.max(other.last_ns);
        self.samples.extend(other.samples);
        self.samples.sort_by(|a, b| b.time_ns.cmp(&a.time_ns));
        self.samples.truncate(SAMPLES_PER_GROUP);
    }
}

struct GroupSink {
    /// (service, stored id) → group; id 0 for records without one, keyed by their own mining.
    stored: HashMap<(String, u64), Group>,
    /// Records without a stored id, by (service, id of `miner`).
    miner: trawl_patterns::Miner,
    mined: HashMap<(String, u64), Group>,
    max_groups: usize,
    dropped: u64,
}

impl Sink for GroupSink {
    fn columns(&self) -> Option<Columns> {
        Some(Columns::from(["time", "service", "level", "body", "trace_id", "pattern_id"]))
    }

    fn offer<R: RowView>(&mut self, row: &R, _record: impl FnOnce() -> Record) -> Result<(), QueryError> {
        let id = row.pattern_id();
        let key = if id != 0 { (row.service().to_string(), id) } else { (row.service().to_string(), self.miner.add(row.body()).0.get()) };
        let full = self.stored.len() + self.mined.len() >= self.max_groups;
        let map = if id != 0 { &mut self.stored } else { &mut self.mined };
        match map.get_mut(&key) {
            Some(g) => g.add(row),
            None if full => self.dropped += 1,
            None => {
                let mut g = Group { count: 0, first_ns: i64::MAX, last_ns: i64::MIN, samples: Vec::new() };
                g.add(row);
                map.insert(key, g);
            }
        }
        Ok(())
    }
}

/// The matches of `request.query`'s search part (and leading `where` pipes) in the window,
/// grouped by service and pattern.
pub fn pattern_groups(snapshot: &Snapshot, request: &PatternGroupsRequest<'_>) -> Result<PatternGroups, QueryError> {
    let started = Instant::now();
    let filters: Vec<crate::ValueExpr> = request
        .query
        .pipes
        .iter()
        .map_while(|p| if let crate::Pipe::Where(e) = p { Some(e.clone()) } else { None })
        .collect();
    let scan = Scan {
        expr: request.query.expr.as_ref(),
        start: request.start_ns,
        end: request.end_ns,
        filters: &filters,
        deadline: Some(started + request.timeout),
        cancel: request.cancel,
    };
    let miner = trawl_patterns::Miner::new(trawl_patterns::Config::default()).map_err(|e| QueryError::Invalid(format!("pattern miner: {e}")))?;
    let mut sink = GroupSink { stored: HashMap::new(), miner, mined: HashMap::new(), max_groups: request.max_groups.max(1), dropped: 0 };
    let mut out = PatternGroups::default();
    scan.run(snapshot, &mut sink, &mut out.stats, &mut out.warnings)?;

    // Stored ids: their canonical id and template from the dictionary; groups of ids merged into
    // one pattern become one group.
    let keys: Vec<(String, u64)> = sink.stored.keys().cloned().collect();
    let templates = snapshot.patterns.templates(&keys).unwrap_or_else(|e| {
        out.warnings.push(format!("pattern dictionary: {e}"));
        HashMap::new()
    });
    let mut merged: HashMap<(String, u64), (String, Group)> = HashMap::new();
    let mut stored: Vec<((String, u64), Group)> = sink.stored.into_iter().collect();
    stored.sort_by(|a, b| a.0.cmp(&b.0));
    for ((service, id), group) in stored {
        let (canonical, template) = match templates.get(&(service.clone(), id)) {
            Some((canonical, template)) => (*canonical, template.clone()),
            None => (id, group.samples.first().map(|s| trawl_patterns::mask(&s.body)).unwrap_or_default()),
        };
        match merged.get_mut(&(service.clone(), canonical)) {
            Some((_, g)) => g.merge(group),
            None => {
                merged.insert((service, canonical), (template, group));
            }
        }
    }
    out.groups = merged
        .into_iter()
        .map(|((service, pattern_id), (template, g))| PatternGroup {
            service,
            pattern_id,
            template,
            count: g.count,
            first_ns: g.first_ns,
            last_ns: g.last_ns,
            samples: g.samples,
        })
        .collect();
    let mut mined: Vec<((String, u64), Group)> = sink.mined.into_iter().collect();
    mined.sort_by(|a, b| a.0.cmp(&b.0));
    for ((service, id), g) in mined {
        let template = sink
            .miner
            .template(trawl_patterns::PatternId::new(id))
            .map(str::to_string)
            .unwrap_or_else(|| g.samples.first().map(|s| trawl_patterns::mask(&s.body)).unwrap_or_default());
        out.groups.push(PatternGroup { service, pattern_id: 0, template, count: g.count, first_ns: g.first_ns, last_ns: g.last_ns, samples: g.samples });
    }
    for g in &mut out.groups {
        g.samples.sort_by(|a, b| b.time_ns.cmp(&a.time_ns));
    }
    out.groups.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.service.cmp(&b.service)).then_with(|| a.template.cmp(&b.template)));
    out.dropped = sink.dropped;
    out.stats.elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use trawl_model::Level;
    use trawl_storage::{Chunk, PatternLookup};

    fn record(t: i64, service: &str, body: &str, pattern_id: u64) -> Record {
        let mut r = Record::new(t);
        r.service = service.to_string();
        r.body = body.to_string();
        r.level = Level::Error;
        r.pattern_id = pattern_id;
        r.trace_id = format!("{t:032x}");
        r
    }

    #[test]
    fn groups_by_service_and_pattern_with_the_newest_samples() {
        let mut records = Vec::new();
        for i in 0..10 {
            records.push(record(1_000 + i, "payment", &format!("결제 실패: 카드 승인 거절 order_id={i}"), 0));
        }
        for i in 0..4 {
            records.push(record(2_000 + i, "order", &format!("결제 실패: 카드 승인 거절 order_id={i}"), 0));
            records.push(record(3_000 + i, "order", &format!("timeout after {i}ms calling stock"), 0));
        }
        let snapshot = Snapshot { chunks: vec![Arc::new(Chunk::new(records, Vec::new()))], segments: Vec::new(), patterns: PatternLookup::default() };
        let query = crate::parse("level:error").unwrap();
        let request = PatternGroupsRequest { query: &query, start_ns: 0, end_ns: 10_000, max_groups: 100, timeout: Duration::from_secs(5), cancel: None };
        let out = pattern_groups(&snapshot, &request).unwrap();
        assert_eq!(out.groups.len(), 3, "{:?}", out.groups);
        let top = &out.groups[0];
        assert_eq!((top.service.as_str(), top.count), ("payment", 10));
        assert!(top.template.contains("결제 실패"), "{}", top.template);
        assert_eq!(top.samples.iter().map(|s| s.time_ns).collect::<Vec<_>>(), [1_009, 1_008, 1_007]);
        assert_eq!((top.first_ns, top.last_ns), (1_000, 1_009));
        // A cap on groups counts the rest as dropped instead of growing.
        let request = PatternGroupsRequest { max_groups: 1, ..request };
        let out = pattern_groups(&snapshot, &request).unwrap();
        assert_eq!(out.groups.len(), 1);
        assert_eq!(out.dropped, 8);
    }
}
