/// Errors of the query layer.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The query text is wrong; `line` and `column` are 1-based and count characters.
    #[error("{message} at {line}:{column}")]
    Syntax { message: String, line: usize, column: usize },
    /// The request is wrong in another way (time range, limit).
    #[error("{0}")]
    Invalid(String),
    /// The query ran past its time limit.
    #[error("the query ran longer than its time limit; narrow the time range or the search")]
    Timeout,
    /// The client went away; nobody waits for the answer.
    #[error("the query was cancelled")]
    Cancelled,
    /// The query would hold more than its memory cap (groups, distinct values, rows to sort).
    #[error("{0}")]
    TooLarge(String),
    /// The server is short of memory: retrying later may succeed.
    #[error("{0}")]
    Overloaded(String),
    /// Stored data could not be read (a disk or file error): retrying later may succeed.
    #[error("stored data could not be read: {0}")]
    Storage(String),
    /// A fault of the engine, not of the request.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<trawl_storage::StoreError> for QueryError {
    fn from(e: trawl_storage::StoreError) -> QueryError {
        match e {
            trawl_storage::StoreError::Internal(m) => QueryError::Internal(m),
            other => QueryError::Storage(other.to_string()),
        }
    }
}
