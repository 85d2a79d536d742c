//! `GET /api/v1/patterns`: the log patterns of a window, each compared with the window of the
//! same length just before it (new or not, and how much its rate changed).

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Query, State};
use axum::Json;
use trawl_model::{format_rfc3339, now_ns};
use trawl_query::{QueryOutput, Table, Value};

use crate::query::{bound, CancelOnDrop};
use crate::{ApiError, AppState};

/// Default window when `start` is not given: the last hour.
const DEFAULT_WINDOW_NS: i64 = 3_600_000_000_000;

/// The same parameters as a search.
pub type PatternsParams = crate::query::SearchParams;

/// The patterns of the matches of `query` in `start..=end` (default: the last hour), most
/// frequent first, with for each `new` (absent from the previous window of the same length)
/// and `rate_change` (count in the window / count in the previous window, null when new).
pub async fn patterns(
    State(state): State<AppState>,
    params: Result<Query<PatternsParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::bad_request("invalid_parameters", e.body_text()))?;
    let started = Instant::now();
    let now = now_ns();
    let max = state.limits.max_search_limit;
    let limit = params.limit.unwrap_or(100);
    if limit > max {
        return Err(ApiError::bad_request("invalid_limit", format!("limit {limit} exceeds the maximum of {max}")));
    }
    crate::query::admit_query(&state, &params.query)?;
    let mut query = trawl_query::parse(&params.query)?;
    if let Some(pipe) = query.pipes.iter().find(|p| !matches!(p, trawl_query::Pipe::Where(_))) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("/api/v1/patterns takes a search and `where` pipes only (here \"| {}\"); the patterns pipe is added", pipe.name()),
        ));
    }
    query.pipes.push(trawl_query::Pipe::Patterns);
    let end = bound(params.end.as_ref(), "end", now, now)?;
    let start = bound(params.start.as_ref(), "start", end.saturating_sub(DEFAULT_WINDOW_NS), now)?;
    let (start, end) = query.effective_range(start, end, now);
    if start > end {
        return Err(ApiError::bad_request("invalid_time", "start is after end".to_string()));
    }
    // The previous window: the same length, ending just before `start`.
    let length = end.saturating_sub(start).saturating_add(1);
    let previous_end = start.saturating_sub(1);
    let previous_start = start.saturating_sub(length);

    let timeout = state.limits.query_timeout;
    let gate = state.query_gate.clone();
    let _slot = crate::query::query_slot(&gate, timeout).await?;
    let cancel = Arc::new(AtomicBool::new(false));
    let _guard = CancelOnDrop(cancel.clone());
    let store = state.store.clone();
    let memory_bytes = state.limits.query_memory_bytes;
    let (current, previous, warnings) = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        // One snapshot for both windows, so a pattern cannot move between them mid-request.
        let snapshot = store.snapshot();
        let mut warnings = Vec::new();
        let mut window = |start_ns: i64, end_ns: i64, limit: usize| -> Result<Table, ApiError> {
            let limits = trawl_query::QueryLimits { timeout: timeout.saturating_sub(started.elapsed()), memory_bytes };
            let request = trawl_query::QueryRequest { query: &query, start_ns, end_ns, limit, limits, cancel: Some(&cancel) };
            let result = trawl_query::run_query(&snapshot, &request)?;
            for w in &result.warnings {
                store.report_corrupt(w.clone());
            }
            warnings.extend(result.warnings);
            match result.output {
                QueryOutput::Table(t) => Ok(t),
                QueryOutput::Records(_) => Err(ApiError::Internal("the patterns pipe gave records".into())),
            }
        };
        let current = window(start, end, limit)?;
        // Every pattern of the previous window, so that `new` is never a cut-off artefact.
        let previous = window(previous_start, previous_end, max)?;
        Ok((current, previous, warnings))
    })
    .await
    .map_err(|e| ApiError::Internal(format!("patterns task failed: {e}")))??;
    state.metrics.observe_query(started.elapsed().as_secs_f64());

    let column = |t: &Table, name: &str| t.columns.iter().position(|c| c == name);
    let (Some(c_pattern), Some(c_count)) = (column(&current, "pattern"), column(&current, "count")) else {
        return Err(ApiError::Internal("the patterns table lacks its columns".into()));
    };
    let (Some(p_pattern), Some(p_count)) = (column(&previous, "pattern"), column(&previous, "count")) else {
        return Err(ApiError::Internal("the patterns table lacks its columns".into()));
    };
    let previous_counts: std::collections::HashMap<String, i64> = previous
        .rows
        .iter()
        .filter_map(|r| match (&r[p_pattern], &r[p_count]) {
            (Value::Str(p), Value::Int(n)) => Some((p.clone(), *n)),
            _ => None,
        })
        .collect();
    let patterns: Vec<serde_json::Value> = current
        .rows
        .iter()
        .map(|row| {
            let mut item = serde_json::Map::new();
            for (name, value) in current.columns.iter().zip(row) {
                let json = match (name.as_str(), value) {
                    ("services", Value::Str(s)) => s.split(", ").filter(|s| !s.is_empty()).map(serde_json::Value::from).collect(),
                    ("trend", Value::Str(s)) => s.split(',').filter_map(|n| n.parse::<u64>().ok()).map(serde_json::Value::from).collect(),
                    _ => value.to_json(),
                };
                item.insert(name.clone(), json);
            }
            let count = if let Value::Int(n) = row[c_count] { n } else { 0 };
            let before = match &row[c_pattern] {
                Value::Str(p) => previous_counts.get(p).copied(),
                _ => None,
            };
            item.insert("new".into(), before.is_none().into());
            item.insert("previous_count".into(), before.unwrap_or(0).into());
            let change = before.filter(|&b| b > 0).map(|b| count as f64 / b as f64);
            item.insert("rate_change".into(), change.and_then(serde_json::Number::from_f64).map_or(serde_json::Value::Null, serde_json::Value::Number));
            serde_json::Value::Object(item)
        })
        .collect();
    Ok(Json(serde_json::json!({
        "query": params.query,
        "start": format_rfc3339(start),
        "end": format_rfc3339(end),
        "previous_start": format_rfc3339(previous_start),
        "previous_end": format_rfc3339(previous_end),
        "trend_buckets": 12,
        "count": patterns.len(),
        "patterns": patterns,
        "warnings": warnings,
        "took_ms": started.elapsed().as_secs_f64() * 1e3,
    })))
}
