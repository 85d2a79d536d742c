//! Builders shared by the tests of this crate.

use trawl_model::{Span, SpanKind, StatusCode};

/// A span of `service` named `<service> op`, starting at 1 µs, 10 ns long, status UNSET.
pub fn span(trace: &str, id: &str, parent: &str, service: &str, kind: SpanKind) -> Span {
    Span {
        trace_id: trace.into(),
        span_id: id.into(),
        parent_span_id: parent.into(),
        service: service.into(),
        environment: String::new(),
        host: String::new(),
        name: format!("{service} op"),
        kind,
        start_ns: 1_000,
        duration_ns: 10,
        status_code: StatusCode::Unset,
        status_message: String::new(),
        attributes: Vec::new(),
        resource: Vec::new(),
        events: Vec::new(),
        links: Vec::new(),
    }
}
