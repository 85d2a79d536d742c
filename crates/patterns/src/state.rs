//! The saved form of a [`Miner`]: plain data, checked when loaded.
//!
//! `serde` sees a miner as a [`MinerState`]: the config, the id counter, the patterns with
//! their slots, counts and ages, and the aliases of merged ids. The shape memo is not saved; it
//! is an exact memo of the patterns, so a loaded miner continues exactly as the saved one would.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::miner::{Cluster, Miner};
use crate::slot::{is_plain_text, Slot};
use crate::{Config, PatternError, PatternId};

/// Version of [`MinerState`]; loading another version fails.
pub const STATE_VERSION: u32 = 1;

/// The saved form of a miner.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MinerState {
    /// [`STATE_VERSION`] when saved.
    pub version: u32,
    pub config: Config,
    /// The id the next new pattern gets.
    pub next_id: u64,
    /// Messages added so far.
    pub n_messages: u64,
    /// The live patterns, by id.
    pub patterns: Vec<PatternState>,
    /// Merged ids and the ids they were merged into.
    pub aliases: Vec<(PatternId, PatternId)>,
}

/// The saved form of one pattern.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PatternState {
    pub id: PatternId,
    /// The template, one slot per word.
    pub slots: Vec<SlotState>,
    /// See [`Pattern`](crate::Pattern) for these three.
    pub count: u64,
    pub first_seen: u64,
    pub last_seen: u64,
}

/// The saved form of one template position.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotState {
    /// A constant masked word (it may hold `<*>` as text, as in `order_id=<*>`).
    Word(String),
    /// A glob: every `<*>` matches any text.
    Glob(String),
}

impl Miner {
    /// The saved form of this miner.
    pub fn to_state(&self) -> MinerState {
        let mut patterns: Vec<PatternState> = self
            .clusters
            .iter()
            .map(|c| PatternState {
                id: c.id,
                slots: c
                    .slots
                    .iter()
                    .map(|s| match s {
                        Slot::Const { text, .. } => SlotState::Word(text.to_string()),
                        Slot::Any | Slot::Glob { .. } => SlotState::Glob(s.text().to_string()),
                    })
                    .collect(),
                count: c.count,
                first_seen: c.first_seen,
                last_seen: c.last_seen,
            })
            .collect();
        patterns.sort_unstable_by_key(|p| p.id);
        MinerState {
            version: STATE_VERSION,
            config: self.config.clone(),
            next_id: self.next_id,
            n_messages: self.n_messages,
            patterns,
            aliases: self.aliases.iter().map(|(&from, &to)| (from, to)).collect(),
        }
    }

    /// A miner from its saved form, or what is inconsistent in it.
    pub fn from_state(state: MinerState) -> Result<Miner, PatternError> {
        let invalid = |what: String| Err(PatternError::InvalidState(what));
        if state.version != STATE_VERSION {
            return invalid(format!("version {} (expected {STATE_VERSION})", state.version));
        }
        state.config.validate().map_err(|e| PatternError::InvalidState(e.to_string()))?;
        if state.patterns.len() > state.config.max_patterns {
            return invalid(format!(
                "{} patterns for max_patterns {}",
                state.patterns.len(),
                state.config.max_patterns
            ));
        }
        let mut miner = Miner::with_valid_config(state.config);
        miner.next_id = state.next_id;
        miner.n_messages = state.n_messages;
        for p in state.patterns {
            if p.id.get() == 0 || p.id.get() >= state.next_id || miner.by_id.contains_key(&p.id) {
                return invalid(format!("pattern id {} is duplicated or not below next_id", p.id));
            }
            if p.slots.len() > miner.config.max_tokens {
                return invalid(format!("pattern {} has more than max_tokens words", p.id));
            }
            if p.last_seen > state.n_messages || p.first_seen > p.last_seen {
                return invalid(format!("pattern {} is seen after the last message", p.id));
            }
            let mut slots = Vec::with_capacity(p.slots.len());
            for s in &p.slots {
                let (text, slot) = match s {
                    SlotState::Word(t) => (t, Slot::constant(t, is_plain_text(t))),
                    SlotState::Glob(t) => (t, Slot::glob(t)),
                };
                if text.is_empty() || text.contains(char::is_whitespace) {
                    return invalid(format!("pattern {} has an empty word or a word with whitespace", p.id));
                }
                slots.push(slot);
            }
            let mut cluster = Cluster {
                id: p.id,
                slots: Vec::new(),
                template: String::new(),
                n_fixed: 0,
                max_miss: 0,
                count: p.count,
                first_seen: p.first_seen,
                last_seen: p.last_seen,
            };
            cluster.set_slots(slots, miner.config.similarity);
            miner.insert(cluster);
        }
        for (from, to) in state.aliases {
            if miner.by_id.contains_key(&from) || !miner.by_id.contains_key(&to) || from.get() >= state.next_id {
                return invalid(format!("alias {from} -> {to} does not lead from a merged id to a live one"));
            }
            miner.aliases.insert(from, to);
        }
        Ok(miner)
    }
}

impl Serialize for Miner {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_state().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Miner {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Miner, D::Error> {
        Miner::from_state(MinerState::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const WORDS: &[&str] =
        &["user", "alice", "bob", "logged", "in", "out", "42", "7", "id=9", "\"GET", "HTTP/1.1", "결제가", "님의"];

    fn mine(miner: &mut Miner, messages: &[String]) -> Vec<(PatternId, String)> {
        messages
            .iter()
            .map(|m| {
                let (id, template) = miner.add(m);
                (id, template.to_string())
            })
            .collect()
    }

    fn check(messages: &[String], split: usize) {
        let split = split.min(messages.len());
        let mut whole = Miner::default();
        let expect = mine(&mut whole, messages);
        let mut first = Miner::default();
        let mut got = mine(&mut first, &messages[..split]);
        let json = serde_json::to_string(&first).unwrap();
        let mut loaded: Miner = serde_json::from_str(&json).unwrap();
        assert_eq!(loaded.to_state(), first.to_state());
        got.extend(mine(&mut loaded, &messages[split..]));
        assert_eq!(got, expect);
        assert_eq!(loaded.to_state(), whole.to_state());
    }

    proptest! {
        #[test]
        fn a_loaded_miner_continues_exactly(
            messages in prop::collection::vec(prop::collection::vec(prop::sample::select(WORDS), 1..6).prop_map(|w| w.join(" ")), 0..60),
            split in 0usize..60,
        ) {
            check(&messages, split);
        }
    }

    #[test]
    fn damaged_state_is_refused() {
        let mut miner = Miner::default();
        miner.add("user alice logged in");
        miner.add("user bob logged in");
        let state = miner.to_state();
        let mut bad = state.clone();
        bad.version = 99;
        assert!(Miner::from_state(bad).is_err());
        let mut bad = state.clone();
        bad.patterns.push(bad.patterns[0].clone());
        assert!(Miner::from_state(bad).is_err());
        let mut bad = state.clone();
        bad.aliases.push((PatternId::new(1), PatternId::new(77)));
        assert!(Miner::from_state(bad).is_err());
        let mut bad = state.clone();
        bad.patterns[0].slots[0] = SlotState::Word("two words".into());
        assert!(Miner::from_state(bad).is_err());
        let mut bad = state;
        bad.next_id = 1;
        assert!(Miner::from_state(bad).is_err());
        assert!(serde_json::from_str::<Miner>("{\"version\":1}").is_err());
    }
}
