//! OTLP/JSON (the protobuf JSON mapping with OTLP's deviations: hex ids, camelCase keys).
//!
//! Decoded by hand over [`serde_json::Value`] into the prost types, then converted by the same
//! code as protobuf. Keys are accepted in lowerCamelCase and snake_case, 64-bit integers as
//! strings or numbers, enums as numbers or names. Problems in the envelope (above a single log
//! record or span) fail the request; a problem inside one log record or span rejects only it.

use crate::ndjson::json_kind as kind;
use opentelemetry_proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1 as otlp_trace;
use serde_json::{Map, Value};
use trawl_model::{Level, SpanKind, StatusCode};

use crate::normalize::{base64_decode, ResourceInfo};
use crate::otlp_proto::{convert_log_record, convert_span, scope_name};
use crate::{Batch, IngestError};

type Obj = Map<String, Value>;

/// Decodes an OTLP/JSON `ExportLogsServiceRequest`.
pub fn decode_otlp_logs_json(bytes: &[u8], now_ns: i64) -> Result<Batch, IngestError> {
    let root = parse_root(bytes)?;
    let mut batch = Batch::default();
    for (ri, resource_logs) in envelope_array(&root, "resourceLogs", "")?.iter().enumerate() {
        let path = format!("resourceLogs[{ri}]");
        let resource_logs = envelope_object(resource_logs, &path)?;
        let resource = envelope_resource(resource_logs, &path)?;
        for (si, scope_logs) in
            envelope_array(resource_logs, "scopeLogs", &path)?.iter().enumerate()
        {
            let path = format!("{path}.scopeLogs[{si}]");
            let scope_logs = envelope_object(scope_logs, &path)?;
            let scope = envelope_scope(scope_logs, &path)?;
            for (li, log) in envelope_array(scope_logs, "logRecords", &path)?.iter().enumerate() {
                let converted = log_record(log).and_then(|log| {
                    convert_log_record(&resource, scope_name(scope.as_ref()), log, now_ns)
                });
                match converted {
                    Ok(record) => batch.records.push(record),
                    Err(reason) => batch.reject(format!("{path}.logRecords[{li}]: {reason}")),
                }
            }
        }
    }
    Ok(batch)
}

/// Decodes an OTLP/JSON `ExportTraceServiceRequest`.
pub fn decode_otlp_traces_json(bytes: &[u8], now_ns: i64) -> Result<Batch, IngestError> {
    let root = parse_root(bytes)?;
    let mut batch = Batch::default();
    for (ri, resource_spans) in envelope_array(&root, "resourceSpans", "")?.iter().enumerate() {
        let path = format!("resourceSpans[{ri}]");
        let resource_spans = envelope_object(resource_spans, &path)?;
        let resource = envelope_resource(resource_spans, &path)?;
        for (si, scope_spans) in
            envelope_array(resource_spans, "scopeSpans", &path)?.iter().enumerate()
        {
            let path = format!("{path}.scopeSpans[{si}]");
            let scope_spans = envelope_object(scope_spans, &path)?;
            let scope = envelope_scope(scope_spans, &path)?;
            for (pi, span_json) in envelope_array(scope_spans, "spans", &path)?.iter().enumerate() {
                let converted = span(span_json)
                    .and_then(|s| convert_span(&resource, scope_name(scope.as_ref()), s, now_ns));
                match converted {
                    Ok(s) => batch.spans.push(s),
                    Err(reason) => batch.reject(format!("{path}.spans[{pi}]: {reason}")),
                }
            }
        }
    }
    Ok(batch)
}

fn parse_root(bytes: &[u8]) -> Result<Obj, IngestError> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let root: Value = serde_json::from_slice(bytes)
        .map_err(|e| IngestError::invalid(format!("invalid json: {e}")))?;
    match root {
        Value::Object(map) => Ok(map),
        other => {
            Err(IngestError::invalid(format!("expected a json object, found {}", kind(&other))))
        }
    }
}

fn envelope_error(path: &str, reason: String) -> IngestError {
    if path.is_empty() {
        IngestError::invalid(reason)
    } else {
        IngestError::invalid(format!("{path}: {reason}"))
    }
}

fn envelope_array<'a>(obj: &'a Obj, key: &str, path: &str) -> Result<&'a [Value], IngestError> {
    array(obj, key).map_err(|e| envelope_error(path, e))
}

fn envelope_object<'a>(value: &'a Value, path: &str) -> Result<&'a Obj, IngestError> {
    value
        .as_object()
        .ok_or_else(|| envelope_error(path, format!("expected an object, found {}", kind(value))))
}

fn envelope_resource(obj: &Obj, path: &str) -> Result<ResourceInfo, IngestError> {
    let resource = match get(obj, "resource") {
        None => None,
        Some(v) => {
            let r = object(v, "resource").map_err(|e| envelope_error(path, e))?;
            let attributes = key_values(get(r, "attributes"))
                .map_err(|e| envelope_error(path, format!("resource: {e}")))?;
            Some(Resource { attributes, ..Default::default() })
        }
    };
    Ok(ResourceInfo::from_resource(resource.as_ref()))
}

fn envelope_scope(obj: &Obj, path: &str) -> Result<Option<InstrumentationScope>, IngestError> {
    let Some(v) = get(obj, "scope") else { return Ok(None) };
    let s = object(v, "scope").map_err(|e| envelope_error(path, e))?;
    let name = string(s, "name").map_err(|e| envelope_error(path, format!("scope: {e}")))?;
    let version = string(s, "version").map_err(|e| envelope_error(path, format!("scope: {e}")))?;
    Ok(Some(InstrumentationScope { name, version, ..Default::default() }))
}

fn log_record(value: &Value) -> Result<LogRecord, String> {
    let o = object(value, "log record")?;
    Ok(LogRecord {
        time_unix_nano: uint(o, "timeUnixNano")?,
        observed_time_unix_nano: uint(o, "observedTimeUnixNano")?,
        severity_number: enumeration(o, "severityNumber", severity_number_name)?,
        severity_text: string(o, "severityText")?,
        body: get(o, "body").map(any_value).transpose()?,
        attributes: key_values(get(o, "attributes"))?,
        trace_id: id(o, "traceId")?,
        span_id: id(o, "spanId")?,
        event_name: string(o, "eventName")?,
        ..Default::default()
    })
}

fn span(value: &Value) -> Result<otlp_trace::Span, String> {
    let o = object(value, "span")?;
    let events = array(o, "events")?
        .iter()
        .map(|e| {
            let e = object(e, "event")?;
            Ok(otlp_trace::span::Event {
                time_unix_nano: uint(e, "timeUnixNano")?,
                name: string(e, "name")?,
                attributes: key_values(get(e, "attributes"))?,
                ..Default::default()
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let links = array(o, "links")?
        .iter()
        .map(|l| {
            let l = object(l, "link")?;
            Ok(otlp_trace::span::Link {
                trace_id: id(l, "traceId")?,
                span_id: id(l, "spanId")?,
                trace_state: string(l, "traceState")?,
                attributes: key_values(get(l, "attributes"))?,
                ..Default::default()
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let status = match get(o, "status") {
        None => None,
        Some(s) => {
            let s = object(s, "status")?;
            Some(otlp_trace::Status {
                message: string(s, "message")?,
                code: enumeration(s, "code", |t| StatusCode::parse(t).to_otlp())?,
            })
        }
    };
    Ok(otlp_trace::Span {
        trace_id: id(o, "traceId")?,
        span_id: id(o, "spanId")?,
        parent_span_id: id(o, "parentSpanId")?,
        trace_state: string(o, "traceState")?,
        name: string(o, "name")?,
        kind: enumeration(o, "kind", |t| SpanKind::parse(t).to_otlp())?,
        start_time_unix_nano: uint(o, "startTimeUnixNano")?,
        end_time_unix_nano: uint(o, "endTimeUnixNano")?,
        attributes: key_values(get(o, "attributes"))?,
        events,
        links,
        status,
        ..Default::default()
    })
}

fn key_values(value: Option<&Value>) -> Result<Vec<KeyValue>, String> {
    let Some(value) = value else { return Ok(Vec::new()) };
    let Value::Array(items) = value else {
        return Err(format!("attributes: expected an array, found {}", kind(value)));
    };
    items
        .iter()
        .map(|item| {
            let o = object(item, "attribute")?;
            let key = string(o, "key")?;
            let value = match get(o, "value") {
                Some(v) => {
                    Some(any_value(v).map_err(|e| format!("attribute {}: {e}", short(&key)))?)
                }
                None => None,
            };
            Ok(KeyValue { key, value, ..Default::default() })
        })
        .collect()
}

/// An OTLP `AnyValue` object. Plain JSON scalars and arrays are accepted too.
fn any_value(value: &Value) -> Result<AnyValue, String> {
    use any_value::Value as V;
    let o = match value {
        Value::Object(o) => o,
        Value::Null => return Ok(AnyValue::default()),
        Value::String(s) => return Ok(AnyValue { value: Some(V::StringValue(s.clone())) }),
        Value::Bool(b) => return Ok(AnyValue { value: Some(V::BoolValue(*b)) }),
        Value::Number(n) => {
            let v = match n.as_i64() {
                Some(i) => V::IntValue(i),
                None => V::DoubleValue(n.as_f64().unwrap_or(f64::NAN)),
            };
            return Ok(AnyValue { value: Some(v) });
        }
        Value::Array(items) => {
            let values = items.iter().map(any_value).collect::<Result<_, _>>()?;
            return Ok(AnyValue { value: Some(V::ArrayValue(ArrayValue { values })) });
        }
    };
    let v = if let Some(v) = get(o, "stringValue") {
        match v {
            Value::String(s) => V::StringValue(s.clone()),
            other => return Err(format!("invalid stringValue {}", short(&other.to_string()))),
        }
    } else if let Some(v) = get(o, "boolValue") {
        match v {
            Value::Bool(b) => V::BoolValue(*b),
            Value::String(s) if s == "true" || s == "false" => V::BoolValue(s == "true"),
            other => return Err(format!("invalid boolValue {}", short(&other.to_string()))),
        }
    } else if let Some(v) = get(o, "intValue") {
        V::IntValue(
            int_value(v).ok_or_else(|| format!("invalid intValue {}", short(&v.to_string())))?,
        )
    } else if let Some(v) = get(o, "doubleValue") {
        let f = match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        V::DoubleValue(f.ok_or_else(|| format!("invalid doubleValue {}", short(&v.to_string())))?)
    } else if let Some(v) = get(o, "arrayValue") {
        let values = array(object(v, "arrayValue")?, "values")?
            .iter()
            .map(any_value)
            .collect::<Result<_, _>>()?;
        V::ArrayValue(ArrayValue { values })
    } else if let Some(v) = get(o, "kvlistValue") {
        let values = key_values(get(object(v, "kvlistValue")?, "values"))?;
        V::KvlistValue(KeyValueList { values })
    } else if let Some(v) = get(o, "bytesValue") {
        let bytes = v
            .as_str()
            .and_then(base64_decode)
            .ok_or_else(|| format!("invalid bytesValue {}", short(&v.to_string())))?;
        V::BytesValue(bytes)
    } else {
        return Ok(AnyValue::default());
    };
    Ok(AnyValue { value: Some(v) })
}

fn int_value(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            let f = n.as_f64()?;
            (f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64).then_some(f as i64)
        }),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }
}

/// `key` in lowerCamelCase, else in snake_case; JSON null counts as absent.
fn get<'a>(obj: &'a Obj, key: &str) -> Option<&'a Value> {
    let found = match obj.get(key) {
        Some(v) => Some(v),
        None if key.bytes().any(|b| b.is_ascii_uppercase()) => obj.get(&snake_case(key)),
        None => None,
    };
    found.filter(|v| !v.is_null())
}

fn snake_case(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}


/// At most 64 characters of a value, for reasons.
fn short(text: &str) -> String {
    match text.char_indices().nth(64) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_string(),
    }
}

fn object<'a>(value: &'a Value, what: &str) -> Result<&'a Obj, String> {
    value.as_object().ok_or_else(|| format!("{what}: expected an object, found {}", kind(value)))
}

fn array<'a>(obj: &'a Obj, key: &str) -> Result<&'a [Value], String> {
    match get(obj, key) {
        None => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(format!("{key}: expected an array, found {}", kind(other))),
    }
}

fn string(obj: &Obj, key: &str) -> Result<String, String> {
    match get(obj, key) {
        None => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(format!("{key}: expected a string, found {}", kind(other))),
    }
}

/// A `fixed64`/`uint64` field: a decimal string or a number.
fn uint(obj: &Obj, key: &str) -> Result<u64, String> {
    let Some(v) = get(obj, key) else { return Ok(0) };
    let parsed = match v {
        Value::Number(n) => n.as_u64().or_else(|| {
            let f = n.as_f64()?;
            (f.is_finite() && f >= 0.0 && f < u64::MAX as f64).then_some(f as u64)
        }),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    parsed.ok_or_else(|| format!("invalid {key} {}", short(&v.to_string())))
}

/// An enum field: a number, or a name understood by `by_name` (unknown names give 0).
fn enumeration(obj: &Obj, key: &str, by_name: impl Fn(&str) -> i32) -> Result<i32, String> {
    let Some(v) = get(obj, key) else { return Ok(0) };
    let parsed = match v {
        Value::Number(n) => n.as_i64().and_then(|i| i32::try_from(i).ok()),
        Value::String(s) => match s.trim().parse::<i64>() {
            Ok(i) => i32::try_from(i).ok(),
            Err(_) => Some(by_name(s)),
        },
        _ => None,
    };
    parsed.ok_or_else(|| format!("invalid {key} {}", short(&v.to_string())))
}

/// `SEVERITY_NUMBER_WARN2` → 14; also plain level names such as `error`.
fn severity_number_name(name: &str) -> i32 {
    let upper = name.trim().to_ascii_uppercase();
    let t = upper.strip_prefix("SEVERITY_NUMBER_").unwrap_or(&upper);
    let base = t.trim_end_matches(|c: char| c.is_ascii_digit());
    let step = match &t[base.len()..] {
        "" => 1,
        digits => match digits.parse::<i32>() {
            Ok(n @ 1..=4) => n,
            _ => return 0,
        },
    };
    match Level::parse(base) {
        Some(level) if !base.is_empty() => level.severity_number() + step - 1,
        _ => 0,
    }
}

/// A trace or span id: hex as OTLP/JSON requires. Base64 of a 16 or 8 byte id (the plain
/// protobuf JSON mapping some generic encoders produce) is accepted too.
fn id(obj: &Obj, key: &str) -> Result<Vec<u8>, String> {
    let text = string(obj, key)?;
    let t = text.trim();
    if t.is_empty() {
        return Ok(Vec::new());
    }
    if let Ok(bytes) = hex::decode(t) {
        return Ok(bytes);
    }
    match base64_decode(t) {
        Some(bytes) if bytes.len() == 16 || bytes.len() == 8 => Ok(bytes),
        _ => Err(format!("{key} is not hex: {}", short(t))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trawl_model::AttrValue;

    const NOW: i64 = 1_764_000_000_000_000_000;

    // Shaped like the examples in the opentelemetry-proto repository (examples/logs.json).
    const LOGS: &str = r#"{
      "resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}]},
        "scopeLogs": [{
          "scope": {"name": "my.library", "version": "1.0.0",
                    "attributes": [{"key": "my.scope.attribute", "value": {"stringValue": "some scope attribute"}}]},
          "logRecords": [{
            "timeUnixNano": "1544712660300000000",
            "observedTimeUnixNano": "1544712660300000000",
            "severityNumber": 10,
            "severityText": "Information",
            "traceId": "5B8EFFF798038103D269B633813FC60C",
            "spanId": "EEE19B7EC3C1B174",
            "body": {"stringValue": "Example log record"},
            "attributes": [
              {"key": "string.attribute", "value": {"stringValue": "some string"}},
              {"key": "boolean.attribute", "value": {"boolValue": true}},
              {"key": "int.attribute", "value": {"intValue": "10"}},
              {"key": "double.attribute", "value": {"doubleValue": 637.704}},
              {"key": "array.attribute", "value": {"arrayValue": {"values": [{"stringValue": "many"}, {"stringValue": "values"}]}}},
              {"key": "map.attribute", "value": {"kvlistValue": {"values": [{"key": "some.map.key", "value": {"stringValue": "some value"}}]}}},
              {"key": "bytes.attribute", "value": {"bytesValue": "aGk="}}
            ]
          }]
        }]
      }]
    }"#;

    // Shaped like examples/trace.json.
    const TRACES: &str = r#"{
      "resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}]},
        "scopeSpans": [{
          "scope": {"name": "my.library", "version": "1.0.0"},
          "spans": [{
            "traceId": "5B8EFFF798038103D269B633813FC60C",
            "spanId": "EEE19B7EC3C1B174",
            "parentSpanId": "EEE19B7EC3C1B173",
            "name": "I'm a server span",
            "startTimeUnixNano": "1544712660000000000",
            "endTimeUnixNano": "1544712661000000000",
            "kind": 2,
            "attributes": [{"key": "my.span.attr", "value": {"stringValue": "some value"}}],
            "events": [{"timeUnixNano": "1544712660500000000", "name": "retry",
                        "attributes": [{"key": "attempt", "value": {"intValue": 2}}]}],
            "links": [{"traceId": "5B8EFFF798038103D269B633813FC60D", "spanId": "EEE19B7EC3C1B175"}],
            "status": {"code": "STATUS_CODE_ERROR", "message": "boom"}
          }]
        }]
      }]
    }"#;

    #[test]
    fn spec_shaped_logs_decode() {
        let batch = decode_otlp_logs_json(LOGS.as_bytes(), NOW).unwrap();
        assert!(batch.rejected.is_empty(), "{:?}", batch.rejected);
        let r = &batch.records[0];
        assert_eq!(r.time_ns, 1_544_712_660_300_000_000);
        assert_eq!(r.observed_time_ns, 1_544_712_660_300_000_000);
        assert_eq!((r.level, r.severity_number), (Level::Info, 10));
        assert_eq!(r.service, "my.service");
        assert_eq!(r.trace_id, "5b8efff798038103d269b633813fc60c");
        assert_eq!(r.span_id, "eee19b7ec3c1b174");
        assert_eq!(r.body, "Example log record");
        let a = |k: &str| r.attribute(k).cloned();
        assert_eq!(a("string.attribute"), Some(AttrValue::Str("some string".into())));
        assert_eq!(a("boolean.attribute"), Some(AttrValue::Bool(true)));
        assert_eq!(a("int.attribute"), Some(AttrValue::Int(10)));
        assert_eq!(a("double.attribute"), Some(AttrValue::Float(637.704)));
        assert_eq!(a("array.attribute"), Some(AttrValue::Str(r#"["many","values"]"#.into())));
        assert_eq!(a("map.attribute.some.map.key"), Some(AttrValue::Str("some value".into())));
        assert_eq!(a("bytes.attribute"), Some(AttrValue::Str("aGk=".into())));
        assert_eq!(a("scope.name"), Some(AttrValue::Str("my.library".into())));
    }

    #[test]
    fn spec_shaped_traces_decode() {
        let batch = decode_otlp_traces_json(TRACES.as_bytes(), NOW).unwrap();
        assert!(batch.rejected.is_empty(), "{:?}", batch.rejected);
        let s = &batch.spans[0];
        assert_eq!(s.trace_id, "5b8efff798038103d269b633813fc60c");
        assert_eq!(s.span_id, "eee19b7ec3c1b174");
        assert_eq!(s.parent_span_id, "eee19b7ec3c1b173");
        assert_eq!((s.name.as_str(), s.kind), ("I'm a server span", SpanKind::Server));
        assert_eq!((s.start_ns, s.duration_ns), (1_544_712_660_000_000_000, 1_000_000_000));
        assert_eq!((s.status_code, s.status_message.as_str()), (StatusCode::Error, "boom"));
        assert_eq!(s.service, "my.service");
        assert_eq!(s.events[0].time_ns, 1_544_712_660_500_000_000);
        assert_eq!(s.events[0].attributes, vec![("attempt".to_string(), AttrValue::Int(2))]);
        assert_eq!(s.links[0].trace_id, "5b8efff798038103d269b633813fc60d");
        assert_eq!(
            s.attributes[0],
            ("my.span.attr".to_string(), AttrValue::Str("some value".into()))
        );
    }

    #[test]
    fn enum_names_snake_case_and_numbers_are_accepted() {
        let body = r#"{"resource_spans": [{"scope_spans": [{"spans": [{
            "trace_id": "5b8efff798038103d269b633813fc60c", "span_id": "eee19b7ec3c1b174",
            "kind": "SPAN_KIND_CLIENT", "start_time_unix_nano": 1544712660000000000,
            "end_time_unix_nano": "1544712660000000100", "status": {"code": 1}}]}]}]}"#;
        let batch = decode_otlp_traces_json(body.as_bytes(), NOW).unwrap();
        assert!(batch.rejected.is_empty(), "{:?}", batch.rejected);
        let s = &batch.spans[0];
        assert_eq!((s.kind, s.status_code, s.duration_ns), (SpanKind::Client, StatusCode::Ok, 100));
        assert_eq!(s.service, "unknown");

        for (name, n) in [
            ("SEVERITY_NUMBER_WARN", 13),
            ("SEVERITY_NUMBER_ERROR3", 19),
            ("fatal", 21),
            ("SEVERITY_NUMBER_UNSPECIFIED", 0),
            ("what", 0),
            ("INFO9", 0),
        ] {
            assert_eq!(severity_number_name(name), n, "{name}");
        }
        let body = r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[
            {"severityNumber": "SEVERITY_NUMBER_WARN2", "body": {"stringValue": "a"}},
            {"severityText": "ERROR", "body": {"intValue": 5}},
            {"body": {"kvlistValue": {"values": [{"key": "k", "value": {"doubleValue": "NaN"}}]}}}
        ]}]}]}"#;
        let batch = decode_otlp_logs_json(body.as_bytes(), NOW).unwrap();
        assert!(batch.rejected.is_empty(), "{:?}", batch.rejected);
        let r = &batch.records;
        assert_eq!((r[0].level, r[0].severity_number), (Level::Warn, 14));
        assert_eq!((r[1].level, r[1].severity_number, r[1].body.as_str()), (Level::Error, 17, "5"));
        assert_eq!((r[2].time_ns, r[2].body.as_str()), (NOW, r#"{"k":"NaN"}"#));
    }

    #[test]
    fn bad_records_are_rejected_others_kept() {
        let body = r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[
            {"body": {"stringValue": "good"}},
            {"traceId": "not-a-hex-id!", "body": {"stringValue": "bad id"}},
            {"timeUnixNano": "yesterday"},
            {"attributes": [{"key": "n", "value": {"intValue": "ten"}}]},
            "not an object",
            {"body": {"stringValue": "also good"}, "traceId": ""}
        ]}]}]}"#;
        let batch = decode_otlp_logs_json(body.as_bytes(), NOW).unwrap();
        let bodies: Vec<&str> = batch.records.iter().map(|r| r.body.as_str()).collect();
        assert_eq!(bodies, vec!["good", "also good"]);
        let reasons: Vec<&str> = batch.rejected.iter().map(|r| r.reason.as_str()).collect();
        assert_eq!(
            reasons,
            vec![
                "resourceLogs[0].scopeLogs[0].logRecords[1]: traceId is not hex: not-a-hex-id!",
                "resourceLogs[0].scopeLogs[0].logRecords[2]: invalid timeUnixNano \"yesterday\"",
                "resourceLogs[0].scopeLogs[0].logRecords[3]: attribute n: invalid intValue \"ten\"",
                "resourceLogs[0].scopeLogs[0].logRecords[4]: log record: expected an object, found a string",
            ]
        );

        let body = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[
            {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "zz"},
            {"traceId": "5b8efff798038103d269b633813fc60c"},
            {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174", "startTimeUnixNano": "1544712660000000000"}
        ]}]}]}"#;
        let batch = decode_otlp_traces_json(body.as_bytes(), NOW).unwrap();
        assert_eq!(batch.spans.len(), 1);
        assert_eq!(
            batch.rejected[0].reason,
            "resourceSpans[0].scopeSpans[0].spans[0]: spanId is not hex: zz"
        );
        assert_eq!(
            batch.rejected[1].reason,
            "resourceSpans[0].scopeSpans[0].spans[1]: span has no span_id"
        );
    }

    #[test]
    fn base64_ids_from_generic_encoders_are_accepted() {
        let body = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[
            {"traceId": "W47/95gDgQPSabYzgT/GDA==", "spanId": "7uGbfsPBsXQ="}]}]}]}"#;
        let batch = decode_otlp_traces_json(body.as_bytes(), NOW).unwrap();
        assert!(batch.rejected.is_empty(), "{:?}", batch.rejected);
        assert_eq!(batch.spans[0].trace_id, "5b8efff798038103d269b633813fc60c");
        assert_eq!(batch.spans[0].span_id, "eee19b7ec3c1b174");
    }

    #[test]
    fn malformed_envelopes_are_invalid_input() {
        let err = decode_otlp_logs_json(b"{\"resourceLogs\": [", NOW).unwrap_err();
        match err {
            IngestError::InvalidInput { reason } => {
                assert!(
                    reason.starts_with("invalid json: ") && reason.contains("line 1 column"),
                    "{reason}"
                )
            }
            other => panic!("{other:?}"),
        }
        for body in [&b"[]"[..], b"{\"resourceLogs\": 3}", b"{\"resourceLogs\": [1]}", b"\xff"] {
            assert!(matches!(
                decode_otlp_logs_json(body, NOW),
                Err(IngestError::InvalidInput { .. })
            ));
        }
        assert!(decode_otlp_logs_json(b"{}", NOW).unwrap().is_empty());
        assert!(decode_otlp_traces_json(b"\xef\xbb\xbf{\"resourceSpans\": null}", NOW)
            .unwrap()
            .is_empty());
    }

    proptest::proptest! {
        #[test]
        fn json_decoders_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = decode_otlp_logs_json(&bytes, NOW);
            let _ = decode_otlp_traces_json(&bytes, NOW);
        }

        #[test]
        fn json_decoders_never_panic_on_mangled_samples(cut in 0usize..2000, byte in proptest::prelude::any::<u8>()) {
            for sample in [LOGS, TRACES] {
                let mut bytes = sample.as_bytes().to_vec();
                let i = cut % bytes.len();
                bytes[i] = byte;
                let _ = decode_otlp_logs_json(&bytes, NOW);
                let _ = decode_otlp_traces_json(&bytes, NOW);
                let _ = decode_otlp_logs_json(&bytes[..i], NOW);
            }
        }
    }
}
