/// Why a whole request was refused. Single bad records are not errors: they go to
/// [`crate::Rejection`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    /// Malformed JSON, protobuf or gzip (HTTP 400).
    #[error("invalid input: {reason}")]
    InvalidInput { reason: String },
    /// The (decompressed) body is larger than the configured limit (HTTP 413).
    #[error("{what} exceeds the {limit} byte limit")]
    TooLarge { limit: usize, what: &'static str },
    /// A `Content-Encoding` other than gzip, br, deflate or identity (HTTP 415).
    #[error("unsupported content encoding {0:?}")]
    UnsupportedEncoding(String),
}

impl IngestError {
    /// Shorthand for [`IngestError::InvalidInput`].
    pub fn invalid(reason: impl Into<String>) -> IngestError {
        IngestError::InvalidInput { reason: reason.into() }
    }

    /// The HTTP status code that answers this error.
    pub fn http_status(&self) -> u16 {
        match self {
            IngestError::InvalidInput { .. } => 400,
            IngestError::TooLarge { .. } => 413,
            IngestError::UnsupportedEncoding(_) => 415,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_lowercase_and_statuses_match() {
        let e = IngestError::TooLarge { limit: 10, what: "decompressed body" };
        assert_eq!(e.to_string(), "decompressed body exceeds the 10 byte limit");
        assert_eq!(e.http_status(), 413);
        assert_eq!(IngestError::invalid("bad").to_string(), "invalid input: bad");
        assert_eq!(IngestError::invalid("bad").http_status(), 400);
        let e = IngestError::UnsupportedEncoding("br".into());
        assert_eq!(e.to_string(), "unsupported content encoding \"br\"");
        assert_eq!(e.http_status(), 415);
    }
}
