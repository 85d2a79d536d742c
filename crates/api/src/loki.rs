//! Grafana Loki push (`POST /loki/api/v1/push`): JSON (optionally gzip) and snappy-block
//! protobuf, as Promtail, Grafana Alloy, Fluent Bit, python-logging-loki and winston-loki send
//! it. Decoding is `trawl_ingest::loki`'s; `X-Scope-OrgID` is passed as the tenant.
//!
//! Answers as Loki does: 204 when everything was stored; 400 with the reasons when some
//! entries were refused (the others are stored, and Loki's clients do not resend a 400);
//! 429 or 503 with `Retry-After` when the store is behind or the disk is full (clients retry).

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use trawl_ingest::{decode_loki_json, decode_loki_protobuf};
use trawl_model::now_ns;

use crate::ingest::ingest_body;
use crate::{ApiError, AppState};

/// The `protocol` label of this endpoint's counters.
pub(crate) const PROTOCOL: &str = "loki";

/// At most this many reasons are listed in a 400 answer; the counts are complete.
const MAX_LISTED_REASONS: usize = 20;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/loki/api/v1/push", post(push))
}

#[derive(Clone, Copy)]
enum Format {
    Json,
    Protobuf,
}

/// Loki reads JSON for `application/json` and protobuf otherwise; trawl refuses what is
/// clearly neither.
fn format(headers: &HeaderMap) -> Result<Format, ApiError> {
    let value = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mime = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match mime.as_str() {
        "application/json" => Ok(Format::Json),
        "" | "application/x-protobuf" | "application/protobuf" | "application/x-snappy" => Ok(Format::Protobuf),
        other => Err(ApiError::UnsupportedMediaType(format!(
            "content type {other:?} is not a Loki push: use application/json or application/x-protobuf"
        ))),
    }
}

async fn push(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Result<Response, ApiError> {
    let format = match format(&headers) {
        Ok(f) => f,
        Err(e) => {
            state.metrics.add_rejected(PROTOCOL, e.code(), 1);
            return Err(e);
        }
    };
    let tenant = headers
        .get("x-scope-orgid")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    let max = state.limits.max_decompressed_bytes;
    let now = now_ns();
    let outcome = ingest_body(&state, PROTOCOL, &headers, body, move |bytes| match format {
        Format::Json => decode_loki_json(bytes, tenant.as_deref(), now),
        Format::Protobuf => decode_loki_protobuf(bytes, tenant.as_deref(), max, now),
    })
    .await?;
    if outcome.rejected.is_empty() {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let mut text = format!(
        "accepted {} entries, rejected {}:\n",
        outcome.accepted,
        outcome.rejected.len()
    );
    for rejection in outcome.rejected.iter().take(MAX_LISTED_REASONS) {
        text.push_str(&rejection.reason);
        text.push('\n');
    }
    Ok((StatusCode::BAD_REQUEST, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}
