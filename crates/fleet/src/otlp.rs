//! Spans and records as OTLP export requests (what an OpenTelemetry SDK sends).

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span as OtlpSpan, Status};
use trawl_model::{AttrValue, Attributes, Record, Span};

fn value(v: &AttrValue) -> AnyValue {
    AnyValue {
        value: Some(match v {
            AttrValue::Str(s) => any_value::Value::StringValue(s.clone()),
            AttrValue::Int(i) => any_value::Value::IntValue(*i),
            AttrValue::Float(f) => any_value::Value::DoubleValue(*f),
            AttrValue::Bool(b) => any_value::Value::BoolValue(*b),
        }),
    }
}

fn key_values(attributes: &Attributes) -> Vec<KeyValue> {
    attributes.iter().map(|(k, v)| KeyValue { key: k.clone(), value: Some(value(v)), ..Default::default() }).collect()
}

fn id_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len() / 2).filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()).collect()
}

fn resource_key(resource: &Attributes) -> String {
    resource.iter().map(|(k, v)| format!("{k}={}", v.to_text())).collect::<Vec<_>>().join(",")
}

fn scope() -> Option<InstrumentationScope> {
    Some(InstrumentationScope { name: "trawl-fleet".into(), version: env!("CARGO_PKG_VERSION").into(), ..Default::default() })
}

pub fn traces_request(spans: &[Span]) -> ExportTraceServiceRequest {
    let mut by_resource: BTreeMap<String, (Attributes, Vec<OtlpSpan>)> = BTreeMap::new();
    for s in spans {
        let entry = by_resource.entry(resource_key(&s.resource)).or_insert_with(|| (s.resource.clone(), Vec::new()));
        entry.1.push(OtlpSpan {
            trace_id: id_bytes(&s.trace_id),
            span_id: id_bytes(&s.span_id),
            parent_span_id: id_bytes(&s.parent_span_id),
            name: s.name.clone(),
            kind: s.kind.to_otlp(),
            start_time_unix_nano: s.start_ns as u64,
            end_time_unix_nano: (s.start_ns + s.duration_ns) as u64,
            attributes: key_values(&s.attributes),
            events: s
                .events
                .iter()
                .map(|e| span::Event { time_unix_nano: e.time_ns as u64, name: e.name.clone(), attributes: key_values(&e.attributes), ..Default::default() })
                .collect(),
            status: Some(Status {
                message: s.status_message.clone(),
                code: s.status_code.to_otlp(),
            }),
            ..Default::default()
        });
    }
    ExportTraceServiceRequest {
        resource_spans: by_resource
            .into_values()
            .map(|(resource, spans)| ResourceSpans {
                resource: Some(Resource { attributes: key_values(&resource), ..Default::default() }),
                scope_spans: vec![ScopeSpans { scope: scope(), spans, ..Default::default() }],
                ..Default::default()
            })
            .collect(),
    }
}

pub fn logs_request(records: &[Record]) -> ExportLogsServiceRequest {
    let mut by_resource: BTreeMap<String, (Attributes, Vec<LogRecord>)> = BTreeMap::new();
    for r in records {
        let entry = by_resource.entry(resource_key(&r.resource)).or_insert_with(|| (r.resource.clone(), Vec::new()));
        entry.1.push(LogRecord {
            time_unix_nano: r.time_ns as u64,
            observed_time_unix_nano: r.observed_time_ns as u64,
            severity_number: r.severity_number,
            severity_text: r.level.as_str().to_string(),
            body: Some(value(&AttrValue::Str(r.body.clone()))),
            attributes: key_values(&r.attributes),
            trace_id: id_bytes(&r.trace_id),
            span_id: id_bytes(&r.span_id),
            ..Default::default()
        });
    }
    ExportLogsServiceRequest {
        resource_logs: by_resource
            .into_values()
            .map(|(resource, log_records)| ResourceLogs {
                resource: Some(Resource { attributes: key_values(&resource), ..Default::default() }),
                scope_logs: vec![ScopeLogs { scope: scope(), log_records, ..Default::default() }],
                ..Default::default()
            })
            .collect(),
    }
}
