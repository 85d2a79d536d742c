//! The online miner: one message in, a pattern id and its template out.
//!
//! Templates are grouped in *buckets* by word count. A message first goes through the *shape
//! memo* (its masked text → the pattern it went to last time); on a miss, it is compared with
//! the templates of its bucket that share a constant word with it (and those with globs):
//!
//! 1. a template that fits every word (constants equal, globs matching) takes it; the most
//!    specific one wins, then the oldest;
//! 2. else each *candidate* (a template with at least `similarity` of its constants fitting)
//!    proposes the positions where it differs, and the templates differing from the message
//!    only there are the proposal's *variants* (see [`Difference`] for which differences are
//!    variables, which are different events, and which need `min_variants` distinct words).
//!    The qualifying proposal with the most variants merges them into the oldest, generalising
//!    the differing positions; the others become aliases of it;
//! 3. else the message starts a new pattern.
//!
//! Ids are handed out in order of creation and never reused, so the same input in the same
//! order gives the same ids and templates. See `docs/patterns.md` for why the memo is exact.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

use serde::{Deserialize, Serialize};

use crate::slot::{generalize, word_hash, Slot};
use crate::tokens::Tokens;
use crate::variable::WordKind;
use crate::vocabulary::is_event_word;
use crate::{Config, PatternError};

/// The stable identifier of a pattern within one [`Miner`]: given in order of creation, never
/// reused. An id merged into another keeps resolving to it (see [`Miner::resolve`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PatternId(u64);

impl PatternId {
    /// The id with number `n` (ids start at 1).
    pub const fn new(n: u64) -> PatternId {
        PatternId(n)
    }

    /// The number of this id.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for PatternId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A pattern as the miner holds it now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pattern<'a> {
    /// The live id (after merges).
    pub id: PatternId,
    /// Masked words joined by single spaces, variables as `<*>`.
    pub template: &'a str,
    /// Messages that went to this pattern, including those of patterns merged into it.
    pub count: u64,
    /// Number (from 1) of the first message of this pattern, in the miner's input order.
    pub first_seen: u64,
    /// Number of the latest message of this pattern; eviction removes the oldest first.
    pub last_seen: u64,
}

#[derive(Clone, Debug)]
pub(crate) struct Cluster {
    pub id: PatternId,
    pub slots: Vec<Slot>,
    pub template: String,
    /// Slots that are not `<*>` alone.
    pub n_fixed: usize,
    /// Most of those that may differ from a message for the cluster to be a candidate.
    pub max_miss: usize,
    pub count: u64,
    pub first_seen: u64,
    pub last_seen: u64,
}

impl Cluster {
    /// Replaces the template; `similarity` is the miner's [`Config::similarity`].
    pub fn set_slots(&mut self, slots: Vec<Slot>, similarity: f64) {
        self.template = Cluster::render(&slots);
        self.n_fixed = slots.iter().filter(|s| !s.is_any()).count();
        self.max_miss = self.n_fixed - min_match(similarity, self.n_fixed);
        self.slots = slots;
    }

    pub fn render(slots: &[Slot]) -> String {
        let mut template = String::new();
        for (i, slot) in slots.iter().enumerate() {
            if i > 0 {
                template.push(' ');
            }
            template.push_str(slot.text());
        }
        template
    }
}

/// The templates with one word count. `epoch` changes whenever a template of the bucket is
/// created, generalised, merged or evicted, which invalidates the memo entries of the bucket.
///
/// The slots are also kept here as keys, row by row, so the slow path reads one flat array, and
/// an index from (position, constant) to rows lets it read only the rows that can fit: a
/// template fits a message, or is a candidate for it, only if at least one of its constant
/// words is the message's word at that position (`similarity` is at least one half), unless it
/// has globs or no constant at all (the *loose* rows, always read).
#[derive(Default, Debug, Clone)]
pub(crate) struct Bucket {
    pub epoch: u64,
    /// Cluster indexes, one per row.
    pub members: Vec<u32>,
    /// `n` keys per row (see [`slot_key`]).
    keys: Vec<u64>,
    /// [`Cluster::max_miss`] per row.
    max_miss: Vec<u32>,
    /// Rows by (position, constant key), for rows that are not loose.
    index: HashMap<(u32, u64), Vec<u32>, Mix>,
    /// Rows with a glob or without constants.
    loose: Vec<u32>,
}

const ANY_KEY: u64 = 0;
const GLOB_KEY: u64 = 1;

/// The key of a constant word's hash: never [`ANY_KEY`] or [`GLOB_KEY`].
fn const_key(hash: u64) -> u64 {
    hash.max(2)
}

fn slot_key(slot: &Slot) -> u64 {
    match slot {
        Slot::Any => ANY_KEY,
        Slot::Glob { .. } => GLOB_KEY,
        Slot::Const { hash, .. } => const_key(*hash),
    }
}

impl Bucket {
    fn width(&self) -> usize {
        self.keys.len().checked_div(self.members.len()).unwrap_or(0)
    }

    fn push(&mut self, index: usize, cluster: &Cluster) {
        let row = self.members.len();
        self.members.push(index as u32);
        self.keys.extend(cluster.slots.iter().map(slot_key));
        self.max_miss.push(cluster.max_miss as u32);
        self.link(row, row);
    }

    fn row(&self, index: usize) -> Option<usize> {
        self.members.iter().position(|&i| i as usize == index)
    }

    fn update(&mut self, index: usize, cluster: &Cluster) {
        let Some(row) = self.row(index) else { return };
        self.unlink(row, row);
        let n = cluster.slots.len();
        for (key, slot) in self.keys[row * n..(row + 1) * n].iter_mut().zip(&cluster.slots) {
            *key = slot_key(slot);
        }
        self.max_miss[row] = cluster.max_miss as u32;
        self.link(row, row);
    }

    fn remove(&mut self, index: usize) {
        let Some(row) = self.row(index) else { return };
        let n = self.width();
        let last = self.members.len() - 1;
        self.unlink(row, row);
        if row != last {
            self.unlink(last, last);
            self.members.swap_remove(row);
            self.max_miss.swap_remove(row);
            self.keys.copy_within(last * n..(last + 1) * n, row * n);
            self.keys.truncate(last * n);
            self.link(row, row);
        } else {
            self.members.pop();
            self.max_miss.pop();
            self.keys.truncate(last * n);
        }
    }

    fn is_loose(keys: &[u64]) -> bool {
        keys.contains(&GLOB_KEY) || keys.iter().all(|&k| k == ANY_KEY)
    }

    /// Adds the index entries of the keys in `row`, pointing at `target`.
    fn link(&mut self, row: usize, target: usize) {
        let n = self.width();
        let keys = &self.keys[row * n..(row + 1) * n];
        if Self::is_loose(keys) {
            self.loose.push(target as u32);
            return;
        }
        for (p, &key) in keys.iter().enumerate() {
            if key != ANY_KEY {
                self.index.entry((p as u32, key)).or_default().push(target as u32);
            }
        }
    }

    /// Removes the index entries of the keys in `row` that point at `target`.
    fn unlink(&mut self, row: usize, target: usize) {
        let n = self.width();
        let keys = &self.keys[row * n..(row + 1) * n];
        if Self::is_loose(keys) {
            self.loose.retain(|&r| r as usize != target);
            return;
        }
        for (p, &key) in keys.iter().enumerate() {
            if key == ANY_KEY {
                continue;
            }
            if let Some(rows) = self.index.get_mut(&(p as u32, key)) {
                rows.retain(|&r| r as usize != target);
                if rows.is_empty() {
                    self.index.remove(&(p as u32, key));
                }
            }
        }
    }

    fn renumber(&mut self, from: usize, to: usize) {
        for i in &mut self.members {
            if *i as usize == from {
                *i = to as u32;
            }
        }
    }
}

/// Where a message shape went: valid while its bucket's epoch is unchanged.
#[derive(Clone, Copy, Debug)]
struct Memo {
    n_words: u32,
    index: u32,
    epoch: u64,
    id: PatternId,
}

/// Hasher for keys that are already hashes or small integers (one multiply-xorshift).
#[derive(Default)]
pub(crate) struct MixHasher(u64);

impl Hasher for MixHasher {
    fn finish(&self) -> u64 {
        let x = self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        x ^ (x >> 29)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | b as u64).wrapping_mul(0x100_0000_01B3);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(29) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(n as u64);
    }
}

pub(crate) type Mix = BuildHasherDefault<MixHasher>;

/// A candidate template for a message that it does not fit exactly.
#[derive(Clone, Copy, Debug)]
struct Candidate {
    /// Constant positions of the template that fit the message.
    n_match: usize,
    /// Constant positions of the template.
    n_fixed: usize,
    first_miss: usize,
    id: PatternId,
    index: usize,
}

impl Candidate {
    /// More fitting constants first; then the later first difference (event words tend to come
    /// before their variables, so `Created container a` / `Started container a` do not pair
    /// over the verb); then the oldest.
    fn better_than(&self, other: &Candidate) -> bool {
        (self.n_match, self.first_miss, std::cmp::Reverse(self.id))
            > (other.n_match, other.first_miss, std::cmp::Reverse(other.id))
    }
}

/// An online template miner. One per stream of related messages (for example one per
/// service); not shared between threads while adding.
#[derive(Debug, Clone)]
pub struct Miner {
    pub(crate) config: Config,
    pub(crate) next_id: u64,
    pub(crate) n_messages: u64,
    pub(crate) clusters: Vec<Cluster>,
    pub(crate) by_id: HashMap<PatternId, u32, Mix>,
    pub(crate) buckets: Vec<Bucket>,
    pub(crate) aliases: BTreeMap<PatternId, PatternId>,
    /// Sum of [`Cluster::footprint`] over the clusters.
    bytes: usize,
    memo: HashMap<u64, Memo, Mix>,
    tokens: Tokens,
    hashes: Vec<u64>,
    message_keys: Vec<u64>,
    /// Scratch of the slow path: rows to read, and which rows were taken (by stamp).
    rows: Vec<u32>,
    seen: Vec<u32>,
    stamp: u32,
}

impl Default for Miner {
    fn default() -> Miner {
        Miner::with_valid_config(Config::default())
    }
}

impl Miner {
    /// A miner with `config`, or why the config is invalid.
    pub fn new(config: Config) -> Result<Miner, PatternError> {
        config.validate()?;
        Ok(Miner::with_valid_config(config))
    }

    pub(crate) fn with_valid_config(config: Config) -> Miner {
        Miner {
            config,
            next_id: 1,
            n_messages: 0,
            clusters: Vec::new(),
            by_id: HashMap::default(),
            buckets: Vec::new(),
            aliases: BTreeMap::new(),
            bytes: 0,
            memo: HashMap::default(),
            tokens: Tokens::default(),
            hashes: Vec::new(),
            message_keys: Vec::new(),
            rows: Vec::new(),
            seen: Vec::new(),
            stamp: 0,
        }
    }

    /// The settings of this miner.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Adds one message and returns the id and current template of its pattern. Only the
    /// first line of `message` counts. Never fails; any text is a message.
    pub fn add(&mut self, message: &str) -> (PatternId, &str) {
        self.n_messages += 1;
        let mut tokens = std::mem::take(&mut self.tokens);
        tokens.tokenize(message, self.config.max_tokens);
        let mut index = self.find(&tokens);
        self.tokens = tokens;
        let cluster = &mut self.clusters[index];
        cluster.count += 1;
        cluster.last_seen = self.n_messages;
        if self.clusters.len() > self.config.max_patterns || self.bytes > self.config.max_bytes {
            index = self.evict(self.clusters[index].id);
        }
        let cluster = &self.clusters[index];
        (cluster.id, &cluster.template)
    }

    /// The live id that `id` stands for now: itself, or the pattern it was merged into. `None`
    /// when the pattern was evicted (or never existed).
    pub fn resolve(&self, id: PatternId) -> Option<PatternId> {
        if self.by_id.contains_key(&id) {
            return Some(id);
        }
        self.aliases.get(&id).copied().filter(|to| self.by_id.contains_key(to))
    }

    /// The current template of pattern `id` (resolving merges).
    pub fn template(&self, id: PatternId) -> Option<&str> {
        self.pattern(id).map(|p| p.template)
    }

    /// Pattern `id` as it is now (resolving merges).
    pub fn pattern(&self, id: PatternId) -> Option<Pattern<'_>> {
        let index = *self.by_id.get(&self.resolve(id)?)?;
        self.clusters.get(index as usize).map(Cluster::view)
    }

    /// Every live pattern, by id.
    pub fn patterns(&self) -> Vec<Pattern<'_>> {
        let mut all: Vec<Pattern> = self.clusters.iter().map(Cluster::view).collect();
        all.sort_unstable_by_key(|p| p.id);
        all
    }

    /// Number of live patterns.
    pub fn len(&self) -> usize {
        self.clusters.len()
    }

    /// Whether no message was added yet (or every pattern was evicted).
    pub fn is_empty(&self) -> bool {
        self.clusters.is_empty()
    }

    /// Messages added so far.
    pub fn n_messages(&self) -> u64 {
        self.n_messages
    }

    /// The index of the cluster that takes `tokens`: memoised, else [`Miner::place`].
    fn find(&mut self, tokens: &Tokens) -> usize {
        let n = tokens.len();
        if self.buckets.len() <= n {
            self.buckets.resize_with(n + 1, Bucket::default);
        }
        let key = word_hash(&tokens.text);
        if let Some(m) = self.memo.get(&key) {
            let fresh = m.n_words as usize == n && m.epoch == self.buckets[n].epoch;
            if fresh && self.clusters.get(m.index as usize).is_some_and(|c| c.id == m.id) {
                return m.index as usize;
            }
        }
        let index = self.place(tokens);
        if self.config.shape_cache > 0 {
            if self.memo.len() >= self.config.shape_cache {
                self.memo.clear();
            }
            let memo = Memo {
                n_words: n as u32,
                index: index as u32,
                epoch: self.buckets[n].epoch,
                id: self.clusters[index].id,
            };
            self.memo.insert(key, memo);
        }
        index
    }

    /// Compares `tokens` with the templates of its bucket that can fit and decides (see the
    /// module docs).
    fn place(&mut self, tokens: &Tokens) -> usize {
        let n = tokens.len();
        self.hashes.clear();
        self.hashes.extend((0..n).map(|i| word_hash(tokens.get(i))));
        let mut exact: Option<(usize, PatternId, usize)> = None;
        let mut candidates: Vec<Candidate> = Vec::new();
        self.message_keys.clear();
        self.message_keys.extend(self.hashes.iter().map(|&h| const_key(h)));
        let bucket = &self.buckets[n];
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 || self.seen.len() < bucket.members.len() {
            self.seen.clear();
            self.seen.resize(bucket.members.len().max(64), 0);
            self.stamp = 1;
        }
        let mut rows: Vec<u32> = std::mem::take(&mut self.rows);
        rows.clear();
        for (p, &key) in self.message_keys.iter().enumerate() {
            for &row in bucket.index.get(&(p as u32, key)).map_or(&[][..], Vec::as_slice) {
                if self.seen[row as usize] != self.stamp {
                    self.seen[row as usize] = self.stamp;
                    rows.push(row);
                }
            }
        }
        rows.extend_from_slice(&bucket.loose);
        for &row in &rows {
            let row = row as usize;
            let index = bucket.members[row];
            let keys = &bucket.keys[row * n..(row + 1) * n];
            let max_miss = bucket.max_miss[row] as usize;
            let (mut miss, mut first_miss, mut n_match) = (0, usize::MAX, 0);
            for (p, &key) in keys.iter().enumerate() {
                let fits = match key {
                    ANY_KEY => continue,
                    GLOB_KEY => self.clusters[index as usize].slots[p].matches(tokens.get(p), self.hashes[p]),
                    _ => key == self.message_keys[p],
                };
                if fits {
                    n_match += 1;
                    continue;
                }
                miss += 1;
                if miss > max_miss {
                    break;
                }
                first_miss = first_miss.min(p);
            }
            if miss > max_miss {
                continue;
            }
            let cluster = &self.clusters[index as usize];
            if miss == 0 {
                if exact.is_none_or(|(s, id, _)| (n_match, std::cmp::Reverse(cluster.id)) > (s, std::cmp::Reverse(id)))
                {
                    exact = Some((n_match, cluster.id, index as usize));
                }
                continue;
            }
            candidates.push(Candidate {
                n_match,
                n_fixed: cluster.n_fixed,
                first_miss,
                id: cluster.id,
                index: index as usize,
            });
        }
        self.rows = rows;
        if let Some((_, _, index)) = exact {
            return index;
        }
        if let Some((variants, slots)) = self.merge_proposal(candidates, tokens) {
            return self.collapse(&variants, slots, n);
        }
        self.create(tokens)
    }

    /// Step 2 of the module docs. Each candidate proposes the positions where it differs from
    /// `tokens`; the *variants* of that proposal are the templates that differ from `tokens`
    /// nowhere else. Returns the qualifying proposal with the most variants (the better
    /// candidate on ties) and the merged slots.
    fn merge_proposal(&self, mut candidates: Vec<Candidate>, tokens: &Tokens) -> Option<(Vec<usize>, Vec<Slot>)> {
        const MAX_PROPOSALS: usize = 16;
        let n = tokens.len();
        candidates.sort_unstable_by(|a, b| {
            if a.better_than(b) {
                std::cmp::Ordering::Less
            } else {
                std::cmp::Ordering::Greater
            }
        });
        let mut tried: Vec<Vec<bool>> = Vec::new();
        let mut best: Option<(Vec<usize>, Vec<Slot>)> = None;
        for candidate in candidates {
            if tried.len() == MAX_PROPOSALS {
                break;
            }
            let slots = &self.clusters[candidate.index].slots;
            let differs: Vec<bool> = (0..n).map(|p| !slots[p].matches(tokens.get(p), self.hashes[p])).collect();
            if tried.contains(&differs) {
                continue;
            }
            let mut needs_variants = Vec::new();
            let mut refused = false;
            for p in (0..n).filter(|&p| differs[p]) {
                match difference(tokens.get(p), tokens.kind(p), &slots[p]) {
                    Difference::Variable => {}
                    Difference::NeedsVariants => needs_variants.push(p),
                    Difference::Constant => refused = true,
                }
            }
            tried.push(differs);
            if refused || candidate.n_match + self.clusters[candidate.index].max_miss < candidate.n_fixed {
                continue;
            }
            let differs = &tried[tried.len() - 1];
            let bucket = &self.buckets[n];
            let variants: Vec<usize> = (0..bucket.members.len())
                .filter(|&row| self.row_fits(row, tokens, |p| differs[p]))
                .map(|row| bucket.members[row] as usize)
                .collect();
            if best.as_ref().is_some_and(|(b, _)| variants.len() <= b.len()) {
                continue;
            }
            let enough = needs_variants.iter().all(|&p| {
                let mut seen: Vec<&str> = vec![tokens.get(p)];
                for &i in &variants {
                    let text = self.clusters[i].slots[p].text();
                    if !seen.contains(&text) {
                        seen.push(text);
                    }
                }
                seen.len() >= self.config.min_variants
            });
            if !enough {
                continue;
            }
            let merged = self.merged_slots(&variants, tokens);
            if n > 0 && merged.iter().all(Slot::is_any) {
                continue;
            }
            best = Some((variants, merged));
        }
        best
    }

    /// Whether the template in `row` of the bucket of `tokens` fits them at every position
    /// that `skip` does not exclude. Needs `self.hashes` and `self.message_keys` of `tokens`.
    fn row_fits(&self, row: usize, tokens: &Tokens, skip: impl Fn(usize) -> bool) -> bool {
        let n = tokens.len();
        let bucket = &self.buckets[n];
        let keys = &bucket.keys[row * n..(row + 1) * n];
        keys.iter().enumerate().all(|(p, &key)| {
            skip(p)
                || match key {
                    ANY_KEY => true,
                    GLOB_KEY => {
                        self.clusters[bucket.members[row] as usize].slots[p].matches(tokens.get(p), self.hashes[p])
                    }
                    _ => key == self.message_keys[p],
                }
        })
    }

    /// The slots of the template that fits the clusters at `indexes` and `tokens`: kept where
    /// they all agree, generalised where they differ.
    fn merged_slots(&self, indexes: &[usize], tokens: &Tokens) -> Vec<Slot> {
        let n = tokens.len();
        let mut slots = Vec::with_capacity(n);
        for p in 0..n {
            let word = tokens.get(p);
            let mut texts: Vec<&str> = Vec::new();
            let mut all_match = true;
            for &i in indexes {
                let slot = &self.clusters[i].slots[p];
                all_match &= slot.matches(word, self.hashes[p]);
                if !texts.contains(&slot.text()) {
                    texts.push(slot.text());
                }
            }
            if texts.len() == 1 && all_match {
                slots.push(self.clusters[indexes[0]].slots[p].clone());
                continue;
            }
            if !all_match && !texts.contains(&word) {
                texts.push(word);
            }
            slots.push(Slot::glob(&generalize(&texts)));
        }
        slots
    }

    /// Merges the clusters at `indexes` into the oldest of them, which gets `slots`; the
    /// others become its aliases. Returns the survivor's index.
    fn collapse(&mut self, indexes: &[usize], slots: Vec<Slot>, n: usize) -> usize {
        let ids: Vec<PatternId> = indexes.iter().map(|&i| self.clusters[i].id).collect();
        let survivor = ids.iter().copied().min().unwrap_or(PatternId(0));
        let (mut count, mut first_seen, mut last_seen) = (0, u64::MAX, 0);
        for &i in indexes {
            let c = &self.clusters[i];
            count += c.count;
            first_seen = first_seen.min(c.first_seen);
            last_seen = last_seen.max(c.last_seen);
        }
        for &id in &ids {
            if id != survivor {
                self.remove(id);
                self.alias(id, survivor);
            }
        }
        let index = self.by_id[&survivor] as usize;
        let cluster = &mut self.clusters[index];
        self.bytes -= cluster.footprint();
        cluster.set_slots(slots, self.config.similarity);
        self.bytes += cluster.footprint();
        cluster.count = count;
        cluster.first_seen = first_seen;
        cluster.last_seen = last_seen;
        self.buckets[n].update(index, &self.clusters[index]);
        self.buckets[n].epoch += 1;
        self.absorb(survivor, n);
        self.by_id[&survivor] as usize
    }

    /// Merges into `id` the templates of its bucket that it now covers entirely: earlier,
    /// narrower versions of it (`alice logged in` once `<*> logged in` exists) that would
    /// otherwise keep the messages they fit exactly.
    fn absorb(&mut self, id: PatternId, n: usize) {
        let index = self.by_id[&id] as usize;
        let slots = &self.clusters[index].slots;
        let covered: Vec<PatternId> = self.buckets[n]
            .members
            .iter()
            .map(|&i| &self.clusters[i as usize])
            .filter(|c| {
                c.id != id
                    && c.slots
                        .iter()
                        .zip(slots)
                        .all(|(narrow, wide)| wide.matches(narrow.text(), word_hash(narrow.text())))
            })
            .map(|c| c.id)
            .collect();
        for other in covered {
            let Some(&i) = self.by_id.get(&other) else { continue };
            let (count, first_seen, last_seen) = {
                let c = &self.clusters[i as usize];
                (c.count, c.first_seen, c.last_seen)
            };
            self.remove(other);
            self.alias(other, id);
            let c = &mut self.clusters[self.by_id[&id] as usize];
            c.count += count;
            c.first_seen = c.first_seen.min(first_seen);
            c.last_seen = c.last_seen.max(last_seen);
        }
    }

    /// Records that `from` was merged into `to`, and repoints the aliases of `from`.
    fn alias(&mut self, from: PatternId, to: PatternId) {
        self.aliases.insert(from, to);
        for target in self.aliases.values_mut() {
            if *target == from {
                *target = to;
            }
        }
        while self.aliases.len() > 4 * self.config.max_patterns {
            self.aliases.pop_first();
        }
    }

    /// A new pattern for `tokens`. It may take shapes from older templates, so the memo of its
    /// bucket goes.
    fn create(&mut self, tokens: &Tokens) -> usize {
        let n = tokens.len();
        let slots: Vec<Slot> = (0..n).map(|p| Slot::from_word(tokens.get(p), tokens.kind(p))).collect();
        self.buckets[n].epoch += 1;
        let id = PatternId(self.next_id);
        self.next_id += 1;
        let mut cluster = Cluster {
            id,
            slots: Vec::new(),
            template: String::new(),
            n_fixed: 0,
            max_miss: 0,
            count: 0,
            first_seen: self.n_messages,
            last_seen: self.n_messages,
        };
        cluster.set_slots(slots, self.config.similarity);
        self.insert(cluster)
    }

    pub(crate) fn insert(&mut self, cluster: Cluster) -> usize {
        let index = self.clusters.len();
        let n = cluster.slots.len();
        if self.buckets.len() <= n {
            self.buckets.resize_with(n + 1, Bucket::default);
        }
        self.buckets[n].push(index, &cluster);
        self.bytes += cluster.footprint();
        self.by_id.insert(cluster.id, index as u32);
        self.clusters.push(cluster);
        index
    }

    /// Removes cluster `id`, moving the last cluster into its place.
    fn remove(&mut self, id: PatternId) {
        let Some(index) = self.by_id.remove(&id) else { return };
        let index = index as usize;
        let n = self.clusters[index].slots.len();
        self.bytes -= self.clusters[index].footprint();
        self.buckets[n].remove(index);
        self.buckets[n].epoch += 1;
        let last = self.clusters.len() - 1;
        self.clusters.swap_remove(index);
        if index != last {
            let moved = &self.clusters[index];
            self.by_id.insert(moved.id, index as u32);
            self.buckets[moved.slots.len()].renumber(last, index);
        }
    }

    /// Evicts the least recently seen patterns down to nine tenths of `max_patterns` and of
    /// `max_bytes`, never `keep` (the pattern of the current message). Returns `keep`'s index
    /// afterwards.
    fn evict(&mut self, keep: PatternId) -> usize {
        let max_count = (self.config.max_patterns - self.config.max_patterns / 10).max(1);
        let max_bytes = self.config.max_bytes - self.config.max_bytes / 10;
        let mut order: Vec<(u64, PatternId)> =
            self.clusters.iter().map(|c| (c.last_seen, c.id)).filter(|&(_, id)| id != keep).collect();
        order.sort_unstable();
        let mut evicted: HashSet<PatternId> = HashSet::new();
        for (_, id) in order {
            if self.clusters.len() <= max_count && self.bytes <= max_bytes {
                break;
            }
            self.remove(id);
            evicted.insert(id);
        }
        self.aliases.retain(|from, to| !evicted.contains(to) && !evicted.contains(from));
        self.by_id[&keep] as usize
    }

    /// Approximate bytes held by the patterns: templates, slots and their index; what
    /// [`Config::max_bytes`] bounds.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

impl Cluster {
    /// Approximate bytes held for this pattern: the struct, its template, its slots and their
    /// bucket keys and index entries.
    pub fn footprint(&self) -> usize {
        std::mem::size_of::<Cluster>()
            + self.template.len()
            + self.slots.iter().map(|s| std::mem::size_of::<Slot>() + s.text().len() + 48).sum::<usize>()
    }

    fn view(&self) -> Pattern<'_> {
        Pattern {
            id: self.id,
            template: &self.template,
            count: self.count,
            first_seen: self.first_seen,
            last_seen: self.last_seen,
        }
    }
}

/// What a differing position says about a merge.
#[derive(Debug, PartialEq, Eq)]
enum Difference {
    /// Identifiers, unknown plain words (`alice`/`bob`), or a detected variable against a plain
    /// word: the position is a variable.
    Variable,
    /// A detected variable against a structured constant (`HTTP/1.1`): only with enough
    /// variants.
    NeedsVariants,
    /// An event word against another plain word (`in`/`out`, `Created`/`Started`,
    /// `declined`/`funds`): the templates are different events.
    Constant,
}

/// How the masked word `word` of kind `kind` differs from `slot`, which does not fit it.
fn difference(word: &str, kind: WordKind, slot: &Slot) -> Difference {
    match kind {
        WordKind::Plain if slot.is_plain() && (is_event_word(word) || is_event_word(slot.text())) => {
            Difference::Constant
        }
        WordKind::Wildcard if !slot.is_plain() => Difference::NeedsVariants,
        _ => Difference::Variable,
    }
}

/// Least number of fitting positions out of `n` for a share of `threshold` (no float error:
/// 0.6 × 5 is 3).
fn min_match(threshold: f64, n: usize) -> usize {
    ((threshold * n as f64) - 1e-9).ceil().max(0.0) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Adds `messages` in order; `expect` holds one line per message: its id (as returned then)
    /// and its template (as returned then).
    fn check(messages: &[&str], expect: &str) -> Miner {
        let mut miner = Miner::default();
        let got: Vec<String> = messages
            .iter()
            .map(|m| {
                let (id, template) = miner.add(m);
                format!("{id} {template}")
            })
            .collect();
        let expect: Vec<&str> = expect.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        assert_eq!(got, expect);
        miner
    }

    #[test]
    fn variables_are_masked_and_lines_grouped() {
        check(
            &[
                "payment 1842 failed: card declined (order_id=ORD-7)",
                "payment 77 failed: card declined (order_id=ORD-9)",
                "connection from 10.0.0.1:5432 closed after 3.2s",
                "connection from 10.0.0.2:61000 closed after 15ms",
            ],
            "1 payment <*> failed: card declined (order_id=<*>)
             1 payment <*> failed: card declined (order_id=<*>)
             2 connection from <*> closed after <*>
             2 connection from <*> closed after <*>",
        );
    }

    #[test]
    fn variable_in_first_position() {
        check(
            &[
                "alice logged in from 10.0.0.1",
                "bob logged in from 10.0.0.2",
                "carol logged in from 10.0.0.3",
                "alice logged in from 10.0.0.5",
            ],
            "1 alice logged in from <*>
             1 <*> logged in from <*>
             1 <*> logged in from <*>
             1 <*> logged in from <*>",
        );
        check(&["10.0.0.1 connected", "10.0.0.9 connected"], "1 <*> connected\n1 <*> connected");
    }

    #[test]
    fn event_words_stay_constant() {
        check(
            &[
                "Created container api",
                "Started container api",
                "Created container worker",
                "Killing container api",
                "Started container worker",
                "Stopped container api",
            ],
            "1 Created container api
             2 Started container api
             1 Created container <*>
             3 Killing container api
             2 Started container <*>
             4 Stopped container api",
        );
        check(
            &["payment sent to alice", "payment failed to alice", "payment queued to alice", "payment sent to bob"],
            "1 payment sent to alice
             2 payment failed to alice
             3 payment queued to alice
             1 payment sent to <*>",
        );
    }

    #[test]
    fn templates_differing_in_one_constant_word_stay_apart() {
        check(
            &["user 42 logged in", "user 7 logged out", "user 9 logged in", "user 12 logged out"],
            "1 user <*> logged in
             2 user <*> logged out
             1 user <*> logged in
             2 user <*> logged out",
        );
        let mut miner = Miner::default();
        for name in ["alice", "bob", "carol", "dave", "erin"] {
            miner.add(&format!("user {name} logged in"));
            miner.add(&format!("user {name} logged out"));
        }
        let templates: Vec<&str> = miner.patterns().iter().map(|p| p.template).collect();
        assert_eq!(templates, ["user <*> logged in", "user <*> logged out"]);
        check(
            &["connection closed", "connection opened", "connection reset", "connection closed"],
            "1 connection closed\n2 connection opened\n3 connection reset\n1 connection closed",
        );
    }

    #[test]
    fn numbers_that_are_constants_stay() {
        check(
            &["GET /api/users/42 HTTP/1.1 200 12ms", "GET /api/orders HTTP/1.1 404 3ms", "upgrade to HTTP/2 refused"],
            "1 GET <*> HTTP/1.1 <*> <*>
             1 GET <*> HTTP/1.1 <*> <*>
             2 upgrade to HTTP/2 refused",
        );
    }

    #[test]
    fn korean_particles_stay_in_the_template() {
        check(
            &[
                "주문 ORD-1의 결제가 실패했습니다",
                "주문 ORD-22의 결제가 실패했습니다",
                "주문 ORD-3의 결제를 취소했습니다",
            ],
            "1 주문 <*>의 결제가 실패했습니다
             1 주문 <*>의 결제가 실패했습니다
             2 주문 <*>의 결제를 취소했습니다",
        );
        let mut miner = Miner::default();
        for name in ["김민수", "이영희", "박지성", "최유리"] {
            miner.add(&format!("{name}님의 결제가 취소되었습니다 (주문번호 ORD-{}, 15,000원)", name.len()));
        }
        let templates: Vec<&str> = miner.patterns().iter().map(|p| p.template).collect();
        assert_eq!(templates, ["<*>님의 결제가 취소되었습니다 (주문번호 <*>, <*>원)"]);
    }

    #[test]
    fn mixed_hangul_and_latin_words() {
        let miner = check(
            &[
                "API 호출 실패 - payment서비스 응답코드 500, 재시도 3회",
                "API 호출 실패 - checkout서비스 응답코드 503, 재시도 1회",
                "[결제서비스] PG사 KCP 응답 지연 1200ms",
                "[결제서비스] PG사 토스페이먼츠 응답 지연 80ms",
            ],
            "1 API 호출 실패 - payment서비스 응답코드 <*>, 재시도 <*>회
             1 API 호출 실패 - <*>서비스 응답코드 <*>, 재시도 <*>회
             2 [결제서비스] PG사 KCP 응답 지연 <*>
             2 [결제서비스] PG사 <*> 응답 지연 <*>",
        );
        assert_eq!(miner.len(), 2);
    }

    #[test]
    fn very_long_lines_are_cut_into_one_final_variable() {
        let head = "batch report ".repeat(100);
        let mut miner = Miner::default();
        let (a, _) = miner.add(&format!("{head} tail one"));
        let (b, template) = miner.add(&format!("{head} other ending with more words"));
        assert_eq!(a, b);
        assert_eq!(template.split(' ').count(), Config::default().max_tokens);
        assert!(template.starts_with("batch report batch") && template.ends_with("batch <*>"));
        let (_, template) = miner.add(&"x".repeat(10_000_000));
        assert_eq!(template, "<*>");
    }

    #[test]
    fn identifiers_merge_at_once() {
        check(
            &[
                "Task tasks.send_email[3f2a9c1e-8b7d-4c6e-9f0a-1b2c3d4e5f60] succeeded in 0.2s: None",
                "Task tasks.charge[0b2c9c1e-8b7d-4c6e-9f0a-1b2c3d4e5f60] succeeded in 1.5s: None",
            ],
            "1 Task tasks.send_email[<*>] succeeded in <*>: None
             1 Task <*>[<*>] succeeded in <*>: None",
        );
    }

    #[test]
    fn eviction_bounds_patterns_and_never_reuses_ids() {
        let mut miner = Miner::new(Config { max_patterns: 10, ..Config::default() }).unwrap();
        let mut last = PatternId(0);
        for i in 0..100 {
            let (id, _) = miner.add(&"word ".repeat(i % 60 + 1));
            assert!(miner.len() <= 10);
            assert!(id > last || miner.resolve(id) == Some(id));
            last = last.max(id);
        }
        assert_eq!(miner.template(PatternId(1)), None);
        assert_eq!(miner.n_messages(), 100);
        let mut miner = Miner::new(Config { max_bytes: 20_000, ..Config::default() }).unwrap();
        for i in 0..100 {
            miner.add(&"word ".repeat(i % 60 + 1));
            assert!(miner.bytes() <= 20_000);
        }
        assert!(miner.len() > 1);
    }

    #[test]
    fn empty_and_blank_messages_have_a_pattern() {
        let mut miner = Miner::default();
        for m in ["", "   ", "\n\tat x"] {
            assert_eq!(miner.add(m), (PatternId(1), ""));
        }
    }

    #[test]
    fn a_miner_can_move_between_threads() {
        fn send_and_sync<T: Send + Sync>() {}
        send_and_sync::<Miner>();
    }

    #[test]
    fn invalid_config_is_refused() {
        assert!(Miner::new(Config { similarity: 0.3, ..Config::default() }).is_err());
        assert!(Miner::new(Config { max_patterns: 0, ..Config::default() }).is_err());
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    /// Words that exercise every rule: event words, names, identifiers, detected variables,
    /// structured constants, quotes, Hangul.
    const WORDS: &[&str] = &[
        "user",
        "alice",
        "bob",
        "carol",
        "logged",
        "in",
        "out",
        "Created",
        "Started",
        "container",
        "api",
        "42",
        "7",
        "10.0.0.1",
        "id=9",
        "\"GET",
        "\"POST",
        "HTTP/1.1",
        "-",
        "tasks.a[1]",
        "tasks.b[2]",
        "결제가",
        "김민수님의",
        "이영희님의",
        "true",
        "false",
    ];

    fn messages() -> impl Strategy<Value = Vec<String>> {
        prop::collection::vec(
            prop::collection::vec(prop::sample::select(WORDS), 1..7).prop_map(|w| w.join(" ")),
            0..120,
        )
    }

    fn run(config: Config, messages: &[String]) -> Vec<(PatternId, String)> {
        let mut miner = Miner::new(config).unwrap();
        messages
            .iter()
            .map(|m| {
                let (id, template) = miner.add(m);
                let template = template.to_string();
                assert_eq!(miner.template(id), Some(template.as_str()));
                (id, template)
            })
            .collect()
    }

    proptest! {
        #[test]
        fn the_memo_changes_nothing(messages in messages()) {
            let with = run(Config::default(), &messages);
            let without = run(Config { shape_cache: 0, ..Config::default() }, &messages);
            prop_assert_eq!(with, without);
        }

        #[test]
        fn eviction_keeps_the_bound_and_the_answers_consistent(messages in messages(), max in 1usize..8) {
            let mut miner = Miner::new(Config { max_patterns: max, ..Config::default() }).unwrap();
            for m in &messages {
                let (id, template) = miner.add(m);
                let template = template.to_string();
                prop_assert!(miner.len() <= max);
                prop_assert_eq!(miner.resolve(id), Some(id));
                prop_assert_eq!(miner.template(id), Some(template.as_str()));
            }
        }

        #[test]
        fn any_text_is_a_message(texts in prop::collection::vec(any::<String>(), 1..20)) {
            let mut miner = Miner::default();
            for text in &texts {
                let (id, template) = miner.add(text);
                prop_assert!(!template.contains("  ") && !template.contains(['\t', '\n', '\r']), "{:?}", template);
                prop_assert!(!template.starts_with(' ') && !template.ends_with(' '));
                prop_assert!(id.get() >= 1);
            }
        }

        #[test]
        fn detected_variables_never_reach_templates(
            parts in prop::collection::vec(
                prop_oneof![
                    "[a-z]{1,8}".prop_map(|w| w),
                    any::<u32>().prop_map(|n| n.to_string()),
                    (any::<u8>(), any::<u8>(), any::<u16>()).prop_map(|(a, b, p)| format!("10.{a}.{b}.1:{p}")),
                    "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                    "[a-z]{1,6}@[a-z]{1,6}\\.com",
                    "/[a-z]{1,6}/[a-z0-9]{1,6}",
                    "https://[a-z]{1,6}\\.example/[a-z]{0,5}",
                    "[0-9]{1,4}(ms|s|MB|KiB|%)",
                    "[a-z][a-z_]{0,5}=[a-z0-9]{0,6}",
                    "\"[a-z ]{0,12}\"",
                    "[0-9]{1,5}(번이|개|원)",
                ],
                1..12,
            ),
            repeat in 1usize..3,
        ) {
            let message = parts.join(" ");
            let mut miner = Miner::default();
            for _ in 0..repeat {
                let (_, template) = miner.add(&message);
                prop_assert!(!template.contains(|c: char| c.is_ascii_digit()), "{} -> {}", message, template);
                prop_assert!(!template.contains(['@', '/']), "{} -> {}", message, template);
                for (key, _) in parts.iter().filter_map(|p| p.split_once('=')) {
                    let masked = format!("{key}=<*>");
                    prop_assert!(key == "msg" || template.contains(&masked), "{} -> {}", message, template);
                }
            }
        }
    }
}
