//! OTLP protobuf (HTTP bodies) and already decoded OTLP/gRPC requests.

use std::collections::HashSet;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::trace::v1 as otlp_trace;
use prost::Message;
use trawl_model::{AttrValue, Level, Record, Span, SpanEvent, SpanKind, SpanLink, StatusCode};

use crate::normalize::{
    body_text, finish_record, finish_span, flatten_key_values, id_hex, push_field, ResourceInfo,
};
use crate::{Batch, IngestError};

/// Decodes an OTLP/HTTP protobuf `ExportLogsServiceRequest`.
pub fn decode_otlp_logs_protobuf(bytes: &[u8], now_ns: i64) -> Result<Batch, IngestError> {
    let req = ExportLogsServiceRequest::decode(bytes)
        .map_err(|e| IngestError::invalid(format!("invalid protobuf: {e}")))?;
    Ok(logs_from_request(req, now_ns))
}

/// Decodes an OTLP/HTTP protobuf `ExportTraceServiceRequest`.
pub fn decode_otlp_traces_protobuf(bytes: &[u8], now_ns: i64) -> Result<Batch, IngestError> {
    let req = ExportTraceServiceRequest::decode(bytes)
        .map_err(|e| IngestError::invalid(format!("invalid protobuf: {e}")))?;
    Ok(traces_from_request(req, now_ns))
}

/// Converts an OTLP logs request (from protobuf or gRPC) into records; a log record that fails
/// [`finish_record`] is rejected with its position in the request.
pub fn logs_from_request(req: ExportLogsServiceRequest, now_ns: i64) -> Batch {
    let mut batch = Batch::default();
    for (ri, resource_logs) in req.resource_logs.into_iter().enumerate() {
        let resource = ResourceInfo::from_resource(resource_logs.resource.as_ref());
        for (si, scope_logs) in resource_logs.scope_logs.into_iter().enumerate() {
            let scope = scope_name(scope_logs.scope.as_ref());
            for (li, log) in scope_logs.log_records.into_iter().enumerate() {
                match convert_log_record(&resource, scope, log, now_ns) {
                    Ok(record) => batch.records.push(record),
                    Err(reason) => batch.reject(format!(
                        "resourceLogs[{ri}].scopeLogs[{si}].logRecords[{li}]: {reason}"
                    )),
                }
            }
        }
    }
    batch
}

/// Converts an OTLP trace request (from protobuf or gRPC) into spans; a span with a missing or
/// malformed id, or one that fails [`finish_span`], is rejected with its position.
pub fn traces_from_request(req: ExportTraceServiceRequest, now_ns: i64) -> Batch {
    let mut batch = Batch::default();
    for (ri, resource_spans) in req.resource_spans.into_iter().enumerate() {
        let resource = ResourceInfo::from_resource(resource_spans.resource.as_ref());
        for (si, scope_spans) in resource_spans.scope_spans.into_iter().enumerate() {
            let scope = scope_name(scope_spans.scope.as_ref());
            for (pi, span) in scope_spans.spans.into_iter().enumerate() {
                match convert_span(&resource, scope, span, now_ns) {
                    Ok(span) => batch.spans.push(span),
                    Err(reason) => batch.reject(format!(
                        "resourceSpans[{ri}].scopeSpans[{si}].spans[{pi}]: {reason}"
                    )),
                }
            }
        }
    }
    batch
}

pub(crate) fn scope_name(scope: Option<&InstrumentationScope>) -> &str {
    scope.map(|s| s.name.as_str()).unwrap_or("")
}

/// Nanosecond times above `i64::MAX` (year 2262) saturate; the time check then adjusts them.
fn ns(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}

/// Level and severity number from the OTLP severity number, else the severity text.
fn severity(number: i32, text: &str) -> (Level, i32, bool) {
    if let Some(level) = Level::from_severity_number(number) {
        return (level, number, false);
    }
    match Level::parse(text) {
        Some(level) => (level, level.severity_number(), false),
        None => (Level::Info, 0, !text.trim().is_empty()),
    }
}

/// One OTLP log record as a finished [`Record`].
pub(crate) fn convert_log_record(
    resource: &ResourceInfo,
    scope: &str,
    log: LogRecord,
    now_ns: i64,
) -> Result<Record, String> {
    let observed_ns =
        if log.observed_time_unix_nano != 0 { ns(log.observed_time_unix_nano) } else { now_ns };
    let time_ns = match (log.time_unix_nano, log.observed_time_unix_nano) {
        (0, 0) => now_ns,
        (0, observed) => ns(observed),
        (t, _) => ns(t),
    };
    let (level, severity_number, unknown_text) = severity(log.severity_number, &log.severity_text);

    let mut attributes = Vec::new();
    flatten_key_values("", &log.attributes, &mut attributes);
    if unknown_text {
        push_field(&mut attributes, "level.original".into(), AttrValue::Str(log.severity_text));
    }
    if !scope.is_empty() {
        push_field(&mut attributes, "scope.name".into(), AttrValue::Str(scope.to_string()));
    }
    if !log.event_name.is_empty() {
        push_field(&mut attributes, "event.name".into(), AttrValue::Str(log.event_name));
    }
    let body = match &log.body {
        Some(body) => {
            if let Some(Value::KvlistValue(list)) = &body.value {
                // Structured log: its fields are searchable as attributes too.
                let mut fields = Vec::new();
                flatten_key_values("", &list.values, &mut fields);
                let existing: HashSet<String> = attributes.iter().map(|(k, _)| k.clone()).collect();
                for (k, v) in fields {
                    if !existing.contains(&k) && !push_field(&mut attributes, k, v) {
                        break;
                    }
                }
            }
            body_text(body)
        }
        None => String::new(),
    };

    let mut record = Record {
        time_ns,
        observed_time_ns: observed_ns,
        service: resource.service.clone(),
        environment: resource.environment.clone(),
        host: resource.host.clone(),
        level,
        severity_number,
        trace_id: id_hex(&log.trace_id),
        span_id: id_hex(&log.span_id),
        body,
        attributes,
        resource: resource.attributes.clone(),
        pattern_id: 0,
    };
    finish_record(&mut record, now_ns)?;
    Ok(record)
}

/// An OTLP binary id that must have `len` bytes when present.
fn fixed_id(what: &str, bytes: &[u8], len: usize) -> Result<String, String> {
    if !bytes.is_empty() && bytes.len() != len {
        return Err(format!("{what} must be {len} bytes, not {}", bytes.len()));
    }
    Ok(id_hex(bytes))
}

/// One OTLP span as a finished [`Span`].
pub(crate) fn convert_span(
    resource: &ResourceInfo,
    scope: &str,
    span: otlp_trace::Span,
    now_ns: i64,
) -> Result<Span, String> {
    let trace_id = fixed_id("trace_id", &span.trace_id, 16)?;
    let span_id = fixed_id("span_id", &span.span_id, 8)?;
    let parent_span_id = fixed_id("parent_span_id", &span.parent_span_id, 8)?;
    let start_ns = ns(span.start_time_unix_nano);
    let duration_ns = ns(span.end_time_unix_nano.saturating_sub(span.start_time_unix_nano));

    let mut attributes = Vec::new();
    flatten_key_values("", &span.attributes, &mut attributes);
    if !scope.is_empty() {
        push_field(&mut attributes, "scope.name".into(), AttrValue::Str(scope.to_string()));
    }
    let events = span
        .events
        .into_iter()
        .map(|e| {
            let mut attributes = Vec::new();
            flatten_key_values("", &e.attributes, &mut attributes);
            let time_ns = if e.time_unix_nano == 0 { start_ns } else { ns(e.time_unix_nano) };
            SpanEvent { time_ns, name: e.name, attributes }
        })
        .collect();
    let links = span
        .links
        .into_iter()
        .map(|l| {
            let mut attributes = Vec::new();
            flatten_key_values("", &l.attributes, &mut attributes);
            Ok(SpanLink {
                trace_id: fixed_id("link trace_id", &l.trace_id, 16)?,
                span_id: fixed_id("link span_id", &l.span_id, 8)?,
                attributes,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let (status_code, status_message) = match span.status {
        Some(s) => (StatusCode::from_otlp(s.code), s.message),
        None => (StatusCode::Unset, String::new()),
    };

    let mut out = Span {
        trace_id,
        span_id,
        parent_span_id,
        service: resource.service.clone(),
        environment: resource.environment.clone(),
        host: resource.host.clone(),
        name: span.name,
        kind: SpanKind::from_otlp(span.kind),
        start_ns,
        duration_ns,
        status_code,
        status_message,
        attributes,
        resource: resource.attributes.clone(),
        events,
        links,
    };
    finish_span(&mut out, now_ns)?;
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, KeyValueList};
    use opentelemetry_proto::tonic::logs::v1::{ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Status};

    pub const NOW: i64 = 1_764_000_000_000_000_000;
    pub const TRACE: [u8; 16] = [
        0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6,
        0x0c,
    ];
    pub const SPAN: [u8; 8] = [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74];

    fn s(v: &str) -> Option<AnyValue> {
        Some(AnyValue { value: Some(Value::StringValue(v.into())) })
    }

    fn kv(key: &str, value: Option<AnyValue>) -> KeyValue {
        KeyValue { key: key.into(), value, ..Default::default() }
    }

    fn resource() -> Option<Resource> {
        Some(Resource {
            attributes: vec![
                kv("service.name", s("checkout")),
                kv("deployment.environment.name", s("prod")),
                kv("host.name", s("web-1")),
            ],
            ..Default::default()
        })
    }

    fn scope() -> Option<InstrumentationScope> {
        Some(InstrumentationScope { name: "pay.lib".into(), ..Default::default() })
    }

    fn logs_request(records: Vec<LogRecord>) -> ExportLogsServiceRequest {
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: resource(),
                scope_logs: vec![ScopeLogs {
                    scope: scope(),
                    log_records: records,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn logs_round_trip_through_protobuf() {
        let log = LogRecord {
            time_unix_nano: (NOW - 1000) as u64,
            observed_time_unix_nano: (NOW - 500) as u64,
            severity_number: 17,
            severity_text: "ERROR".into(),
            body: s("결제가 실패했습니다"),
            attributes: vec![
                kv("http.status_code", Some(AnyValue { value: Some(Value::IntValue(502)) })),
                kv("user", s("김철수")),
            ],
            trace_id: TRACE.to_vec(),
            span_id: SPAN.to_vec(),
            ..Default::default()
        };
        let bytes = logs_request(vec![log]).encode_to_vec();
        let batch = decode_otlp_logs_protobuf(&bytes, NOW).unwrap();
        assert!(batch.rejected.is_empty(), "{:?}", batch.rejected);
        let r = &batch.records[0];
        assert_eq!(r.body, "결제가 실패했습니다");
        assert_eq!((r.time_ns, r.observed_time_ns), (NOW - 1000, NOW - 500));
        assert_eq!((r.level, r.severity_number), (Level::Error, 17));
        assert_eq!(
            (r.service.as_str(), r.environment.as_str(), r.host.as_str()),
            ("checkout", "prod", "web-1")
        );
        assert_eq!(r.trace_id, "5b8efff798038103d269b633813fc60c");
        assert_eq!(r.span_id, "eee19b7ec3c1b174");
        assert_eq!(r.attribute("http.status_code"), Some(&AttrValue::Int(502)));
        assert_eq!(r.attribute("user"), Some(&AttrValue::Str("김철수".into())));
        assert_eq!(r.attribute("scope.name"), Some(&AttrValue::Str("pay.lib".into())));
        assert_eq!(r.resource.len(), 3);
    }

    #[test]
    fn log_defaults_times_and_levels() {
        let records = vec![
            // No times at all, no severity.
            LogRecord::default(),
            // Only the observed time, only a severity text.
            LogRecord {
                observed_time_unix_nano: (NOW - 7) as u64,
                severity_text: "warning".into(),
                ..Default::default()
            },
            // Unknown text.
            LogRecord { severity_text: "loud".into(), ..Default::default() },
            // All-zero ids are absent.
            LogRecord { trace_id: vec![0; 16], span_id: vec![0; 8], ..Default::default() },
        ];
        let batch = logs_from_request(logs_request(records), NOW);
        let r = &batch.records;
        assert_eq!(
            (r[0].time_ns, r[0].observed_time_ns, r[0].level, r[0].severity_number),
            (NOW, NOW, Level::Info, 0)
        );
        assert_eq!((r[1].time_ns, r[1].observed_time_ns), (NOW - 7, NOW - 7));
        assert_eq!((r[1].level, r[1].severity_number), (Level::Warn, 13));
        assert_eq!(r[2].attribute("level.original"), Some(&AttrValue::Str("loud".into())));
        assert_eq!((r[3].trace_id.as_str(), r[3].span_id.as_str()), ("", ""));
    }

    #[test]
    fn structured_bodies_become_attributes_and_json() {
        let body = Some(AnyValue {
            value: Some(Value::KvlistValue(KeyValueList {
                values: vec![kv("order", s("A-1")), kv("user", s("from-body"))],
            })),
        });
        let log = LogRecord {
            time_unix_nano: NOW as u64,
            body,
            attributes: vec![kv("user", s("from-attributes"))],
            ..Default::default()
        };
        let batch = logs_from_request(logs_request(vec![log]), NOW);
        let r = &batch.records[0];
        assert_eq!(r.body, r#"{"order":"A-1","user":"from-body"}"#);
        assert_eq!(r.attribute("order"), Some(&AttrValue::Str("A-1".into())));
        assert_eq!(r.attribute("user"), Some(&AttrValue::Str("from-attributes".into())));
        assert_eq!(r.attributes.iter().filter(|(k, _)| k == "user").count(), 1);
    }

    #[test]
    fn oversize_log_records_are_rejected_alone() {
        let big = LogRecord { body: s(&"x".repeat(300_000)), ..Default::default() };
        let batch = logs_from_request(logs_request(vec![LogRecord::default(), big]), NOW);
        assert_eq!(batch.records.len(), 1);
        assert_eq!(batch.rejected.len(), 1);
        assert!(batch.rejected[0]
            .reason
            .starts_with("resourceLogs[0].scopeLogs[0].logRecords[1]: record of "));
        assert_eq!(batch.rejected[0].line, None);
    }

    fn trace_request(spans: Vec<otlp_trace::Span>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: resource(),
                scope_spans: vec![ScopeSpans { scope: scope(), spans, ..Default::default() }],
                ..Default::default()
            }],
        }
    }

    fn good_span() -> otlp_trace::Span {
        otlp_trace::Span {
            trace_id: TRACE.to_vec(),
            span_id: SPAN.to_vec(),
            parent_span_id: vec![1, 2, 3, 4, 5, 6, 7, 8],
            name: "POST /pay".into(),
            kind: 2,
            start_time_unix_nano: (NOW - 2_000_000) as u64,
            end_time_unix_nano: (NOW - 500_000) as u64,
            attributes: vec![kv("http.route", s("/pay"))],
            events: vec![span::Event {
                time_unix_nano: (NOW - 1_000_000) as u64,
                name: "exception".into(),
                attributes: vec![kv("exception.message", s("카드 승인 거절"))],
                ..Default::default()
            }],
            links: vec![span::Link {
                trace_id: TRACE.to_vec(),
                span_id: vec![9; 8],
                ..Default::default()
            }],
            status: Some(Status { message: "card declined".into(), code: 2 }),
            ..Default::default()
        }
    }

    #[test]
    fn traces_round_trip_through_protobuf() {
        let bytes = trace_request(vec![good_span()]).encode_to_vec();
        let batch = decode_otlp_traces_protobuf(&bytes, NOW).unwrap();
        assert!(batch.rejected.is_empty(), "{:?}", batch.rejected);
        let sp = &batch.spans[0];
        assert_eq!(sp.trace_id, "5b8efff798038103d269b633813fc60c");
        assert_eq!(sp.span_id, "eee19b7ec3c1b174");
        assert_eq!(sp.parent_span_id, "0102030405060708");
        assert_eq!((sp.name.as_str(), sp.kind), ("POST /pay", SpanKind::Server));
        assert_eq!((sp.start_ns, sp.duration_ns), (NOW - 2_000_000, 1_500_000));
        assert_eq!(
            (sp.status_code, sp.status_message.as_str()),
            (StatusCode::Error, "card declined")
        );
        assert_eq!(
            (sp.service.as_str(), sp.environment.as_str(), sp.host.as_str()),
            ("checkout", "prod", "web-1")
        );
        assert_eq!(sp.events[0].name, "exception");
        assert_eq!(sp.events[0].time_ns, NOW - 1_000_000);
        assert_eq!(sp.events[0].attributes[0].1, AttrValue::Str("카드 승인 거절".into()));
        assert_eq!(sp.links[0].span_id, "0909090909090909");
        assert!(sp.attributes.contains(&("scope.name".into(), AttrValue::Str("pay.lib".into()))));
    }

    #[test]
    fn spans_with_bad_ids_are_rejected_others_kept() {
        let mut root = good_span();
        root.parent_span_id.clear();
        root.end_time_unix_nano = 0;
        let no_trace = otlp_trace::Span { trace_id: vec![], ..good_span() };
        let zero_span = otlp_trace::Span { span_id: vec![0; 8], ..good_span() };
        let short = otlp_trace::Span { trace_id: vec![1; 5], ..good_span() };
        let batch = traces_from_request(trace_request(vec![root, no_trace, zero_span, short]), NOW);
        assert_eq!(batch.spans.len(), 1);
        assert_eq!(batch.spans[0].parent_span_id, "");
        assert_eq!(batch.spans[0].duration_ns, 0);
        let reasons: Vec<&str> = batch.rejected.iter().map(|r| r.reason.as_str()).collect();
        assert_eq!(
            reasons,
            vec![
                "resourceSpans[0].scopeSpans[0].spans[1]: span has no trace_id",
                "resourceSpans[0].scopeSpans[0].spans[2]: span has no span_id",
                "resourceSpans[0].scopeSpans[0].spans[3]: trace_id must be 16 bytes, not 5",
            ]
        );
    }

    #[test]
    fn malformed_protobuf_is_invalid_input() {
        let err = decode_otlp_logs_protobuf(&[0x0a, 0xff, 0xff, 0x01], NOW).unwrap_err();
        assert!(matches!(err, IngestError::InvalidInput { .. }), "{err:?}");
        let err = decode_otlp_traces_protobuf(b"{\"resourceSpans\":[]}", NOW).unwrap_err();
        assert!(matches!(err, IngestError::InvalidInput { .. }), "{err:?}");
        assert!(decode_otlp_logs_protobuf(&[], NOW).unwrap().is_empty());
    }

    proptest::proptest! {
        #[test]
        fn protobuf_decoders_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = decode_otlp_logs_protobuf(&bytes, NOW);
            let _ = decode_otlp_traces_protobuf(&bytes, NOW);
        }

        #[test]
        fn protobuf_decoders_never_panic_on_mangled_requests(at in 0usize..4096, byte in proptest::prelude::any::<u8>()) {
            let logs = logs_request(vec![LogRecord { body: s("결제가 실패했습니다"), trace_id: TRACE.to_vec(), ..Default::default() }]).encode_to_vec();
            let traces = trace_request(vec![good_span()]).encode_to_vec();
            for mut bytes in [logs, traces] {
                let i = at % bytes.len();
                bytes[i] = byte;
                let _ = decode_otlp_logs_protobuf(&bytes, NOW);
                let _ = decode_otlp_traces_protobuf(&bytes, NOW);
                let _ = decode_otlp_traces_protobuf(&bytes[..i], NOW);
            }
        }
    }
}
