use std::path::PathBuf;
use std::time::Duration;

/// When a write is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// After its WAL frames are fsynced (concurrent writes share one fsync). The default.
    Durable,
    /// Before fsync; the WAL is fsynced at least every `buffered_sync_interval`. A machine crash
    /// (not a process crash) can lose what was acknowledged in that window.
    Buffered,
}

#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub data_dir: PathBuf,
    pub durability: Durability,
    pub buffered_sync_interval: Duration,
    /// Flush the buffer into a segment when it holds this many records and spans...
    pub flush_max_items: usize,
    /// ...or this many bytes of memory (estimated)...
    pub flush_max_bytes: usize,
    /// ...or when its oldest write is this old.
    pub flush_max_age: Duration,
    /// Writes are refused (retryable) while this many bytes wait for a flush.
    pub max_pending_flush_bytes: usize,
    /// Requests waiting for the writer thread; more are refused (retryable).
    pub max_queued_writes: usize,
    /// Bytes of requests waiting for the writer thread (encoded frame and decoded items);
    /// past this, writes are refused (retryable).
    pub max_queued_bytes: usize,
    /// Writes are refused (503, retryable) while the data disk has less free space than this;
    /// None: the smaller of 1 GiB and 2 % of the disk.
    pub min_free_disk_bytes: Option<u64>,
    /// Rows per Parquet row group (and per sidecar index entry).
    pub row_group_rows: usize,
    pub tenant: String,
    /// Minute rollups older than this are merged into hour rollups.
    pub rollup_compact_after: Duration,
    /// Services with a live pattern miner at ingest (least recently used evicted past it);
    /// 0 turns pattern ids at ingest off (every record gets 0).
    pub pattern_services: usize,
}

impl StoreConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> StoreConfig {
        StoreConfig {
            data_dir: data_dir.into(),
            durability: Durability::Durable,
            buffered_sync_interval: Duration::from_millis(200),
            flush_max_items: 100_000,
            flush_max_bytes: 32 * 1024 * 1024,
            flush_max_age: Duration::from_secs(30),
            max_pending_flush_bytes: 96 * 1024 * 1024,
            max_queued_writes: 4096,
            max_queued_bytes: 256 * 1024 * 1024,
            min_free_disk_bytes: None,
            row_group_rows: 16 * 1024,
            tenant: crate::filenames::DEFAULT_TENANT.to_string(),
            rollup_compact_after: Duration::from_secs(6 * 3600),
            pattern_services: 2_000,
        }
    }
}
