//! Sentry SDK ingestion: `POST /api/{project_id}/envelope/` (every current SDK) and
//! `POST /api/{project_id}/store/` (legacy, one event). Decoding is `trawl_ingest::sentry`'s;
//! the fallback service is `sentry-project-{project_id}`.
//!
//! The key (`X-Sentry-Auth`, `Authorization: Sentry ...` or the `sentry_key` query parameter
//! of browser SDKs) is checked before the body is read: a request without one is 401, and so is
//! an unknown key when a key list is configured (`--sentry-keys`). Answers `{"id": "<event
//! id>"}`. When the store is behind: 429 with `Retry-After` and `X-Sentry-Rate-Limits:
//! <seconds>::organization`, after which SDKs drop (they never retry) for that long. CORS
//! preflights are answered for browser SDKs.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use trawl_ingest::{decode_sentry_envelope, decode_sentry_store, parse_sentry_auth, Batch, SentryBatch};
use trawl_model::now_ns;

use crate::ingest::{read_and_decode, write_batch};
use crate::{ApiError, AppState};

/// The `protocol` label of this endpoint's counters.
pub(crate) const PROTOCOL: &str = "sentry";

/// A project id is a Sentry project number; slugs are accepted too, within this length.
const MAX_PROJECT_BYTES: usize = 64;

/// Request headers a browser SDK may send, allowed by the CORS preflight.
const ALLOWED_HEADERS: &str = "content-type, content-encoding, x-sentry-auth, authorization, sentry-trace, baggage";

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/{project_id}/envelope/", post(envelope).options(preflight))
        .route("/api/{project_id}/envelope", post(envelope).options(preflight))
        .route("/api/{project_id}/store/", post(store).options(preflight))
        .route("/api/{project_id}/store", post(store).options(preflight))
}

#[derive(Clone, Copy)]
enum Endpoint {
    Envelope,
    Store,
}

async fn envelope(State(state): State<AppState>, Path(project): Path<String>, uri: Uri, headers: HeaderMap, body: Body) -> Response {
    handle(state, project, uri, headers, body, Endpoint::Envelope).await
}

async fn store(State(state): State<AppState>, Path(project): Path<String>, uri: Uri, headers: HeaderMap, body: Body) -> Response {
    handle(state, project, uri, headers, body, Endpoint::Store).await
}

async fn handle(state: AppState, project: String, uri: Uri, headers: HeaderMap, body: Body, endpoint: Endpoint) -> Response {
    let mut response = match ingest(&state, &project, &uri, &headers, body, endpoint).await {
        Ok(event_id) => {
            let body = match event_id {
                Some(id) => serde_json::json!({"id": id}),
                None => serde_json::json!({}),
            };
            (StatusCode::OK, Json(body)).into_response()
        }
        Err(error) => {
            let retry_after = error.retry_after();
            let mut response = error.into_response();
            if let (Some(secs), StatusCode::TOO_MANY_REQUESTS) = (retry_after, response.status()) {
                if let Ok(v) = HeaderValue::from_str(&format!("{secs}::organization")) {
                    response.headers_mut().insert("x-sentry-rate-limits", v);
                }
            }
            response
        }
    };
    cors(response.headers_mut());
    response
}

/// Checks the key, reads, decodes and writes; the event id on success.
async fn ingest(
    state: &AppState,
    project: &str,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
    endpoint: Endpoint,
) -> Result<Option<String>, ApiError> {
    let decoded = async {
        check_project(project)?;
        check_key(state, headers, uri.query())?;
        let fallback = format!("sentry-project-{project}");
        let now = now_ns();
        read_and_decode(state, PROTOCOL, headers, body, move |bytes| -> Result<SentryBatch, _> {
            match endpoint {
                Endpoint::Envelope => decode_sentry_envelope(bytes, &fallback, now),
                Endpoint::Store => decode_sentry_store(bytes, &fallback, now),
            }
        })
        .await
    }
    .await;
    let decoded = match decoded {
        Ok(d) => d,
        Err(e) => {
            state.metrics.add_rejected(PROTOCOL, e.code(), 1);
            return Err(e);
        }
    };
    let n_accepted = decoded.accepted();
    let n_rejected = decoded.rejected();
    let SentryBatch { batch, event_id, .. } = decoded;
    let batch = Batch { records: batch.records, spans: batch.spans, rejected: Vec::new() };
    state.metrics.add_rejected(PROTOCOL, "invalid_record", n_rejected);
    if let Err(e) = write_batch(state, batch).await {
        state.metrics.add_rejected(PROTOCOL, e.code(), n_accepted);
        return Err(e);
    }
    state.metrics.add_accepted(PROTOCOL, n_accepted);
    Ok(event_id)
}

fn check_project(project: &str) -> Result<(), ApiError> {
    let ok = !project.is_empty()
        && project.len() <= MAX_PROJECT_BYTES
        && project.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request("invalid_project", "the project id must be a number or a slug of letters, digits, - and _"))
    }
}

fn check_key(state: &AppState, headers: &HeaderMap, query: Option<&str>) -> Result<(), ApiError> {
    let header = headers
        .get("x-sentry-auth")
        .or_else(|| headers.get(header::AUTHORIZATION))
        .and_then(|v| v.to_str().ok());
    let Some(auth) = parse_sentry_auth(header, query) else {
        return Err(ApiError::Unauthorized(
            "missing sentry key: send the X-Sentry-Auth header (sentry_key=...) or the sentry_key query parameter".into(),
        ));
    };
    let keys = &state.compat.sentry_keys;
    if !keys.is_empty() && !keys.contains(&auth.key) {
        return Err(ApiError::Unauthorized("unknown sentry key: it is not in the configured --sentry-keys".into()));
    }
    Ok(())
}

/// Browser SDKs may ask before they post.
async fn preflight(headers: HeaderMap) -> Response {
    let mut response = StatusCode::OK.into_response();
    let h = response.headers_mut();
    cors(h);
    h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("POST, OPTIONS"));
    let requested = headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS).cloned();
    h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested.unwrap_or(HeaderValue::from_static(ALLOWED_HEADERS)));
    h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("3600"));
    response
}

fn cors(h: &mut HeaderMap) {
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("x-sentry-rate-limits, retry-after, x-sentry-error"),
    );
}
