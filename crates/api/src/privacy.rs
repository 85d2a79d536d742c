//! Masking at ingest, and the privacy endpoints: `POST /api/v1/privacy/test` (the rules on one
//! text), `GET /api/v1/privacy/report` (which services sent which kinds of sensitive data in a
//! window, with counts, never values) and `POST /api/v1/privacy/reload` (the configuration file
//! read again, as on SIGHUP).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Query, State};
use axum::Json;
use parking_lot::RwLock;
use serde::Deserialize;
use trawl_ingest::Batch;
use trawl_privacy::{Findings, PrivacyConfig, Rules, MASKED_ATTRIBUTE};

use crate::{ApiError, AppState};

/// Reads the `[privacy]` section again (from the configuration file the server started with).
pub type PrivacySource = Arc<dyn Fn() -> Result<PrivacyConfig, String> + Send + Sync>;

/// The masking rules in force: read by every write, replaced whole by a reload. A reload that
/// fails leaves the rules as they were.
#[derive(Clone)]
pub struct PrivacyRules {
    current: Arc<RwLock<(Arc<Rules>, i64)>>,
    source: Option<PrivacySource>,
}

impl Default for PrivacyRules {
    fn default() -> Self {
        PrivacyRules::new(Rules::off(), None)
    }
}

impl PrivacyRules {
    pub fn new(rules: Rules, source: Option<PrivacySource>) -> PrivacyRules {
        PrivacyRules { current: Arc::new(RwLock::new((Arc::new(rules), trawl_model::now_ns()))), source }
    }

    pub fn current(&self) -> Arc<Rules> {
        self.current.read().0.clone()
    }

    /// The rules in force and when they were loaded.
    pub fn loaded(&self) -> (Arc<Rules>, i64) {
        self.current.read().clone()
    }

    /// Reads and compiles the configuration again; on success the new rules apply to every
    /// write from now on.
    pub fn reload(&self) -> Result<(Arc<Rules>, i64), String> {
        let Some(source) = &self.source else {
            return Err("the server was started without a configuration file to read again".into());
        };
        let loaded = (Arc::new(Rules::new(&source()?).map_err(|e| e.to_string())?), trawl_model::now_ns());
        *self.current.write() = loaded.clone();
        Ok(loaded)
    }
}

/// What the privacy endpoints say of the rules in force.
fn rules_json(rules: &Rules, loaded_ns: i64) -> serde_json::Value {
    serde_json::json!({
        "enabled": rules.enabled(),
        "detectors": rules.detector_names(),
        "overrides": rules.override_count(),
        "loaded_at": trawl_model::format_rfc3339(loaded_ns),
    })
}

/// Masks every record and span of `batch` in place, before it is written, by the rules of its
/// service and environment, and counts the findings by service and detector.
pub(crate) fn mask_batch(rules: &Rules, batch: &mut Batch, metrics: &crate::ApiMetrics) {
    let mut counts: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut add = |service: &str, found: Findings| {
        for (detector, n) in found.0 {
            *counts.entry((service.to_string(), detector)).or_default() += n as u64;
        }
    };
    for r in &mut batch.records {
        let found = rules.mask_record(r);
        if !found.is_empty() {
            add(&r.service, found);
        }
    }
    for s in &mut batch.spans {
        let found = rules.mask_span(s);
        if !found.is_empty() {
            add(&s.service, found);
        }
    }
    if !counts.is_empty() {
        let mut masked = metrics.masked.lock();
        for (key, n) in counts {
            *masked.entry(key).or_default() += n;
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct TestBody {
    pub text: String,
    /// The rules of this service and environment (their override, if any); default: the
    /// server-wide rules.
    #[serde(default)]
    pub service: Option<String>,
    #[serde(default)]
    pub environment: Option<String>,
}

/// The masking rules applied to one text, as ingest would.
pub async fn test(State(state): State<AppState>, body: Result<Json<TestBody>, axum::extract::rejection::JsonRejection>) -> Result<Json<serde_json::Value>, ApiError> {
    let Json(body) = body.map_err(|e| ApiError::bad_request("invalid_body", e.body_text()))?;
    if body.text.len() > trawl_model::MAX_RECORD_BYTES {
        return Err(ApiError::PayloadTooLarge(format!("the text is over {} bytes", trawl_model::MAX_RECORD_BYTES)));
    }
    let rules = state.privacy.current();
    let masker = match (&body.service, &body.environment) {
        (None, None) => rules.base(),
        (service, environment) => rules.masker_for(service.as_deref().unwrap_or(""), environment.as_deref().unwrap_or("")),
    };
    let Some(masker) = masker else {
        return Ok(Json(serde_json::json!({"enabled": false, "masked": body.text, "findings": {}})));
    };
    let mut findings = Findings::default();
    let masked = masker.mask_text(&body.text, &mut findings).unwrap_or(body.text);
    Ok(Json(serde_json::json!({"enabled": true, "masked": masked, "findings": findings.0})))
}

/// `POST /api/v1/privacy/reload`: the configuration file read again; a file with a mistake is
/// refused with the reason and the rules in force stay.
pub async fn reload(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let privacy = state.privacy.clone();
    let (rules, loaded_ns) = tokio::task::spawn_blocking(move || privacy.reload())
        .await
        .map_err(|e| ApiError::Internal(format!("reload task failed: {e}")))?
        .map_err(|e| ApiError::bad_request("invalid_privacy_config", e))?;
    Ok(Json(rules_json(&rules, loaded_ns)))
}

#[derive(Debug, Deserialize)]
pub struct ReportParams {
    pub start: Option<serde_json::Value>,
    pub end: Option<serde_json::Value>,
}

/// Per service and detector, how many findings were masked in the window, read from the
/// records and spans marked `trawl.masked`.
pub async fn report(
    State(state): State<AppState>,
    params: Result<Query<ReportParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let started = Instant::now();
    let Query(params) = params.map_err(|e| ApiError::bad_request("invalid_parameters", e.body_text()))?;
    let now = trawl_model::now_ns();
    let start = crate::query::bound(params.start.as_ref(), "start", now - 24 * 3600 * 1_000_000_000, now)?;
    let end = crate::query::bound(params.end.as_ref(), "end", now, now)?;
    let query = trawl_query::parse(&format!("{MASKED_ATTRIBUTE}:* | stats count() by service, `{MASKED_ATTRIBUTE}`"))?;
    let store = state.store.clone();
    let limits = trawl_query::QueryLimits { timeout: state.limits.query_timeout, memory_bytes: crate::query::query_memory(&state) };
    let result = tokio::task::spawn_blocking(move || {
        let request = trawl_query::QueryRequest { query: &query, start_ns: start, end_ns: end, limit: 100_000, limits, cancel: None };
        trawl_query::run_query(&store.snapshot(), &request)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("report task failed: {e}")))??;
    // (service, detector) → findings, records
    let mut by: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    if let trawl_query::QueryOutput::Table(table) = &result.output {
        for row in &table.rows {
            let (service, summary, n) = (row[0].to_text(), row[1].to_text(), row[2].as_f64().unwrap_or(0.0) as u64);
            for part in summary.split(',') {
                if let Some((detector, count)) = part.split_once(':') {
                    let e = by.entry((service.clone(), detector.to_string())).or_default();
                    e.0 += count.parse::<u64>().unwrap_or(0) * n;
                    e.1 += n;
                }
            }
        }
    }
    let rows: Vec<serde_json::Value> = by
        .into_iter()
        .map(|((service, detector), (findings, records))| serde_json::json!({"service": service, "detector": detector, "findings": findings, "records": records}))
        .collect();
    let (rules, loaded_ns) = state.privacy.loaded();
    let mut answer = rules_json(&rules, loaded_ns);
    answer["start"] = trawl_model::format_rfc3339(start).into();
    answer["end"] = trawl_model::format_rfc3339(end).into();
    answer["rows"] = rows.into();
    answer["took_ms"] = (started.elapsed().as_secs_f64() * 1e3).into();
    Ok(Json(answer))
}
