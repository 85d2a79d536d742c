use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use trawl_ingest::IngestError;
use trawl_query::QueryError;
use trawl_storage::StoreError;

/// Every error an endpoint can answer with. This is the one place where errors become HTTP
/// status codes: bad input is 4xx with a machine-readable code and a reason, overload is 429 or
/// 503 with `Retry-After`, and 500 is kept for bugs.
#[derive(Debug)]
pub enum ApiError {
    BadRequest { code: &'static str, reason: String },
    /// Bad input with every problem listed (`problems` in the body): a rule, a contact point,
    /// a rule file.
    Invalid { code: &'static str, reason: String, problems: serde_json::Value },
    /// Missing or unknown credentials (the Sentry key of a Sentry request).
    Unauthorized(String),
    PayloadTooLarge(String),
    UnsupportedMediaType(String),
    NotFound(String),
    /// The request clashes with what exists (a name already taken).
    Conflict(String),
    /// Retryable: the server is behind.
    Overloaded(String),
    /// Retryable: the disk refused writes, or the server is starting or stopping.
    Unavailable(String),
    /// A query ran past its time limit.
    QueryTimeout(String),
    /// A query needs more than its memory cap.
    QueryTooLarge(String),
    Internal(String),
}

impl ApiError {
    pub fn bad_request(code: &'static str, reason: impl Into<String>) -> ApiError {
        ApiError::BadRequest { code, reason: reason.into() }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } | ApiError::Invalid { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Overloaded(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::QueryTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ApiError::QueryTooLarge(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Short machine-readable reason, also the `reason` label of the reject counter.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { code, .. } | ApiError::Invalid { code, .. } => code,
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::PayloadTooLarge(_) => "too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::Overloaded(_) => "overloaded",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::QueryTimeout(_) => "query_timeout",
            ApiError::QueryTooLarge(_) => "query_too_large",
            ApiError::Internal(_) => "internal",
        }
    }

    pub fn reason(&self) -> &str {
        match self {
            ApiError::BadRequest { reason, .. } | ApiError::Invalid { reason, .. } => reason,
            ApiError::PayloadTooLarge(r)
            | ApiError::Unauthorized(r)
            | ApiError::UnsupportedMediaType(r)
            | ApiError::NotFound(r)
            | ApiError::Conflict(r)
            | ApiError::Overloaded(r)
            | ApiError::Unavailable(r)
            | ApiError::QueryTimeout(r)
            | ApiError::QueryTooLarge(r)
            | ApiError::Internal(r) => r,
        }
    }

    /// Seconds a client should wait before retrying, for retryable errors.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::Overloaded(_) => Some(1),
            ApiError::Unavailable(_) => Some(5),
            _ => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if matches!(self, ApiError::Internal(_)) {
            tracing::error!(reason = %self.reason(), "internal error");
        }
        let mut body = serde_json::json!({"error": {"code": self.code(), "reason": self.reason()}});
        if let ApiError::Invalid { problems, .. } = &self {
            body["error"]["problems"] = problems.clone();
        }
        let mut response = (self.status(), axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after() {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
            // A write refused before its body was read leaves the body unread, so the server
            // does not keep the connection; saying so keeps clients from reusing it.
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::Overloaded(r) => ApiError::Overloaded(r),
            StoreError::Unavailable(r) => ApiError::Unavailable(r),
            StoreError::ShuttingDown => ApiError::Unavailable("server is shutting down".into()),
            StoreError::Conflict(r) => ApiError::Conflict(r),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> ApiError {
        match e {
            IngestError::InvalidInput { .. } => ApiError::bad_request("invalid_body", e.to_string()),
            IngestError::TooLarge { .. } => ApiError::PayloadTooLarge(e.to_string()),
            IngestError::UnsupportedEncoding(_) => ApiError::UnsupportedMediaType(e.to_string()),
        }
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> ApiError {
        match e {
            QueryError::Syntax { .. } => ApiError::bad_request("invalid_query", e.to_string()),
            QueryError::Invalid(r) => ApiError::bad_request("invalid_request", r),
            QueryError::Timeout => ApiError::QueryTimeout(e.to_string()),
            QueryError::TooLarge(r) => ApiError::QueryTooLarge(r),
            QueryError::Cancelled => ApiError::bad_request("cancelled", e.to_string()),
            QueryError::Overloaded(r) => ApiError::Unavailable(r),
            QueryError::Storage(_) => ApiError::Unavailable(e.to_string()),
            QueryError::Internal(_) => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<trawl_alert::AlertError> for ApiError {
    fn from(e: trawl_alert::AlertError) -> ApiError {
        use trawl_alert::AlertError;
        match e {
            AlertError::NotFound(r) => ApiError::NotFound(r),
            AlertError::Conflict(r) => ApiError::Conflict(r),
            AlertError::Invalid(problems) => ApiError::Invalid {
                code: "invalid",
                reason: problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; "),
                problems: serde_json::to_value(&problems).unwrap_or_default(),
            },
            AlertError::Files(problems) => ApiError::Invalid {
                code: "invalid_files",
                reason: format!("the files were refused, the previous rules stay: {}", problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; ")),
                problems: serde_json::to_value(&problems).unwrap_or_default(),
            },
            AlertError::Store(e) => e.into(),
            AlertError::Internal(r) => ApiError::Internal(r),
        }
    }
}

pub async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("no endpoint at {}", uri.path()))
}
