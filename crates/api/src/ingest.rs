//! Ingest handlers: read the body within its limit, decode off the reactor, write, answer in the
//! protocol's own shape with what was accepted and what was rejected.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use prost::Message;
use trawl_ingest::{Batch, IngestError};
use trawl_model::now_ns;

use crate::{ApiError, AppState};

/// Reads the whole body, refusing it with 413 as soon as it passes `limit` bytes.
pub(crate) async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let mut source: Option<&dyn std::error::Error> = Some(&e);
        while let Some(s) = source {
            if s.is::<http_body_util::LengthLimitError>() {
                return ApiError::PayloadTooLarge(format!("request body exceeds the {limit} byte limit"));
            }
            source = s.source();
        }
        ApiError::bad_request("unreadable_body", format!("cannot read request body: {e}"))
    })
}

fn content_encoding(headers: &HeaderMap) -> Option<String> {
    headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).map(|s| s.trim().to_ascii_lowercase())
}

/// Writes a decoded batch and waits for the acknowledgement (durable unless configured).
/// Every protocol's items pass here, and are masked here (`[privacy]`), before the WAL.
pub(crate) async fn write_batch(state: &AppState, mut batch: Batch) -> Result<(), ApiError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let store = state.store.clone();
    let (rules, metrics) = (state.privacy.current(), state.metrics.clone());
    tokio::task::spawn_blocking(move || {
        if rules.enabled() {
            crate::privacy::mask_batch(&rules, &mut batch, &metrics);
        }
        store.write(batch.records, batch.spans, move |r| {
            let _ = tx.send(r);
        })
    })
    .await
    .map_err(|e| ApiError::Internal(format!("write task failed: {e}")))?;
    rx.await.map_err(|_| ApiError::Unavailable("store stopped".into()))?.map_err(ApiError::from)
}

/// What an ingest request came to: items stored, and the ones refused with their reasons.
pub(crate) struct Outcome {
    pub(crate) accepted: usize,
    pub(crate) rejected: Vec<trawl_ingest::Rejection>,
}

/// Whether a write request is taken, decided before its body is read: the store is ready and
/// not behind (429), the data disk is not nearly full (503), and the server's memory is not
/// near its cap (503). All answers name the reason and carry `Retry-After`.
pub(crate) fn admit_write(state: &AppState) -> Result<(), ApiError> {
    if !state.store.is_ready() {
        return Err(ApiError::Unavailable("replaying the write-ahead log; not accepting writes yet".into()));
    }
    state.store.admission()?;
    trawl_model::memory::pressure(WRITE_ADMISSION_SHARE).map_err(|p| ApiError::Unavailable(p.0))
}

/// New write requests are refused once the heap is over this share of `max_memory`.
const WRITE_ADMISSION_SHARE: f64 = 0.9;

/// Checks readiness, reads the body within its limit (counting its bytes), then decompresses
/// it within its limit and decodes it with `decode`, both off the reactor. Nothing is counted
/// as rejected here: the caller knows how many items the request held.
pub(crate) async fn read_and_decode<T: Send + 'static>(
    state: &AppState,
    protocol: &'static str,
    headers: &HeaderMap,
    body: Body,
    decode: impl FnOnce(&[u8]) -> Result<T, IngestError> + Send + 'static,
) -> Result<T, ApiError> {
    admit_write(state)?;
    let raw = read_body(body, state.limits.max_body_bytes).await?;
    state.metrics.add_bytes(protocol, raw.len());
    let encoding = content_encoding(headers);
    let max = state.limits.max_decompressed_bytes;
    let mut held = trawl_model::memory::INGEST_REQUESTS.hold(raw.len());
    let decoded = tokio::task::spawn_blocking(move || -> Result<T, IngestError> {
        let bytes = trawl_ingest::decompress(&raw, encoding.as_deref(), max)?;
        // Decoded items take about as much again as the text they came from.
        held.grow(2 * bytes.len());
        let decoded = decode(&bytes);
        drop(held);
        decoded
    })
    .await
    .map_err(|e| ApiError::Internal(format!("decode task failed: {e}")))??;
    Ok(decoded)
}

/// Checks readiness, reads and decodes a body with `decode`, writes it, and counts it all.
pub(crate) async fn ingest_body(
    state: &AppState,
    protocol: &'static str,
    headers: &HeaderMap,
    body: Body,
    decode: impl FnOnce(&[u8]) -> Result<Batch, IngestError> + Send + 'static,
) -> Result<Outcome, ApiError> {
    let result: Result<Outcome, ApiError> = async {
        let mut batch = read_and_decode(state, protocol, headers, body, decode).await?;
        let rejected = std::mem::take(&mut batch.rejected);
        let accepted = batch.records.len() + batch.spans.len();
        write_batch(state, batch).await?;
        state.metrics.add_accepted(protocol, accepted);
        state.metrics.add_rejected(protocol, "invalid_record", rejected.len());
        Ok(Outcome { accepted, rejected })
    }
    .await;
    if let Err(e) = &result {
        state.metrics.add_rejected(protocol, e.code(), 1);
    }
    result
}

#[derive(Clone, Copy, PartialEq)]
enum OtlpFormat {
    Protobuf,
    Json,
}

fn otlp_format(headers: &HeaderMap) -> Result<OtlpFormat, ApiError> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("application/x-protobuf");
    let mime = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match mime.as_str() {
        "application/x-protobuf" | "application/protobuf" => Ok(OtlpFormat::Protobuf),
        "application/json" => Ok(OtlpFormat::Json),
        other => Err(ApiError::UnsupportedMediaType(format!(
            "content type {other:?} is not OTLP: use application/x-protobuf or application/json"
        ))),
    }
}

fn otlp_response(format: OtlpFormat, rejected: &[trawl_ingest::Rejection], logs: bool) -> Response {
    let message = rejected.iter().take(5).map(|r| r.reason.as_str()).collect::<Vec<_>>().join("; ");
    let n = rejected.len() as i64;
    match format {
        OtlpFormat::Json => {
            let body = if n == 0 {
                serde_json::json!({})
            } else if logs {
                serde_json::json!({"partialSuccess": {"rejectedLogRecords": n.to_string(), "errorMessage": message}})
            } else {
                serde_json::json!({"partialSuccess": {"rejectedSpans": n.to_string(), "errorMessage": message}})
            };
            (StatusCode::OK, axum::Json(body)).into_response()
        }
        OtlpFormat::Protobuf => {
            use opentelemetry_proto::tonic::collector::logs::v1::{ExportLogsPartialSuccess, ExportLogsServiceResponse};
            use opentelemetry_proto::tonic::collector::trace::v1::{ExportTracePartialSuccess, ExportTraceServiceResponse};
            let bytes = if logs {
                ExportLogsServiceResponse {
                    partial_success: (n > 0).then_some(ExportLogsPartialSuccess { rejected_log_records: n, error_message: message }),
                }
                .encode_to_vec()
            } else {
                ExportTraceServiceResponse {
                    partial_success: (n > 0).then_some(ExportTracePartialSuccess { rejected_spans: n, error_message: message }),
                }
                .encode_to_vec()
            };
            let mut response = (StatusCode::OK, bytes).into_response();
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-protobuf"));
            response
        }
    }
}

pub async fn otlp_logs(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Result<Response, ApiError> {
    let format = otlp_format(&headers)?;
    let now = now_ns();
    let outcome = ingest_body(&state, "otlp_http", &headers, body, move |b| match format {
        OtlpFormat::Protobuf => trawl_ingest::decode_otlp_logs_protobuf(b, now),
        OtlpFormat::Json => trawl_ingest::decode_otlp_logs_json(b, now),
    })
    .await?;
    Ok(otlp_response(format, &outcome.rejected, true))
}

pub async fn otlp_traces(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Result<Response, ApiError> {
    let format = otlp_format(&headers)?;
    let now = now_ns();
    let outcome = ingest_body(&state, "otlp_http", &headers, body, move |b| match format {
        OtlpFormat::Protobuf => trawl_ingest::decode_otlp_traces_protobuf(b, now),
        OtlpFormat::Json => trawl_ingest::decode_otlp_traces_json(b, now),
    })
    .await?;
    Ok(otlp_response(format, &outcome.rejected, false))
}

/// At most this many rejections are listed one by one; the count is always complete.
const MAX_LISTED_REJECTIONS: usize = 1000;

/// `POST /api/v1/ingest`: NDJSON, one record per line. Good lines are stored even when others
/// are bad; the answer lists every bad line with its reason.
pub async fn ndjson(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Result<Response, ApiError> {
    let now = now_ns();
    let outcome = ingest_body(&state, "ndjson", &headers, body, move |b| Ok(trawl_ingest::decode_ndjson(b, now))).await?;
    let listed: Vec<serde_json::Value> = outcome
        .rejected
        .iter()
        .take(MAX_LISTED_REJECTIONS)
        .map(|r| serde_json::json!({"line": r.line, "reason": r.reason}))
        .collect();
    let body = serde_json::json!({
        "accepted": outcome.accepted,
        "rejected": listed,
        "rejected_count": outcome.rejected.len(),
    });
    let status = if outcome.accepted == 0 && !outcome.rejected.is_empty() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    Ok((status, axum::Json(body)).into_response())
}
