//! Field discovery (`/api/v1/fields`) and saved queries (`/api/v1/saved-queries`).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use trawl_model::now_ns;
use trawl_storage::StoreError;

use crate::query::bound;
use crate::{ApiError, AppState};

/// Records sampled (the newest in the range) to answer field questions while a user types.
const SAMPLE: usize = 5_000;

#[derive(Debug, Deserialize)]
pub struct FieldsParams {
    pub start: Option<String>,
    pub end: Option<String>,
    #[serde(default)]
    pub prefix: String,
    pub limit: Option<usize>,
}

fn range(params: &FieldsParams) -> Result<(i64, i64), ApiError> {
    let now = now_ns();
    let start = bound(params.start.clone().map(serde_json::Value::String).as_ref(), "start", now - 3_600_000_000_000, now)?;
    let end = bound(params.end.clone().map(serde_json::Value::String).as_ref(), "end", now, now)?;
    Ok((start, end))
}

/// `GET /api/v1/fields?start&end`: field names with type and count in a sample of the range
/// (default the last hour).
pub async fn fields(
    State(state): State<AppState>,
    params: Result<Query<FieldsParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::bad_request("invalid_parameters", e.body_text()))?;
    let (start, end) = range(&params)?;
    let store = state.store.clone();
    let report = tokio::task::spawn_blocking(move || trawl_query::discover_fields(&store.snapshot(), start, end, SAMPLE))
        .await
        .map_err(|e| ApiError::Internal(format!("fields task failed: {e}")))??;
    Ok(Json(serde_json::json!({"sampled": report.sampled, "fields": report.fields})))
}

/// `GET /api/v1/fields/{name}/values?prefix&start&end&limit`: top values of a field.
pub async fn field_values(
    State(state): State<AppState>,
    Path(name): Path<String>,
    params: Result<Query<FieldsParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::bad_request("invalid_parameters", e.body_text()))?;
    let (start, end) = range(&params)?;
    let top = params.limit.unwrap_or(20).clamp(1, 1000);
    let store = state.store.clone();
    let field = name.clone();
    let prefix = params.prefix.clone();
    let (sampled, values) =
        tokio::task::spawn_blocking(move || trawl_query::field_values(&store.snapshot(), &field, &prefix, start, end, SAMPLE, top))
            .await
            .map_err(|e| ApiError::Internal(format!("values task failed: {e}")))??;
    Ok(Json(serde_json::json!({
        "field": name,
        "sampled": sampled,
        "values": values.into_iter().map(|(value, count)| serde_json::json!({"value": value, "count": count})).collect::<Vec<_>>(),
    })))
}

#[derive(Debug, Deserialize)]
pub struct SavedQueryBody {
    pub name: String,
    pub query: String,
}

fn validated(body: Result<Json<SavedQueryBody>, axum::extract::rejection::JsonRejection>) -> Result<SavedQueryBody, ApiError> {
    let Json(body) = body.map_err(|e| ApiError::bad_request("invalid_body", e.body_text()))?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::bad_request("invalid_name", "a saved query needs a name of 1 to 200 characters"));
    }
    if body.query.len() > 64 * 1024 {
        return Err(ApiError::bad_request("invalid_query", "a saved query is at most 64 KiB"));
    }
    // Only queries that parse are saved, so opening one never fails later.
    trawl_query::parse(&body.query)?;
    Ok(SavedQueryBody { name: name.to_string(), query: body.query })
}

async fn blocking<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&mut trawl_storage::Metastore) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || store.with_saved_queries(f))
        .await
        .map_err(|e| ApiError::Internal(format!("metastore task failed: {e}")))?
        .map_err(ApiError::from)
}

pub async fn list_saved(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let queries = blocking(&state, |m| m.saved_queries()).await?;
    Ok(Json(serde_json::json!({"saved_queries": queries})))
}

pub async fn get_saved(State(state): State<AppState>, Path(id): Path<i64>) -> Result<Json<serde_json::Value>, ApiError> {
    let found = blocking(&state, move |m| m.saved_query(id)).await?;
    found.map(|q| Json(serde_json::json!(q))).ok_or_else(|| ApiError::NotFound(format!("no saved query {id}")))
}

pub async fn create_saved(
    State(state): State<AppState>,
    body: Result<Json<SavedQueryBody>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let body = validated(body)?;
    let saved = blocking(&state, move |m| m.create_saved_query(&body.name, &body.query)).await?;
    Ok((StatusCode::CREATED, Json(serde_json::json!(saved))))
}

pub async fn update_saved(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    body: Result<Json<SavedQueryBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let body = validated(body)?;
    let updated = blocking(&state, move |m| m.update_saved_query(id, &body.name, &body.query)).await?;
    updated.map(|q| Json(serde_json::json!(q))).ok_or_else(|| ApiError::NotFound(format!("no saved query {id}")))
}

pub async fn delete_saved(State(state): State<AppState>, Path(id): Path<i64>) -> Result<StatusCode, ApiError> {
    if blocking(&state, move |m| m.delete_saved_query(id)).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("no saved query {id}")))
    }
}
