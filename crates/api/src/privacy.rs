//! Masking at ingest, and the privacy endpoints: `POST /api/v1/privacy/test` (the rules on one
//! text) and `GET /api/v1/privacy/report` (which services sent which kinds of sensitive data in
//! a window, with counts, never values).

use std::collections::BTreeMap;
use std::time::Instant;

use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use trawl_ingest::Batch;
use trawl_privacy::{Findings, Masker, MASKED_ATTRIBUTE};

use crate::{ApiError, AppState};

/// Masks every record and span of `batch` in place, before it is written, and counts the
/// findings by service and detector.
pub(crate) fn mask_batch(masker: &Masker, batch: &mut Batch, metrics: &crate::ApiMetrics) {
    let mut counts: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut add = |service: &str, found: Findings| {
        for (detector, n) in found.0 {
            *counts.entry((service.to_string(), detector)).or_default() += n as u64;
        }
    };
    for r in &mut batch.records {
        let found = masker.mask_record(r);
        if !found.is_empty() {
            add(&r.service, found);
        }
    }
    for s in &mut batch.spans {
        let found = masker.mask_span(s);
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
}

/// The masking rules applied to one text, as ingest would.
pub async fn test(State(state): State<AppState>, body: Result<Json<TestBody>, axum::extract::rejection::JsonRejection>) -> Result<Json<serde_json::Value>, ApiError> {
    let Json(body) = body.map_err(|e| ApiError::bad_request("invalid_body", e.body_text()))?;
    if body.text.len() > trawl_model::MAX_RECORD_BYTES {
        return Err(ApiError::PayloadTooLarge(format!("the text is over {} bytes", trawl_model::MAX_RECORD_BYTES)));
    }
    let Some(masker) = state.privacy.clone() else {
        return Ok(Json(serde_json::json!({"enabled": false, "masked": body.text, "findings": {}})));
    };
    let mut findings = Findings::default();
    let masked = masker.mask_text(&body.text, &mut findings).unwrap_or(body.text);
    Ok(Json(serde_json::json!({"enabled": true, "masked": masked, "findings": findings.0})))
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
    Ok(Json(serde_json::json!({
        "start": trawl_model::format_rfc3339(start),
        "end": trawl_model::format_rfc3339(end),
        "enabled": state.privacy.is_some(),
        "detectors": state.privacy.as_ref().map(|m| m.detector_names()).unwrap_or_default(),
        "rows": rows,
        "took_ms": started.elapsed().as_secs_f64() * 1e3,
    })))
}
