//! The store's handle: opening a data directory (recovery in `recovery.rs`), writes handed to
//! the writer thread (`writer.rs`), frozen buffers to the flusher thread (`flusher.rs`), and
//! snapshots for queries (`snapshot.rs`).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, RwLock};
use trawl_model::{Record, Span};
use trawl_rollup::RollupSet;

use crate::StoreError;
use crate::buffer::Chunk;
use crate::config::StoreConfig;
use crate::filenames::{self, index_path_for};
use crate::flusher::flusher_thread;
use crate::metastore::Metastore;
use crate::metrics::StoreMetrics;
use crate::pattern_registry::{PatternDelta, PatternRegistry};
use crate::recovery::remove_unregistered_files;
use crate::segment_index::{SegmentIndex, SegmentKind};
use crate::snapshot::{PatternLookup, SegmentHandle, Snapshot};
use crate::writer::writer_thread;

/// The rollups of a window: registered rows merged with those computed from the buffer.
#[derive(Debug, Clone, Default)]
pub struct RollupView {
    pub rollups: RollupSet,
    /// Damaged rollup rows met (skipped or read in part).
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct StoreStats {
    pub ready: bool,
    pub buffered_records: usize,
    pub buffered_spans: usize,
    pub buffered_bytes: usize,
    pub pending_flush_bytes: usize,
    /// Bytes of write requests waiting for the writer thread.
    pub queued_bytes: usize,
    pub n_segments: usize,
    pub segment_bytes: u64,
    pub wal_bytes: u64,
    pub last_error: Option<String>,
    pub corrupt_files: Vec<String>,
}

pub(crate) type Done = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// A live-tail subscriber: called on the writer thread with every acknowledged chunk, in order,
/// as soon as it is visible to queries. It must not block (hand the chunk to a bounded queue);
/// returning false unsubscribes it.
pub type Subscriber = Box<dyn FnMut(&Arc<Chunk>) -> bool + Send>;

pub(crate) struct WriteRequest {
    pub(crate) payload: Vec<u8>,
    pub(crate) chunk: Chunk,
    pub(crate) done: Done,
    /// Bytes counted in `Inner::queued_bytes` for this request.
    pub(crate) queued_bytes: usize,
}

pub(crate) enum Msg {
    Write(WriteRequest),
    Flush(mpsc::Sender<()>),
    Shutdown,
}

pub(crate) struct Frozen {
    pub(crate) chunks: Vec<Arc<Chunk>>,
    pub(crate) wal_seq_through: u64,
    pub(crate) bytes: usize,
    /// The ingest miners as they are after mining these chunks: stored with their segments.
    pub(crate) patterns: Arc<PatternDelta>,
}

#[derive(Default)]
pub(crate) struct MemState {
    pub(crate) active: Vec<Arc<Chunk>>,
    pub(crate) active_items: usize,
    pub(crate) active_bytes: usize,
    pub(crate) active_since: Option<Instant>,
    pub(crate) frozen: VecDeque<Frozen>,
    pub(crate) frozen_bytes: usize,
}

pub(crate) struct Inner {
    pub(crate) config: StoreConfig,
    pub(crate) mem: RwLock<MemState>,
    pub(crate) segments: RwLock<Vec<Arc<SegmentHandle>>>,
    pub(crate) metastore: Mutex<Metastore>,
    /// A second connection for rollup reads, so they never wait for a flush's fsync.
    pub(crate) metastore_reader: Mutex<Metastore>,
    /// A third connection, for alerting's tables.
    pub(crate) alert_tables: Mutex<crate::AlertTables>,
    /// Held (write) by the flusher from registering a buffer's segments and rollups until the
    /// buffer leaves memory, and (read) by [`Store::rollups`] while it takes the buffer and reads
    /// the tables: a buffer's rollups are then counted either from memory or from the metastore,
    /// never both, never neither.
    pub(crate) rollup_gate: RwLock<()>,
    pub(crate) last_rollup_compaction: Mutex<Option<Instant>>,
    /// The ingest pattern miners: fed by the writer thread only, read by pattern lookups.
    pub(crate) patterns: Mutex<PatternRegistry>,
    pub(crate) metrics: StoreMetrics,
    pub(crate) ready: AtomicBool,
    pub(crate) shutting_down: AtomicBool,
    /// Set by the writer thread as it exits, after its last freeze: from then on nothing new
    /// can be frozen, so the flusher may stop once the frozen queue is empty.
    pub(crate) writer_stopped: AtomicBool,
    /// Set by the flusher thread as it exits: at shutdown, once it has flushed everything or
    /// given up (a flush failing then is not retried; the WAL keeps the data).
    pub(crate) flusher_stopped: AtomicBool,
    /// Current trouble by source (`wal_open`, `wal_write`, `wal_rotate`, `flush`, `disk`); a source's
    /// entry goes away when it next succeeds.
    pub(crate) errors: Mutex<std::collections::BTreeMap<&'static str, String>>,
    pub(crate) corrupt_files: Mutex<Vec<String>>,
    /// Live-tail subscribers, called on the writer thread with every acknowledged chunk.
    pub(crate) subscribers: Mutex<Vec<Subscriber>>,
    /// Bytes of write requests queued for the writer thread, until it has handled them.
    pub(crate) queued_bytes: AtomicUsize,
    /// Signalled when something was frozen, flushed, or on shutdown.
    pub(crate) flush_cv: Condvar,
    pub(crate) flush_lock: Mutex<()>,
}

/// The store: WAL, in-memory buffer, segments and metastore behind one handle.
pub struct Store {
    inner: Arc<Inner>,
    tx: SyncSender<Msg>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// Held for the life of the store: one process per data directory.
    lock: Mutex<Option<std::fs::File>>,
}

impl Store {
    /// Opens the data directory: loads registered segments (skipping damaged ones, reported),
    /// deletes unregistered segment files left by a crash, and starts the writer thread, which
    /// replays the WAL before taking writes (see [`Store::is_ready`]).
    pub fn open(config: StoreConfig) -> Result<Store, StoreError> {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| StoreError::io(&config.data_dir, e))?;
        let lock_path = config.data_dir.join(filenames::LOCK_FILE);
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| StoreError::io(&lock_path, e))?;
        if lock.try_lock().is_err() {
            return Err(StoreError::Unavailable(format!(
                "data directory {} is in use by another trawl process",
                config.data_dir.display()
            )));
        }
        let metastore = Metastore::open(&config.data_dir.join(filenames::METASTORE_FILE))?;
        let metastore_reader = Metastore::open(&config.data_dir.join(filenames::METASTORE_FILE))?;
        let alert_tables = crate::AlertTables::open(&config.data_dir.join(filenames::METASTORE_FILE))?;
        let flushed_through = metastore.flushed_through()?;
        let rows = metastore.segments()?;
        let mut corrupt = Vec::new();
        let mut handles = Vec::new();
        for row in &rows {
            let path = config.data_dir.join(&row.path);
            let kind = SegmentKind::parse(&row.kind);
            match (kind, SegmentIndex::read(&index_path_for(&path))) {
                (Some(kind), Ok(index)) => handles.push(Arc::new(SegmentHandle::new(path, kind, row.n_bytes, index))),
                (_, Err(e)) => {
                    tracing::error!(path = %path.display(), error = %e, "segment skipped: damaged index");
                    corrupt.push(format!("{}: {e}", path.display()));
                }
                (None, _) => corrupt.push(format!("{}: unknown segment kind {}", path.display(), row.kind)),
            }
        }
        remove_unregistered_files(&config.data_dir, &rows);
        let (patterns, pattern_warnings) = PatternRegistry::load(config.pattern_services, metastore.pattern_miners(&config.tenant)?);
        for warning in pattern_warnings {
            tracing::error!(problem = %warning, "pattern miner state damaged; the service starts a new miner");
            corrupt.push(format!("metastore: {warning}"));
        }
        let metrics = StoreMetrics::default();
        metrics.corrupt_segments.store(corrupt.len() as u64, Ordering::Relaxed);
        let inner = Arc::new(Inner {
            mem: RwLock::new(MemState::default()),
            segments: RwLock::new(handles),
            metastore: Mutex::new(metastore),
            metastore_reader: Mutex::new(metastore_reader),
            alert_tables: Mutex::new(alert_tables),
            rollup_gate: RwLock::new(()),
            last_rollup_compaction: Mutex::new(None),
            patterns: Mutex::new(patterns),
            metrics,
            ready: AtomicBool::new(false),
            shutting_down: AtomicBool::new(false),
            writer_stopped: AtomicBool::new(false),
            flusher_stopped: AtomicBool::new(false),
            errors: Mutex::default(),
            corrupt_files: Mutex::new(corrupt),
            subscribers: Mutex::default(),
            queued_bytes: AtomicUsize::new(0),
            flush_cv: Condvar::new(),
            flush_lock: Mutex::new(()),
            config,
        });
        let (tx, rx) = mpsc::sync_channel(inner.config.max_queued_writes);
        let writer = {
            let inner = inner.clone();
            std::thread::Builder::new()
                .name("trawl-wal-writer".into())
                .spawn(move || writer_thread(inner, rx, flushed_through))
                .map_err(|e| StoreError::Internal(format!("cannot start writer thread: {e}")))?
        };
        let flusher = {
            let inner = inner.clone();
            std::thread::Builder::new()
                .name("trawl-flusher".into())
                .spawn(move || flusher_thread(inner))
                .map_err(|e| StoreError::Internal(format!("cannot start flusher thread: {e}")))?
        };
        Ok(Store { inner, tx, threads: Mutex::new(vec![writer, flusher]), lock: Mutex::new(Some(lock)) })
    }

    /// True once the WAL has been replayed and writes are taken.
    pub fn is_ready(&self) -> bool {
        self.inner.ready.load(Ordering::Acquire)
    }

    pub fn metrics(&self) -> &StoreMetrics {
        &self.inner.metrics
    }

    pub fn config(&self) -> &StoreConfig {
        &self.inner.config
    }

    /// The refusal while `pending` bytes wait for segment writes, with the flusher's trouble.
    fn flushing_behind(&self, pending: usize) -> StoreError {
        let why = last_error(&self.inner).unwrap_or_else(|| "segments are being written".into());
        StoreError::Overloaded(format!("flushing is behind: {} MiB wait for segment writes ({why})", pending >> 20))
    }

    /// Whether a write would be taken now: refused while the server stops, while flushing or
    /// the writer's queue is behind (`Overloaded`, 429), or while the data disk is nearly full
    /// (`Unavailable`, 503). The ingest endpoints ask before reading a request's body, so
    /// overload does not make the server busier decoding bodies it will refuse.
    pub fn admission(&self) -> Result<(), StoreError> {
        if self.inner.shutting_down.load(Ordering::Relaxed) {
            return Err(StoreError::ShuttingDown);
        }
        let pending = self.inner.mem.read().frozen_bytes;
        if pending > self.inner.config.max_pending_flush_bytes {
            return Err(self.flushing_behind(pending));
        }
        let queued = self.inner.queued_bytes.load(Ordering::Relaxed);
        if queued > self.inner.config.max_queued_bytes {
            return Err(StoreError::Overloaded(format!(
                "the ingest queue holds {} MiB, over its cap of {} MiB (max_queued_bytes)",
                queued >> 20,
                self.inner.config.max_queued_bytes >> 20
            )));
        }
        self.check_disk()
    }

    /// The free-space watermark, counted and shown in the stats while it refuses.
    fn check_disk(&self) -> Result<(), StoreError> {
        match crate::disk::check_free_space(&self.inner.config) {
            Ok(()) => {
                clear_error(&self.inner, "disk");
                Ok(())
            }
            Err(e) => {
                self.inner.metrics.writes_refused_disk.fetch_add(1, Ordering::Relaxed);
                set_error(&self.inner, "disk", e.to_string());
                Err(e)
            }
        }
    }

    /// Queues a write; `done` runs on the writer thread once the write is durable (or
    /// acknowledged, in buffered mode) and visible to queries, or with the reason it was not.
    /// May block up to two seconds when flushing is behind; call it off the async reactor.
    pub fn write(&self, records: Vec<Record>, spans: Vec<Span>, done: impl FnOnce(Result<(), StoreError>) + Send + 'static) {
        if self.inner.shutting_down.load(Ordering::Relaxed) {
            return done(Err(StoreError::ShuttingDown));
        }
        if records.is_empty() && spans.is_empty() {
            return done(Ok(()));
        }
        // Over the cap, wait a little for the flusher before refusing: a short stall is kinder
        // to clients than a retry after a second.
        let cap = self.inner.config.max_pending_flush_bytes;
        let mut pending = self.inner.mem.read().frozen_bytes;
        if pending > cap {
            let deadline = Instant::now() + Duration::from_secs(2);
            let mut guard = self.inner.flush_lock.lock();
            while pending > cap && !self.inner.flush_cv.wait_until(&mut guard, deadline).timed_out() {
                pending = self.inner.mem.read().frozen_bytes;
            }
            pending = self.inner.mem.read().frozen_bytes;
        }
        if pending > cap {
            self.inner.metrics.writes_refused_overload.fetch_add(1, Ordering::Relaxed);
            return done(Err(self.flushing_behind(pending)));
        }
        if let Err(e) = self.check_disk() {
            return done(Err(e));
        }
        let payload = match bincode::serialize(&(&records, &spans)) {
            Ok(p) => p,
            Err(e) => return done(Err(StoreError::Internal(format!("cannot encode wal frame: {e}")))),
        };
        let chunk = Chunk::new(records, spans);
        let cost = payload.len() + chunk.bytes;
        let queued = self.inner.queued_bytes.fetch_add(cost, Ordering::Relaxed);
        if queued > 0 && queued + cost > self.inner.config.max_queued_bytes {
            self.inner.queued_bytes.fetch_sub(cost, Ordering::Relaxed);
            self.inner.metrics.writes_refused_overload.fetch_add(1, Ordering::Relaxed);
            return done(Err(StoreError::Overloaded(format!(
                "the ingest queue holds {} MiB, over its cap of {} MiB (max_queued_bytes)",
                queued >> 20,
                self.inner.config.max_queued_bytes >> 20
            ))));
        }
        let request = WriteRequest { payload, chunk, done: Box::new(done), queued_bytes: cost };
        match self.tx.try_send(Msg::Write(request)) {
            Ok(()) => {}
            Err(TrySendError::Full(Msg::Write(r))) => {
                self.inner.queued_bytes.fetch_sub(r.queued_bytes, Ordering::Relaxed);
                self.inner.metrics.writes_refused_overload.fetch_add(1, Ordering::Relaxed);
                (r.done)(Err(StoreError::Overloaded("ingest queue is full".into())))
            }
            Err(TrySendError::Disconnected(Msg::Write(r))) => {
                self.inner.queued_bytes.fetch_sub(r.queued_bytes, Ordering::Relaxed);
                (r.done)(Err(StoreError::ShuttingDown))
            }
            Err(_) => {}
        }
    }

    /// [`Store::write`] for callers that can block.
    pub fn write_blocking(&self, records: Vec<Record>, spans: Vec<Span>) -> Result<(), StoreError> {
        let (tx, rx) = mpsc::channel();
        self.write(records, spans, move |r| {
            let _ = tx.send(r);
        });
        rx.recv().unwrap_or(Err(StoreError::ShuttingDown))
    }

    /// Freezes the buffer and waits until every frozen buffer is in a registered segment, or
    /// `timeout` passes. Returns whether everything was flushed.
    pub fn flush(&self, timeout: Duration) -> bool {
        let (tx, rx) = mpsc::channel();
        if self.tx.send(Msg::Flush(tx)).is_err() || rx.recv_timeout(timeout).is_err() {
            return false;
        }
        let deadline = Instant::now() + timeout;
        let mut guard = self.inner.flush_lock.lock();
        while !self.inner.mem.read().frozen.is_empty() {
            if self.inner.flush_cv.wait_until(&mut guard, deadline).timed_out() {
                return self.inner.mem.read().frozen.is_empty();
            }
        }
        true
    }

    /// Saved queries live in the metastore; they go through the second connection so they never
    /// wait for a flush.
    pub fn with_saved_queries<T>(&self, f: impl FnOnce(&mut Metastore) -> Result<T, StoreError>) -> Result<T, StoreError> {
        f(&mut self.inner.metastore_reader.lock())
    }

    /// Alerting's tables, on their own connection (see `alert_tables.rs`).
    pub fn with_alert_tables<T>(&self, f: impl FnOnce(&mut crate::AlertTables) -> Result<T, StoreError>) -> Result<T, StoreError> {
        f(&mut self.inner.alert_tables.lock())
    }

    /// Adds a live-tail subscriber (see [`Subscriber`]). Writes acknowledged from now on reach it.
    pub fn subscribe(&self, subscriber: Subscriber) {
        self.inner.subscribers.lock().push(subscriber);
    }

    pub fn n_subscribers(&self) -> usize {
        self.inner.subscribers.lock().len()
    }

    /// A consistent view for queries.
    pub fn snapshot(&self) -> Snapshot {
        let segments = self.inner.segments.read();
        let mem = self.inner.mem.read();
        let mut chunks: Vec<Arc<Chunk>> = mem.frozen.iter().flat_map(|f| f.chunks.iter().cloned()).collect();
        chunks.extend(mem.active.iter().cloned());
        Snapshot { chunks, segments: segments.clone(), patterns: PatternLookup { inner: Some(self.inner.clone()) } }
    }

    /// The rollups of buckets overlapping `start_ns..=end_ns`: the registered rows, merged with
    /// rollups computed now from the buffer (service edges are then found across the whole
    /// buffer, which may pair a little more than the flushes will).
    pub fn rollups(&self, start_ns: i64, end_ns: i64) -> Result<RollupView, StoreError> {
        let (chunks, (mut rollups, warnings)) = {
            let _gate = self.inner.rollup_gate.read();
            let chunks = self.snapshot().chunks;
            let stored = self.inner.metastore_reader.lock().read_rollups(&self.inner.config.tenant, start_ns, end_ns)?;
            (chunks, stored)
        };
        let mut in_memory = RollupSet::from_items(
            chunks.iter().flat_map(|c| c.records.iter()),
            chunks.iter().flat_map(|c| c.spans.iter()),
        );
        in_memory.retain_window(start_ns, end_ns);
        rollups.merge(in_memory);
        Ok(RollupView { rollups, warnings })
    }

    pub fn stats(&self) -> StoreStats {
        let segments = self.inner.segments.read();
        let mem = self.inner.mem.read();
        let all_chunks = || mem.frozen.iter().flat_map(|f| f.chunks.iter()).chain(mem.active.iter());
        StoreStats {
            ready: self.is_ready(),
            buffered_records: all_chunks().map(|c| c.records.len()).sum(),
            buffered_spans: all_chunks().map(|c| c.spans.len()).sum(),
            buffered_bytes: mem.active_bytes + mem.frozen_bytes,
            pending_flush_bytes: mem.frozen_bytes,
            queued_bytes: self.inner.queued_bytes.load(Ordering::Relaxed),
            n_segments: segments.len(),
            segment_bytes: segments.iter().map(|s| s.n_bytes).sum(),
            wal_bytes: trawl_wal::disk_bytes(&filenames::wal_dir(&self.inner.config.data_dir)),
            last_error: last_error(&self.inner),
            corrupt_files: self.inner.corrupt_files.lock().clone(),
        }
    }

    /// Records a damaged segment met by a query (reported in stats and metrics).
    pub fn report_corrupt(&self, what: String) {
        let mut files = self.inner.corrupt_files.lock();
        if !files.contains(&what) {
            tracing::error!(file = %what, "damaged segment skipped");
            files.push(what);
            self.inner.metrics.corrupt_segments.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Stops taking writes, flushes what is buffered (best effort within `timeout`), and joins
    /// the threads. What is not flushed stays in the WAL and is replayed on the next start.
    pub fn shutdown(&self, timeout: Duration) {
        if self.inner.shutting_down.swap(true, Ordering::SeqCst) {
            return;
        }
        let _ = self.tx.send(Msg::Shutdown);
        let deadline = Instant::now() + timeout;
        {
            let mut guard = self.inner.flush_lock.lock();
            while (!self.inner.writer_stopped.load(Ordering::SeqCst) || !self.inner.mem.read().frozen.is_empty())
                && !self.inner.flusher_stopped.load(Ordering::SeqCst)
                && Instant::now() < deadline
            {
                let _ = self.inner.flush_cv.wait_until(&mut guard, deadline);
            }
        }
        self.inner.flush_cv.notify_all();
        let threads = std::mem::take(&mut *self.threads.lock());
        for t in threads {
            let _ = t.join();
        }
    }
}

impl Store {
    /// Lets go of the data directory without flushing or stopping anything, as a crash would:
    /// for tests that reopen the directory in the same process.
    #[doc(hidden)]
    pub fn simulate_crash(self) {
        self.inner.shutting_down.store(true, Ordering::SeqCst);
        self.lock.lock().take();
        std::mem::forget(self);
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.shutdown(Duration::from_secs(10));
    }
}

pub(crate) fn set_error(inner: &Inner, source: &'static str, message: String) {
    inner.errors.lock().insert(source, message);
}

pub(crate) fn clear_error(inner: &Inner, source: &'static str) {
    inner.errors.lock().remove(source);
}

/// Every current trouble in one line, None when all is well.
pub(crate) fn last_error(inner: &Inner) -> Option<String> {
    let errors = inner.errors.lock();
    (!errors.is_empty()).then(|| errors.values().cloned().collect::<Vec<_>>().join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Durability;

    fn record(i: usize) -> Record {
        let mut r = Record::new(trawl_model::now_ns() - 1_000_000 + i as i64);
        r.service = "svc".into();
        r.body = format!("record {i}");
        r
    }

    fn all_bodies(store: &Store) -> Vec<String> {
        let snap = store.snapshot();
        let mut bodies: Vec<String> = snap.chunks.iter().flat_map(|c| c.records.iter().map(|r| r.body.clone())).collect();
        for seg in &snap.segments {
            if seg.kind != SegmentKind::Records {
                continue;
            }
            let batches = crate::segment_reader::read_record_batches(&seg.path, (0..seg.index.row_groups.len()).collect()).unwrap();
            for b in &batches {
                let c = crate::RecordColumns::new(b, &seg.path).unwrap();
                bodies.extend((0..c.len()).map(|i| c.body.value(i).to_string()));
            }
        }
        bodies.sort();
        bodies
    }

    #[test]
    fn writes_survive_flush_and_restart_exactly_once() {
        let dir = tempfile::tempdir().unwrap();
        let config = StoreConfig::new(dir.path());
        {
            let store = Store::open(config.clone()).unwrap();
            store.write_blocking((0..10).map(record).collect(), vec![]).unwrap();
            assert!(store.flush(Duration::from_secs(10)));
            store.write_blocking((10..15).map(record).collect(), vec![]).unwrap();
            assert_eq!(all_bodies(&store).len(), 15);
            // Gone without a flush of the last five: they come back from the WAL.
            store.simulate_crash();
        }
        let store = Store::open(config.clone()).unwrap();
        while !store.is_ready() {
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut expected: Vec<String> = (0..15).map(|i| format!("record {i}")).collect();
        expected.sort();
        assert_eq!(all_bodies(&store), expected);
        assert!(store.flush(Duration::from_secs(10)));
        drop(store);
        let store = Store::open(config).unwrap();
        assert!(store.flush(Duration::from_secs(10)));
        assert_eq!(all_bodies(&store), expected);
        assert_eq!(store.stats().buffered_records, 0);
    }

    /// (service, body) → pattern id of every record, buffered or in segments.
    fn pattern_ids(store: &Store) -> std::collections::BTreeMap<(String, String), u64> {
        let snap = store.snapshot();
        let mut ids = std::collections::BTreeMap::new();
        for c in &snap.chunks {
            for r in &c.records {
                ids.insert((r.service.clone(), r.body.clone()), r.pattern_id);
            }
        }
        for seg in snap.segments.iter().filter(|s| s.kind == SegmentKind::Records) {
            for b in &crate::segment_reader::read_record_batches(&seg.path, (0..seg.index.row_groups.len()).collect()).unwrap() {
                let c = crate::RecordColumns::new(b, &seg.path).unwrap();
                for i in 0..c.len() {
                    ids.insert((c.service.value(i).to_string(), c.body.value(i).to_string()), c.pattern_id(i));
                }
            }
        }
        ids
    }

    /// Records of two services and a few templates; `round` makes the bodies unique.
    fn patterned(round: usize) -> Vec<Record> {
        (0..40)
            .map(|i| {
                let mut r = record(round * 100 + i);
                r.service = ["checkout", "payment"][i % 2].into();
                r.body = match i % 4 {
                    0 => format!("order {round}-{i} created for user u{i}"),
                    1 => format!("payment {round}-{i} failed: card declined (code={i})"),
                    2 => format!("cache miss for key k{round}x{i}"),
                    _ => format!("GET /items/{round}{i} took {i}ms"),
                };
                r
            })
            .collect()
    }

    #[test]
    fn pattern_ids_are_stable_across_restart_and_wal_replay() {
        // The reference: the same writes in one process, no crash.
        let reference = {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(StoreConfig::new(dir.path())).unwrap();
            for round in 0..4 {
                store.write_blocking(patterned(round), vec![]).unwrap();
                if round == 1 {
                    assert!(store.flush(Duration::from_secs(10)));
                }
            }
            pattern_ids(&store)
        };
        assert_eq!(reference.len(), 160);
        assert!(reference.values().all(|&id| id != 0));
        // Four templates per service, whatever the values.
        let distinct: std::collections::BTreeSet<(&str, u64)> = reference.iter().map(|((s, _), id)| (s.as_str(), *id)).collect();
        assert_eq!(distinct.len(), 4, "{distinct:?}");

        let dir = tempfile::tempdir().unwrap();
        let config = StoreConfig::new(dir.path());
        {
            let store = Store::open(config.clone()).unwrap();
            store.write_blocking(patterned(0), vec![]).unwrap();
            store.write_blocking(patterned(1), vec![]).unwrap();
            assert!(store.flush(Duration::from_secs(10)));
            // Only in the WAL when the process dies: replay mines them again.
            store.write_blocking(patterned(2), vec![]).unwrap();
            store.simulate_crash();
        }
        {
            let store = Store::open(config.clone()).unwrap();
            wait_ready(&store);
            // The miners continue from their saved state.
            store.write_blocking(patterned(3), vec![]).unwrap();
            assert_eq!(pattern_ids(&store), reference);
            assert!(store.flush(Duration::from_secs(10)));
        }
        let store = Store::open(config).unwrap();
        wait_ready(&store);
        assert_eq!(pattern_ids(&store), reference);
        // Every stored id has a template, after a restart too.
        let keys: Vec<(String, u64)> = reference.iter().map(|((s, _), id)| (s.clone(), *id)).collect();
        let templates = store.snapshot().patterns.templates(&keys).unwrap();
        assert_eq!(templates.len(), 4);
        assert!(templates.values().any(|(_, t)| t == "cache miss for key <*>"), "{templates:?}");
        let stored = store.inner.metastore_reader.lock().pattern_templates("default", &keys).unwrap();
        assert_eq!(stored.len(), 4);
    }

    #[test]
    fn an_evicted_service_miner_comes_back_with_new_ids() {
        let dir = tempfile::tempdir().unwrap();
        let config = StoreConfig { pattern_services: 2, ..StoreConfig::new(dir.path()) };
        let store = Store::open(config.clone()).unwrap();
        let write = |service: &str, body: &str| {
            let mut r = record(0);
            r.service = service.into();
            r.body = body.into();
            store.write_blocking(vec![r], vec![]).unwrap();
            let snap = store.snapshot();
            snap.chunks.last().unwrap().records[0].pattern_id
        };
        assert_eq!(write("a", "alpha one"), 1);
        assert_eq!(write("b", "beta one"), 1);
        // A third service evicts `a`, the least recently used.
        assert_eq!(write("c", "gamma one"), 1);
        assert!(store.flush(Duration::from_secs(10)));
        // `a` comes back: its ids continue after the evicted ones, never reused.
        assert_eq!(write("a", "alpha two words here"), 2);
        let keys = vec![("a".to_string(), 1), ("a".to_string(), 2)];
        let templates = store.snapshot().patterns.templates(&keys).unwrap();
        assert_eq!(templates[&keys[0]].1, "alpha one");
        assert_eq!(templates[&keys[1]].1, "alpha two words here");
        drop(store);
        let store = Store::open(config).unwrap();
        wait_ready(&store);
        assert_eq!(store.snapshot().patterns.templates(&keys).unwrap().len(), 2);
    }

    #[test]
    fn pattern_ids_off_gives_zero() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(StoreConfig { pattern_services: 0, ..StoreConfig::new(dir.path()) }).unwrap();
        store.write_blocking(patterned(0), vec![]).unwrap();
        assert!(pattern_ids(&store).values().all(|&id| id == 0));
    }

    /// Not a test: the cost of pattern ids at ingest. `cargo test -p trawl-storage --release
    /// ingest_cost_of_pattern_ids -- --ignored --nocapture` prints records/s of the store's
    /// writer path (buffered durability, 50 services, 40 templates) with and without mining.
    #[test]
    #[ignore]
    fn ingest_cost_of_pattern_ids() {
        let batches: Vec<Vec<Record>> = (0..400)
            .map(|b| {
                (0..1000)
                    .map(|i| {
                        let n = b * 1000 + i;
                        let mut r = record(n);
                        r.service = format!("service-{}", n % 50);
                        r.body = match n % 8 {
                            0 => format!("GET /api/v1/items/{n} 200 in {}ms", n % 97),
                            1 => format!("payment pay_{n:x} failed: card declined (order_id=ORD-{n})"),
                            2 => format!("user u{} logged in from 10.0.{}.{}", n % 1000, n % 250, n % 7),
                            3 => format!("cache miss for key item:{n} after {}us", n % 300),
                            4 => format!("결제가 실패했습니다 order={n} 금액={}원", n % 10_000),
                            5 => format!("db query took {}ms rows={} table=orders_{}", n % 50, n % 20, n % 5),
                            6 => format!("retrying request {n} attempt {} of 3 reason=timeout", n % 3),
                            _ => format!("worker {} processed job {n} in {}.{}s", n % 16, n % 9, n % 100),
                        };
                        r
                    })
                    .collect()
            })
            .collect();
        for services in [0, 2_000, 0, 2_000] {
            let dir = tempfile::tempdir().unwrap();
            let config = StoreConfig { pattern_services: services, durability: Durability::Buffered, ..StoreConfig::new(dir.path()) };
            let store = Store::open(config).unwrap();
            wait_ready(&store);
            let started = Instant::now();
            for batch in batches.clone() {
                store.write_blocking(batch, vec![]).unwrap();
            }
            let elapsed = started.elapsed();
            println!(
                "pattern_services={services:>5}: {:>9.0} records/s through the writer ({} records)",
                400_000.0 / elapsed.as_secs_f64(),
                400_000
            );
        }
    }

    #[test]
    fn damaged_index_skips_the_segment_and_reports_it() {
        let dir = tempfile::tempdir().unwrap();
        let config = StoreConfig::new(dir.path());
        let seg_path = {
            let store = Store::open(config.clone()).unwrap();
            store.write_blocking(vec![record(1)], vec![]).unwrap();
            assert!(store.flush(Duration::from_secs(10)));
            store.snapshot().segments[0].path.clone()
        };
        std::fs::write(index_path_for(&seg_path), b"garbage").unwrap();
        let store = Store::open(config).unwrap();
        assert!(store.snapshot().segments.is_empty());
        assert_eq!(store.stats().corrupt_files.len(), 1);
    }

    /// web → api calls: `n` pairs of spans (every third api span fails) and `n` records.
    fn calls(n: usize, first: usize) -> (Vec<Record>, Vec<Span>) {
        let now = trawl_model::now_ns() - 2_000_000_000;
        let mut spans = Vec::new();
        for i in first..first + n {
            let web = Span {
                trace_id: format!("{i:032x}"),
                span_id: "00000000000000a1".into(),
                parent_span_id: String::new(),
                service: "web".into(),
                environment: String::new(),
                host: String::new(),
                name: "GET /".into(),
                kind: trawl_model::SpanKind::Server,
                start_ns: now + i as i64,
                duration_ns: 3_000_000,
                status_code: trawl_model::StatusCode::Unset,
                status_message: String::new(),
                attributes: Vec::new(),
                resource: Vec::new(),
                events: Vec::new(),
                links: Vec::new(),
            };
            let api = Span {
                span_id: "00000000000000b2".into(),
                parent_span_id: web.span_id.clone(),
                service: "api".into(),
                name: "rpc".into(),
                duration_ns: 2_000_000,
                status_code: if i % 3 == 0 { trawl_model::StatusCode::Error } else { trawl_model::StatusCode::Ok },
                ..web.clone()
            };
            spans.extend([web, api]);
        }
        (((first)..first + n).map(record).collect(), spans)
    }

    /// (web requests, api requests, api errors, edge calls, edge errors, records).
    fn rollup_totals(store: &Store) -> (u64, u64, u64, u64, u64, u64) {
        let view = store.rollups(0, i64::MAX).unwrap();
        assert!(view.warnings.is_empty(), "{:?}", view.warnings);
        let set = &view.rollups;
        let requests = |service: &str| set.red.iter().filter(|(k, _)| k.service == service).map(|(_, v)| v.requests).sum::<u64>();
        let api_errors = set.red.iter().filter(|(k, _)| k.service == "api").map(|(_, v)| v.errors).sum();
        let edge = set.edges.iter().filter(|(k, _)| k.caller == "web" && k.callee == "api").fold((0, 0), |(c, e), (_, v)| (c + v.requests, e + v.errors));
        let records = set.levels.values().map(|c| c.total()).sum();
        (requests("web"), requests("api"), api_errors, edge.0, edge.1, records)
    }

    fn wait_ready(store: &Store) {
        while !store.is_ready() {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn rollups_survive_restart_exactly_once() {
        let dir = tempfile::tempdir().unwrap();
        let config = StoreConfig::new(dir.path());
        // 30 calls, 10 failing.
        let expected = (30, 30, 10, 30, 10, 30);
        {
            let store = Store::open(config.clone()).unwrap();
            let (records, spans) = calls(30, 0);
            store.write_blocking(records, spans).unwrap();
            // From the buffer, before any flush.
            assert_eq!(rollup_totals(&store), expected);
            assert!(store.flush(Duration::from_secs(10)));
            assert_eq!(store.stats().buffered_spans, 0);
            assert_eq!(rollup_totals(&store), expected);
        }
        let store = Store::open(config).unwrap();
        wait_ready(&store);
        assert_eq!(rollup_totals(&store), expected);
    }

    #[test]
    fn rollups_are_not_counted_twice_after_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let config = StoreConfig::new(dir.path());
        {
            let store = Store::open(config.clone()).unwrap();
            let (records, spans) = calls(30, 0);
            store.write_blocking(records, spans).unwrap();
            assert!(store.flush(Duration::from_secs(10)));
            // Not flushed: only in the WAL when the process dies.
            let (records, spans) = calls(12, 30);
            store.write_blocking(records, spans).unwrap();
            store.simulate_crash();
        }
        let expected = (42, 42, 14, 42, 14, 42);
        let store = Store::open(config.clone()).unwrap();
        wait_ready(&store);
        // Stored rows of the first buffer plus the replayed second one, from memory.
        assert_eq!(rollup_totals(&store), expected);
        assert!(store.flush(Duration::from_secs(10)));
        assert_eq!(rollup_totals(&store), expected);
        drop(store);
        let store = Store::open(config).unwrap();
        wait_ready(&store);
        assert!(store.flush(Duration::from_secs(10)));
        assert_eq!(rollup_totals(&store), expected);
    }

    #[test]
    fn rollup_reads_race_flushes_without_double_counting() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(StoreConfig::new(dir.path())).unwrap());
        let writer = {
            let store = store.clone();
            std::thread::spawn(move || {
                for round in 0..20 {
                    let (records, spans) = calls(5, round * 5);
                    store.write_blocking(records, spans).unwrap();
                    assert!(store.flush(Duration::from_secs(10)));
                }
            })
        };
        // Every read sees whole writes only: web requests always equal edge calls and records,
        // and they only grow.
        let mut last = 0;
        while !writer.is_finished() {
            let (web, api, _, calls, _, records) = rollup_totals(&store);
            assert_eq!((web, api, calls, records), (web, web, web, web));
            assert!(web % 5 == 0 && web >= last, "{web} after {last}");
            last = web;
        }
        writer.join().unwrap();
        assert_eq!(rollup_totals(&store), (100, 100, 34, 100, 34, 100));
    }
}
