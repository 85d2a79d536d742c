//! Conversions shared by the decoders and the final checks every record and span goes through.

use base64::Engine as _;
use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use trawl_model::{
    format_rfc3339, normalize_id, sanity_check_time, AttrValue, Attributes, Record, Span,
    TimeCheck, MAX_FIELDS, MAX_RECORD_BYTES,
};

/// Attribute name that keeps the original event time when it was replaced.
pub const TIME_ADJUSTED_ATTR: &str = "trawl.time_adjusted";

/// Flattening stops once a list holds this many fields: one more than allowed, so the final
/// check still sees the overflow and rejects with a reason, while a hostile request cannot make
/// a single record hold millions of fields.
pub(crate) const FIELD_CAP: usize = MAX_FIELDS + 1;

/// Checks and completes a decoded record; `Err` carries the rejection reason.
///
/// - Trace and span ids are normalised ([`normalize_id`]: lowercase, dashes removed, all-zero
///   means absent). Ids that are not hex are kept as they are, because request ids sent as
///   NDJSON are often arbitrary strings; binary OTLP ids are hex by construction.
/// - An empty service becomes `unknown`.
/// - Time sanity: an observed time more than an hour ahead of `now_ns` or before 2000 is
///   replaced by `now_ns`. An event time that is off the same way (see
///   [`sanity_check_time`]) is replaced by the observed time, and the original value is kept as
///   the string attribute `trawl.time_adjusted` (RFC 3339, or the raw number when it is outside
///   the representable date range).
/// - Limits: more than [`MAX_FIELDS`] attributes plus resource fields, or an
///   [`Record::approx_bytes`] over [`MAX_RECORD_BYTES`], reject the record.
pub fn finish_record(record: &mut Record, now_ns: i64) -> Result<(), String> {
    normalize_in_place(&mut record.trace_id);
    normalize_in_place(&mut record.span_id);
    if record.service.is_empty() {
        record.service = "unknown".to_string();
    }
    if sanity_check_time(record.observed_time_ns, now_ns) != TimeCheck::Ok {
        record.observed_time_ns = now_ns;
    }
    if sanity_check_time(record.time_ns, now_ns) != TimeCheck::Ok {
        let original = format_rfc3339(record.time_ns);
        record.attributes.push((TIME_ADJUSTED_ATTR.to_string(), AttrValue::Str(original)));
        record.time_ns = record.observed_time_ns;
    }
    check_fields(record.attributes.len() + record.resource.len())?;
    let bytes = record.approx_bytes();
    if bytes > MAX_RECORD_BYTES {
        return Err(format!("record of {bytes} bytes exceeds the {MAX_RECORD_BYTES} byte limit"));
    }
    Ok(())
}

/// Checks and completes a decoded span; `Err` carries the rejection reason.
///
/// - Ids are normalised like record ids; the trace id and span id must be present, and all ids
///   (parent and link ids included) must be hex.
/// - An empty service becomes `unknown`; a negative duration becomes 0.
/// - Time sanity: a start time more than an hour ahead of `now_ns` or before 2000 is replaced
///   by `now_ns`, event times move by the same amount, and the original start is kept as the
///   string attribute `trawl.time_adjusted`.
/// - Limits: more than [`MAX_FIELDS`] attributes plus resource fields, or more than
///   [`MAX_RECORD_BYTES`] in total (events and links included), reject the span.
pub fn finish_span(span: &mut Span, now_ns: i64) -> Result<(), String> {
    normalize_in_place(&mut span.trace_id);
    normalize_in_place(&mut span.span_id);
    normalize_in_place(&mut span.parent_span_id);
    if span.trace_id.is_empty() {
        return Err("span has no trace_id".to_string());
    }
    if span.span_id.is_empty() {
        return Err("span has no span_id".to_string());
    }
    check_hex("trace_id", &span.trace_id)?;
    check_hex("span_id", &span.span_id)?;
    check_hex("parent_span_id", &span.parent_span_id)?;
    for link in &mut span.links {
        normalize_in_place(&mut link.trace_id);
        normalize_in_place(&mut link.span_id);
        check_hex("link trace_id", &link.trace_id)?;
        check_hex("link span_id", &link.span_id)?;
    }
    if span.service.is_empty() {
        span.service = "unknown".to_string();
    }
    if span.duration_ns < 0 {
        span.duration_ns = 0;
    }
    if sanity_check_time(span.start_ns, now_ns) != TimeCheck::Ok {
        let original = format_rfc3339(span.start_ns);
        span.attributes.push((TIME_ADJUSTED_ATTR.to_string(), AttrValue::Str(original)));
        let shift = now_ns.saturating_sub(span.start_ns);
        for event in &mut span.events {
            event.time_ns = event.time_ns.saturating_add(shift);
        }
        span.start_ns = now_ns;
    }
    check_fields(span.attributes.len() + span.resource.len())?;
    let bytes = span_approx_bytes(span);
    if bytes > MAX_RECORD_BYTES {
        return Err(format!("span of {bytes} bytes exceeds the {MAX_RECORD_BYTES} byte limit"));
    }
    Ok(())
}

fn normalize_in_place(id: &mut String) {
    if !id.is_empty() {
        *id = normalize_id(id);
    }
}

fn check_hex(what: &str, id: &str) -> Result<(), String> {
    if id.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(format!("{what} is not hex"))
    }
}

fn check_fields(n: usize) -> Result<(), String> {
    if n > MAX_FIELDS {
        Err(format!("more than {MAX_FIELDS} fields"))
    } else {
        Ok(())
    }
}

fn attrs_bytes(a: &Attributes) -> usize {
    a.iter()
        .map(|(k, v)| {
            k.len()
                + match v {
                    AttrValue::Str(s) => s.len(),
                    _ => 8,
                }
        })
        .sum()
}

/// Approximate size of a span in bytes, counted like [`Record::approx_bytes`].
pub(crate) fn span_approx_bytes(span: &Span) -> usize {
    let events: usize =
        span.events.iter().map(|e| 16 + e.name.len() + attrs_bytes(&e.attributes)).sum();
    let links: usize = span
        .links
        .iter()
        .map(|l| 16 + l.trace_id.len() + l.span_id.len() + attrs_bytes(&l.attributes))
        .sum();
    96 + span.trace_id.len()
        + span.span_id.len()
        + span.parent_span_id.len()
        + span.service.len()
        + span.environment.len()
        + span.host.len()
        + span.name.len()
        + span.status_message.len()
        + attrs_bytes(&span.attributes)
        + attrs_bytes(&span.resource)
        + events
        + links
}

/// Appends one field unless the list is already at [`FIELD_CAP`]; false when full.
pub(crate) fn push_field(out: &mut Attributes, key: String, value: AttrValue) -> bool {
    if out.len() >= FIELD_CAP {
        return false;
    }
    out.push((key, value));
    true
}

fn join_key(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Flattens a JSON value like [`trawl_model::flatten_json`] (objects recurse with dotted keys,
/// arrays become JSON text, nulls are dropped) but stops once `out` holds `cap` fields.
/// Returns false when it stopped early.
pub(crate) fn flatten_json_capped(
    prefix: &str,
    value: &serde_json::Value,
    out: &mut Attributes,
    cap: usize,
) -> bool {
    match value {
        serde_json::Value::Object(map) => {
            for (key, child) in map {
                if !flatten_json_capped(&join_key(prefix, key), child, out, cap) {
                    return false;
                }
            }
            true
        }
        other => match AttrValue::from_json(other) {
            Some(v) if out.len() < cap => {
                out.push((prefix.to_string(), v));
                true
            }
            Some(_) => false,
            None => true,
        },
    }
}

/// Flattens OTLP key/values: key/value lists recurse with dotted keys, arrays become JSON
/// text, bytes become base64 text, empty values are dropped. Stops at [`FIELD_CAP`].
pub(crate) fn flatten_key_values(prefix: &str, kvs: &[KeyValue], out: &mut Attributes) -> bool {
    for kv in kvs {
        let Some(value) = kv.value.as_ref().and_then(|v| v.value.as_ref()) else {
            continue;
        };
        let key = join_key(prefix, &kv.key);
        let ok = match value {
            Value::KvlistValue(list) => flatten_key_values(&key, &list.values, out),
            Value::StringValue(s) => push_field(out, key, AttrValue::Str(s.clone())),
            Value::BoolValue(b) => push_field(out, key, AttrValue::Bool(*b)),
            Value::IntValue(i) => push_field(out, key, AttrValue::Int(*i)),
            Value::DoubleValue(f) => push_field(out, key, AttrValue::Float(*f)),
            Value::BytesValue(b) => push_field(out, key, AttrValue::Str(base64_encode(b))),
            Value::ArrayValue(_) => {
                let text = any_value_to_json(kv.value.as_ref().unwrap_or(&AnyValue::default()))
                    .to_string();
                push_field(out, key, AttrValue::Str(text))
            }
            // Dictionary references only mean something inside profiles.
            Value::StringValueStrindex(_) => true,
        };
        if !ok {
            return false;
        }
    }
    true
}

/// An OTLP value as JSON: key/value lists become objects, bytes base64 strings, and
/// non-finite doubles strings.
pub(crate) fn any_value_to_json(value: &AnyValue) -> serde_json::Value {
    use serde_json::Value as J;
    match &value.value {
        None | Some(Value::StringValueStrindex(_)) => J::Null,
        Some(Value::StringValue(s)) => J::String(s.clone()),
        Some(Value::BoolValue(b)) => J::Bool(*b),
        Some(Value::IntValue(i)) => J::from(*i),
        Some(Value::DoubleValue(f)) => serde_json::Number::from_f64(*f)
            .map(J::Number)
            .unwrap_or_else(|| J::String(f.to_string())),
        Some(Value::BytesValue(b)) => J::String(base64_encode(b)),
        Some(Value::ArrayValue(a)) => J::Array(a.values.iter().map(any_value_to_json).collect()),
        Some(Value::KvlistValue(list)) => {
            let mut map = serde_json::Map::with_capacity(list.values.len());
            for kv in &list.values {
                let v = kv.value.as_ref().map(any_value_to_json).unwrap_or(J::Null);
                map.insert(kv.key.clone(), v);
            }
            J::Object(map)
        }
    }
}

/// The text of a log body: strings as they are, bytes as base64, numbers and booleans in
/// their usual spelling, arrays and key/value lists as JSON text.
pub(crate) fn body_text(body: &AnyValue) -> String {
    match &body.value {
        None | Some(Value::StringValueStrindex(_)) => String::new(),
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::BytesValue(b)) => base64_encode(b),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::DoubleValue(f)) => f.to_string(),
        Some(Value::ArrayValue(_)) | Some(Value::KvlistValue(_)) => {
            any_value_to_json(body).to_string()
        }
    }
}

pub(crate) fn base64_encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decodes standard or URL-safe base64, padded or not.
pub(crate) fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let t = text.trim();
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD].iter().find_map(|e| e.decode(t).ok())
}

/// A binary id as lowercase hex; empty or all-zero ids are absent (empty string).
pub(crate) fn id_hex(bytes: &[u8]) -> String {
    if bytes.iter().all(|b| *b == 0) {
        String::new()
    } else {
        hex::encode(bytes)
    }
}

/// What every record or span of one OTLP resource shares.
#[derive(Debug, Clone, Default)]
pub(crate) struct ResourceInfo {
    pub service: String,
    pub environment: String,
    pub host: String,
    pub attributes: Attributes,
}

impl ResourceInfo {
    /// Flattens the resource attributes and picks `service.name`,
    /// `deployment.environment.name` (or `deployment.environment`) and `host.name`.
    pub fn from_resource(resource: Option<&Resource>) -> ResourceInfo {
        let mut attributes = Vec::new();
        if let Some(r) = resource {
            flatten_key_values("", &r.attributes, &mut attributes);
        }
        let find = |names: &[&str]| -> String {
            names
                .iter()
                .find_map(|n| attributes.iter().find(|(k, _)| k == n))
                .map(|(_, v)| v.to_text().into_owned())
                .unwrap_or_default()
        };
        let service = find(&["service.name"]);
        let environment = find(&["deployment.environment.name", "deployment.environment"]);
        let host = find(&["host.name"]);
        ResourceInfo {
            service: if service.is_empty() { "unknown".to_string() } else { service },
            environment,
            host,
            attributes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};
    use trawl_model::{Level, SpanKind, SpanLink, StatusCode};

    const NOW: i64 = 1_764_000_000_000_000_000;

    fn kv(key: &str, value: Value) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        }
    }

    fn span() -> Span {
        Span {
            trace_id: "5B8EFFF798038103D269B633813FC60C".into(),
            span_id: "eee19b7ec3c1b174".into(),
            parent_span_id: String::new(),
            service: String::new(),
            environment: String::new(),
            host: String::new(),
            name: "GET /pay".into(),
            kind: SpanKind::Server,
            start_ns: NOW,
            duration_ns: -5,
            status_code: StatusCode::Unset,
            status_message: String::new(),
            attributes: Vec::new(),
            resource: Vec::new(),
            events: Vec::new(),
            links: Vec::new(),
        }
    }

    #[test]
    fn key_values_flatten_with_dots() {
        let kvs = vec![
            kv("s", Value::StringValue("x".into())),
            kv("i", Value::IntValue(-3)),
            kv("f", Value::DoubleValue(1.5)),
            kv("b", Value::BoolValue(true)),
            kv("raw", Value::BytesValue(b"hi".to_vec())),
            kv(
                "arr",
                Value::ArrayValue(ArrayValue {
                    values: vec![
                        AnyValue { value: Some(Value::IntValue(1)) },
                        AnyValue { value: Some(Value::StringValue("a".into())) },
                    ],
                }),
            ),
            kv(
                "http",
                Value::KvlistValue(KeyValueList {
                    values: vec![kv("status", Value::IntValue(500))],
                }),
            ),
            KeyValue { key: "empty".into(), value: None, ..Default::default() },
        ];
        let mut out = Vec::new();
        assert!(flatten_key_values("", &kvs, &mut out));
        assert_eq!(
            out,
            vec![
                ("s".to_string(), AttrValue::Str("x".into())),
                ("i".to_string(), AttrValue::Int(-3)),
                ("f".to_string(), AttrValue::Float(1.5)),
                ("b".to_string(), AttrValue::Bool(true)),
                ("raw".to_string(), AttrValue::Str("aGk=".into())),
                ("arr".to_string(), AttrValue::Str("[1,\"a\"]".into())),
                ("http.status".to_string(), AttrValue::Int(500)),
            ]
        );
    }

    #[test]
    fn bodies_become_text() {
        let v = |value| AnyValue { value: Some(value) };
        assert_eq!(body_text(&v(Value::StringValue("결제".into()))), "결제");
        assert_eq!(body_text(&v(Value::IntValue(42))), "42");
        assert_eq!(body_text(&v(Value::BytesValue(vec![0xff]))), "/w==");
        let list = v(Value::KvlistValue(KeyValueList {
            values: vec![kv("a", Value::DoubleValue(f64::NAN))],
        }));
        assert_eq!(body_text(&list), "{\"a\":\"NaN\"}");
        assert_eq!(body_text(&AnyValue::default()), "");
    }

    #[test]
    fn ids_and_base64() {
        assert_eq!(id_hex(&[0, 0]), "");
        assert_eq!(id_hex(&[]), "");
        assert_eq!(id_hex(&[0xAB, 1]), "ab01");
        assert_eq!(base64_decode("aGk="), Some(b"hi".to_vec()));
        assert_eq!(base64_decode("aGk"), Some(b"hi".to_vec()));
        assert_eq!(base64_decode("_w"), Some(vec![0xff]));
        assert_eq!(base64_decode("!!"), None);
    }

    #[test]
    fn resource_info_picks_well_known_keys() {
        let resource = Resource {
            attributes: vec![
                kv("service.name", Value::StringValue("checkout".into())),
                kv("deployment.environment", Value::StringValue("old".into())),
                kv("deployment.environment.name", Value::StringValue("prod".into())),
                kv("host.name", Value::StringValue("web-1".into())),
            ],
            ..Default::default()
        };
        let info = ResourceInfo::from_resource(Some(&resource));
        assert_eq!((info.service.as_str(), info.environment.as_str()), ("checkout", "prod"));
        assert_eq!(info.host, "web-1");
        assert_eq!(info.attributes.len(), 4);
        assert_eq!(ResourceInfo::from_resource(None).service, "unknown");
    }

    #[test]
    fn record_ids_normalise_and_service_defaults() {
        let mut r = Record::new(NOW);
        r.service.clear();
        r.trace_id = "4BF92F35-77B3-4DA6-A3CE-929D0E0E4736".into();
        r.span_id = "0000000000000000".into();
        finish_record(&mut r, NOW).unwrap();
        assert_eq!(r.service, "unknown");
        assert_eq!(r.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(r.span_id, "");
        // Arbitrary request ids are kept, lowercased.
        r.trace_id = "Req-ABC_1".into();
        finish_record(&mut r, NOW).unwrap();
        assert_eq!(r.trace_id, "reqabc_1");
    }

    #[test]
    fn record_times_far_off_are_adjusted() {
        let mut r = Record::new(0);
        r.observed_time_ns = NOW - 1000;
        finish_record(&mut r, NOW).unwrap();
        assert_eq!(r.time_ns, NOW - 1000);
        assert_eq!(
            r.attribute(TIME_ADJUSTED_ATTR),
            Some(&AttrValue::Str("1970-01-01T00:00:00Z".into()))
        );

        let future = NOW + 2 * 3600 * 1_000_000_000;
        let mut r = Record::new(future);
        r.observed_time_ns = future;
        finish_record(&mut r, NOW).unwrap();
        assert_eq!((r.time_ns, r.observed_time_ns), (NOW, NOW));

        let mut r = Record::new(NOW - 1);
        finish_record(&mut r, NOW).unwrap();
        assert_eq!(r.time_ns, NOW - 1);
        assert!(r.attributes.is_empty());
        assert_eq!(r.level, Level::Info);
    }

    #[test]
    fn record_limits() {
        let mut r = Record::new(NOW);
        r.body = "x".repeat(MAX_RECORD_BYTES);
        let err = finish_record(&mut r, NOW).unwrap_err();
        assert!(err.starts_with("record of ") && err.ends_with("exceeds the 262144 byte limit"));

        let mut r = Record::new(NOW);
        r.attributes = (0..600).map(|i| (format!("a{i}"), AttrValue::Int(i))).collect();
        r.resource = (0..401).map(|i| (format!("r{i}"), AttrValue::Int(i))).collect();
        assert_eq!(finish_record(&mut r, NOW).unwrap_err(), "more than 1000 fields");
        r.resource.pop();
        finish_record(&mut r, NOW).unwrap();
    }

    #[test]
    fn span_checks() {
        let mut s = span();
        finish_span(&mut s, NOW).unwrap();
        assert_eq!(s.trace_id, "5b8efff798038103d269b633813fc60c");
        assert_eq!((s.duration_ns, s.service.as_str()), (0, "unknown"));

        let mut s = span();
        s.trace_id = "0".repeat(32);
        assert_eq!(finish_span(&mut s, NOW).unwrap_err(), "span has no trace_id");
        let mut s = span();
        s.span_id.clear();
        assert_eq!(finish_span(&mut s, NOW).unwrap_err(), "span has no span_id");
        let mut s = span();
        s.trace_id = "not-hex".into();
        assert_eq!(finish_span(&mut s, NOW).unwrap_err(), "trace_id is not hex");
        let mut s = span();
        s.links.push(SpanLink { trace_id: "zz".into(), span_id: "01".into(), attributes: vec![] });
        assert_eq!(finish_span(&mut s, NOW).unwrap_err(), "link trace_id is not hex");

        let mut s = span();
        s.start_ns = 5;
        s.events.push(trawl_model::SpanEvent { time_ns: 10, name: "e".into(), attributes: vec![] });
        finish_span(&mut s, NOW).unwrap();
        assert_eq!((s.start_ns, s.events[0].time_ns), (NOW, NOW + 5));
        assert!(s.attributes.iter().any(|(k, _)| k == TIME_ADJUSTED_ATTR));

        let mut s = span();
        s.name = "n".repeat(MAX_RECORD_BYTES);
        assert!(finish_span(&mut s, NOW).unwrap_err().starts_with("span of "));
    }

    #[test]
    fn capped_json_flattening_stops() {
        let v = serde_json::json!({"a": 1, "b": {"c": 2, "d": null}, "e": [1]});
        let mut out = Vec::new();
        assert!(flatten_json_capped("", &v, &mut out, 10));
        assert_eq!(out.len(), 3);
        let mut out = Vec::new();
        assert!(!flatten_json_capped("", &v, &mut out, 2));
        assert_eq!(out.len(), 2);
    }
}
