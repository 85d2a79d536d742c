//! Log patterns: online template mining with no configuration.
//!
//! A [`Miner`] reads one message at a time and answers with a stable [`PatternId`] and the
//! pattern's *template*: the message with its variable parts replaced by `<*>`
//! (`payment <*> failed: card declined (order_id=<*>)`). Variables are found without
//! configuration (numbers, ids, UUIDs, IPs, URLs, paths, e-mails, durations and sizes,
//! timestamps, `key=value` values, quoted strings), and templates generalise where messages of
//! one pattern differ. Detected variables never reach a template. The same messages in the same
//! order always give the same ids and templates; memory is bounded by
//! [`Config::max_patterns`]. The design and its measured quality are in `docs/patterns.md`.
//!
//! ```
//! let mut miner = trawl_patterns::Miner::default();
//! let (a, _) = miner.add("payment 1842 failed: card declined (order_id=ORD-7)");
//! let (b, template) = miner.add("payment 77 failed: card declined (order_id=ORD-9)");
//! assert_eq!(a, b);
//! assert_eq!(template, "payment <*> failed: card declined (order_id=<*>)");
//! ```

mod config;
mod error;
mod miner;
mod slot;
mod state;
mod tokens;
mod variable;
mod vocabulary;

pub use config::Config;
pub use error::PatternError;
pub use miner::{Miner, Pattern, PatternId};
pub use state::{MinerState, PatternState, SlotState, STATE_VERSION};
pub use variable::WILDCARD;

/// The masked words of `message`'s first line joined by single spaces: what the miner compares,
/// before any generalisation (`user 42 from 10.0.0.1:5000` → `user <*> from <*>`).
pub fn mask(message: &str) -> String {
    let mut tokens = tokens::Tokens::default();
    tokens.tokenize(message, Config::default().max_tokens);
    tokens.text
}
