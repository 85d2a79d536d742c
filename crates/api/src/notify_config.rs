//! Where notifications go, over HTTP:
//!
//! - `GET|POST /api/v1/contact-points`, `GET|PUT|DELETE /api/v1/contact-points/{name}`
//!   (secrets are never shown: they read `<redacted>`, and sent back so they stay);
//! - `POST /api/v1/contact-points/{name}/test`: sends a test notification now;
//! - `GET|PUT /api/v1/policies`: the routing tree and inhibition rules;
//! - `GET /api/v1/notifications?limit=`: the newest notifications and how their delivery went;
//! - `GET /api/v1/slos?service=`: SLOs and their error budgets.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use trawl_alert::contact_point::ContactPointSpec;
use trawl_alert::policy::Policies;

use crate::alert_rules::{blocking, body};
use crate::{ApiError, AppState};

type JsonBody<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

fn contact_point_json(spec: &ContactPointSpec, source: &str, version: i64) -> Value {
    let mut v = serde_json::to_value(spec).unwrap_or_default();
    v["source"] = json!(source);
    v["version"] = json!(version);
    v
}

/// `GET /api/v1/contact-points`.
pub async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let items: Vec<Value> = state.alerting()?.contact_points().iter().map(|(s, src, v)| contact_point_json(s, src, *v)).collect();
    Ok(Json(json!({"contact_points": items, "kinds": trawl_alert::contact_point::Channel::KINDS})))
}

/// `GET /api/v1/contact-points/{name}`.
pub async fn get(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<Value>, ApiError> {
    let (s, src, v) = state.alerting()?.contact_point(&name)?;
    Ok(Json(contact_point_json(&s, &src, v)))
}

/// `POST /api/v1/contact-points`.
pub async fn create(State(state): State<AppState>, b: JsonBody<ContactPointSpec>) -> Result<(StatusCode, Json<Value>), ApiError> {
    let spec = body(b)?;
    let (shown, version) = blocking(state.alerting()?, move |a| a.put_contact_point(spec, false)).await?;
    Ok((StatusCode::CREATED, Json(contact_point_json(&shown, trawl_alert::API_SOURCE, version))))
}

/// `PUT /api/v1/contact-points/{name}`.
pub async fn update(State(state): State<AppState>, Path(name): Path<String>, b: JsonBody<ContactPointSpec>) -> Result<Json<Value>, ApiError> {
    let spec = body(b)?;
    if spec.name != name {
        return Err(ApiError::bad_request("invalid_name", format!("the contact point in the body is named {:?}, the path says {name:?}", spec.name)));
    }
    let (shown, version) = blocking(state.alerting()?, move |a| a.put_contact_point(spec, true)).await?;
    Ok(Json(contact_point_json(&shown, trawl_alert::API_SOURCE, version)))
}

/// `DELETE /api/v1/contact-points/{name}`.
pub async fn delete(State(state): State<AppState>, Path(name): Path<String>) -> Result<StatusCode, ApiError> {
    blocking(state.alerting()?, move |a| a.delete_contact_point(&name)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/contact-points/{name}/test`: 200 when the receiver took it, else 409 with its
/// answer.
pub async fn test(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<Value>, ApiError> {
    let alerting = state.alerting()?.clone();
    alerting.test_contact_point(&name).await?;
    Ok(Json(json!({"delivered": true, "contact_point": name})))
}

/// `GET /api/v1/policies`.
pub async fn policies(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let (p, source) = state.alerting()?.policies();
    Ok(Json(json!({"policies": p, "source": source})))
}

/// `PUT /api/v1/policies`.
pub async fn put_policies(State(state): State<AppState>, b: JsonBody<Policies>) -> Result<Json<Value>, ApiError> {
    let p = body(b)?;
    blocking(state.alerting()?, move |a| a.put_policies(p)).await?;
    let (p, source) = state.alerting()?.policies();
    Ok(Json(json!({"policies": p, "source": source})))
}

#[derive(Debug, Deserialize)]
pub struct LimitParams {
    pub limit: Option<usize>,
    pub service: Option<String>,
}

/// `GET /api/v1/notifications`.
pub async fn notifications(State(state): State<AppState>, q: Result<Query<LimitParams>, axum::extract::rejection::QueryRejection>) -> Result<Json<Value>, ApiError> {
    let Query(p) = q.map_err(|e| ApiError::bad_request("invalid_parameters", e.body_text()))?;
    let limit = p.limit.unwrap_or(100).clamp(1, 1_000);
    let items = blocking(state.alerting()?, move |a| a.notifications(limit)).await?;
    Ok(Json(json!({"notifications": items})))
}

/// `GET /api/v1/slos`.
pub async fn slos(State(state): State<AppState>, q: Result<Query<LimitParams>, axum::extract::rejection::QueryRejection>) -> Result<Json<Value>, ApiError> {
    let Query(p) = q.map_err(|e| ApiError::bad_request("invalid_parameters", e.body_text()))?;
    let items: Vec<Value> = state
        .alerting()?
        .slos()
        .into_iter()
        .filter(|(_, s)| p.service.as_deref().is_none_or(|svc| s.service == svc))
        .map(|(rule, s)| {
            let mut v = serde_json::to_value(&s).unwrap_or_default();
            v["rule"] = json!(rule);
            v["computed_at"] = json!(trawl_model::format_rfc3339(s.computed_at_ns));
            v
        })
        .collect();
    Ok(Json(json!({"slos": items})))
}
