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
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_body_bytes: 16 * 1024 * 1024, max_decompressed_bytes: 64 * 1024 * 1024, max_search_limit: 10_000 }
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
}

impl Default for ApiMetrics {
    fn default() -> Self {
        ApiMetrics {
            accepted: Mutex::default(),
            bytes: Mutex::default(),
            rejected: Mutex::default(),
            queries: AtomicU64::new(0),
            query_seconds: Histogram::new(Histogram::LATENCY_BOUNDS),
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
}

impl AppState {
    pub fn new(store: Arc<Store>, limits: Limits) -> AppState {
        AppState { store, limits, metrics: Arc::new(ApiMetrics::default()) }
    }
}
