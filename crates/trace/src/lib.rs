//! From spans to an explanation.
//!
//! [`assemble`] turns the spans and records of one trace into a tree that copes with what real
//! traces look like (missing parents, skewed clocks, duplicate span ids, cycles), and names the
//! critical path and the root-cause span. [`rank_causes`] attributes many failing traces to
//! their root causes and ranks the causes against a baseline window. Plain functions over
//! values: no I/O here.

mod assemble;
mod fingerprint;
mod rank;

pub use assemble::{assemble, AssembledTrace, RootCause, RootCauseKind, SpanNode};
pub use fingerprint::mask_message;
pub use rank::{rank_causes, Cause, CauseKey, CauseStatus};
