//! Where SQL runs: a runtime of its own, apart from the one serving requests and ingest.
//!
//! DataFusion's operators are futures that may compute for a long while in one poll (sorting
//! a large batch, building a join). On the serving runtime that would stall ingest and delay
//! the timer of the query's own deadline; here the deadline is measured on the serving
//! runtime, the answer (504) goes out on time, and the query's task is aborted: it stops at
//! its next yield and frees its memory. Its threads have a large, known stack, so planning
//! has margin under the parser's depth limits.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

/// Stack of every thread that parses, plans or runs queries (the serving runtime's too).
pub const THREAD_STACK_BYTES: usize = 16 << 20;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("trawl-sql")
            .thread_stack_size(2 * THREAD_STACK_BYTES)
            .enable_all()
            .build()
            .expect("the SQL runtime starts")
    })
}

/// Aborts the task when dropped: the caller gave up (deadline, or the client went away).
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs `work` on the SQL runtime; None when `timeout` passed first (the work is aborted).
pub(crate) async fn run_with_deadline<T: Send + 'static>(work: impl Future<Output = T> + Send + 'static, timeout: Duration) -> Option<T> {
    let handle = runtime().spawn(work);
    let _abort = AbortOnDrop(handle.abort_handle());
    match tokio::time::timeout(timeout, handle).await {
        Ok(Ok(value)) => Some(value),
        Ok(Err(e)) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Ok(Err(_)) | Err(_) => None,
    }
}
