//! Search and trace lookup handlers.

use std::time::Instant;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
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

/// A time bound of a request (RFC 3339, epoch, or a duration ago such as `15m`), or `default`.
pub(crate) fn bound(value: Option<&serde_json::Value>, name: &str, default: i64, now: i64) -> Result<i64, ApiError> {
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
    admit_query(&state, &params.query)?;
    let now = now_ns();
    let limit = params.limit.unwrap_or(100);
    if limit > state.limits.max_search_limit {
        return Err(ApiError::bad_request("invalid_limit", format!("limit {limit} exceeds the maximum of {}", state.limits.max_search_limit)));
    }
    let query = trawl_query::parse(&params.query)?;
    if let Some(pipe) = query.pipes.first() {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("/api/v1/search returns records only; send queries with pipes (here \"| {}\") to /api/v1/query", pipe.name()),
        ));
    }
    let (start, end) = query.effective_range(
        bound(params.start.as_ref(), "start", 0, now)?,
        bound(params.end.as_ref(), "end", i64::MAX, now)?,
        now,
    );
    let store = state.store.clone();
    let timeout = state.limits.query_timeout;
    let result = tokio::task::spawn_blocking(move || {
        let snapshot = store.snapshot();
        let result = trawl_query::search(&snapshot, &trawl_query::SearchRequest { query: &query, start_ns: start, end_ns: end, limit, timeout: Some(timeout) });
        if let Ok(r) = &result {
            for w in &r.warnings {
                store.report_corrupt(w.clone());
            }
        }
        result
    })
    .await
    .map_err(|e| ApiError::Internal(format!("search task failed: {e}")))?
    .map_err(|e| match e {
        trawl_query::QueryError::Timeout => timed_out(timeout),
        other => other.into(),
    })?;
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

#[derive(Debug, Deserialize)]
pub struct QueryParams {
    #[serde(default)]
    pub query: String,
    pub start: Option<serde_json::Value>,
    pub end: Option<serde_json::Value>,
    /// Most rows in the answer (default 1,000; at most the server's search limit).
    pub limit: Option<usize>,
    /// Shorter time limit than the server's, as a duration such as `5s`.
    pub timeout: Option<String>,
}

pub async fn query_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<QueryParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::bad_request("invalid_parameters", e.body_text()))?;
    run_query(state, &headers, params).await
}

pub async fn query_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<QueryParams>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(params) = body.map_err(|e| ApiError::bad_request("invalid_body", e.body_text()))?;
    run_query(state, &headers, params).await
}

/// Sets the flag when dropped: the handler future is dropped when the client goes away, and the
/// query running on a blocking thread stops at its next check.
pub(crate) struct CancelOnDrop(pub(crate) Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A running-query slot, waiting at most `patience`; 503 with `Retry-After` when none frees up.
pub(crate) async fn query_slot(gate: &crate::state::QueryGate, patience: std::time::Duration) -> Result<tokio::sync::SemaphorePermit<'_>, ApiError> {
    gate.enter(patience).await.ok_or_else(|| ApiError::Unavailable("too many queries are running or waiting; retry shortly".into()))
}

/// Refuses a query text over `max_query_bytes` (413), and any query while the server's memory
/// is near its cap (503 with `Retry-After`), before anything parses it.
pub(crate) fn admit_query(state: &AppState, text: &str) -> Result<(), ApiError> {
    let max = state.limits.max_query_bytes;
    if text.len() > max {
        return Err(ApiError::PayloadTooLarge(format!("the query is {} bytes, over the limit of {max} bytes (max_query_bytes)", text.len())));
    }
    trawl_model::memory::pressure(QUERY_ADMISSION_SHARE).map_err(|p| ApiError::Unavailable(p.0))
}

/// New queries are refused once the heap is over this share of `max_memory`.
const QUERY_ADMISSION_SHARE: f64 = 0.8;

/// The memory a query may hold: its cap, or less when the process is near its own.
pub(crate) fn query_memory(state: &AppState) -> usize {
    let cap = trawl_model::memory::cap();
    match trawl_model::memory::allocated() {
        Some(now) if cap != usize::MAX => state.limits.query_memory_bytes.min((cap.saturating_sub(now) / 2).max(1 << 20)),
        _ => state.limits.query_memory_bytes,
    }
}

/// The 504 of a query that ran out of time, naming its limit.
pub(crate) fn timed_out(timeout: std::time::Duration) -> ApiError {
    ApiError::QueryTimeout(format!(
        "the query ran longer than its time limit of {:.1} s (query_timeout, or the request's timeout); narrow the time range or the search",
        timeout.as_secs_f64()
    ))
}

/// `/api/v1/query`: the search part and pipes, under the time, memory and concurrency limits.
async fn run_query(state: AppState, headers: &HeaderMap, params: QueryParams) -> Result<Response, ApiError> {
    let started = Instant::now();
    admit_query(&state, &params.query)?;
    let now = now_ns();
    let max = state.limits.max_query_rows;
    let limit = params.limit.unwrap_or(1_000);
    if limit > max {
        return Err(ApiError::bad_request("invalid_limit", format!("limit {limit} exceeds the maximum of {max}")));
    }
    let mut timeout = state.limits.query_timeout;
    if let Some(t) = params.timeout.as_deref().filter(|t| !t.is_empty()) {
        let ns = crate::parse_duration_ns(t)
            .ok_or_else(|| ApiError::bad_request("invalid_timeout", format!("timeout {t:?} is not a duration such as 5s")))?;
        timeout = timeout.min(std::time::Duration::from_nanos(ns.max(0) as u64));
    }
    if trawl_query::is_sql(&params.query) {
        return run_sql(state, headers, params, limit, timeout, started).await;
    }
    let query = trawl_query::parse(&params.query)?;
    let (start, end) = query.effective_range(
        bound(params.start.as_ref(), "start", 0, now)?,
        bound(params.end.as_ref(), "end", i64::MAX, now)?,
        now,
    );
    let gate = state.query_gate.clone();
    let _slot = query_slot(&gate, timeout).await?;
    let cancel = Arc::new(AtomicBool::new(false));
    let _guard = CancelOnDrop(cancel.clone());
    let store = state.store.clone();
    let limits = trawl_query::QueryLimits { timeout: timeout.saturating_sub(started.elapsed()), memory_bytes: query_memory(&state) };
    let result = tokio::task::spawn_blocking(move || {
        let snapshot = store.snapshot();
        let request = trawl_query::QueryRequest { query: &query, start_ns: start, end_ns: end, limit, limits, cancel: Some(&cancel) };
        let result = trawl_query::run_query(&snapshot, &request);
        if let Ok(r) = &result {
            for w in &r.warnings {
                store.report_corrupt(w.clone());
            }
        }
        result
    })
    .await
    .map_err(|e| ApiError::Internal(format!("query task failed: {e}")))?
    .map_err(|e| match e {
        trawl_query::QueryError::Timeout => timed_out(timeout),
        other => other.into(),
    })?;
    state.metrics.observe_query(started.elapsed().as_secs_f64());

    Ok(query_response(headers, &params.query, start, end, result, started))
}

/// SQL: planned and run by DataFusion on the reactor's threads, bounded by the timeout, and
/// cancelled by dropping its future when the client goes away.
async fn run_sql(
    state: AppState,
    headers: &HeaderMap,
    params: QueryParams,
    limit: usize,
    timeout: std::time::Duration,
    started: Instant,
) -> Result<Response, ApiError> {
    let now = now_ns();
    let start = bound(params.start.as_ref(), "start", 0, now)?;
    let end = bound(params.end.as_ref(), "end", i64::MAX, now)?;
    let gate = state.query_gate.clone();
    let _slot = query_slot(&gate, timeout).await?;
    let snapshot = state.store.snapshot();
    let limits = trawl_query::QueryLimits { timeout, memory_bytes: query_memory(&state) };
    let sql = params.query.clone();
    let work = async move {
        let request = trawl_query::SqlRequest { sql: &sql, start_ns: start, end_ns: end, limit, limits };
        trawl_query::run_sql(&snapshot, &request).await
    };
    let remaining = timeout.saturating_sub(started.elapsed());
    let result = crate::query_runtime::run_with_deadline(work, remaining).await.ok_or_else(|| timed_out(timeout))??;
    state.metrics.observe_query(started.elapsed().as_secs_f64());
    Ok(query_response(headers, &params.query, start, end, result, started))
}

/// The answer of `/api/v1/query`: JSON with the schema and stats, or NDJSON when asked for.
fn query_response(headers: &HeaderMap, query: &str, start: i64, end: i64, result: trawl_query::QueryResult, started: Instant) -> Response {
    let wants_ndjson = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/x-ndjson"));
    if wants_ndjson {
        return ndjson_response(result);
    }
    let mut answer = serde_json::json!({
        "query": query,
        "start": (start > 0).then(|| format_rfc3339(start)),
        "end": (end < i64::MAX).then(|| format_rfc3339(end)),
        "truncated": result.truncated,
        "stats": result.stats,
        "warnings": result.warnings,
    });
    match &result.output {
        trawl_query::QueryOutput::Records(records) => {
            answer["kind"] = "records".into();
            answer["count"] = records.len().into();
            answer["records"] = records.iter().map(record_json).collect();
        }
        trawl_query::QueryOutput::Table(table) => {
            answer["kind"] = "table".into();
            answer["count"] = table.rows.len().into();
            answer["columns"] = serde_json::json!(table.schema());
            answer["rows"] = table.rows.iter().map(|r| r.iter().map(trawl_query::Value::to_json).collect::<Vec<_>>()).collect();
        }
    }
    answer["took_ms"] = serde_json::json!(started.elapsed().as_secs_f64() * 1e3);
    Json(answer).into_response()
}

/// One JSON object per line: records as `/api/v1/search` gives them, table rows keyed by column.
/// Sent in chunks so a large answer is never one buffer.
fn ndjson_response(result: trawl_query::QueryResult) -> Response {
    let lines: Vec<serde_json::Value> = match result.output {
        trawl_query::QueryOutput::Records(records) => records.iter().map(record_json).collect(),
        trawl_query::QueryOutput::Table(table) => table
            .rows
            .iter()
            .map(|r| {
                let object: serde_json::Map<String, serde_json::Value> =
                    table.columns.iter().cloned().zip(r.iter().map(trawl_query::Value::to_json)).collect();
                serde_json::Value::Object(object)
            })
            .collect(),
    };
    let rows = lines.len();
    let chunks: Vec<Result<Bytes, std::io::Error>> = lines
        .chunks(512)
        .map(|chunk| {
            let mut buf = Vec::new();
            for line in chunk {
                // Serialising a Value into a Vec cannot fail.
                let _ = serde_json::to_writer(&mut buf, line);
                buf.push(b'\n');
            }
            Ok(Bytes::from(buf))
        })
        .collect();
    let mut response = Response::new(Body::from_stream(futures_util::stream::iter(chunks)));
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"));
    h.insert("x-trawl-rows", HeaderValue::from(rows));
    h.insert("x-trawl-truncated", HeaderValue::from_static(if result.truncated { "true" } else { "false" }));
    response
}

#[derive(Debug, Deserialize)]
pub struct TraceParams {
    /// Spans per page (default 10,000): a huge trace is answered as a summary plus a page.
    pub limit: Option<usize>,
    pub offset: Option<usize>,
}

pub async fn trace(
    State(state): State<AppState>,
    Path(trace_id): Path<String>,
    params: Result<Query<TraceParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let started = Instant::now();
    let Query(params) = params.map_err(|e| ApiError::bad_request("invalid_parameters", e.body_text()))?;
    let id = trawl_model::normalize_id(&trace_id);
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ApiError::bad_request("invalid_trace_id", format!("{trace_id:?} is not a trace id")));
    }
    let limit = params.limit.unwrap_or(10_000).clamp(1, 100_000);
    let offset = params.offset.unwrap_or(0);
    let store = state.store.clone();
    let lookup = id.clone();
    let (trace, warnings) = tokio::task::spawn_blocking(move || {
        let found = trawl_query::find_trace(&store.snapshot(), &lookup);
        (trawl_trace::assemble(&lookup, found.spans, found.records), found.warnings)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("trace task failed: {e}")))?;
    state.metrics.observe_query(started.elapsed().as_secs_f64());
    if trace.nodes.is_empty() && trace.records.is_empty() {
        return Err(ApiError::NotFound(format!("no record or span of trace {id}")));
    }
    let mut answer = assembled_trace_json(&trace, offset, limit);
    answer["warnings"] = serde_json::json!(warnings.into_iter().chain(trace.warnings.iter().cloned()).collect::<Vec<_>>());
    answer["took_ms"] = serde_json::json!(started.elapsed().as_secs_f64() * 1e3);
    Ok(Json(answer))
}

/// The API form of an assembled trace: a summary (always whole) and one page of spans in
/// waterfall order, each with its place in the tree.
pub fn assembled_trace_json(t: &trawl_trace::AssembledTrace, offset: usize, limit: usize) -> serde_json::Value {
    let span_id = |i: usize| t.nodes[i].span.span_id.clone();
    let page: Vec<serde_json::Value> = t
        .nodes
        .iter()
        .enumerate()
        .skip(offset)
        .take(limit)
        .map(|(i, n)| {
            let mut v = span_json(&n.span);
            v["index"] = serde_json::json!(i);
            v["parent_index"] = serde_json::json!(n.parent);
            v["depth"] = serde_json::json!(n.depth);
            v["offset_ns"] = serde_json::json!(n.offset_ns);
            v["self_time_ns"] = serde_json::json!(n.self_time_ns);
            v["children"] = serde_json::json!(n.children.len());
            v["orphan"] = serde_json::json!(n.orphan);
            v["clock_skew_ns"] = serde_json::json!(n.clock_skew_ns);
            v["duplicate"] = serde_json::json!(n.duplicate);
            v["error"] = serde_json::json!(n.is_error());
            v["on_critical_path"] = serde_json::json!(n.on_critical_path);
            v["root_cause"] = serde_json::json!(t.root_cause.as_ref().is_some_and(|rc| rc.node == i));
            v["records"] = serde_json::json!(n.records);
            v
        })
        .collect();
    let mut errors_by_service: std::collections::BTreeMap<&str, (usize, usize)> = Default::default();
    for n in &t.nodes {
        let e = errors_by_service.entry(n.span.service.as_str()).or_default();
        e.0 += 1;
        if n.is_error() {
            e.1 += 1;
        }
    }
    serde_json::json!({
        "trace_id": t.trace_id,
        "services": t.services,
        "start": format_rfc3339(t.start_ns),
        "start_ns": t.start_ns,
        "duration_ns": t.duration_ns,
        "span_count": t.nodes.len(),
        "record_count": t.records.len(),
        "spans_by_service": errors_by_service.iter().map(|(s, (n, e))| serde_json::json!({"service": s, "spans": n, "errors": e})).collect::<Vec<_>>(),
        "root_cause": t.root_cause.as_ref().map(|rc| serde_json::json!({
            "span_id": span_id(rc.node),
            "index": rc.node,
            "service": t.nodes[rc.node].span.service,
            "name": t.nodes[rc.node].span.name,
            "kind": rc.kind,
            "error_kind": rc.error_kind,
            "reason": rc.reason,
        })),
        "critical_path": t.critical_path.iter().map(|&i| span_id(i)).collect::<Vec<_>>(),
        "error_spans": t.error_spans.iter().map(|&i| span_id(i)).collect::<Vec<_>>(),
        "page": {"offset": offset, "limit": limit, "spans": page.len(), "more": offset + page.len() < t.nodes.len()},
        "spans": page,
        "records": t.records.iter().map(record_json).collect::<Vec<_>>(),
        "unattached_records": t.unattached_records,
    })
}

/// The window of an analysis: `start` and `end` as the search API takes them, by default the
/// last 15 minutes.
fn analysis_window(start: Option<String>, end: Option<String>) -> Result<(i64, i64), ApiError> {
    let now = now_ns();
    let start = bound(start.map(serde_json::Value::String).as_ref(), "start", now - 15 * 60 * 1_000_000_000, now)?;
    let end = bound(end.map(serde_json::Value::String).as_ref(), "end", now, now)?;
    Ok((start, end))
}

#[derive(Debug, Deserialize)]
pub struct RootCauseParams {
    #[serde(default)]
    pub query: String,
    pub start: Option<String>,
    pub end: Option<String>,
    pub max_traces: Option<usize>,
}

/// `GET /api/v1/rootcause`: the ranked causes of the failing traces of a window (default the
/// last 15 minutes) against a baseline (the same time last week when there is data, else the
/// window before).
pub async fn rootcause(
    State(state): State<AppState>,
    params: Result<Query<RootCauseParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let started = Instant::now();
    let Query(params) = params.map_err(|e| ApiError::bad_request("invalid_parameters", e.body_text()))?;
    admit_query(&state, &params.query)?;
    let (start, end) = analysis_window(params.start, params.end)?;
    let query = trawl_query::parse(&params.query)?;
    let max_traces = params.max_traces.unwrap_or(1_000).clamp(1, 20_000);
    let store = state.store.clone();
    let report = tokio::task::spawn_blocking(move || {
        trawl_query::root_cause(&store, &trawl_query::RootCauseRequest { query: &query, start_ns: start, end_ns: end, max_traces, service: None })
    })
    .await
    .map_err(|e| ApiError::Internal(format!("root cause task failed: {e}")))??;
    state.metrics.observe_query(started.elapsed().as_secs_f64());
    let causes: Vec<serde_json::Value> = report.causes.iter().map(finding_json).collect();
    let timeline: Vec<serde_json::Value> = report
        .timeline
        .iter()
        .map(|e| {
            serde_json::json!({
                "time": format_rfc3339(e.time_ns),
                "kind": e.kind,
                "service": e.service,
                "operation": e.operation,
                "detail": e.detail,
            })
        })
        .collect();
    Ok(Json(serde_json::json!({
        "query": params.query,
        "start": format_rfc3339(report.start_ns),
        "end": format_rfc3339(report.end_ns),
        "baseline_start": format_rfc3339(report.baseline_start_ns),
        "baseline_end": format_rfc3339(report.baseline_end_ns),
        "baseline_kind": report.baseline_kind,
        "unusual": report.unusual,
        "summary": report.summary,
        "failing_traces": report.failing_traces,
        "analysed_traces": report.analysed_traces,
        "baseline_failing_traces": report.baseline_failing_traces,
        "causes": causes,
        "timeline": timeline,
        "warnings": report.warnings,
        "phases": report.phases.iter().map(|(name, ms)| (name.to_string(), serde_json::json!(ms))).collect::<serde_json::Map<_, _>>(),
        "took_ms": started.elapsed().as_secs_f64() * 1e3,
    })))
}

#[derive(Debug, Deserialize)]
pub struct SlowParams {
    pub start: Option<String>,
    pub end: Option<String>,
    pub limit: Option<usize>,
}

/// `GET /api/v1/slow`: the operations (and database statements) that take the time in a window
/// (default the last 15 minutes) and how their latency changed against the window before.
pub async fn slow(
    State(state): State<AppState>,
    params: Result<Query<SlowParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let started = Instant::now();
    let Query(params) = params.map_err(|e| ApiError::bad_request("invalid_parameters", e.body_text()))?;
    let (start, end) = analysis_window(params.start, params.end)?;
    if start >= end {
        return Err(ApiError::bad_request("invalid_range", "start must be before end"));
    }
    let limit = params.limit.unwrap_or(50).clamp(1, 1_000);
    let store = state.store.clone();
    let report = tokio::task::spawn_blocking(move || trawl_query::slow_operations(&store.snapshot(), &trawl_query::SlowRequest { start_ns: start, end_ns: end, limit }))
        .await
        .map_err(|e| ApiError::Internal(format!("slow operations task failed: {e}")))?;
    state.metrics.observe_query(started.elapsed().as_secs_f64());
    Ok(Json(serde_json::json!({
        "start": format_rfc3339(report.start_ns),
        "end": format_rfc3339(report.end_ns),
        "baseline_start": format_rfc3339(report.baseline_start_ns),
        "baseline_end": format_rfc3339(report.baseline_end_ns),
        "operations": report.operations,
        "spans": report.spans,
        "sampled": report.sampled,
        "warnings": report.warnings,
        "took_ms": started.elapsed().as_secs_f64() * 1e3,
    })))
}

/// The API form of one cause: the fields of the first version, then the evidence.
fn finding_json(c: &trawl_query::Finding) -> serde_json::Value {
    let anomaly = |a: &trawl_query::Anomaly| {
        serde_json::json!({
            "service": a.service,
            "operation": a.operation,
            "kind": a.kind,
            "change": a.change,
            "score": a.z,
            "window": a.window,
            "baseline": a.baseline,
            "step": a.step_ns.map(format_rfc3339),
        })
    };
    serde_json::json!({
        "service": c.service,
        "operation": c.operation,
        "error_kind": c.error_kind,
        "traces": c.traces,
        "share": c.share,
        "first_seen": format_rfc3339(c.first_seen_ns),
        "last_seen": format_rfc3339(c.last_seen_ns),
        "example_trace_id": c.example_trace_id,
        "reason": c.example_reason,
        "top_messages": c.top_messages.iter().map(|(m, n)| serde_json::json!({"message": m, "count": n})).collect::<Vec<_>>(),
        "versions": c.versions.iter().map(|(v, n)| serde_json::json!({"version": v, "count": n})).collect::<Vec<_>>(),
        "version_specific": c.version_specific,
        "baseline_traces": c.baseline_traces,
        "status": c.status,
        "change": c.change,
        "score": c.score,
        "window": c.window,
        "baseline": c.baseline,
        "via": c.via,
        "explains": c.explains.iter().take(10).map(anomaly).collect::<Vec<_>>(),
        "patterns": c.patterns.iter().map(|p| serde_json::json!({
            "template": p.template,
            "sample": p.sample,
            "window": p.window,
            "baseline": p.baseline,
            "score": p.z,
            "changed": p.changed,
            "born": p.born_ns.map(format_rfc3339),
            "operation": p.operation,
            "example_trace_id": p.example_trace_id,
        })).collect::<Vec<_>>(),
    })
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
        // Per service, given at ingest; 0 when none (records older than pattern ids).
        "pattern_id": r.pattern_id,
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
