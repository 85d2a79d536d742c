//! Alert rules over HTTP:
//!
//! - `GET /api/v1/rules`: every rule with its source, version, health and alert counts, and the
//!   problems of the last refused file reload;
//! - `POST /api/v1/rules`, `GET|PUT|DELETE /api/v1/rules/{name}`: rules made through the API
//!   (rules from files are changed in their files);
//! - `GET /api/v1/rules/{name}/history`: the rule's recent evaluations (for its chart);
//! - `GET /api/v1/rules/{name}/versions`: every version of the rule;
//! - `POST /api/v1/rules/validate`: checks a rule and, with `dry_run`, evaluates it now;
//! - `POST /api/v1/rules/preview`: what it would have fired over the last hours;
//! - `POST /api/v1/rules/reload`: reads the rule files again (also on SIGHUP).
//!
//! Every check is the same one files go through: problems name the field and, in queries and
//! conditions, the column.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use trawl_alert::{Alerting, RuleSpec};
use trawl_model::format_rfc3339;

use crate::{ApiError, AppState};

type JsonBody<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

/// A JSON body, or 400 naming what is wrong with it.
pub(crate) fn body<T>(b: JsonBody<T>) -> Result<T, ApiError> {
    b.map(|Json(v)| v).map_err(|e| ApiError::bad_request("invalid_body", e.body_text()))
}

/// Runs blocking alerting work (it reads the store) off the reactor.
pub(crate) async fn blocking<T: Send + 'static>(
    alerting: &Arc<Alerting>,
    f: impl FnOnce(&Alerting) -> Result<T, trawl_alert::AlertError> + Send + 'static,
) -> Result<T, ApiError> {
    let a = alerting.clone();
    tokio::task::spawn_blocking(move || f(&a)).await.map_err(|e| ApiError::Internal(format!("alerting task failed: {e}")))?.map_err(ApiError::from)
}

fn time(ns: Option<i64>) -> Value {
    ns.map(format_rfc3339).map_or(Value::Null, Value::String)
}

pub(crate) fn rule_json(view: &trawl_alert::RuleView) -> Value {
    let mut v = serde_json::to_value(view).unwrap_or_default();
    let h = &view.health;
    v["health"]["last_eval"] = time(h.last_eval_ns);
    v["health"]["next_eval"] = time(h.next_eval_ns);
    v
}

pub(crate) fn eval_points_json(points: &[trawl_alert::EvalPoint]) -> Value {
    Value::Array(
        points
            .iter()
            .map(|p| {
                let mut v = serde_json::to_value(p).unwrap_or_default();
                v["at"] = Value::String(format_rfc3339(p.at_ns));
                v
            })
            .collect(),
    )
}

/// `GET /api/v1/rules`.
pub async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let alerting = state.alerting()?;
    let rules: Vec<Value> = alerting.rules().iter().map(rule_json).collect();
    Ok(Json(json!({"rules": rules, "file_problems": alerting.file_problems()})))
}

/// `GET /api/v1/rules/{name}`.
pub async fn get(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<Value>, ApiError> {
    Ok(Json(rule_json(&state.alerting()?.rule(&name)?)))
}

/// `POST /api/v1/rules`.
pub async fn create(State(state): State<AppState>, b: JsonBody<RuleSpec>) -> Result<(StatusCode, Json<Value>), ApiError> {
    let spec = body(b)?;
    let view = blocking(state.alerting()?, move |a| a.put_rule(spec, false)).await?;
    Ok((StatusCode::CREATED, Json(rule_json(&view))))
}

/// `PUT /api/v1/rules/{name}`.
pub async fn update(State(state): State<AppState>, Path(name): Path<String>, b: JsonBody<RuleSpec>) -> Result<Json<Value>, ApiError> {
    let spec = body(b)?;
    if spec.name != name {
        return Err(ApiError::bad_request("invalid_name", format!("the rule in the body is named {:?}, the path says {name:?}", spec.name)));
    }
    let view = blocking(state.alerting()?, move |a| a.put_rule(spec, true)).await?;
    Ok(Json(rule_json(&view)))
}

/// `DELETE /api/v1/rules/{name}`: its alerts resolve.
pub async fn delete(State(state): State<AppState>, Path(name): Path<String>) -> Result<StatusCode, ApiError> {
    blocking(state.alerting()?, move |a| a.delete_rule(&name)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/rules/{name}/history`.
pub async fn history(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<Value>, ApiError> {
    let points = state.alerting()?.rule_history(&name)?;
    Ok(Json(json!({"rule": name, "evaluations": eval_points_json(&points)})))
}

/// `GET /api/v1/rules/{name}/versions`.
pub async fn versions(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<Value>, ApiError> {
    let versions = blocking(state.alerting()?, move |a| a.rule_versions(&name)).await?;
    Ok(Json(json!({"versions": versions})))
}

#[derive(Debug, Deserialize)]
pub struct ValidateBody {
    pub rule: Value,
    /// Also evaluate the rule now.
    #[serde(default)]
    pub dry_run: bool,
}

/// `POST /api/v1/rules/validate`: `{"rule": {...}, "dry_run": true}` → `{"valid", "problems",
/// "result"}`. A rule that does not parse as a rule at all is a problem too, not an error.
pub async fn validate(State(state): State<AppState>, b: JsonBody<ValidateBody>) -> Result<Json<Value>, ApiError> {
    let b = body(b)?;
    let alerting = state.alerting()?.clone();
    let spec: RuleSpec = match serde_json::from_value(b.rule) {
        Ok(s) => s,
        Err(e) => return Ok(Json(json!({"valid": false, "problems": [{"field": "rule", "message": e.to_string()}]}))),
    };
    if let Err(problems) = trawl_alert::check_rule(&spec) {
        return Ok(Json(json!({"valid": false, "problems": problems})));
    }
    if !b.dry_run {
        return Ok(Json(json!({"valid": true, "problems": []})));
    }
    // A dry run is an interactive query: it waits for a slot like any other.
    let gate = state.query_gate.clone();
    let _slot = crate::query::query_slot(&gate, state.limits.query_timeout).await?;
    let result = blocking(&alerting, move |a| a.dry_run(&spec)).await;
    match result {
        Ok((out, took_ms)) => Ok(Json(json!({
            "valid": true,
            "problems": [],
            "result": {
                "start": format_rfc3339(out.start_ns),
                "end": format_rfc3339(out.end_ns),
                "groups": out.samples.len(),
                "firing_now": out.samples.iter().filter(|s| s.active).count(),
                "samples": out.samples.iter().take(200).collect::<Vec<_>>(),
                "warnings": out.warnings,
                "slo": out.slo,
                "took_ms": took_ms,
            }
        }))),
        Err(ApiError::Invalid { problems, .. }) => Ok(Json(json!({"valid": false, "problems": problems}))),
        Err(e) => Err(e),
    }
}

#[derive(Debug, Deserialize)]
pub struct PreviewBody {
    pub rule: RuleSpec,
    /// Hours back from now (default 24, at most 168).
    pub hours: Option<f64>,
    /// Evaluation times (default 96).
    pub points: Option<usize>,
}

/// `POST /api/v1/rules/preview`.
pub async fn preview(State(state): State<AppState>, b: JsonBody<PreviewBody>) -> Result<Json<Value>, ApiError> {
    let b = body(b)?;
    let alerting = state.alerting()?;
    let hours = b.hours.unwrap_or(24.0);
    if !(hours > 0.0 && hours <= 168.0) {
        return Err(ApiError::bad_request("invalid_hours", "hours must be above 0 and at most 168"));
    }
    let end = alerting.now_ns();
    let start = end - (hours * 3.6e12) as i64;
    let points = b.points.unwrap_or(96);
    let spec = b.rule;
    let gate = state.query_gate.clone();
    let _slot = crate::query::query_slot(&gate, state.limits.query_timeout).await?;
    let p = blocking(alerting, move |a| a.preview(&spec, start, end, points)).await?;
    let fired: Vec<Value> = p
        .fired
        .iter()
        .map(|f| json!({"labels": f.labels, "start": format_rfc3339(f.start_ns), "end": time(f.end_ns), "max_value": f.max_value}))
        .collect();
    Ok(Json(json!({
        "start": format_rfc3339(start),
        "end": format_rfc3339(end),
        "step_seconds": p.step_ns as f64 / 1e9,
        "evaluations": eval_points_json(&p.points),
        "fired": fired,
        "warnings": p.warnings,
    })))
}

/// `POST /api/v1/rules/reload`.
pub async fn reload(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let report = blocking(state.alerting()?, |a| a.reload()).await?;
    Ok(Json(serde_json::to_value(report).unwrap_or_default()))
}
