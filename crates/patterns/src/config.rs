//! Settings of a [`Miner`](crate::Miner); the defaults need no tuning.

use serde::{Deserialize, Serialize};

use crate::PatternError;

/// Settings of a [`Miner`](crate::Miner).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Most live patterns; past it the least recently seen tenth is evicted.
    pub max_patterns: usize,
    /// Most bytes (approximately) held by the patterns; past it the least recently seen are
    /// evicted as for `max_patterns`.
    pub max_bytes: usize,
    /// Words of a message that count; the rest of a longer line is one final variable.
    pub max_tokens: usize,
    /// Share (0.5 to 1) of a template's constant words that a message must share with it before
    /// the words where they differ can become variables.
    pub similarity: f64,
    /// Distinct words a position must show, across templates that differ nowhere else, before a
    /// detected variable replaces a structured constant there (`HTTP/1.1` against `<*>`).
    pub min_variants: usize,
    /// Remembered message shapes (the fast path); 0 turns the memo off.
    pub shape_cache: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_patterns: 10_000,
            max_bytes: 64 << 20,
            max_tokens: 128,
            similarity: 0.5,
            min_variants: 3,
            shape_cache: 16_384,
        }
    }
}

impl Config {
    /// Checks every field against its range.
    pub fn validate(&self) -> Result<(), PatternError> {
        let invalid = |what: &str| Err(PatternError::InvalidConfig(what.to_string()));
        if self.max_patterns == 0 {
            return invalid("max_patterns must be at least 1");
        }
        if self.max_bytes < 4096 {
            return invalid("max_bytes must be at least 4096");
        }
        if !(2..=4096).contains(&self.max_tokens) {
            return invalid("max_tokens must be between 2 and 4096");
        }
        if !(0.5..=1.0).contains(&self.similarity) {
            return invalid("similarity must be between 0.5 and 1");
        }
        if self.min_variants < 2 {
            return invalid("min_variants must be at least 2");
        }
        Ok(())
    }
}
