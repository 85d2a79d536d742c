/// Errors of the query layer.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The query text is wrong; `line` and `column` are 1-based and count characters.
    #[error("{message} at {line}:{column}")]
    Syntax { message: String, line: usize, column: usize },
    /// The request is wrong in another way (time range, limit).
    #[error("{0}")]
    Invalid(String),
}
