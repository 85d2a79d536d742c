//! Trace assembly on hand-built traces: the shapes real systems send.

use trawl_model::{AttrValue, Span, SpanEvent, SpanKind, StatusCode};
use trawl_trace::{assemble, RootCauseKind};

const MS: i64 = 1_000_000;

fn span(id: &str, parent: &str, service: &str, name: &str, start_ms: i64, dur_ms: i64) -> Span {
    Span {
        trace_id: "t1".into(),
        span_id: id.into(),
        parent_span_id: parent.into(),
        service: service.into(),
        environment: String::new(),
        host: String::new(),
        name: name.into(),
        kind: SpanKind::Server,
        start_ns: 1_000_000_000_000 + start_ms * MS,
        duration_ns: dur_ms * MS,
        status_code: StatusCode::Unset,
        status_message: String::new(),
        attributes: vec![],
        resource: vec![],
        events: vec![],
        links: vec![],
    }
}

fn failed(mut s: Span, message: &str) -> Span {
    s.status_code = StatusCode::Error;
    s.status_message = message.into();
    s
}

/// The waterfall as text: one line per span, indented, with offset, duration and flags.
fn waterfall(spans: Vec<Span>) -> String {
    let t = assemble("t1", spans, vec![]);
    let mut out = String::new();
    for (i, n) in t.nodes.iter().enumerate() {
        let mut flags = Vec::new();
        if n.orphan {
            flags.push("orphan".to_string());
        }
        if n.duplicate {
            flags.push("duplicate".to_string());
        }
        if n.clock_skew_ns != 0 {
            flags.push(format!("skew+{}ms", n.clock_skew_ns / MS));
        }
        if n.on_critical_path {
            flags.push("critical".to_string());
        }
        if t.root_cause.as_ref().is_some_and(|rc| rc.node == i) {
            flags.push("ROOT CAUSE".to_string());
        }
        out.push_str(&format!(
            "{:indent$}{} {} @{}ms {}ms self={}ms {}\n",
            "",
            n.span.service,
            n.span.name,
            n.offset_ns / MS,
            n.span.duration_ns / MS,
            n.self_time_ns / MS,
            flags.join(","),
            indent = n.depth * 2
        ));
    }
    if let Some(rc) = &t.root_cause {
        out.push_str(&format!("root cause ({:?}): {}\n", rc.kind, rc.reason));
    }
    for w in &t.warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    out
}

fn check(spans: Vec<Span>, expect: &str) {
    let got = waterfall(spans);
    assert_eq!(got.trim(), expect.trim(), "\n{got}");
}

#[test]
fn timeout_to_a_third_party_is_the_root_cause_not_the_gateway() {
    let mut call = failed(span("c", "b", "payment-service", "POST /charge", 20, 3000), "deadline exceeded after 3s");
    call.kind = SpanKind::Client;
    call.attributes.push(("peer.service".into(), AttrValue::Str("third-party-payment-api".into())));
    check(
        vec![
            failed(span("a", "", "gateway", "POST /checkout", 0, 3100), "upstream error"),
            failed(span("b", "a", "payment-service", "charge", 10, 3050), "payment failed"),
            call,
            span("d", "a", "cart", "GET /cart", 2, 5),
        ],
        "
gateway POST /checkout @0ms 3100ms self=45ms critical
  cart GET /cart @2ms 5ms self=5ms 
  payment-service charge @10ms 3050ms self=50ms critical
    payment-service POST /charge @20ms 3000ms self=3000ms critical,ROOT CAUSE
root cause (Error): payment-service `POST /charge` calling third-party-payment-api timed out after 3000 ms: deadline exceeded after 3s
",
    );
}

#[test]
fn orphans_skew_and_duplicates_are_flagged_not_fatal() {
    check(
        vec![
            span("a", "", "gateway", "GET /", 100, 50),
            // Starts 30 ms before its parent: a skewed clock.
            span("b", "a", "user", "load", 70, 20),
            // Parent never arrived.
            span("c", "zz", "audit", "write", 120, 5),
            // Same id as b.
            span("b", "a", "user", "load-again", 130, 5),
        ],
        "
gateway GET / @0ms 50ms self=20ms critical,ROOT CAUSE
  user load @0ms 20ms self=20ms skew+30ms
  audit write @20ms 5ms self=5ms orphan
  user load-again @30ms 5ms self=5ms duplicate,critical
root cause (Latency): gateway `GET /` spent 20.0 ms of the trace's 50.0 ms in itself (40 %)
warning: 1 spans repeat a span id already in the trace
warning: 1 spans name a parent that is not in the trace; shown under the root
warning: 1 spans start before their parent (clock skew); moved for display
",
    );
}

#[test]
fn exception_events_name_the_error_kind_and_cycles_terminate() {
    let mut db = failed(span("c", "b", "order", "SELECT orders", 5, 40), "");
    db.events.push(SpanEvent {
        time_ns: db.start_ns + 40 * MS,
        name: "exception".into(),
        attributes: vec![
            ("exception.type".into(), AttrValue::Str("PoolTimeoutError".into())),
            ("exception.message".into(), AttrValue::Str("no connection in 30 ms".into())),
        ],
    });
    let spans = vec![
        failed(span("a", "", "gateway", "POST /order", 0, 60), "500"),
        failed(span("b", "a", "order", "place", 2, 50), "internal"),
        db,
        // A cycle x → y → x must not hang.
        span("x", "y", "ghost", "x", 1, 1),
        span("y", "x", "ghost", "y", 1, 1),
    ];
    let t = assemble("t1", spans, vec![]);
    let rc = t.root_cause.expect("root cause");
    assert_eq!(rc.kind, RootCauseKind::Error);
    assert_eq!(rc.error_kind, "PoolTimeoutError");
    assert!(rc.reason.contains("timed out after 40.0 ms: PoolTimeoutError: no connection in 30 ms"), "{}", rc.reason);
    assert_eq!(t.nodes[rc.node].span.name, "SELECT orders");
    assert_eq!(t.nodes.len(), 5);
    // The cycle is broken at one span, which is shown under the root as an orphan.
    assert_eq!(t.nodes.iter().filter(|n| n.span.service == "ghost" && n.orphan).count(), 1);
}

#[test]
fn wide_and_deep_traces_assemble_quickly_and_completely() {
    let mut spans = vec![span("root", "", "gateway", "GET /", 0, 100_000)];
    for i in 0..20_000 {
        spans.push(span(&format!("w{i}"), "root", "wide", "call", i % 1000, 5));
    }
    let mut parent = "root".to_string();
    for i in 0..5_000 {
        let id = format!("d{i}");
        spans.push(span(&id, &parent, "deep", "step", 1 + i / 100, 10));
        parent = id;
    }
    let t = assemble("t1", spans, vec![]);
    assert_eq!(t.nodes.len(), 25_001);
    assert_eq!(t.nodes.iter().map(|n| n.depth).max(), Some(5_000));
}
