//! Rollups fetched once per window and shared by the rules evaluated at the same time: a
//! thousand RED rules on the same minute read the metastore (and fold the buffer) once.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use trawl_rollup::RollupSet;
use trawl_storage::Store;

type Slot = Arc<OnceLock<Result<Arc<RollupSet>, String>>>;

pub struct RollupCache {
    store: Arc<Store>,
    slots: Mutex<HashMap<(i64, i64), (i64, Slot)>>,
}

/// Entries older than this (by the evaluation time that asked) are dropped; a window that ends in
/// the current minute (its data still growing) is read again after [`FRESH_NS`].
const KEEP_NS: i64 = 3 * 60 * 1_000_000_000;
const FRESH_NS: i64 = 5_000_000_000;
/// Most windows held.
const MAX_SLOTS: usize = 512;

impl RollupCache {
    pub fn new(store: Arc<Store>) -> RollupCache {
        RollupCache { store, slots: Mutex::new(HashMap::new()) }
    }

    /// The rollups of buckets overlapping `start_ns..=end_ns`; concurrent callers for the same
    /// window wait for one read. `now_ns` ages the cache.
    pub fn get(&self, start_ns: i64, end_ns: i64, now_ns: i64) -> Result<Arc<RollupSet>, String> {
        let slot = {
            let mut slots = self.slots.lock();
            if slots.len() > MAX_SLOTS {
                slots.retain(|_, (at, _)| now_ns - *at < KEEP_NS);
                if slots.len() > MAX_SLOTS {
                    slots.clear();
                }
            }
            let entry = slots.entry((start_ns, end_ns)).or_insert_with(|| (now_ns, Arc::new(OnceLock::new())));
            // A window reaching into the last minute before `now` still fills: a read older than
            // a few seconds is stale.
            if end_ns + 60_000_000_000 > now_ns && now_ns - entry.0 > FRESH_NS {
                *entry = (now_ns, Arc::new(OnceLock::new()));
            }
            entry.1.clone()
        };
        let read = slot.get_or_init(|| self.store.rollups(start_ns, end_ns).map(|v| Arc::new(v.rollups)).map_err(|e| format!("rollups: {e}"))).clone();
        if read.is_err() {
            // A failed read is not kept: the next evaluation tries again.
            self.slots.lock().remove(&(start_ns, end_ns));
        }
        read
    }

    /// Forgets everything asked before `now_ns - KEEP_NS`.
    pub fn age(&self, now_ns: i64) {
        self.slots.lock().retain(|_, (at, _)| now_ns - *at < KEEP_NS);
    }
}
