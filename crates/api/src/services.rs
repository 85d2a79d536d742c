//! The service views, read off the RED rollups (`trawl-rollup`) rather than raw spans:
//!
//! - `GET /api/v1/services?start&end&sort`: every service with request rate, error rate,
//!   latency quantiles, records by level, and its deviation from its baseline (the window of the
//!   same length just before), most unusual first.
//! - `GET /api/v1/services/{name}?start&end&step&messages`: time series per step, operations,
//!   top error messages, callers and callees.
//! - `GET /api/v1/servicemap?start&end`: services and the calls between them.
//!
//! Time bounds are those of `/api/v1/search` (default: the last 15 minutes). The window starts
//! at the minute of `start` (rollups are per minute); rates are per second over the window so
//! rounded. Rollups older than the compaction age are per hour: a window reaching them counts
//! whole hours at its edges.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use trawl_model::{format_rfc3339, now_ns, Level};
use trawl_rollup::summary::{self, Deviation, KindClass, ServiceSummary};
use trawl_rollup::{RedStats, Resolution, RollupSet};

use crate::query::bound;
use crate::time_range::parse_duration_ns;
use crate::{ApiError, AppState};

const DEFAULT_WINDOW_NS: i64 = 15 * 60 * 1_000_000_000;
/// Most points of a series.
const MAX_STEPS: i64 = 2_000;
/// Most operations listed for a service.
const MAX_OPERATIONS: usize = 200;
const DEFAULT_MESSAGES: usize = 20;
const MAX_MESSAGES: usize = 1_000;

type QueryResult<T> = Result<Query<T>, axum::extract::rejection::QueryRejection>;

fn params<T>(query: QueryResult<T>) -> Result<T, ApiError> {
    query.map(|Query(p)| p).map_err(|e| ApiError::bad_request("invalid_parameters", e.body_text()))
}

/// A window and its baseline, in nanoseconds: `[baseline_start, start)` and `[start, end]`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Window {
    baseline_start: i64,
    start: i64,
    end: i64,
}

impl Window {
    fn parse(start: Option<String>, end: Option<String>, now: i64) -> Result<Window, ApiError> {
        let start = bound(start.map(Value::String).as_ref(), "start", now.saturating_sub(DEFAULT_WINDOW_NS), now)?;
        let end = bound(end.map(Value::String).as_ref(), "end", now, now)?;
        if end <= start {
            return Err(ApiError::bad_request("invalid_time", "end must be after start"));
        }
        let start = Resolution::Minute.bucket_start(start);
        Ok(Window { baseline_start: start.saturating_sub(end - start), start, end })
    }

    fn seconds(&self) -> f64 {
        (self.end - self.start) as f64 / 1e9
    }

    fn json(&self) -> Value {
        json!({
            "start": format_rfc3339(self.start),
            "end": format_rfc3339(self.end),
            "window_seconds": self.seconds(),
            "baseline_start": format_rfc3339(self.baseline_start),
        })
    }
}

/// The rollups of a window and of its baseline, and how each service's requests are counted.
struct Fetched {
    current: RollupSet,
    baseline: RollupSet,
    classes: BTreeMap<String, KindClass>,
    warnings: Vec<String>,
}

async fn fetch(state: &AppState, window: Window) -> Result<Fetched, ApiError> {
    let store = state.store.clone();
    let view = tokio::task::spawn_blocking(move || store.rollups(window.baseline_start, window.end))
        .await
        .map_err(|e| ApiError::Internal(format!("rollup task failed: {e}")))??;
    let classes = summary::request_classes(&view.rollups);
    let (baseline, current) = view.rollups.split_at(window.start);
    Ok(Fetched { current, baseline, classes, warnings: view.warnings })
}

fn rate(n: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        n as f64 / seconds
    } else {
        0.0
    }
}

/// p50/p95/p99 in milliseconds, null without spans.
fn latency_json(stats: &RedStats) -> Value {
    if stats.latency.is_empty() {
        return Value::Null;
    }
    json!({"p50": stats.latency_ms(0.5), "p95": stats.latency_ms(0.95), "p99": stats.latency_ms(0.99)})
}

/// Requests (or calls), errors, their rates and latency.
fn red_json(stats: &RedStats, seconds: f64, count_name: &str, rate_name: &str) -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::new();
    out.insert(count_name.into(), json!(stats.requests));
    out.insert("errors".into(), json!(stats.errors));
    out.insert(rate_name.into(), json!(rate(stats.requests, seconds)));
    out.insert("error_rate".into(), json!(stats.error_rate()));
    out.insert("latency_ms".into(), latency_json(stats));
    out
}

fn records_json(summary: &ServiceSummary) -> Value {
    let mut out = serde_json::Map::new();
    out.insert("total".into(), json!(summary.records.total()));
    for level in Level::ALL {
        out.insert(level.as_str().into(), json!(summary.records.get(level)));
    }
    Value::Object(out)
}

fn deviation_json(d: &Deviation) -> Value {
    json!({
        "error_rate_delta": d.error_rate_delta,
        "latency_ratio": d.latency_ratio,
        "rate_ratio": d.rate_ratio,
        "record_error_share_delta": d.record_error_share_delta,
    })
}

/// One service as listed by `/api/v1/services`, with its score.
fn service_json(name: &str, current: &ServiceSummary, baseline: &ServiceSummary, window: &Window) -> (f64, Value) {
    let seconds = window.seconds();
    let deviation = summary::deviation(current, baseline);
    let mut out = serde_json::Map::new();
    out.insert("name".into(), json!(name));
    out.extend(red_json(&current.requests, seconds, "requests", "request_rate"));
    out.insert("records".into(), records_json(current));
    let mut before = red_json(&baseline.requests, seconds, "requests", "request_rate");
    before.insert("records".into(), json!(baseline.records.total()));
    out.insert("baseline".into(), Value::Object(before));
    out.insert("deviation".into(), deviation_json(&deviation));
    out.insert("unusual".into(), json!((deviation.unusual * 1000.0).round() / 1000.0));
    (deviation.unusual, Value::Object(out))
}

/// Every service of the window or its baseline, with both summaries.
fn summaries(fetched: &Fetched) -> Vec<(String, ServiceSummary, ServiceSummary)> {
    let current = summary::service_summaries(&fetched.current, &fetched.classes);
    let baseline = summary::service_summaries(&fetched.baseline, &fetched.classes);
    let names: BTreeSet<&String> = current.keys().chain(baseline.keys()).collect();
    names
        .into_iter()
        .map(|name| (name.clone(), current.get(name).cloned().unwrap_or_default(), baseline.get(name).cloned().unwrap_or_default()))
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortBy {
    Unusual,
    Name,
    Rate,
    Errors,
}

impl SortBy {
    fn parse(text: Option<&str>) -> Result<SortBy, ApiError> {
        Ok(match text.unwrap_or("unusual") {
            "" | "unusual" => SortBy::Unusual,
            "name" => SortBy::Name,
            "rate" => SortBy::Rate,
            "errors" => SortBy::Errors,
            other => {
                return Err(ApiError::bad_request("invalid_sort", format!("sort {other:?} is not one of unusual, name, rate, errors")))
            }
        })
    }
}

/// The order of the service list: highest first for scores and rates, then by name.
fn sort_services(services: &mut [(f64, String, ServiceSummary, Value)], by: SortBy) {
    let key = |s: &(f64, String, ServiceSummary, Value)| -> (f64, f64) {
        match by {
            SortBy::Unusual => (s.0, 0.0),
            SortBy::Name => (0.0, 0.0),
            SortBy::Rate => (s.2.requests.requests as f64, 0.0),
            SortBy::Errors => (s.2.requests.error_rate(), s.2.requests.errors as f64),
        }
    };
    services.sort_by(|a, b| key(b).partial_cmp(&key(a)).unwrap_or(std::cmp::Ordering::Equal).then_with(|| a.1.cmp(&b.1)));
}

#[derive(Debug, Deserialize)]
pub struct ServicesParams {
    pub start: Option<String>,
    pub end: Option<String>,
    pub sort: Option<String>,
}

/// `GET /api/v1/services`.
pub async fn list(State(state): State<AppState>, query: QueryResult<ServicesParams>) -> Result<Json<Value>, ApiError> {
    let started = Instant::now();
    let p = params(query)?;
    let window = Window::parse(p.start, p.end, now_ns())?;
    let sort = SortBy::parse(p.sort.as_deref())?;
    let fetched = fetch(&state, window).await?;
    let mut services: Vec<(f64, String, ServiceSummary, Value)> = summaries(&fetched)
        .into_iter()
        .map(|(name, current, baseline)| {
            let (score, value) = service_json(&name, &current, &baseline, &window);
            (score, name, current, value)
        })
        .collect();
    sort_services(&mut services, sort);
    state.metrics.observe_query(started.elapsed().as_secs_f64());
    let mut out = window.json();
    out["sort"] = json!(format!("{sort:?}").to_lowercase());
    out["services"] = Value::Array(services.into_iter().map(|s| s.3).collect());
    out["warnings"] = json!(fetched.warnings);
    out["took_ms"] = json!(started.elapsed().as_secs_f64() * 1e3);
    Ok(Json(out))
}

#[derive(Debug, Deserialize)]
pub struct ServiceParams {
    pub start: Option<String>,
    pub end: Option<String>,
    pub step: Option<String>,
    /// Most error-message groups (default 20).
    pub messages: Option<usize>,
}

fn parse_step(step: Option<&str>, window: &Window) -> Result<(i64, usize), ApiError> {
    let step_ns = match step.map(str::trim).filter(|s| !s.is_empty()) {
        None => Resolution::Minute.width_ns(),
        Some(text) => parse_duration_ns(text)
            .ok_or_else(|| ApiError::bad_request("invalid_step", format!("step {text:?} is not a duration such as 1m or 1h")))?,
    };
    if step_ns < Resolution::Minute.width_ns() {
        return Err(ApiError::bad_request("invalid_step", "step must be at least 1m: rollups are per minute"));
    }
    let n_steps = (window.end - window.start).div_euclid(step_ns) + 1;
    if n_steps > MAX_STEPS {
        return Err(ApiError::bad_request("invalid_step", format!("{n_steps} steps, at most {MAX_STEPS}: use a larger step")));
    }
    Ok((step_ns, n_steps as usize))
}

/// Callers (`incoming`) or callees of `name` with their call figures, most calls first.
fn neighbours_json(edges: &BTreeMap<(String, String), RedStats>, name: &str, incoming: bool, seconds: f64) -> Vec<Value> {
    let mut list: Vec<(&String, &RedStats)> = edges
        .iter()
        .filter_map(|((caller, callee), stats)| match incoming {
            true if callee == name => Some((caller, stats)),
            false if caller == name => Some((callee, stats)),
            _ => None,
        })
        .collect();
    list.sort_by(|a, b| b.1.requests.cmp(&a.1.requests).then_with(|| a.0.cmp(b.0)));
    list.into_iter()
        .map(|(service, stats)| {
            let mut out = serde_json::Map::new();
            out.insert("service".into(), json!(service));
            out.extend(red_json(stats, seconds, "calls", "call_rate"));
            Value::Object(out)
        })
        .collect()
}

/// `GET /api/v1/services/{name}`.
pub async fn detail(
    State(state): State<AppState>,
    Path(name): Path<String>,
    query: QueryResult<ServiceParams>,
) -> Result<Json<Value>, ApiError> {
    let started = Instant::now();
    let p = params(query)?;
    let window = Window::parse(p.start, p.end, now_ns())?;
    let (step_ns, n_steps) = parse_step(p.step.as_deref(), &window)?;
    let limit = p.messages.unwrap_or(DEFAULT_MESSAGES).min(MAX_MESSAGES);
    let fetched = fetch(&state, window).await?;
    let edges = summary::edge_totals(&fetched.current);
    let Some((_, current, baseline)) = summaries(&fetched).into_iter().find(|(n, ..)| *n == name) else {
        if !edges.keys().any(|(a, b)| *a == name || *b == name) {
            return Err(ApiError::NotFound(format!("no span or record of service {name:?} in the window or its baseline")));
        }
        return detail_of_uninstrumented(&name, &window, &edges, started);
    };
    let seconds = window.seconds();
    let (_, summary_json) = service_json(&name, &current, &baseline, &window);
    let class = fetched.classes.get(&name).copied().unwrap_or(KindClass::Entry);
    let series: Vec<Value> = summary::service_series(&fetched.current, &name, class, window.start, step_ns, n_steps)
        .iter()
        .enumerate()
        .map(|(i, stats)| {
            let t = window.start + i as i64 * step_ns;
            let step_seconds = ((window.end - t).min(step_ns) as f64 / 1e9).max(1.0);
            let mut out = serde_json::Map::new();
            out.insert("time".into(), json!(format_rfc3339(t)));
            out.insert("time_ns".into(), json!(t));
            out.extend(red_json(stats, step_seconds, "requests", "request_rate"));
            Value::Object(out)
        })
        .collect();
    let mut operations: BTreeMap<(&str, &str), RedStats> = BTreeMap::new();
    for (key, stats) in fetched.current.red.iter().filter(|(k, _)| k.service == name) {
        operations.entry((&key.operation, &key.kind)).or_default().merge(stats);
    }
    let mut operations: Vec<((&str, &str), RedStats)> = operations.into_iter().collect();
    operations.sort_by(|a, b| b.1.requests.cmp(&a.1.requests).then_with(|| a.0.cmp(&b.0)));
    let operations: Vec<Value> = operations
        .iter()
        .take(MAX_OPERATIONS)
        .map(|((operation, kind), stats)| {
            let mut out = serde_json::Map::new();
            out.insert("name".into(), json!(operation));
            out.insert("kind".into(), json!(kind));
            out.extend(red_json(stats, seconds, "requests", "request_rate"));
            Value::Object(out)
        })
        .collect();
    let store = state.store.clone();
    let service = name.clone();
    let messages = tokio::task::spawn_blocking(move || {
        let request = trawl_query::ErrorMessagesRequest { service: &service, start_ns: window.start, end_ns: window.end, limit };
        let result = trawl_query::error_messages(&store.snapshot(), &request);
        for w in &result.warnings {
            store.report_corrupt(w.clone());
        }
        result
    })
    .await
    .map_err(|e| ApiError::Internal(format!("error message task failed: {e}")))?;
    state.metrics.observe_query(started.elapsed().as_secs_f64());
    let mut warnings = fetched.warnings;
    warnings.extend(messages.warnings.iter().cloned());
    let mut out = window.json();
    out["name"] = json!(name);
    out["step_seconds"] = json!(step_ns / 1_000_000_000);
    out["summary"] = summary_json;
    out["series"] = Value::Array(series);
    out["operations"] = Value::Array(operations);
    out["error_messages"] = json!({
        "total": messages.total,
        "truncated": messages.truncated,
        "groups": messages.messages.iter().map(|m| json!({
            "message": m.message,
            "count": m.count,
            "spans": m.spans,
            "records": m.records,
            "example": m.example,
            "last_seen": format_rfc3339(m.last_seen_ns),
        })).collect::<Vec<_>>(),
    });
    out["callers"] = Value::Array(neighbours_json(&edges, &name, true, seconds));
    out["callees"] = Value::Array(neighbours_json(&edges, &name, false, seconds));
    out["warnings"] = json!(warnings);
    out["took_ms"] = json!(started.elapsed().as_secs_f64() * 1e3);
    Ok(Json(out))
}

/// A service known only as the callee of client spans (`peer.service`): its callers.
fn detail_of_uninstrumented(
    name: &str,
    window: &Window,
    edges: &BTreeMap<(String, String), RedStats>,
    started: Instant,
) -> Result<Json<Value>, ApiError> {
    let mut out = window.json();
    out["name"] = json!(name);
    out["instrumented"] = json!(false);
    out["callers"] = Value::Array(neighbours_json(edges, name, true, window.seconds()));
    out["callees"] = json!([]);
    out["took_ms"] = json!(started.elapsed().as_secs_f64() * 1e3);
    Ok(Json(out))
}

#[derive(Debug, Deserialize)]
pub struct MapParams {
    pub start: Option<String>,
    pub end: Option<String>,
}

/// `GET /api/v1/servicemap`.
pub async fn map(State(state): State<AppState>, query: QueryResult<MapParams>) -> Result<Json<Value>, ApiError> {
    let started = Instant::now();
    let p = params(query)?;
    let window = Window::parse(p.start, p.end, now_ns())?;
    let fetched = fetch(&state, window).await?;
    let seconds = window.seconds();
    let mut services = summary::service_summaries(&fetched.current, &fetched.classes);
    let edges = summary::edge_totals(&fetched.current);
    for (caller, callee) in edges.keys() {
        services.entry(caller.clone()).or_default();
        services.entry(callee.clone()).or_default();
    }
    let nodes: Vec<Value> = services
        .iter()
        .map(|(name, s)| {
            let mut out = serde_json::Map::new();
            out.insert("name".into(), json!(name));
            out.extend(red_json(&s.requests, seconds, "requests", "request_rate"));
            out.insert("records".into(), json!(s.records.total()));
            out.insert("instrumented".into(), json!(fetched.classes.contains_key(name) || s.records.total() > 0));
            Value::Object(out)
        })
        .collect();
    let edges: Vec<Value> = edges
        .iter()
        .map(|((caller, callee), stats)| {
            let mut out = serde_json::Map::new();
            out.insert("caller".into(), json!(caller));
            out.insert("callee".into(), json!(callee));
            out.extend(red_json(stats, seconds, "calls", "call_rate"));
            Value::Object(out)
        })
        .collect();
    state.metrics.observe_query(started.elapsed().as_secs_f64());
    let mut out = window.json();
    out["nodes"] = Value::Array(nodes);
    out["edges"] = Value::Array(edges);
    out["warnings"] = json!(fetched.warnings);
    out["took_ms"] = json!(started.elapsed().as_secs_f64() * 1e3);
    Ok(Json(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000_000_000;

    #[test]
    fn windows_round_to_the_minute_and_have_a_baseline() {
        let now = 1_000 * MIN + 30_000_000_000;
        let w = Window::parse(None, None, now).unwrap();
        assert_eq!((w.start, w.end, w.baseline_start), (985 * MIN, now, 970 * MIN - 30_000_000_000));
        assert_eq!(w.seconds(), 930.0);
        let w = Window::parse(Some("1h".into()), Some("30m".into()), now).unwrap();
        assert_eq!((w.start, w.end), (940 * MIN, now - 30 * MIN));
        assert!(Window::parse(Some("5m".into()), Some("10m".into()), now).is_err());
        assert!(Window::parse(Some("yesterday".into()), None, now).is_err());
    }

    #[test]
    fn steps_are_checked() {
        let w = Window { baseline_start: 0, start: 10 * MIN, end: 20 * MIN };
        assert_eq!(parse_step(None, &w).unwrap(), (MIN, 11));
        assert_eq!(parse_step(Some("5m"), &w).unwrap(), (5 * MIN, 3));
        assert!(parse_step(Some("30s"), &w).is_err());
        assert!(parse_step(Some("soon"), &w).is_err());
        let long = Window { baseline_start: 0, start: 0, end: 10_000 * MIN };
        assert!(parse_step(Some("1m"), &long).is_err());
    }

    #[test]
    fn sorting_by_each_key() {
        let service = |name: &str, score: f64, requests: u64, errors: u64| {
            let mut s = ServiceSummary::default();
            for i in 0..requests {
                s.requests.add(1, i < errors);
            }
            (score, name.to_string(), s, Value::Null)
        };
        let mut list = vec![service("b", 0.5, 10, 5), service("a", 2.0, 100, 1), service("c", 0.5, 50, 0)];
        let names = |l: &[(f64, String, ServiceSummary, Value)]| l.iter().map(|s| s.1.clone()).collect::<Vec<_>>().join(",");
        sort_services(&mut list, SortBy::Unusual);
        assert_eq!(names(&list), "a,b,c");
        sort_services(&mut list, SortBy::Name);
        assert_eq!(names(&list), "a,b,c");
        sort_services(&mut list, SortBy::Rate);
        assert_eq!(names(&list), "a,c,b");
        sort_services(&mut list, SortBy::Errors);
        assert_eq!(names(&list), "b,a,c");
        assert!(SortBy::parse(Some("loudest")).is_err());
    }
}
