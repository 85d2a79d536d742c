/// Errors of the rollup crate: only decoding can fail, on bytes that came from disk.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RollupError {
    /// A stored sketch does not decode; the caller skips it and reports it.
    #[error("corrupt latency sketch: {0}")]
    CorruptSketch(String),
}
