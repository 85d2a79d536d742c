//! The HTTP and gRPC surface of trawl. Only this crate knows HTTP: handlers decode requests
//! with `trawl-ingest`, write through `trawl-storage`, query with `trawl-query`, and
//! [`ApiError`] is the one place where errors become status codes.

mod alert_rules;
mod alerts;
mod catalog;
mod error;
mod es;
mod grpc;
mod ingest;
mod loki;
mod metrics;
mod notify_config;
mod patterns;
mod privacy;
mod query;
mod query_runtime;
mod sentry;
mod services;
mod state;
mod syslog;
mod tail;
mod time_range;

pub use error::ApiError;
pub use query_runtime::THREAD_STACK_BYTES;
pub use grpc::grpc_routes;
pub use es::RecentIds;
pub use state::CompatConfig;
pub use privacy::{PrivacyRules, PrivacySource};
pub use syslog::{bind_syslog, serve_syslog, SyslogOptions};
pub use state::{ApiMetrics, AppState, Limits};
pub use time_range::{parse_duration_ns, parse_time_bound};

use axum::routing::{delete, get, post};
use axum::Router;

/// Routes served on the main port: UI/API, OTLP/HTTP, health and metrics.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(metrics::health))
        .route("/ready", get(metrics::ready))
        .route("/metrics", get(metrics::prometheus))
        .route("/api/v1/ingest", post(ingest::ndjson))
        .route("/api/v1/search", get(query::search_get).post(query::search_post))
        .route("/api/v1/query", get(query::query_get).post(query::query_post))
        .route("/api/v1/traces/{trace_id}", get(query::trace))
        .route("/api/v1/rootcause", get(query::rootcause))
        .route("/api/v1/slow", get(query::slow))
        .route("/api/v1/patterns", get(patterns::patterns))
        .route("/api/v1/tail", get(tail::tail))
        .route("/api/v1/fields", get(catalog::fields))
        .route("/api/v1/fields/{name}/values", get(catalog::field_values))
        .route("/api/v1/saved-queries", get(catalog::list_saved).post(catalog::create_saved))
        .route("/api/v1/saved-queries/{id}", get(catalog::get_saved).put(catalog::update_saved).delete(catalog::delete_saved))
        .route("/api/v1/services", get(services::list))
        .route("/api/v1/services/{name}", get(services::detail))
        .route("/api/v1/servicemap", get(services::map))
        .route("/api/v1/stats", get(metrics::stats))
        .route("/api/v1/privacy/test", post(privacy::test))
        .route("/api/v1/privacy/report", get(privacy::report))
        .route("/api/v1/privacy/reload", post(privacy::reload))
        // Alerting: rules, alerts, silences, contact points, policies, notifications, SLOs.
        .route("/api/v1/rules", get(alert_rules::list).post(alert_rules::create))
        .route("/api/v1/rules/validate", post(alert_rules::validate))
        .route("/api/v1/rules/preview", post(alert_rules::preview))
        .route("/api/v1/rules/reload", post(alert_rules::reload))
        .route("/api/v1/rules/{name}", get(alert_rules::get).put(alert_rules::update).delete(alert_rules::delete))
        .route("/api/v1/rules/{name}/history", get(alert_rules::history))
        .route("/api/v1/rules/{name}/versions", get(alert_rules::versions))
        .route("/api/v1/alerts", get(alerts::list))
        .route("/api/v1/alerts/{fingerprint}", get(alerts::get))
        .route("/api/v1/alerts/{fingerprint}/ack", post(alerts::ack))
        .route("/api/v1/silences", get(alerts::silences).post(alerts::add_silence))
        .route("/api/v1/silences/{id}", delete(alerts::expire_silence))
        .route("/api/v1/contact-points", get(notify_config::list).post(notify_config::create))
        .route("/api/v1/contact-points/{name}", get(notify_config::get).put(notify_config::update).delete(notify_config::delete))
        .route("/api/v1/contact-points/{name}/test", post(notify_config::test))
        .route("/api/v1/policies", get(notify_config::policies).put(notify_config::put_policies))
        .route("/api/v1/notifications", get(notify_config::notifications))
        .route("/api/v1/slos", get(notify_config::slos))
        .merge(otlp_http_router())
        // Compatibility endpoints: Elasticsearch `_bulk` and probes, Loki push, Sentry.
        .merge(es::router())
        .merge(loki::router())
        .merge(sentry::router())
        // The web UI: its pages and built assets (crates/ui).
        .merge(trawl_ui::router())
        .fallback(error::not_found)
        // `GET /` and `HEAD /` of Elasticsearch clients get the root info; browsers the UI.
        .layer(axum::middleware::from_fn(es::root_for_es_clients))
        .with_state(state)
}

/// Routes of the dedicated Elasticsearch port (`--es-listen`, off by default).
pub fn es_only_router(state: AppState) -> Router {
    es::es_only_router().with_state(state)
}

fn otlp_http_router() -> Router<AppState> {
    Router::new().route("/v1/logs", post(ingest::otlp_logs)).route("/v1/traces", post(ingest::otlp_traces))
}

/// Routes of the dedicated OTLP/HTTP port (`:4318`).
pub fn otlp_http_only_router(state: AppState) -> Router {
    otlp_http_router().fallback(error::not_found).with_state(state)
}
