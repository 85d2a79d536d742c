//! Pattern ids at ingest: one template miner per service, fed on the writer thread in the order
//! writes are acknowledged (and, after a restart, in the same order by WAL replay).
//!
//! Ids are a function of the input order and of the state saved at the last registered flush:
//! each freeze takes a [`PatternDelta`] (the saved form of every miner used since the previous
//! freeze, and the dictionary rows that changed), which the flusher stores in the transaction
//! that registers the buffer's segments and moves the WAL watermark. On restart the miners are
//! loaded as they were at the watermark and replay mines the unflushed records again, in the
//! same order, so they get the same ids.
//!
//! At most `max_services` miners are live; a new service past that evicts the least recently
//! used one, whose id counter is kept, so a service that comes back continues with new ids and
//! an id never stands for two templates. Ids are per service; 0 means none.

use std::collections::{BTreeSet, HashMap};

use trawl_model::Record;
use trawl_patterns::{Config, Miner, MinerState, PatternId, STATE_VERSION};

/// The pattern id of a record that has none (mining off, or a segment older than the column).
pub const NO_PATTERN: u64 = 0;

/// Settings of the miners at ingest: smaller than the defaults of a one-off miner, since up to
/// `max_services` of them live together.
pub(crate) fn ingest_miner_config() -> Config {
    Config { max_patterns: 2_000, max_bytes: 4 << 20, shape_cache: 2_048, ..Config::default() }
}

/// One saved miner: its state (None once evicted), its id counter and when it was last used.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MinerRow {
    pub service: String,
    /// bincode of [`MinerState`]; None for an evicted miner (only `next_id` is kept).
    pub state: Option<Vec<u8>>,
    pub next_id: u64,
    pub last_used: u64,
}

/// One dictionary row: what a stored `(service, pattern_id)` stands for.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateRow {
    pub service: String,
    pub pattern_id: u64,
    /// The id it was merged into (itself when not merged).
    pub canonical_id: u64,
    pub template: String,
    /// Time of the record that created the pattern (kept from the first write of the row).
    pub first_seen_ns: i64,
}

/// What changed since the previous freeze, to store with the frozen buffer's segments.
#[derive(Debug, Default, Clone)]
pub(crate) struct PatternDelta {
    pub miners: Vec<MinerRow>,
    pub templates: Vec<TemplateRow>,
}

struct ServiceMiner {
    miner: Miner,
    last_used: u64,
    /// Highest id handed out: a larger one is a new pattern.
    max_id: u64,
    /// Patterns created since the last delta: template when created and the record's time.
    created: HashMap<u64, (String, i64)>,
    /// Per id, (canonical id, template hash) as last stored: unchanged rows are not rewritten.
    stored: HashMap<u64, (u64, u64)>,
}

impl ServiceMiner {
    fn new(miner: Miner, last_used: u64, next_id: u64) -> ServiceMiner {
        ServiceMiner { miner, last_used, max_id: next_id.saturating_sub(1), created: HashMap::new(), stored: HashMap::new() }
    }

    /// The dictionary rows that changed since they were last taken.
    fn changed_templates(&mut self, service: &str, state: &MinerState) -> Vec<TemplateRow> {
        let mut rows = Vec::new();
        let mut now: HashMap<u64, (u64, String)> = HashMap::new();
        for p in self.miner.patterns() {
            now.insert(p.id.get(), (p.id.get(), p.template.to_string()));
        }
        for (from, to) in &state.aliases {
            if let Some(t) = self.miner.template(*to) {
                now.insert(from.get(), (to.get(), t.to_string()));
            }
        }
        // Created and evicted before this delta: the template it had when created.
        for (id, (template, _)) in &self.created {
            now.entry(*id).or_insert_with(|| (*id, template.clone()));
        }
        let mut ids: Vec<u64> = now.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            let (canonical, template) = &now[&id];
            let hash = xxhash_rust::xxh3::xxh3_64(template.as_bytes());
            if self.stored.get(&id) == Some(&(*canonical, hash)) {
                continue;
            }
            self.stored.insert(id, (*canonical, hash));
            rows.push(TemplateRow {
                service: service.to_string(),
                pattern_id: id,
                canonical_id: *canonical,
                template: template.clone(),
                first_seen_ns: self.created.get(&id).map_or(0, |c| c.1),
            });
        }
        self.stored.retain(|id, _| now.contains_key(id));
        self.created.clear();
        rows
    }
}

pub(crate) struct PatternRegistry {
    max_services: usize,
    miners: HashMap<String, ServiceMiner>,
    /// Id counters of evicted miners, by service.
    retired: HashMap<String, u64>,
    /// Records mined so far (a logical clock for least-recently-used eviction).
    clock: u64,
    /// The clock at the last delta: a miner used after it is already dirty.
    delta_clock: u64,
    /// Services whose miner changed (or was evicted) since the last delta.
    dirty: BTreeSet<String>,
    /// Dictionary rows of miners evicted since the last delta.
    evicted_rows: Vec<TemplateRow>,
}

impl PatternRegistry {
    /// A registry with the miners saved in `rows`; damaged states are skipped (returned as
    /// warnings) and their services start again after their saved id counter.
    pub fn load(max_services: usize, rows: Vec<MinerRow>) -> (PatternRegistry, Vec<String>) {
        let mut registry = PatternRegistry {
            max_services,
            miners: HashMap::new(),
            retired: HashMap::new(),
            clock: 0,
            delta_clock: 0,
            dirty: BTreeSet::new(),
            evicted_rows: Vec::new(),
        };
        let mut warnings = Vec::new();
        for row in rows {
            registry.clock = registry.clock.max(row.last_used);
            let loaded = row.state.as_deref().map(|bytes| {
                bincode::DefaultOptions::new()
                    .with_fixint_encoding()
                    .with_limit(bytes.len() as u64 * 4 + 1024)
                    .deserialize::<MinerState>(bytes)
                    .map_err(|e| e.to_string())
                    .and_then(|s| Miner::from_state(s).map_err(|e| e.to_string()))
            });
            match loaded {
                Some(Ok(miner)) => {
                    registry.miners.insert(row.service.clone(), ServiceMiner::new(miner, row.last_used, row.next_id));
                }
                Some(Err(e)) => {
                    warnings.push(format!("pattern miner of service {:?} not loaded: {e}", row.service));
                    registry.retired.insert(row.service, row.next_id);
                }
                None => {
                    registry.retired.insert(row.service, row.next_id);
                }
            }
        }
        registry.delta_clock = registry.clock;
        (registry, warnings)
    }

    /// Gives every record its pattern id, in order.
    pub fn assign(&mut self, records: &mut [Record]) {
        if self.max_services == 0 {
            return;
        }
        for record in records {
            record.pattern_id = self.assign_one(&record.service, &record.body, record.time_ns);
        }
    }

    fn assign_one(&mut self, service: &str, body: &str, time_ns: i64) -> u64 {
        self.clock += 1;
        let clock = self.clock;
        if !self.miners.contains_key(service) {
            self.start_miner(service);
        }
        let Some(entry) = self.miners.get_mut(service) else { return NO_PATTERN };
        if entry.last_used <= self.delta_clock {
            self.dirty.insert(service.to_string());
        }
        entry.last_used = clock;
        let (id, template) = entry.miner.add(body);
        let id = id.get();
        if id > entry.max_id {
            entry.max_id = id;
            entry.created.insert(id, (template.to_string(), time_ns));
        }
        id
    }

    fn start_miner(&mut self, service: &str) {
        if self.miners.len() >= self.max_services {
            let oldest = self.miners.iter().min_by_key(|(_, m)| m.last_used).map(|(s, _)| s.clone());
            if let Some(oldest) = oldest {
                if let Some(mut evicted) = self.miners.remove(&oldest) {
                    let state = evicted.miner.to_state();
                    self.evicted_rows.extend(evicted.changed_templates(&oldest, &state));
                    self.retired.insert(oldest.clone(), state.next_id);
                    self.dirty.insert(oldest);
                }
            }
        }
        let next_id = self.retired.remove(service).unwrap_or(1).max(1);
        let state = MinerState {
            version: STATE_VERSION,
            config: ingest_miner_config(),
            next_id,
            n_messages: 0,
            patterns: Vec::new(),
            aliases: Vec::new(),
        };
        let miner = Miner::from_state(state).unwrap_or_default();
        self.miners.insert(service.to_string(), ServiceMiner::new(miner, 0, next_id));
        self.dirty.insert(service.to_string());
    }

    /// What changed since the previous call: called at each freeze, on the writer thread.
    pub fn take_delta(&mut self) -> PatternDelta {
        let mut delta = PatternDelta { miners: Vec::new(), templates: std::mem::take(&mut self.evicted_rows) };
        for service in std::mem::take(&mut self.dirty) {
            match self.miners.get_mut(&service) {
                Some(entry) => {
                    let state = entry.miner.to_state();
                    delta.templates.extend(entry.changed_templates(&service, &state));
                    let bytes = bincode::DefaultOptions::new().with_fixint_encoding().serialize(&state).ok();
                    delta.miners.push(MinerRow { service, state: bytes, next_id: state.next_id, last_used: entry.last_used });
                }
                None => {
                    let next_id = self.retired.get(&service).copied().unwrap_or(1);
                    delta.miners.push(MinerRow { service, state: None, next_id, last_used: 0 });
                }
            }
        }
        self.delta_clock = self.clock;
        delta
    }

    /// When `id` of `service` was created, if that happened since the last delta (older
    /// patterns have it in the dictionary).
    pub fn created_at(&self, service: &str, id: u64) -> Option<i64> {
        self.miners.get(service)?.created.get(&id).map(|c| c.1)
    }

    /// The current `(canonical id, template)` of `id` in `service`'s live miner.
    pub fn live_template(&self, service: &str, id: u64) -> Option<(u64, String)> {
        let miner = &self.miners.get(service)?.miner;
        let pattern = miner.pattern(PatternId::new(id))?;
        Some((pattern.id.get(), pattern.template.to_string()))
    }
}

use bincode::Options as _;
