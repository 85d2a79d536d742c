//! The one error type of the crate.

/// What can go wrong when building a miner. Adding messages never fails.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PatternError {
    /// A configuration value is out of its range; the reason names it.
    #[error("invalid pattern miner config: {0}")]
    InvalidConfig(String),
    /// Saved miner state is inconsistent (damaged or from an incompatible version).
    #[error("invalid pattern miner state: {0}")]
    InvalidState(String),
}
