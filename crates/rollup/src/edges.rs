//! Calls between services, found among the spans of one buffer.
//!
//! A span whose parent span is in the same set and belongs to another service is a call from
//! the parent's service to the span's service (the usual pair is a CLIENT span and the SERVER
//! span it caused; SERVER → SERVER without client instrumentation counts too). The call is
//! measured by the child span: its duration and its status.
//!
//! A CLIENT or PRODUCER span with no child in the set but naming its peer is a call to that
//! (often uninstrumented, or unreachable) service, measured by the client span. The peer is
//! the first of `peer.service`, `server.address` (current semantic conventions) and
//! `net.peer.name` (before 1.21) that the span has, as given (an address is not resolved to a
//! service name).
//!
//! Limitation: the parent is looked up only among the spans given, i.e. one frozen buffer at
//! flush time (spans of a request normally arrive together). A child whose parent arrived in
//! another buffer gives no call; nothing is ever counted twice, because a pair is only seen when
//! both spans are in the same set.

use std::collections::{HashMap, HashSet};

use trawl_model::{AttrValue, Span, SpanKind};

/// The attribute naming the remote service of a client span.
pub const PEER_SERVICE_ATTRIBUTE: &str = "peer.service";

/// The attributes that name the party a client span calls, in order of preference.
pub const PEER_ATTRIBUTES: [&str; 3] = [PEER_SERVICE_ATTRIBUTE, "server.address", "net.peer.name"];

/// The party a CLIENT or PRODUCER span calls, by the first of [`PEER_ATTRIBUTES`] it has.
pub fn peer_of(span: &Span) -> Option<&str> {
    PEER_ATTRIBUTES.iter().find_map(|key| match span.attributes.iter().find(|(k, _)| k == key).map(|(_, v)| v) {
        Some(AttrValue::Str(peer)) if !peer.is_empty() => Some(peer.as_str()),
        _ => None,
    })
}

/// One call from `caller` to `callee`, measured by `span`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServiceCall<'a> {
    pub caller: &'a str,
    pub callee: &'a str,
    pub span: &'a Span,
}

/// Every call between services among `spans`, in the order of the measuring spans.
pub fn service_calls<'a>(spans: &[&'a Span]) -> Vec<ServiceCall<'a>> {
    let by_id: HashMap<(&str, &str), &Span> =
        spans.iter().filter(|s| !s.span_id.is_empty()).map(|s| ((s.trace_id.as_str(), s.span_id.as_str()), *s)).collect();
    let mut has_child: HashSet<(&str, &str)> = HashSet::new();
    let mut calls = Vec::new();
    for span in spans {
        if span.parent_span_id.is_empty() {
            continue;
        }
        let parent_key = (span.trace_id.as_str(), span.parent_span_id.as_str());
        let Some(parent) = by_id.get(&parent_key) else { continue };
        has_child.insert(parent_key);
        if parent.service != span.service {
            calls.push(ServiceCall { caller: &parent.service, callee: &span.service, span });
        }
    }
    for span in spans {
        if !matches!(span.kind, SpanKind::Client | SpanKind::Producer)
            || has_child.contains(&(span.trace_id.as_str(), span.span_id.as_str()))
        {
            continue;
        }
        if let Some(peer) = peer_of(span) {
            if peer != span.service {
                calls.push(ServiceCall { caller: &span.service, callee: peer, span });
            }
        }
    }
    calls
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::span;

    fn check(spans: &[Span], expect: &[(&str, &str, &str)]) {
        let refs: Vec<&Span> = spans.iter().collect();
        let mut got: Vec<(&str, &str, &str)> =
            service_calls(&refs).iter().map(|c| (c.caller, c.callee, c.span.span_id.as_str())).collect();
        got.sort();
        let mut expect = expect.to_vec();
        expect.sort();
        assert_eq!(got, expect);
    }

    #[test]
    fn hand_built_call_graph() {
        use SpanKind::*;
        // web → api (client/server pair), api → db (client span with peer.service, no child),
        // api → auth (server → server, no client span), an internal span in api (no call), and a
        // span whose parent is elsewhere (no call). Same ids in another trace do not pair.
        let mut db_call = span("t1", "a3", "a1", "api", Client);
        db_call.attributes.push((PEER_SERVICE_ATTRIBUTE.into(), AttrValue::Str("postgres".into())));
        let spans = vec![
            span("t1", "w1", "", "web", Server),
            span("t1", "w2", "w1", "web", Client),
            span("t1", "a1", "w2", "api", Server),
            span("t1", "a2", "a1", "api", Internal),
            db_call,
            span("t1", "u1", "a1", "auth", Server),
            span("t1", "x1", "missing", "orphan", Server),
            span("t2", "a1", "w2", "api", Server),
        ];
        check(&spans, &[("web", "api", "a1"), ("api", "postgres", "a3"), ("api", "auth", "u1")]);
    }

    #[test]
    fn peers_named_by_any_convention() {
        let named = |key: &str, id: &str| {
            let mut s = span("t", id, "", "api", SpanKind::Client);
            s.attributes.push((key.into(), AttrValue::Str(format!("{key}-peer"))));
            s
        };
        let mut both = named("server.address", "c4");
        both.attributes.push((PEER_SERVICE_ATTRIBUTE.into(), AttrValue::Str("preferred".into())));
        let spans = [named("server.address", "c1"), named("net.peer.name", "c2"), named("http.url", "c3"), both];
        check(&spans, &[("api", "server.address-peer", "c1"), ("api", "net.peer.name-peer", "c2"), ("api", "preferred", "c4")]);
    }

    #[test]
    fn client_span_with_a_child_does_not_also_count_its_peer_service() {
        let mut client = span("t", "c", "", "web", SpanKind::Client);
        client.attributes.push((PEER_SERVICE_ATTRIBUTE.into(), AttrValue::Str("api".into())));
        check(&[client, span("t", "s", "c", "api", SpanKind::Server)], &[("web", "api", "s")]);
    }
}
