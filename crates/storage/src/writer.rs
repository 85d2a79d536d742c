//! The writer thread: WAL appends with one fsync per group of waiting requests, the buffer,
//! live-tail hand-off, and freezing the buffer for the flusher.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use trawl_wal::Wal;

use crate::StoreError;
use crate::buffer::Chunk;
use crate::config::Durability;
use crate::filenames;
use crate::recovery::replay_into;
use crate::store::{clear_error, set_error, Frozen, Inner, MemState, Msg, WriteRequest};

pub(crate) fn writer_thread(inner: Arc<Inner>, rx: mpsc::Receiver<Msg>, flushed_through: u64) {
    let wal_dir = filenames::wal_dir(&inner.config.data_dir);
    let mut wal = loop {
        match Wal::open(&wal_dir, flushed_through) {
            Ok((wal, replay)) => {
                clear_error(&inner, "wal_open");
                replay_into(&inner, replay);
                break wal;
            }
            Err(e) => {
                // Typically a full or read-only disk: keep trying, the server stays not-ready.
                tracing::error!(error = %e, "cannot open wal; retrying");
                set_error(&inner, "wal_open", format!("cannot open the wal: {e}"));
                std::thread::sleep(Duration::from_secs(1));
                if inner.shutting_down.load(Ordering::Relaxed) {
                    return;
                }
            }
        }
    };
    if let Err(e) = freeze(&inner, &mut wal) {
        tracing::error!(error = %e, "cannot freeze replayed buffer");
    }
    inner.ready.store(true, Ordering::Release);
    tracing::info!("wal replay done, taking writes");

    let mut timers = WriterTimers { last_sync: Instant::now(), freeze_retry_at: None };
    let mut pending: Option<Msg> = None;
    loop {
        let msg = match pending.take() {
            Some(m) => m,
            None => match rx.recv_timeout(next_wakeup(&inner)) {
                Ok(m) => m,
                Err(RecvTimeoutError::Timeout) => {
                    periodic(&inner, &mut wal, &mut timers);
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            },
        };
        match msg {
            Msg::Write(first) => {
                let mut batch = vec![first];
                let mut bytes = batch[0].payload.len();
                while bytes < 32 * 1024 * 1024 {
                    match rx.try_recv() {
                        Ok(Msg::Write(r)) => {
                            bytes += r.payload.len();
                            batch.push(r);
                        }
                        Ok(other) => {
                            pending = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                commit(&inner, &mut wal, batch, &mut timers.last_sync);
                periodic(&inner, &mut wal, &mut timers);
            }
            Msg::Flush(ack) => {
                if let Err(e) = freeze(&inner, &mut wal) {
                    tracing::error!(error = %e, "cannot freeze buffer");
                }
                let _ = ack.send(());
            }
            Msg::Shutdown => {
                if let Err(e) = freeze(&inner, &mut wal) {
                    tracing::error!(error = %e, "cannot freeze buffer at shutdown");
                }
                let _ = wal.sync();
                break;
            }
        }
    }
    // Anyone still queued learns the store is going away.
    while let Ok(msg) = rx.try_recv() {
        if let Msg::Write(r) = msg {
            (r.done)(Err(StoreError::ShuttingDown));
        }
    }
    inner.writer_stopped.store(true, Ordering::SeqCst);
    let _guard = inner.flush_lock.lock();
    inner.flush_cv.notify_all();
}

pub(crate) fn push_active(mem: &mut MemState, chunk: Chunk) -> Arc<Chunk> {
    mem.active_items += chunk.n_items();
    mem.active_bytes += chunk.bytes;
    mem.active_since.get_or_insert_with(Instant::now);
    let chunk = Arc::new(chunk);
    mem.active.push(chunk.clone());
    chunk
}

fn next_wakeup(inner: &Inner) -> Duration {
    let mut wait = Duration::from_millis(500);
    if inner.config.durability == Durability::Buffered {
        wait = wait.min(inner.config.buffered_sync_interval);
    }
    if let Some(since) = inner.mem.read().active_since {
        wait = wait.min(inner.config.flush_max_age.saturating_sub(since.elapsed()).max(Duration::from_millis(10)));
    }
    wait
}

/// Appends a group of writes to the WAL with one fsync, then makes them visible and acks them.
fn commit(inner: &Inner, wal: &mut Wal, mut batch: Vec<WriteRequest>, last_sync: &mut Instant) {
    // Once handled, the requests leave the queue's count (their chunks join the buffer's).
    let queued: usize = batch.iter().map(|r| r.queued_bytes).sum();
    let _dequeued = Dequeued(inner, queued);
    let payloads: Vec<&[u8]> = batch.iter().map(|r| r.payload.as_slice()).collect();
    let bytes: usize = payloads.iter().map(|p| p.len()).sum();
    let durable = inner.config.durability == Durability::Durable;
    let appended = wal.append(&payloads);
    drop(payloads);
    if appended.is_ok() {
        // Pattern ids follow the WAL's order, so that replay gives the same ones. Mined once
        // the frames are in the file: a frame that fails only its fsync may still be replayed.
        let mut registry = inner.patterns.lock();
        for r in &mut batch {
            registry.assign(&mut r.chunk.records);
        }
    }
    let result = appended.and_then(|()| {
        if durable {
            let t = Instant::now();
            wal.sync()?;
            inner.metrics.wal_fsync_seconds.observe(t.elapsed().as_secs_f64());
            *last_sync = Instant::now();
        }
        Ok(())
    });
    if let Err(e) = result {
        inner.metrics.wal_write_errors.fetch_add(1, Ordering::Relaxed);
        let reason = format!("cannot write the wal ({e}); nothing of this request was acknowledged, retry later");
        tracing::error!(error = %e, requests = batch.len(), "wal write failed");
        set_error(inner, "wal_write", reason.clone());
        for r in batch {
            (r.done)(Err(StoreError::Unavailable(reason.clone())));
        }
        return;
    }
    clear_error(inner, "wal_write");
    inner.metrics.wal_bytes_written.fetch_add(bytes as u64, Ordering::Relaxed);
    let mut dones = Vec::with_capacity(batch.len());
    let mut chunks = Vec::with_capacity(batch.len());
    {
        let mut mem = inner.mem.write();
        for r in batch {
            inner.metrics.records_written.fetch_add(r.chunk.records.len() as u64, Ordering::Relaxed);
            inner.metrics.spans_written.fetch_add(r.chunk.spans.len() as u64, Ordering::Relaxed);
            chunks.push(push_active(&mut mem, r.chunk));
            dones.push(r.done);
        }
    }
    for done in dones {
        done(Ok(()));
    }
    let mut subscribers = inner.subscribers.lock();
    if !subscribers.is_empty() {
        subscribers.retain_mut(|subscriber| chunks.iter().all(&mut *subscriber));
    }
}

/// Takes bytes off `Inner::queued_bytes` when dropped.
struct Dequeued<'a>(&'a Inner, usize);

impl Drop for Dequeued<'_> {
    fn drop(&mut self) {
        self.0.queued_bytes.fetch_sub(self.1, Ordering::Relaxed);
    }
}

struct WriterTimers {
    last_sync: Instant,
    /// After a failed freeze (disk full), the next attempt waits until then.
    freeze_retry_at: Option<Instant>,
}

/// Background duties of the writer: fsync in buffered mode, freeze a full or old buffer.
fn periodic(inner: &Inner, wal: &mut Wal, timers: &mut WriterTimers) {
    if inner.config.durability == Durability::Buffered && timers.last_sync.elapsed() >= inner.config.buffered_sync_interval {
        if let Err(e) = wal.sync() {
            tracing::error!(error = %e, "wal fsync failed");
            inner.metrics.wal_write_errors.fetch_add(1, Ordering::Relaxed);
        }
        timers.last_sync = Instant::now();
    }
    if timers.freeze_retry_at.is_some_and(|t| Instant::now() < t) {
        return;
    }
    let full = {
        let mem = inner.mem.read();
        mem.active_items >= inner.config.flush_max_items
            || mem.active_bytes >= inner.config.flush_max_bytes
            || mem.active_since.is_some_and(|s| s.elapsed() >= inner.config.flush_max_age)
    };
    if full {
        match freeze(inner, wal) {
            Ok(()) => timers.freeze_retry_at = None,
            Err(e) => {
                tracing::error!(error = %e, "cannot rotate wal to freeze the buffer; retrying in 1 s");
                timers.freeze_retry_at = Some(Instant::now() + Duration::from_secs(1));
            }
        }
    }
}

/// Closes the current WAL file and hands the buffer that it covers to the flusher.
fn freeze(inner: &Inner, wal: &mut Wal) -> Result<(), StoreError> {
    if inner.mem.read().active.is_empty() {
        return Ok(());
    }
    let seq = match wal.rotate() {
        Ok(seq) => {
            clear_error(inner, "wal_rotate");
            seq
        }
        Err(e) => {
            let message = format!("cannot rotate the wal: {e}");
            set_error(inner, "wal_rotate", message.clone());
            return Err(StoreError::Unavailable(message));
        }
    };
    // Every record of the WAL files through `seq` is mined, and no other: this delta makes the
    // stored miners match the watermark once these chunks are registered.
    let patterns = Arc::new(inner.patterns.lock().take_delta());
    {
        let mut mem = inner.mem.write();
        let chunks = std::mem::take(&mut mem.active);
        let bytes = std::mem::take(&mut mem.active_bytes);
        mem.active_items = 0;
        mem.active_since = None;
        mem.frozen_bytes += bytes;
        mem.frozen.push_back(Frozen { chunks, wal_seq_through: seq, bytes, patterns });
    }
    inner.flush_cv.notify_all();
    Ok(())
}

