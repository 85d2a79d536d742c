//! The record and span data model shared by every trawl crate.
//!
//! A *record* is one log event, a *span* is one timed operation of a trace; both follow the
//! OpenTelemetry data models. Attributes are flattened (`http.request.method`), arrays are kept
//! as JSON text. This crate also owns the text tokenizer, because ingest (indexing) and query
//! (matching) must agree on what a word is.

mod attributes;
pub mod clock;
pub mod glob;
mod level;
pub mod memory;
mod record;
mod span;
pub mod text;
mod timestamp;

pub use attributes::{attributes_to_json, attributes_to_json_string, find_attribute, flatten_json, AttrValue, FoundAttribute, Attributes, MAX_FIELDS};
pub use clock::{Clock, ScaledClock, SystemClock};
pub use level::Level;
pub use record::{Record, MAX_RECORD_BYTES};
pub use span::{Span, SpanEvent, SpanKind, SpanLink, StatusCode};
pub use timestamp::{
    format_rfc3339, normalize_id, now_ns, parse_duration_ns, parse_time_bound, parse_time_str, parse_time_value, sanity_check_time,
    TimeCheck,
};

/// Anything that can be written into the store.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Item {
    Record(Record),
    Span(Span),
}
