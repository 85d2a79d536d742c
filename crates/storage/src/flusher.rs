//! The flusher thread: frozen buffers into segments, registered with their rollups and the
//! miners' state in one metastore transaction; then the WAL files they came from go.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use parking_lot::RwLockWriteGuard;
use trawl_model::{Record, Span};
use trawl_rollup::RollupSet;

use crate::StoreError;
use crate::buffer::Chunk;
use crate::filenames::{self, FORMAT_VERSION};
use crate::metastore::SegmentRow;
use crate::pattern_registry::PatternDelta;
use crate::segment_index::{SegmentIndex, SegmentKind};
use crate::segment_writer::{write_records_segment, write_spans_segment};
use crate::snapshot::SegmentHandle;
use crate::store::{clear_error, set_error, Inner};

/// How often the flusher compacts old minute rollups, and how many hours one step takes.
const ROLLUP_COMPACTION_INTERVAL: Duration = Duration::from_secs(300);
const ROLLUP_COMPACTION_HOURS_PER_STEP: i64 = 24;

pub(crate) fn flusher_thread(inner: Arc<Inner>) {
    flush_until_stopped(&inner);
    inner.flusher_stopped.store(true, Ordering::SeqCst);
    if !inner.mem.read().frozen.is_empty() {
        tracing::warn!("stopping with buffers not flushed; they are in the wal and replayed on the next start");
    }
    let _guard = inner.flush_lock.lock();
    inner.flush_cv.notify_all();
}

fn flush_until_stopped(inner: &Inner) {
    let mut backoff = Duration::from_millis(200);
    loop {
        // Between flushes, so waiters on a flush are never kept waiting for it.
        maybe_compact_rollups(inner);
        let next = {
            let mut guard = inner.flush_lock.lock();
            loop {
                let front = inner.mem.read().frozen.front().map(|f| (f.chunks.clone(), f.wal_seq_through, f.patterns.clone()));
                if let Some(front) = front {
                    break Some(front);
                }
                if inner.writer_stopped.load(Ordering::SeqCst) {
                    break None;
                }
                inner.flush_cv.wait_for(&mut guard, Duration::from_millis(500));
            }
        };
        let Some((chunks, seq, patterns)) = next else { return };
        match write_and_register(inner, &chunks, seq, &patterns) {
            Ok((handles, rollup_gate)) => {
                backoff = Duration::from_millis(200);
                {
                    let mut segments = inner.segments.write();
                    let mut mem = inner.mem.write();
                    segments.extend(handles);
                    if let Some(f) = mem.frozen.pop_front() {
                        mem.frozen_bytes -= f.bytes;
                    }
                }
                drop(rollup_gate);
                inner.metrics.segments_flushed.fetch_add(1, Ordering::Relaxed);
                clear_error(inner, "flush");
                if let Err(e) = trawl_wal::remove_files_through(&filenames::wal_dir(&inner.config.data_dir), seq) {
                    tracing::warn!(error = %e, "cannot delete flushed wal files; they are skipped on replay");
                }
                let _guard = inner.flush_lock.lock();
                inner.flush_cv.notify_all();
            }
            Err(e) => {
                inner.metrics.flush_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, retry_in = ?backoff, "segment flush failed; the buffer stays in memory and in the wal");
                set_error(inner, "flush", format!("segment flush failed: {e}"));
                // Waits out the backoff, but not a shutdown: a flush failing then is not retried.
                let until = Instant::now() + backoff;
                let mut guard = inner.flush_lock.lock();
                while !inner.shutting_down.load(Ordering::SeqCst) && Instant::now() < until {
                    let _ = inner.flush_cv.wait_until(&mut guard, until);
                }
                if inner.shutting_down.load(Ordering::SeqCst) {
                    return;
                }
                drop(guard);
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Merges old minute rollups into hour rollups, at most every [`ROLLUP_COMPACTION_INTERVAL`].
/// A failure is logged and retried next time: compaction only saves space and read time.
fn maybe_compact_rollups(inner: &Inner) {
    {
        let mut last = inner.last_rollup_compaction.lock();
        if last.is_some_and(|t| t.elapsed() < ROLLUP_COMPACTION_INTERVAL) {
            return;
        }
        *last = Some(Instant::now());
    }
    let compact_after = i64::try_from(inner.config.rollup_compact_after.as_nanos()).unwrap_or(i64::MAX);
    let cutoff = trawl_model::now_ns().saturating_sub(compact_after);
    // A bounded number of steps, each its own transaction: flushing waits for one step at most.
    for _ in 0..64 {
        if inner.shutting_down.load(Ordering::Relaxed) {
            return;
        }
        match inner.metastore.lock().compact_rollups(&inner.config.tenant, cutoff, ROLLUP_COMPACTION_HOURS_PER_STEP) {
            Ok(done) => {
                if done.minute_rows > 0 {
                    tracing::info!(minute_rows = done.minute_rows, hour_rows = done.hour_rows, "rollups compacted");
                }
                if !done.more {
                    return;
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "rollup compaction failed; retrying later");
                return;
            }
        }
    }
}

fn day_of(ns: i64) -> String {
    let rfc = trawl_model::format_rfc3339(ns);
    rfc.get(..10).unwrap_or("unknown").to_string()
}

/// Writes the records and spans of a frozen buffer as segments and registers them, with the
/// buffer's rollups, and the WAL watermark `seq`. Partial files are removed on failure. On
/// success the rollup gate is still held: the caller releases it once the buffer left memory.
fn write_and_register<'a>(
    inner: &'a Inner,
    chunks: &[Arc<Chunk>],
    seq: u64,
    patterns: &PatternDelta,
) -> Result<(Vec<Arc<SegmentHandle>>, RwLockWriteGuard<'a, ()>), StoreError> {
    let config = &inner.config;
    let rollups = RollupSet::from_items(chunks.iter().flat_map(|c| c.records.iter()), chunks.iter().flat_map(|c| c.spans.iter()));
    let mut records: Vec<&Record> = chunks.iter().flat_map(|c| c.records.iter()).collect();
    let mut spans: Vec<&Span> = chunks.iter().flat_map(|c| c.spans.iter()).collect();
    let mut written: Vec<(PathBuf, SegmentRow, SegmentIndex, SegmentKind)> = Vec::new();
    let result = (|| {
        for kind in [SegmentKind::Records, SegmentKind::Spans] {
            let min_time = match kind {
                SegmentKind::Records => records.iter().map(|r| r.time_ns).min(),
                SegmentKind::Spans => spans.iter().map(|s| s.start_ns).min(),
            };
            let Some(min_time) = min_time else { continue };
            let rel = filenames::segment_rel_path(&config.tenant, &day_of(min_time), kind.as_str(), seq);
            let path = config.data_dir.join(&rel);
            let index = match kind {
                SegmentKind::Records => write_records_segment(&path, &config.tenant, &mut records, config.row_group_rows),
                SegmentKind::Spans => write_spans_segment(&path, &config.tenant, &mut spans, config.row_group_rows),
            };
            let index = match index {
                Ok(i) => i,
                Err(e) => {
                    filenames::segment_files(&path).iter().for_each(|f| drop(std::fs::remove_file(f)));
                    return Err(e);
                }
            };
            let n_bytes: u64 = filenames::segment_files(&path).iter().map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0)).sum();
            if let Some(parent) = path.parent() {
                std::fs::File::open(parent).and_then(|d| d.sync_all()).map_err(|e| StoreError::io(parent, e))?;
            }
            let row = SegmentRow {
                tenant: config.tenant.clone(),
                kind: kind.as_str().to_string(),
                path: rel.to_string_lossy().into_owned(),
                min_time_ns: index.min_time_ns,
                max_time_ns: index.max_time_ns,
                n_rows: index.n_rows,
                n_bytes,
                wal_seq: seq,
                format_version: FORMAT_VERSION,
            };
            written.push((path, row, index, kind));
        }
        let rows: Vec<SegmentRow> = written.iter().map(|w| w.1.clone()).collect();
        let gate = inner.rollup_gate.write();
        inner.metastore.lock().register_with_patterns(&rows, &config.tenant, &rollups, patterns, seq)?;
        Ok(gate)
    })();
    let gate = match result {
        Ok(gate) => gate,
        Err(e) => {
            for (path, ..) in &written {
                filenames::segment_files(path).iter().for_each(|f| drop(std::fs::remove_file(f)));
            }
            return Err(e);
        }
    };
    let handles = written
        .into_iter()
        .map(|(path, row, index, kind)| Arc::new(SegmentHandle::new(path, kind, row.n_bytes, index)))
        .collect();
    Ok((handles, gate))
}

