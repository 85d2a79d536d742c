use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use parking_lot::Mutex;
use trawl_storage::{Histogram, Store};

/// Request limits, checked before decompression and parsing.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body as sent (compressed), bytes.
    pub max_body_bytes: usize,
    /// Largest body after decompression, bytes.
    pub max_decompressed_bytes: usize,
    /// Most records a search may return.
    pub max_search_limit: usize,
    /// Most rows `/api/v1/query` may return (aggregate rows are small; records count too).
    pub max_query_rows: usize,
    /// Queries running at once; more wait in a queue.
    pub max_concurrent_queries: usize,
    /// Queries waiting for a slot; beyond this, 503 with `Retry-After`.
    pub max_queued_queries: usize,
    /// Longest a query may run (a request may ask for less).
    pub query_timeout: std::time::Duration,
    /// Memory one query may hold in groups, distinct values and rows to sort.
    pub query_memory_bytes: usize,
    /// Longest query text, bytes.
    pub max_query_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 16 * 1024 * 1024,
            max_decompressed_bytes: 64 * 1024 * 1024,
            max_search_limit: 10_000,
            max_query_rows: 100_000,
            max_concurrent_queries: 4,
            max_queued_queries: 64,
            query_timeout: std::time::Duration::from_secs(30),
            query_memory_bytes: 512 << 20,
            max_query_bytes: 64 << 10,
        }
    }
}

/// Counters of the API layer, labelled, for `/metrics`.
pub struct ApiMetrics {
    /// (protocol) → records and spans accepted.
    pub accepted: Mutex<BTreeMap<&'static str, u64>>,
    /// (protocol) → body bytes received.
    pub bytes: Mutex<BTreeMap<&'static str, u64>>,
    /// (protocol, reason) → items or requests rejected.
    pub rejected: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    pub queries: AtomicU64,
    pub query_seconds: Histogram,
    /// (service, detector) → findings masked at ingest.
    pub masked: Mutex<BTreeMap<(String, String), u64>>,
}

impl Default for ApiMetrics {
    fn default() -> Self {
        ApiMetrics {
            accepted: Mutex::default(),
            bytes: Mutex::default(),
            rejected: Mutex::default(),
            queries: AtomicU64::new(0),
            query_seconds: Histogram::new(Histogram::LATENCY_BOUNDS),
            masked: Mutex::default(),
        }
    }
}

impl ApiMetrics {
    pub fn add_accepted(&self, protocol: &'static str, n: usize) {
        *self.accepted.lock().entry(protocol).or_default() += n as u64;
    }
    pub fn add_bytes(&self, protocol: &'static str, n: usize) {
        *self.bytes.lock().entry(protocol).or_default() += n as u64;
    }
    pub fn add_rejected(&self, protocol: &'static str, reason: &'static str, n: usize) {
        if n > 0 {
            *self.rejected.lock().entry((protocol, reason)).or_default() += n as u64;
        }
    }
    pub fn observe_query(&self, seconds: f64) {
        self.queries.fetch_add(1, Relaxed);
        self.query_seconds.observe(seconds);
    }
}

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    pub limits: Limits,
    pub metrics: Arc<ApiMetrics>,
    pub query_gate: Arc<QueryGate>,
    /// Settings of the compatibility endpoints (Elasticsearch, Loki, Sentry, syslog).
    pub compat: Arc<CompatConfig>,
    /// Recently acknowledged Elasticsearch (index, `_id`) pairs, for idempotent retries.
    pub es_ids: Arc<crate::es::RecentIds>,
    /// Rules, alerts and notifications; None when the server runs without them.
    pub alerting: Option<Arc<trawl_alert::Alerting>>,
    /// The masking rules applied to everything written.
    pub privacy: crate::privacy::PrivacyRules,
}

impl AppState {
    pub fn new(store: Arc<Store>, limits: Limits) -> AppState {
        let query_gate = Arc::new(QueryGate::new(limits.max_concurrent_queries, limits.max_queued_queries));
        AppState { store, limits, metrics: Arc::new(ApiMetrics::default()), query_gate, compat: Default::default(), es_ids: Default::default(), alerting: None, privacy: Default::default() }
    }
}

/// Bounds the queries running at once; a bounded number wait for a slot, the rest are refused.
pub struct QueryGate {
    slots: tokio::sync::Semaphore,
    waiting: std::sync::atomic::AtomicUsize,
    max_waiting: usize,
}

impl QueryGate {
    pub fn new(running: usize, waiting: usize) -> QueryGate {
        QueryGate { slots: tokio::sync::Semaphore::new(running.max(1)), waiting: Default::default(), max_waiting: waiting }
    }

    /// Waits for a slot; `None` when the queue is full or the wait outlasts `patience`.
    pub async fn enter(&self, patience: std::time::Duration) -> Option<tokio::sync::SemaphorePermit<'_>> {
        if let Ok(permit) = self.slots.try_acquire() {
            return Some(permit);
        }
        if self.waiting.fetch_add(1, Relaxed) >= self.max_waiting {
            self.waiting.fetch_sub(1, Relaxed);
            return None;
        }
        let permit = tokio::time::timeout(patience, self.slots.acquire()).await.ok().and_then(Result::ok);
        self.waiting.fetch_sub(1, Relaxed);
        permit
    }
}

/// Settings of the compatibility endpoints (Elasticsearch, Loki, Sentry, syslog).
#[derive(Debug, Clone, Default)]
pub struct CompatConfig {
    /// Sentry public keys accepted; empty accepts any key (a key is still required).
    pub sentry_keys: Vec<String>,
}

impl AppState {
    /// The same state with alerting.
    pub fn with_alerting(mut self, alerting: Arc<trawl_alert::Alerting>) -> AppState {
        self.alerting = Some(alerting);
        self
    }

    /// The alerting engine, or 503 when the server runs without it.
    pub fn alerting(&self) -> Result<&Arc<trawl_alert::Alerting>, crate::ApiError> {
        self.alerting.as_ref().ok_or_else(|| crate::ApiError::Unavailable("alerting is not running on this server".into()))
    }

    /// The same state with these masking rules at ingest.
    pub fn with_privacy(mut self, rules: crate::privacy::PrivacyRules) -> AppState {
        self.privacy = rules;
        self
    }

    /// The same state with these compatibility settings.
    pub fn with_compat(mut self, compat: CompatConfig) -> AppState {
        self.compat = Arc::new(compat);
        self
    }
}
