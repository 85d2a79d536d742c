//! The free-space watermark of the data disk: writes are refused a little before the disk is
//! full, with a reason that says so, rather than failing in the middle of a WAL append.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

use crate::{StoreConfig, StoreError};

/// The watermark when none is configured: the smaller of this and `DEFAULT_SHARE` of the disk.
const DEFAULT_MIN_FREE: u64 = 1 << 30;
const DEFAULT_SHARE: f64 = 0.02;

/// `statvfs` is asked at most this often; in between the last answer stands. The answer is kept
/// per process: a server has one data directory.
const RECHECK_MS: i64 = 250;

static CHECKED_AT_MS: AtomicI64 = AtomicI64::new(i64::MIN);
static FREE: AtomicU64 = AtomicU64::new(u64::MAX);
static TOTAL: AtomicU64 = AtomicU64::new(u64::MAX);

/// Free and total bytes of the file system holding `config.data_dir`, at most `RECHECK_MS` old.
pub fn free_space(config: &StoreConfig) -> (u64, u64) {
    let now = trawl_model::now_ns() / 1_000_000;
    let last = CHECKED_AT_MS.load(Relaxed);
    if now.saturating_sub(last) >= RECHECK_MS && CHECKED_AT_MS.compare_exchange(last, now, Relaxed, Relaxed).is_ok() {
        if let Ok(st) = rustix::fs::statvfs(&config.data_dir) {
            FREE.store(st.f_bavail.saturating_mul(st.f_frsize), Relaxed);
            TOTAL.store(st.f_blocks.saturating_mul(st.f_frsize), Relaxed);
        }
    }
    (FREE.load(Relaxed), TOTAL.load(Relaxed))
}

/// The configured watermark, or the default for a disk of `total` bytes.
pub fn min_free(config: &StoreConfig, total: u64) -> u64 {
    config.min_free_disk_bytes.unwrap_or_else(|| DEFAULT_MIN_FREE.min((total as f64 * DEFAULT_SHARE) as u64))
}

/// `Unavailable` (503, retryable) while the data disk is under its watermark.
pub(crate) fn check_free_space(config: &StoreConfig) -> Result<(), StoreError> {
    let (free, total) = free_space(config);
    let min = min_free(config, total);
    if free < min {
        return Err(StoreError::Unavailable(format!(
            "the data disk is nearly full: {} MiB free, under the watermark of {} MiB (min_free_disk_bytes); writes resume once space is freed",
            free >> 20,
            min >> 20
        )));
    }
    Ok(())
}
