//! Search and trace lookup handlers.

use std::time::Instant;

use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use trawl_model::{attributes_to_json, format_rfc3339, now_ns, Record, Span};

use crate::time_range::parse_time_bound;
use crate::{ApiError, AppState};

#[derive(Debug, Deserialize)]
pub struct SearchParams {
    #[serde(default)]
    pub query: String,
    pub start: Option<serde_json::Value>,
    pub end: Option<serde_json::Value>,
    pub limit: Option<usize>,
}

pub async fn search_get(
    State(state): State<AppState>,
    params: Result<Query<SearchParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::bad_request("invalid_parameters", e.body_text()))?;
    run_search(state, params).await
}

pub async fn search_post(
    State(state): State<AppState>,
    body: Result<Json<SearchParams>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Json(params) = body.map_err(|e| ApiError::bad_request("invalid_body", e.body_text()))?;
    run_search(state, params).await
}

fn bound(value: Option<&serde_json::Value>, name: &str, default: i64, now: i64) -> Result<i64, ApiError> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(default),
        Some(serde_json::Value::String(s)) if s.is_empty() => Ok(default),
        Some(serde_json::Value::String(s)) => parse_time_bound(s, now)
            .ok_or_else(|| ApiError::bad_request("invalid_time", format!("{name} {s:?} is not a time: use RFC 3339, epoch, or a duration such as 15m"))),
        Some(v) => trawl_model::parse_time_value(v)
            .ok_or_else(|| ApiError::bad_request("invalid_time", format!("{name} {v} is not a time"))),
    }
}

async fn run_search(state: AppState, params: SearchParams) -> Result<Json<serde_json::Value>, ApiError> {
    let started = Instant::now();
    let now = now_ns();
    let start = bound(params.start.as_ref(), "start", 0, now)?;
    let end = bound(params.end.as_ref(), "end", i64::MAX, now)?;
    let limit = params.limit.unwrap_or(100);
    if limit > state.limits.max_search_limit {
        return Err(ApiError::bad_request("invalid_limit", format!("limit {limit} exceeds the maximum of {}", state.limits.max_search_limit)));
    }
    let query = trawl_query::parse(&params.query)?;
    let store = state.store.clone();
    let result = tokio::task::spawn_blocking(move || {
        let snapshot = store.snapshot();
        let result = trawl_query::search(&snapshot, &trawl_query::SearchRequest { query: &query, start_ns: start, end_ns: end, limit });
        if let Ok(r) = &result {
            for w in &r.warnings {
                store.report_corrupt(w.clone());
            }
        }
        result
    })
    .await
    .map_err(|e| ApiError::Internal(format!("search task failed: {e}")))??;
    state.metrics.observe_query(started.elapsed().as_secs_f64());
    Ok(Json(serde_json::json!({
        "query": params.query,
        "count": result.records.len(),
        "records": result.records.iter().map(record_json).collect::<Vec<_>>(),
        "stats": result.stats,
        "warnings": result.warnings,
        "took_ms": started.elapsed().as_secs_f64() * 1e3,
    })))
}

pub async fn trace(State(state): State<AppState>, Path(trace_id): Path<String>) -> Result<Json<serde_json::Value>, ApiError> {
    let started = Instant::now();
    let id = trawl_model::normalize_id(&trace_id);
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ApiError::bad_request("invalid_trace_id", format!("{trace_id:?} is not a trace id")));
    }
    let store = state.store.clone();
    let lookup = id.clone();
    let result = tokio::task::spawn_blocking(move || trawl_query::find_trace(&store.snapshot(), &lookup))
        .await
        .map_err(|e| ApiError::Internal(format!("trace task failed: {e}")))?;
    state.metrics.observe_query(started.elapsed().as_secs_f64());
    if result.records.is_empty() && result.spans.is_empty() {
        return Err(ApiError::NotFound(format!("no record or span of trace {id}")));
    }
    let mut services: Vec<&str> =
        result.records.iter().map(|r| r.service.as_str()).chain(result.spans.iter().map(|s| s.service.as_str())).collect();
    services.sort();
    services.dedup();
    let start = result.spans.iter().map(|s| s.start_ns).chain(result.records.iter().map(|r| r.time_ns)).min().unwrap_or(0);
    let end = result
        .spans
        .iter()
        .map(|s| s.start_ns + s.duration_ns)
        .chain(result.records.iter().map(|r| r.time_ns))
        .max()
        .unwrap_or(0);
    Ok(Json(serde_json::json!({
        "trace_id": id,
        "services": services,
        "start": format_rfc3339(start),
        "duration_ns": end - start,
        "spans": result.spans.iter().map(span_json).collect::<Vec<_>>(),
        "records": result.records.iter().map(record_json).collect::<Vec<_>>(),
        "warnings": result.warnings,
        "took_ms": started.elapsed().as_secs_f64() * 1e3,
    })))
}

/// The API form of a record.
pub fn record_json(r: &Record) -> serde_json::Value {
    serde_json::json!({
        "time": format_rfc3339(r.time_ns),
        "time_ns": r.time_ns,
        "observed_time_ns": r.observed_time_ns,
        "service": r.service,
        "environment": r.environment,
        "host": r.host,
        "level": r.level.as_str(),
        "severity_number": r.severity_number,
        "trace_id": r.trace_id,
        "span_id": r.span_id,
        "body": r.body,
        "attributes": attributes_to_json(&r.attributes),
        "resource": attributes_to_json(&r.resource),
    })
}

/// The API form of a span.
pub fn span_json(s: &Span) -> serde_json::Value {
    serde_json::json!({
        "trace_id": s.trace_id,
        "span_id": s.span_id,
        "parent_span_id": s.parent_span_id,
        "service": s.service,
        "environment": s.environment,
        "host": s.host,
        "name": s.name,
        "kind": s.kind.as_str(),
        "start": format_rfc3339(s.start_ns),
        "start_ns": s.start_ns,
        "duration_ns": s.duration_ns,
        "status_code": s.status_code.as_str(),
        "status_message": s.status_message,
        "attributes": attributes_to_json(&s.attributes),
        "resource": attributes_to_json(&s.resource),
        "events": s.events.iter().map(|e| serde_json::json!({"time": format_rfc3339(e.time_ns), "name": e.name, "attributes": attributes_to_json(&e.attributes)})).collect::<Vec<_>>(),
        "links": s.links.iter().map(|l| serde_json::json!({"trace_id": l.trace_id, "span_id": l.span_id, "attributes": attributes_to_json(&l.attributes)})).collect::<Vec<_>>(),
    })
}
