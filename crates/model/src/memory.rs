//! The memory the process holds, and the cap that keeps it under what the machine has.
//!
//! The binary installs [`CountingAllocator`] as its global allocator: every allocation is
//! counted, so [`allocated`] is the process's heap at this moment (what Rust code holds,
//! DataFusion's and Arrow's buffers included), and [`peak_allocated`] its highest. Components
//! that hold memory on behalf of requests also report it in a [`Gauge`] (queries, ingest
//! bodies), so `/metrics` can say who holds what. [`set_cap`] sets the process's cap; work that
//! can be refused (queries, ingest requests) asks [`pressure`] before it starts and long work
//! asks [`over_cap`] while it runs, so the process sheds load before the kernel kills it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static INSTALLED: AtomicBool = AtomicBool::new(false);
static CAP: AtomicUsize = AtomicUsize::new(usize::MAX);

/// The system allocator, counting what is held. Install it in a binary with
/// `#[global_allocator] static A: CountingAllocator = CountingAllocator;`.
pub struct CountingAllocator;

fn grew(bytes: usize) {
    let now = ALLOCATED.fetch_add(bytes, Relaxed) + bytes;
    if now > PEAK.load(Relaxed) {
        PEAK.fetch_max(now, Relaxed);
    }
}

fn shrank(bytes: usize) {
    ALLOCATED.fetch_sub(bytes, Relaxed);
}

// SAFETY: every call is forwarded to `System` unchanged; the counters are plain atomics.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is System's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as above.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as above.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                shrank(layout.size() - new_size);
            }
        }
        p
    }
}

/// Marks the counting allocator as installed (the binary calls this first thing in `main`):
/// without it the counters read zero and [`allocated`] says so.
pub fn mark_installed() {
    INSTALLED.store(true, Relaxed);
}

/// Heap bytes the process holds now, or None when the counting allocator is not installed.
pub fn allocated() -> Option<usize> {
    INSTALLED.load(Relaxed).then(|| ALLOCATED.load(Relaxed))
}

/// The most heap bytes the process held at once.
pub fn peak_allocated() -> usize {
    PEAK.load(Relaxed)
}

/// Sets the process's memory cap in bytes (`max_memory`).
pub fn set_cap(bytes: usize) {
    CAP.store(bytes.max(1), Relaxed);
}

/// The process's memory cap in bytes (`usize::MAX` when none is set).
pub fn cap() -> usize {
    CAP.load(Relaxed)
}

/// A refusal for work that would take memory the process does not have: the reason names the
/// figures and the setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pressure(pub String);

impl std::fmt::Display for Pressure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Refuses new work when the heap is above `share` of the cap (0.8 for queries, which may grow
/// much; 0.9 for ingest requests, whose size is known).
pub fn pressure(share: f64) -> Result<(), Pressure> {
    let (Some(now), cap) = (allocated(), cap()) else { return Ok(()) };
    if cap == usize::MAX || (now as f64) < cap as f64 * share {
        return Ok(());
    }
    Err(Pressure(format!(
        "the server holds {} MiB of memory, over {:.0} % of its cap of {} MiB (max_memory); retry shortly",
        now >> 20,
        share * 100.0,
        cap >> 20
    )))
}

/// True once the heap is over the cap: running work that can be stopped (a query) stops.
pub fn over_cap() -> Result<(), Pressure> {
    pressure(1.0)
}

/// Bytes a component holds for requests in flight, and the most it held at once.
pub struct Gauge {
    pub name: &'static str,
    current: AtomicUsize,
    peak: AtomicUsize,
}

impl Gauge {
    pub const fn new(name: &'static str) -> Gauge {
        Gauge { name, current: AtomicUsize::new(0), peak: AtomicUsize::new(0) }
    }

    pub fn add(&self, bytes: usize) {
        let now = self.current.fetch_add(bytes, Relaxed) + bytes;
        self.peak.fetch_max(now, Relaxed);
    }

    pub fn sub(&self, bytes: usize) {
        self.current.fetch_sub(bytes.min(self.current.load(Relaxed)), Relaxed);
    }

    pub fn current(&self) -> usize {
        self.current.load(Relaxed)
    }

    pub fn peak(&self) -> usize {
        self.peak.load(Relaxed)
    }

    /// Holds `bytes` on this gauge until the guard is dropped.
    pub fn hold(&'static self, bytes: usize) -> Held {
        self.add(bytes);
        Held { gauge: self, bytes }
    }
}

/// Bytes held on a gauge, released on drop.
pub struct Held {
    gauge: &'static Gauge,
    bytes: usize,
}

impl Held {
    /// Holds `bytes` more.
    pub fn grow(&mut self, bytes: usize) {
        self.gauge.add(bytes);
        self.bytes += bytes;
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.gauge.sub(self.bytes);
    }
}

/// What running queries hold: groups, distinct values, rows to sort, DataFusion's operators.
pub static QUERIES: Gauge = Gauge::new("queries");
/// Request bodies being read, decompressed and decoded by the ingest endpoints.
pub static INGEST_REQUESTS: Gauge = Gauge::new("ingest_requests");

/// Every gauge, for `/metrics`.
pub fn gauges() -> [&'static Gauge; 2] {
    [&QUERIES, &INGEST_REQUESTS]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gauge_keeps_its_peak_and_a_guard_releases() {
        static G: Gauge = Gauge::new("test");
        {
            let mut held = G.hold(100);
            held.grow(50);
            assert_eq!(G.current(), 150);
        }
        assert_eq!(G.current(), 0);
        assert_eq!(G.peak(), 150);
    }

    #[test]
    fn without_the_allocator_there_is_no_pressure() {
        // The test binary does not install the counting allocator.
        assert_eq!(allocated(), None);
        assert!(pressure(0.0).is_ok());
    }
}
