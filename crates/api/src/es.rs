//! Elasticsearch compatibility: `_bulk` ingest, the root info that official clients and shippers
//! check, and the few endpoints shippers probe before they send, each answered as an accepted
//! no-op. Decoding and the response body are `trawl_ingest::es_bulk`'s.
//!
//! Every response of these routes carries `X-Elastic-Product: Elasticsearch` (the product check
//! of the official clients 7.14 and later). Errors have Elasticsearch's shape
//! (`{"error":{"type","reason"},"status"}`) with the status and `Retry-After` of [`ApiError`].
//!
//! Idempotency: an item with an `_id` whose (index, `_id`) was acknowledged recently is answered
//! `200 noop` and not stored again ([`RecentIds`]). The window lives in memory only: it does not
//! survive a restart.

use std::collections::{HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, head, post};
use axum::{Json, Router};
use parking_lot::Mutex;
use serde_json::{json, Value};
use trawl_ingest::{bulk_response, decode_es_bulk, es_root_info, Batch, BulkItemError, BulkOutcome};
use trawl_model::now_ns;

use crate::ingest::{read_and_decode, write_batch};
use crate::{ApiError, AppState};

/// The `protocol` label of this endpoint's counters.
pub(crate) const PROTOCOL: &str = "es_bulk";

/// The cluster name the root info and the cluster health give.
const CLUSTER_NAME: &str = "trawl";

/// Ids kept for idempotency: at most this many...
pub const DEFAULT_RECENT_IDS: usize = 1_000_000;
/// ...and for at most this long, whichever is smaller.
pub const DEFAULT_RECENT_IDS_AGE: Duration = Duration::from_secs(3600);

/// What [`RecentIds::claim`] found for one (index, `_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdState {
    /// Not seen: now claimed by the caller, who must [`acknowledge`](RecentIds::acknowledge)
    /// or [`release`](RecentIds::release) it.
    New,
    /// Acknowledged within the window: a retry, not to be stored again.
    Acknowledged,
    /// Claimed by a write still in flight (a retry sent before the first attempt finished).
    InFlight,
}

/// The (index, `_id`) pairs of recently acknowledged bulk items, bounded by count and age, plus
/// the pairs of writes in flight. Pairs are kept as 128-bit hashes (about 40 bytes each with
/// the bookkeeping, so 40 MB when full); the window is in memory only.
pub struct RecentIds {
    max_ids: usize,
    max_age: Duration,
    inner: Mutex<RecentInner>,
}

#[derive(Default)]
struct RecentInner {
    acknowledged: HashSet<u128>,
    /// Acknowledged keys, oldest first, with the time they were acknowledged.
    order: VecDeque<(u128, Instant)>,
    in_flight: HashSet<u128>,
}

impl Default for RecentIds {
    fn default() -> RecentIds {
        RecentIds::new(DEFAULT_RECENT_IDS, DEFAULT_RECENT_IDS_AGE)
    }
}

impl RecentIds {
    pub fn new(max_ids: usize, max_age: Duration) -> RecentIds {
        RecentIds { max_ids: max_ids.max(1), max_age, inner: Mutex::default() }
    }

    /// The key of an (index, `_id`) pair. `str`'s `Hash` ends every string with a separator,
    /// so `("a", "bc")` and `("ab", "c")` differ.
    pub fn key(index: &str, id: &str) -> u128 {
        let half = |salt: u8| {
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            salt.hash(&mut hasher);
            index.hash(&mut hasher);
            id.hash(&mut hasher);
            hasher.finish()
        };
        (u128::from(half(0)) << 64) | u128::from(half(1))
    }

    /// Looks up every key and claims the new ones (see [`IdState::New`]).
    pub fn claim(&self, keys: &[u128]) -> Vec<IdState> {
        let mut inner = self.inner.lock();
        self.expire(&mut inner, Instant::now());
        keys.iter()
            .map(|key| {
                if inner.acknowledged.contains(key) {
                    IdState::Acknowledged
                } else if !inner.in_flight.insert(*key) {
                    IdState::InFlight
                } else {
                    IdState::New
                }
            })
            .collect()
    }

    /// The write of these claimed keys was acknowledged: retries are duplicates from now on.
    pub fn acknowledge(&self, keys: &[u128]) {
        let mut inner = self.inner.lock();
        let now = Instant::now();
        for key in keys {
            inner.in_flight.remove(key);
            if inner.acknowledged.insert(*key) {
                inner.order.push_back((*key, now));
            }
        }
        self.expire(&mut inner, now);
    }

    /// The write of these claimed keys failed: a retry must be stored.
    pub fn release(&self, keys: &[u128]) {
        let mut inner = self.inner.lock();
        for key in keys {
            inner.in_flight.remove(key);
        }
    }

    /// Number of acknowledged keys held.
    pub fn len(&self) -> usize {
        self.inner.lock().acknowledged.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn expire(&self, inner: &mut RecentInner, now: Instant) {
        while let Some(&(key, at)) = inner.order.front() {
            if inner.order.len() <= self.max_ids && now.duration_since(at) < self.max_age {
                break;
            }
            inner.order.pop_front();
            inner.acknowledged.remove(&key);
        }
    }
}

/// Seeds of generated `_id`s: one per request, so ids are unique across requests.
static ID_SEED: AtomicU64 = AtomicU64::new(0);

fn next_id_seed() -> u64 {
    // The first call mixes in the start time so ids differ across restarts too.
    let seed = ID_SEED.fetch_add(1, Ordering::Relaxed);
    seed ^ (START_NS.get_or_init(|| now_ns() as u64).rotate_left(17))
}

static START_NS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();

/// The Elasticsearch routes of the main port (everything but `/`, see [`root_for_es_clients`]).
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/_bulk", post(bulk).put(bulk))
        .route("/{index}/_bulk", post(bulk_in_index).put(bulk_in_index))
        .route("/_license", get(license))
        .route("/_xpack", get(xpack))
        .route("/_cluster/health", get(cluster_health))
        .route("/_index_template/{name}", head(exists).get(index_template).put(acknowledged))
        .route("/_template/{name}", head(exists).put(acknowledged))
        .route("/_ilm/policy/{name}", get(ilm_policy).put(acknowledged))
        .route("/{index}", head(exists).fallback(crate::error::not_found))
        .layer(axum::middleware::map_response(product_header))
}

/// The routes of the dedicated Elasticsearch port (`--es-listen`): the same, `/` always
/// answering the root info, and Elasticsearch-shaped 404s.
pub(crate) fn es_only_router() -> Router<AppState> {
    Router::new()
        .route("/", get(root_info))
        .merge(router())
        .fallback(es_not_found)
        .layer(axum::middleware::map_response(product_header))
}

async fn product_header(mut response: Response) -> Response {
    response.headers_mut().insert("x-elastic-product", HeaderValue::from_static("Elasticsearch"));
    response
}

/// On the main port `/` belongs to the web UI for browsers: a `GET /` whose `Accept` names
/// `text/html` goes on to the UI; any other `GET /` or `HEAD /` is an Elasticsearch client's
/// product check and gets the root info.
pub(crate) async fn root_for_es_clients(request: Request, next: Next) -> Response {
    let method = request.method();
    if request.uri().path() == "/" && (method == Method::GET || method == Method::HEAD) {
        let wants_html = request
            .headers()
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.to_ascii_lowercase().contains("text/html"));
        if !wants_html {
            let head = method == Method::HEAD;
            let response = root_info().await.into_response();
            let mut response = product_header(response).await;
            if head {
                *response.body_mut() = Body::empty();
            }
            return response;
        }
    }
    next.run(request).await
}

async fn root_info() -> Json<Value> {
    Json(es_root_info(CLUSTER_NAME))
}

async fn es_not_found(uri: axum::http::Uri) -> Response {
    es_error(ApiError::NotFound(format!("no handler found for uri [{}]", uri.path())))
}

/// An [`ApiError`] in Elasticsearch's shape, with the status and `Retry-After` that
/// [`ApiError`] gives it.
pub(crate) fn es_error(error: ApiError) -> Response {
    let status = error.status();
    let error_type = match status.as_u16() {
        400 => "parse_exception",
        401 => "security_exception",
        404 => "resource_not_found_exception",
        409 => "version_conflict_engine_exception",
        413 => "content_too_long_exception",
        415 => "media_type_header_exception",
        429 => "es_rejected_execution_exception",
        503 => "unavailable_shards_exception",
        _ => "exception",
    };
    let reason = error.reason().to_string();
    let body = json!({
        "error": {
            "root_cause": [{"type": error_type, "reason": reason}],
            "type": error_type,
            "reason": reason,
            "trawl_code": error.code(),
        },
        "status": status.as_u16(),
    });
    let mut response = (status, Json(body)).into_response();
    if let Some(secs) = error.retry_after() {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// The media types of a bulk body: JSON and NDJSON, with or without the `vnd.elasticsearch`
/// compatibility form, and none at all (some shippers send no `Content-Type`).
fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else { return Ok(()) };
    let mime = value.to_str().unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match mime.as_str() {
        "" | "application/x-ndjson" | "application/json" | "application/vnd.elasticsearch+x-ndjson"
        | "application/vnd.elasticsearch+json" | "text/plain" => Ok(()),
        other => Err(ApiError::UnsupportedMediaType(format!(
            "content type {other:?} is not supported: use application/x-ndjson or application/json"
        ))),
    }
}

async fn bulk(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    bulk_request(state, None, headers, body).await
}

async fn bulk_in_index(
    State(state): State<AppState>,
    Path(index): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    bulk_request(state, Some(index), headers, body).await
}

/// `POST|PUT /_bulk`, `/{index}/_bulk`. Whole-request failures (bad framing, too large, the
/// store refusing before anything was written) are Elasticsearch errors with the request's
/// status; everything else is answered per item with 200.
async fn bulk_request(state: AppState, index: Option<String>, headers: HeaderMap, body: Body) -> Response {
    let started = Instant::now();
    match bulk_items(&state, index, &headers, body, started).await {
        Ok(response) => response,
        Err(error) => es_error(error),
    }
}

async fn bulk_items(
    state: &AppState,
    index: Option<String>,
    headers: &HeaderMap,
    body: Body,
    started: Instant,
) -> Result<Response, ApiError> {
    let now = now_ns();
    let decoded = match check_content_type(headers) {
        Ok(()) => {
            read_and_decode(state, PROTOCOL, headers, body, move |bytes| decode_es_bulk(bytes, index.as_deref(), now))
                .await
        }
        Err(e) => Err(e),
    };
    let mut request = match decoded {
        Ok(request) => request,
        Err(e) => {
            state.metrics.add_rejected(PROTOCOL, e.code(), 1);
            return Err(e);
        }
    };
    let n_items = request.items.len();

    // Idempotency: a pair seen earlier in this request, or acknowledged recently, is a
    // duplicate; a pair whose first write is still in flight is retried later.
    let mut seen_here = HashSet::new();
    let mut candidates = Vec::new();
    for (position, item) in request.items.iter_mut().enumerate() {
        if let (BulkOutcome::Accepted { record }, Some(id)) = (&item.outcome, &item.id) {
            let key = RecentIds::key(&item.index, id);
            if seen_here.insert(key) {
                candidates.push((position, key));
            } else {
                item.outcome = BulkOutcome::Duplicate { record: *record };
            }
        }
    }
    let keys: Vec<u128> = candidates.iter().map(|(_, key)| *key).collect();
    let states = state.es_ids.claim(&keys);
    let mut claimed = Vec::new();
    for ((position, key), id_state) in candidates.into_iter().zip(states) {
        let item = &mut request.items[position];
        let BulkOutcome::Accepted { record } = item.outcome else { continue };
        match id_state {
            IdState::New => claimed.push(key),
            IdState::Acknowledged => item.outcome = BulkOutcome::Duplicate { record },
            IdState::InFlight => {
                item.outcome = BulkOutcome::Failed(BulkItemError::overloaded(
                    "a write of this _id is still in flight; retry later",
                ))
            }
        }
    }
    let n_duplicates = request.items.iter().filter(|i| matches!(i.outcome, BulkOutcome::Duplicate { .. })).count();
    let n_failed = request.n_failed();
    let records = request.take_accepted_records();
    let n_written = records.len();
    if let Err(e) = write_batch(state, Batch { records, ..Batch::default() }).await {
        state.es_ids.release(&claimed);
        // Nothing of the request was written: the whole request is refused with the store's
        // status (429 or 503, retryable), so the client resends all of it.
        state.metrics.add_rejected(PROTOCOL, "invalid_record", n_failed);
        state.metrics.add_rejected(PROTOCOL, e.code(), n_items - n_failed);
        return Err(e);
    }
    state.es_ids.acknowledge(&claimed);
    state.metrics.add_accepted(PROTOCOL, n_written);
    state.metrics.add_rejected(PROTOCOL, "invalid_record", n_failed);
    state.metrics.add_rejected(PROTOCOL, "duplicate", n_duplicates);
    let took_ms = started.elapsed().as_millis() as u64;
    Ok((StatusCode::OK, Json(bulk_response(&request, next_id_seed(), took_ms))).into_response())
}

/// `GET /_license`: a basic, active license, which Beats and Logstash require before sending.
async fn license() -> Json<Value> {
    Json(json!({
        "license": {
            "status": "active",
            "uid": "00000000-0000-4000-8000-747261776c00",
            "type": "basic",
            "issue_date": "2024-01-01T00:00:00.000Z",
            "issue_date_in_millis": 1_704_067_200_000_i64,
            "max_nodes": 1000,
            "max_resource_units": null,
            "issued_to": CLUSTER_NAME,
            "issuer": "elasticsearch",
            "start_date_in_millis": -1,
        }
    }))
}

/// `GET /_xpack`: the build, the basic license, and no ILM (so Logstash and Beats 7 write
/// to plain indices or data streams instead of setting up rollover aliases).
async fn xpack() -> Json<Value> {
    Json(json!({
        "build": {"hash": "trawl", "date": "2024-01-01T00:00:00.000Z"},
        "license": {
            "uid": "00000000-0000-4000-8000-747261776c00",
            "type": "basic",
            "mode": "basic",
            "status": "active",
        },
        "features": {
            "ilm": {"available": false, "enabled": false},
            "security": {"available": false, "enabled": false},
        },
        "tagline": "You know, for X",
    }))
}

/// `GET /_cluster/health`: green with one node (Vector's health check).
async fn cluster_health() -> Json<Value> {
    Json(json!({
        "cluster_name": CLUSTER_NAME,
        "status": "green",
        "timed_out": false,
        "number_of_nodes": 1,
        "number_of_data_nodes": 1,
        "active_primary_shards": 0,
        "active_shards": 0,
        "relocating_shards": 0,
        "initializing_shards": 0,
        "unassigned_shards": 0,
        "delayed_unassigned_shards": 0,
        "number_of_pending_tasks": 0,
        "number_of_in_flight_fetch": 0,
        "task_max_waiting_in_queue_millis": 0,
        "active_shards_percent_as_number": 100.0,
    }))
}

/// `HEAD /{index}`, `HEAD /_index_template/{name}`, `HEAD /_template/{name}`: everything
/// exists, so shippers do not try to create it.
async fn exists() -> StatusCode {
    StatusCode::OK
}

/// `PUT` of a template or an ILM policy: acknowledged and ignored (trawl has no mappings or
/// lifecycles to configure).
async fn acknowledged() -> Json<Value> {
    Json(json!({"acknowledged": true}))
}

/// `GET /_index_template/{name}`: an empty template of that name.
async fn index_template(Path(name): Path<String>) -> Json<Value> {
    Json(json!({
        "index_templates": [{
            "name": name,
            "index_template": {"index_patterns": [format!("{name}*")], "composed_of": [], "template": {}},
        }]
    }))
}

/// `GET /_ilm/policy/{name}`: an empty policy of that name, so it is not created.
async fn ilm_policy(Path(name): Path<String>) -> Json<Value> {
    let mut body = serde_json::Map::new();
    body.insert(
        name,
        json!({"version": 1, "modified_date": "2024-01-01T00:00:00.000Z", "policy": {"phases": {}}}),
    );
    Json(Value::Object(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_ids_claim_acknowledge_release() {
        let ids = RecentIds::new(10, Duration::from_secs(3600));
        let a = RecentIds::key("logs", "a");
        let b = RecentIds::key("logs", "b");
        assert_ne!(RecentIds::key("ab", "c"), RecentIds::key("a", "bc"));
        assert_eq!(ids.claim(&[a, b]), vec![IdState::New, IdState::New]);
        assert_eq!(ids.claim(&[a]), vec![IdState::InFlight]);
        ids.acknowledge(&[a]);
        ids.release(&[b]);
        assert_eq!(ids.claim(&[a, b]), vec![IdState::Acknowledged, IdState::New]);
        assert_eq!(ids.len(), 1);
    }

    #[test]
    fn recent_ids_are_bounded_by_count_and_age() {
        let ids = RecentIds::new(3, Duration::from_secs(3600));
        let keys: Vec<u128> = (0..5).map(|i| RecentIds::key("i", &i.to_string())).collect();
        ids.claim(&keys);
        ids.acknowledge(&keys);
        assert_eq!(ids.len(), 3);
        // The oldest two were forgotten.
        assert_eq!(ids.claim(&keys[..1]), vec![IdState::New]);
        assert_eq!(ids.claim(&keys[4..]), vec![IdState::Acknowledged]);

        let ids = RecentIds::new(100, Duration::from_millis(0));
        ids.claim(&keys);
        ids.acknowledge(&keys);
        assert_eq!(ids.claim(&keys[..1]), vec![IdState::New]);
    }
}
