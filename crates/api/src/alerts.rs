//! Alerts and silences over HTTP:
//!
//! - `GET /api/v1/alerts?state=firing,pending&rule=&service=`: alert instances with their
//!   evidence, newest first, each saying whether it is silenced or inhibited;
//! - `GET /api/v1/alerts/{fingerprint}`: one alert and its history;
//! - `POST /api/v1/alerts/{fingerprint}/ack`: `{"by", "comment"}`;
//! - `GET|POST /api/v1/silences`, `DELETE /api/v1/silences/{id}` (expires it).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use trawl_alert::labels::Matcher;
use trawl_model::format_rfc3339;

use crate::alert_rules::{blocking, body};
use crate::{ApiError, AppState};

type JsonBody<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

#[derive(Debug, Deserialize)]
pub struct AlertsParams {
    /// Comma-separated states (firing, pending, resolved); default all.
    pub state: Option<String>,
    pub rule: Option<String>,
    pub service: Option<String>,
    pub limit: Option<usize>,
}

fn times(v: &mut Value, fields: &[&str]) {
    for f in fields {
        if let Some(ns) = v.get(format!("{f}_ns")).and_then(Value::as_i64) {
            v[*f] = Value::String(format_rfc3339(ns));
        }
    }
}

pub(crate) fn alert_json(a: &trawl_alert::AlertView) -> Value {
    let mut v = serde_json::to_value(a).unwrap_or_default();
    times(&mut v, &["active_since", "fired_at", "resolved_at", "last_active", "last_eval"]);
    if let Some(ev) = v.get_mut("evidence").filter(|e| e.is_object()) {
        times(ev, &["computed_at", "window_start", "window_end"]);
    }
    v
}

/// `GET /api/v1/alerts`.
pub async fn list(State(state): State<AppState>, q: Result<Query<AlertsParams>, axum::extract::rejection::QueryRejection>) -> Result<Json<Value>, ApiError> {
    let Query(p) = q.map_err(|e| ApiError::bad_request("invalid_parameters", e.body_text()))?;
    let mut states = Vec::new();
    for s in p.state.as_deref().unwrap_or("").split(',').map(str::trim).filter(|s| !s.is_empty()) {
        states.push(match s {
            "firing" => trawl_alert::state::AlertState::Firing,
            "pending" => trawl_alert::state::AlertState::Pending,
            "resolved" => trawl_alert::state::AlertState::Resolved,
            other => return Err(ApiError::bad_request("invalid_state", format!("state {other:?} is not firing, pending or resolved"))),
        });
    }
    let limit = p.limit.unwrap_or(1_000).clamp(1, 10_000);
    let alerting = state.alerting()?;
    let alerts: Vec<Value> = alerting
        .alerts(&states, p.rule.as_deref())
        .iter()
        .filter(|a| p.service.as_deref().is_none_or(|s| a.instance.labels.get("service").map(String::as_str) == Some(s)))
        .take(limit)
        .map(alert_json)
        .collect();
    Ok(Json(json!({"alerts": alerts})))
}

/// `GET /api/v1/alerts/{fingerprint}`.
pub async fn get(State(state): State<AppState>, Path(fingerprint): Path<String>) -> Result<Json<Value>, ApiError> {
    let (view, events) = blocking(state.alerting()?, move |a| a.alert(&fingerprint)).await?;
    let history: Vec<Value> = events.iter().map(|e| json!({"at": format_rfc3339(e.at_ns), "state": e.state, "value": e.value})).collect();
    Ok(Json(json!({"alert": alert_json(&view), "history": history})))
}

#[derive(Debug, Deserialize)]
pub struct AckBody {
    pub by: String,
    #[serde(default)]
    pub comment: String,
}

/// `POST /api/v1/alerts/{fingerprint}/ack`.
pub async fn ack(State(state): State<AppState>, Path(fingerprint): Path<String>, b: JsonBody<AckBody>) -> Result<Json<Value>, ApiError> {
    let b = body(b)?;
    let view = blocking(state.alerting()?, move |a| a.acknowledge(&fingerprint, &b.by, &b.comment)).await?;
    Ok(Json(alert_json(&view)))
}

fn silence_json(s: &trawl_alert::silence::Silence, status: &str) -> Value {
    json!({
        "id": s.id,
        "matchers": s.matchers.iter().map(|m| m.to_string()).collect::<Vec<_>>(),
        "starts_at": format_rfc3339(s.starts_at_ns),
        "ends_at": format_rfc3339(s.ends_at_ns),
        "created_by": s.created_by,
        "comment": s.comment,
        "created_at": format_rfc3339(s.created_at_ns),
        "status": status,
    })
}

/// `GET /api/v1/silences`.
pub async fn silences(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let list: Vec<Value> = state.alerting()?.silences().iter().map(|(s, status)| silence_json(s, status)).collect();
    Ok(Json(json!({"silences": list})))
}

#[derive(Debug, Deserialize)]
pub struct SilenceBody {
    /// `["service=payment-service", "severity=~warn.*"]`.
    pub matchers: Vec<String>,
    pub starts_at: Option<Value>,
    /// An end time, or give `duration` (`2h`).
    pub ends_at: Option<Value>,
    pub duration: Option<String>,
    pub created_by: String,
    #[serde(default)]
    pub comment: String,
}

/// `POST /api/v1/silences`.
pub async fn add_silence(State(state): State<AppState>, b: JsonBody<SilenceBody>) -> Result<(StatusCode, Json<Value>), ApiError> {
    let b = body(b)?;
    let alerting = state.alerting()?;
    let now = alerting.now_ns();
    if b.matchers.len() > trawl_alert::silence::MAX_MATCHERS {
        return Err(ApiError::bad_request("invalid_silence", format!("at most {} matchers", trawl_alert::silence::MAX_MATCHERS)));
    }
    let mut matchers = Vec::new();
    for m in &b.matchers {
        matchers.push(Matcher::parse(m).map_err(|e| ApiError::bad_request("invalid_matcher", e))?);
    }
    let starts = match &b.starts_at {
        None | Some(Value::Null) => None,
        Some(v) => Some(crate::query::bound(Some(v), "starts_at", now, now)?),
    };
    let ends = match (&b.ends_at, &b.duration) {
        (Some(v), None) => crate::query::bound(Some(v), "ends_at", now, now)?,
        (None, Some(d)) => {
            let ns = trawl_alert::Dur::parse(d).ok_or_else(|| ApiError::bad_request("invalid_duration", format!("{d:?} is not a duration such as 2h")))?;
            starts.unwrap_or(now).checked_add(ns.ns()).ok_or_else(|| ApiError::bad_request("invalid_duration", format!("{d:?} is too long")))?
        }
        _ => return Err(ApiError::bad_request("invalid_silence", "give ends_at or duration")),
    };
    let s = blocking(alerting, move |a| a.add_silence(matchers, starts, ends, &b.created_by, &b.comment)).await?;
    let status = s.status(now);
    Ok((StatusCode::CREATED, Json(silence_json(&s, status))))
}

/// `DELETE /api/v1/silences/{id}`: ends it now.
pub async fn expire_silence(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let alerting = state.alerting()?;
    let now = alerting.now_ns();
    let s = blocking(alerting, move |a| a.expire_silence(&id)).await?;
    Ok(Json(silence_json(&s, s.status(now))))
}
