//! `/health`, `/ready`, `/metrics` (Prometheus text) and `/api/v1/stats`.

use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::{ApiError, AppState};

pub async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

pub async fn ready(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    if state.store.is_ready() {
        Ok(Json(serde_json::json!({"status": "ready"})))
    } else {
        Err(ApiError::Unavailable("replaying the write-ahead log".into()))
    }
}

pub async fn stats(State(state): State<AppState>) -> Json<serde_json::Value> {
    let store = state.store.clone();
    let stats = tokio::task::spawn_blocking(move || store.stats()).await.ok();
    Json(serde_json::to_value(stats).unwrap_or_default())
}

/// A Prometheus label value: backslash, quote and newline escaped.
fn escape_label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Current and peak memory: the whole process (counted by the allocator), its cap, and what
/// each component holds for requests and data in flight.
fn render_memory(out: &mut String, stats: &trawl_storage::StoreStats) {
    use trawl_model::memory;
    let _ = writeln!(out, "# HELP trawl_memory_bytes Heap bytes held now, by component (process: everything).\n# TYPE trawl_memory_bytes gauge");
    if let Some(now) = memory::allocated() {
        let _ = writeln!(out, "trawl_memory_bytes{{component=\"process\"}} {now}");
    }
    for g in memory::gauges() {
        let _ = writeln!(out, "trawl_memory_bytes{{component=\"{}\"}} {}", g.name, g.current());
    }
    let _ = writeln!(out, "trawl_memory_bytes{{component=\"ingest_queue\"}} {}", stats.queued_bytes);
    let _ = writeln!(out, "trawl_memory_bytes{{component=\"buffer\"}} {}", stats.buffered_bytes);
    let _ = writeln!(out, "trawl_memory_bytes{{component=\"pending_flush\"}} {}", stats.pending_flush_bytes);
    let _ = writeln!(out, "# HELP trawl_memory_peak_bytes Most heap bytes held at once since start, by component.\n# TYPE trawl_memory_peak_bytes gauge");
    if memory::allocated().is_some() {
        let _ = writeln!(out, "trawl_memory_peak_bytes{{component=\"process\"}} {}", memory::peak_allocated());
    }
    for g in memory::gauges() {
        let _ = writeln!(out, "trawl_memory_peak_bytes{{component=\"{}\"}} {}", g.name, g.peak());
    }
    let cap = memory::cap();
    if cap != usize::MAX {
        let _ = writeln!(out, "# HELP trawl_memory_cap_bytes The process's memory cap (max_memory).\n# TYPE trawl_memory_cap_bytes gauge\ntrawl_memory_cap_bytes {cap}");
    }
}

pub async fn prometheus(State(state): State<AppState>) -> Response {
    let store = state.store.clone();
    let Ok(stats) = tokio::task::spawn_blocking(move || store.stats()).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "stats unavailable").into_response();
    };
    let m = state.store.metrics();
    let mut out = String::new();
    let gauge = |out: &mut String, name: &str, help: &str, kind: &str, value: f64| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
    };
    let a = &state.metrics;
    let _ = writeln!(out, "# HELP trawl_ingested_items_total Records and spans accepted, by protocol.\n# TYPE trawl_ingested_items_total counter");
    for (protocol, n) in a.accepted.lock().iter() {
        let _ = writeln!(out, "trawl_ingested_items_total{{protocol=\"{protocol}\"}} {n}");
    }
    let _ = writeln!(out, "# HELP trawl_ingested_bytes_total Request body bytes received, by protocol.\n# TYPE trawl_ingested_bytes_total counter");
    for (protocol, n) in a.bytes.lock().iter() {
        let _ = writeln!(out, "trawl_ingested_bytes_total{{protocol=\"{protocol}\"}} {n}");
    }
    let _ = writeln!(out, "# HELP trawl_rejected_total Items or requests refused, by protocol and reason.\n# TYPE trawl_rejected_total counter");
    for ((protocol, reason), n) in a.rejected.lock().iter() {
        let _ = writeln!(out, "trawl_rejected_total{{protocol=\"{protocol}\",reason=\"{reason}\"}} {n}");
    }
    let _ = writeln!(out, "# HELP trawl_masked_total Sensitive values masked at ingest, by service and detector.\n# TYPE trawl_masked_total counter");
    for ((service, detector), n) in a.masked.lock().iter() {
        let _ = writeln!(out, "trawl_masked_total{{service=\"{}\",detector=\"{detector}\"}} {n}", escape_label(service));
    }
    gauge(&mut out, "trawl_records_written_total", "Records acknowledged by the store.", "counter", m.records_written.load(Relaxed) as f64);
    gauge(&mut out, "trawl_spans_written_total", "Spans acknowledged by the store.", "counter", m.spans_written.load(Relaxed) as f64);
    gauge(&mut out, "trawl_wal_bytes_written_total", "Bytes appended to the write-ahead log.", "counter", m.wal_bytes_written.load(Relaxed) as f64);
    gauge(&mut out, "trawl_wal_write_errors_total", "Failed WAL writes or fsyncs.", "counter", m.wal_write_errors.load(Relaxed) as f64);
    gauge(&mut out, "trawl_wal_corrupt_tails_total", "Torn or corrupt WAL tails found on replay.", "counter", m.wal_corrupt_tails.load(Relaxed) as f64);
    gauge(&mut out, "trawl_wal_replayed_frames", "WAL frames replayed at start.", "gauge", m.wal_replayed_frames.load(Relaxed) as f64);
    let _ = writeln!(out, "# HELP trawl_wal_fsync_seconds WAL fsync latency.\n# TYPE trawl_wal_fsync_seconds histogram");
    m.wal_fsync_seconds.render("trawl_wal_fsync_seconds", "", &mut out);
    gauge(&mut out, "trawl_segments_flushed_total", "Buffers flushed into segments.", "counter", m.segments_flushed.load(Relaxed) as f64);
    gauge(&mut out, "trawl_flush_errors_total", "Failed segment flushes (retried).", "counter", m.flush_errors.load(Relaxed) as f64);
    gauge(&mut out, "trawl_corrupt_segments", "Damaged segment files skipped.", "gauge", m.corrupt_segments.load(Relaxed) as f64);
    gauge(&mut out, "trawl_writes_refused_overload_total", "Writes refused because the server was behind.", "counter", m.writes_refused_overload.load(Relaxed) as f64);
    gauge(&mut out, "trawl_writes_refused_disk_total", "Writes refused because the data disk was under its free-space watermark.", "counter", m.writes_refused_disk.load(Relaxed) as f64);
    render_memory(&mut out, &stats);
    gauge(&mut out, "trawl_buffer_records", "Records in memory, not yet in a segment.", "gauge", stats.buffered_records as f64);
    gauge(&mut out, "trawl_buffer_spans", "Spans in memory, not yet in a segment.", "gauge", stats.buffered_spans as f64);
    gauge(&mut out, "trawl_buffer_bytes", "Approximate bytes held in memory by the buffer.", "gauge", stats.buffered_bytes as f64);
    gauge(&mut out, "trawl_segments", "Registered segments.", "gauge", stats.n_segments as f64);
    gauge(&mut out, "trawl_segment_bytes", "Bytes of registered segments on disk.", "gauge", stats.segment_bytes as f64);
    gauge(&mut out, "trawl_wal_bytes", "Bytes of WAL files on disk.", "gauge", stats.wal_bytes as f64);
    gauge(&mut out, "trawl_ready", "1 once the WAL is replayed.", "gauge", if stats.ready { 1.0 } else { 0.0 });
    gauge(&mut out, "trawl_queries_total", "Searches and trace lookups served.", "counter", a.queries.load(Relaxed) as f64);
    let _ = writeln!(out, "# HELP trawl_query_seconds Query latency.\n# TYPE trawl_query_seconds histogram");
    a.query_seconds.render("trawl_query_seconds", "", &mut out);
    if let Some(alerting) = state.alerting.clone() {
        // Reads the outbox counts from the metastore: off the reactor.
        if let Ok(part) = tokio::task::spawn_blocking(move || {
            let mut part = String::new();
            alerting.render_metrics(&mut part);
            part
        })
        .await
        {
            out.push_str(&part);
        }
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], out).into_response()
}
