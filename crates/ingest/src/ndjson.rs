//! Newline-delimited JSON logs: one JSON object per line.

use serde_json::Value;
use trawl_model::{parse_time_value, AttrValue, Attributes, Level, Record, MAX_FIELDS};

use crate::normalize::{finish_record, flatten_json_capped};
use crate::{Batch, Rejection};

const TIME_KEYS: &[&str] = &["timestamp", "time", "@timestamp", "ts"];
const SERVICE_KEYS: &[&str] = &["service", "service.name"];
const LEVEL_KEYS: &[&str] = &["level", "severity", "log.level"];
const TRACE_KEYS: &[&str] = &["trace_id", "traceId", "trace.id"];
const SPAN_KEYS: &[&str] = &["span_id", "spanId", "span.id"];
const BODY_KEYS: &[&str] = &["message", "msg", "body", "log"];
const ENVIRONMENT_KEYS: &[&str] =
    &["environment", "env", "deployment.environment", "deployment.environment.name"];
const HOST_KEYS: &[&str] = &["host", "hostname", "host.name"];

/// Room for the recognised keys, which leave the attribute set, on top of [`MAX_FIELDS`].
const FLATTEN_CAP: usize = MAX_FIELDS + 64;

/// Decodes NDJSON logs. Never fails as a whole: a line that is not a JSON object, is not valid
/// UTF-8 or fails [`finish_record`] is rejected with its 1-based line number, and blank lines
/// are skipped. Both `\n` and `\r\n` line ends are accepted.
///
/// Recognised keys (the first one present wins and leaves the attributes; nested objects count
/// by their dotted path, so `{"service":{"name":..}}` is `service.name`):
/// time `timestamp`, `time`, `@timestamp`, `ts` (RFC 3339 or epoch s/ms/us/ns, as number or
/// string; missing means now); service `service`, `service.name`; level `level`, `severity`,
/// `log.level` (an unknown spelling gives INFO and is kept as `level.original`); trace id
/// `trace_id`, `traceId`, `trace.id`; span id `span_id`, `spanId`, `span.id`; body `message`,
/// `msg`, `body`, `log` (a trailing line end of a `log` body, as Docker writes it, is dropped);
/// environment `environment`, `env`, `deployment.environment`, `deployment.environment.name`;
/// host `host`, `hostname`, `host.name`. Everything else is flattened into the attributes.
///
/// Lines shaped like OpenTelemetry's log data model keep their meaning: the members of an
/// `attributes` object are the record's attributes by their own names (`{"attributes":
/// {"user.id": 7}}` is `user.id`, not `attributes.user.id`, unless the line also has a
/// top-level `user.id`), and the members of a `resource` object (or of `resource.attributes`)
/// are its resource attributes; service, environment and host fall back to the resource's
/// `service.name`, `deployment.environment(.name)` and `host.name`.
pub fn decode_ndjson(bytes: &[u8], now_ns: i64) -> Batch {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let mut batch = Batch::default();
    for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        match decode_line(line, now_ns) {
            Ok(record) => batch.records.push(record),
            Err(reason) => batch.rejected.push(Rejection { line: Some(i + 1), reason }),
        }
    }
    batch
}

fn decode_line(line: &[u8], now_ns: i64) -> Result<Record, String> {
    let text = std::str::from_utf8(line).map_err(|e| format!("invalid utf-8: {e}"))?;
    let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if !value.is_object() {
        return Err(format!("expected a json object, found {}", json_kind(&value)));
    }
    let mut fields = Vec::new();
    if !flatten_json_capped("", &value, &mut fields, FLATTEN_CAP) {
        return Err(too_many_fields());
    }
    drop(value);
    let resource = otel_shaped(&mut fields);

    let mut record = Record::new(now_ns);
    if let Some(t) = take(&mut fields, TIME_KEYS) {
        record.time_ns =
            parse_time(&t).ok_or_else(|| format!("invalid timestamp {}", short(&t.to_text())))?;
    }
    if let Some(level) = take(&mut fields, LEVEL_KEYS) {
        apply_level(&mut record, &mut fields, &level);
    }
    // The resource's values stay in the resource, as OTLP keeps them.
    let from_resource = |resource: &Attributes, names: &[&str]| {
        names.iter().find_map(|n| resource.iter().find(|(k, _)| k == n).map(|(_, v)| v.to_text().into_owned()))
    };
    if let Some(v) = take(&mut fields, SERVICE_KEYS) {
        record.service = v.to_text().into_owned();
    } else if let Some(v) = from_resource(&resource, &["service.name"]) {
        record.service = v;
    }
    if let Some(v) = take(&mut fields, ENVIRONMENT_KEYS) {
        record.environment = v.to_text().into_owned();
    } else if let Some(v) = from_resource(&resource, &["deployment.environment.name", "deployment.environment"]) {
        record.environment = v;
    }
    if let Some(v) = take(&mut fields, HOST_KEYS) {
        record.host = v.to_text().into_owned();
    } else if let Some(v) = from_resource(&resource, &["host.name"]) {
        record.host = v;
    }
    if let Some(v) = take(&mut fields, TRACE_KEYS) {
        record.trace_id = v.to_text().into_owned();
    }
    if let Some(v) = take(&mut fields, SPAN_KEYS) {
        record.span_id = v.to_text().into_owned();
    }
    if let Some((key, v)) = take_keyed(&mut fields, BODY_KEYS) {
        let mut body = match v {
            AttrValue::Str(s) => s,
            other => other.to_text().into_owned(),
        };
        if key == "log" {
            let kept = body.trim_end_matches(['\n', '\r']).len();
            body.truncate(kept);
        }
        record.body = body;
    }
    if fields.len() + resource.len() > MAX_FIELDS {
        return Err(too_many_fields());
    }
    record.attributes = fields;
    record.resource = resource;
    finish_record(&mut record, now_ns)?;
    Ok(record)
}

/// Takes the members of `attributes` and `resource` objects out of the flattened `fields`:
/// attributes by their own names (kept prefixed when a top-level field has the name), and the
/// resource attributes, returned.
fn otel_shaped(fields: &mut Attributes) -> Attributes {
    if !fields.iter().any(|(k, _)| k.starts_with("attributes.") || k.starts_with("resource.")) {
        return Attributes::new();
    }
    let mut resource = Attributes::new();
    let mut nested = Attributes::new();
    let mut plain = Attributes::with_capacity(fields.len());
    for (key, value) in fields.drain(..) {
        if let Some(name) = key.strip_prefix("resource.attributes.").or_else(|| key.strip_prefix("resource.")) {
            resource.push((name.to_string(), value));
        } else if key.starts_with("attributes.") {
            nested.push((key, value));
        } else {
            plain.push((key, value));
        }
    }
    let top_level: std::collections::HashSet<String> = plain.iter().map(|(k, _)| k.clone()).collect();
    for (key, value) in nested {
        let name = key["attributes.".len()..].to_string();
        plain.push((if top_level.contains(&name) { key } else { name }, value));
    }
    *fields = plain;
    resource
}

/// Sets the level and severity number from a level value; an unknown spelling leaves INFO and
/// is kept as the attribute `level.original`.
pub(crate) fn apply_level(record: &mut Record, fields: &mut Attributes, level: &AttrValue) {
    let text = level.to_text();
    match Level::parse(&text) {
        Some(l) => {
            record.level = l;
            record.severity_number = match text.trim().parse::<i32>() {
                Ok(n) => n,
                Err(_) => l.severity_number(),
            };
        }
        None => fields.push(("level.original".to_string(), AttrValue::Str(text.into_owned()))),
    }
}

/// [`parse_time_value`], except that an integer written as a string is read as that integer
/// first: `parse_time_str` keeps a digits-only string as raw nanoseconds whatever its
/// magnitude, which would turn `"1763996400"` (seconds) into 1970.
pub(crate) fn parse_time(value: &AttrValue) -> Option<i64> {
    if let AttrValue::Str(s) = value {
        let t = s.trim();
        if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
            return parse_time_value(&Value::from(t.parse::<i64>().ok()?));
        }
    }
    parse_time_value(&value.to_json())
}

pub(crate) fn too_many_fields() -> String {
    format!("more than {MAX_FIELDS} fields")
}

/// Removes and returns the first field named like one of `names`, in the order of `names`.
fn take(fields: &mut Attributes, names: &[&'static str]) -> Option<AttrValue> {
    take_keyed(fields, names).map(|(_, v)| v)
}

fn take_keyed(
    fields: &mut Attributes,
    names: &[&'static str],
) -> Option<(&'static str, AttrValue)> {
    names.iter().find_map(|name| {
        let i = fields.iter().position(|(k, _)| k == name)?;
        Some((*name, fields.remove(i).1))
    })
}

pub(crate) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// At most 64 characters of a value, quoted, for reasons.
pub(crate) fn short(text: &str) -> String {
    match text.char_indices().nth(64) {
        Some((i, _)) => format!("{:?}...", &text[..i]),
        None => format!("{text:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use trawl_model::MAX_RECORD_BYTES;

    const NOW: i64 = 1_764_000_000_000_000_000; // 2025-11-24T16:00:00Z

    fn one(line: &str) -> Record {
        let batch = decode_ndjson(line.as_bytes(), NOW);
        assert!(batch.rejected.is_empty(), "{line}: {:?}", batch.rejected);
        assert_eq!(batch.records.len(), 1);
        batch.records.into_iter().next().unwrap()
    }

    fn reason(line: &str) -> String {
        let batch = decode_ndjson(line.as_bytes(), NOW);
        assert!(batch.records.is_empty(), "{line} was accepted");
        batch.rejected[0].reason.clone()
    }

    #[test]
    fn otel_shaped_lines_keep_attribute_and_resource_names() {
        let r = one(
            r#"{"body":"paid","severity":"WARN","attributes":{"user.id":"u7","http":{"status":502}},"resource":{"attributes":{"service.name":"checkout","deployment.environment":"prod","host.name":"web-1"}}}"#,
        );
        assert_eq!((r.service.as_str(), r.environment.as_str(), r.host.as_str()), ("checkout", "prod", "web-1"));
        assert_eq!(r.attributes.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), vec!["http.status", "user.id"]);
        assert!(r.resource.iter().any(|(k, v)| k == "service.name" && v.to_text() == "checkout"));
        // A top-level field of the same name keeps its name; the nested one stays prefixed.
        let r = one(r#"{"msg":"x","user.id":"top","attributes":{"user.id":"nested"},"resource":{"service.name":"api"}}"#);
        assert_eq!(r.service, "api");
        let names: Vec<&str> = r.attributes.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, vec!["user.id", "attributes.user.id"]);
        // A top-level service wins over the resource's.
        assert_eq!(one(r#"{"msg":"x","service":"top","resource":{"service.name":"api"}}"#).service, "top");
    }

    #[test]
    fn good_and_bad_lines_mixed() {
        let many: serde_json::Map<String, Value> =
            (0..=MAX_FIELDS).map(|i| (format!("f{i}"), Value::from(i))).collect();
        let huge = serde_json::json!({"msg": "x".repeat(MAX_RECORD_BYTES)});
        let mut body = String::new();
        body.push_str("{\"msg\":\"first\",\"service\":\"pay\"}\n"); // 1
        body.push_str("{\"msg\": \"broken\"\n"); // 2
        body.push_str("[1,2,3]\n"); // 3
        body.push_str("{\"ts\":\"yesterday\",\"msg\":\"x\"}\n"); // 4
        body.push_str(&Value::Object(many).to_string()); // 5
        body.push('\n');
        body.push_str(&huge.to_string()); // 6
        body.push_str("\n\n   \r\n"); // 7, 8 blank
        body.push_str("{\"msg\":\"결제가 실패했습니다\"}\r\n"); // 9
        let mut bytes = body.into_bytes();
        bytes.extend_from_slice(b"{\"msg\":\"\xff\"}\n"); // 10
        bytes.extend_from_slice(b"\"just a string\"\n"); // 11
        bytes.extend_from_slice(b"{\"msg\":\"last\"}"); // 12, no final newline

        let batch = decode_ndjson(&bytes, NOW);
        let bodies: Vec<&str> = batch.records.iter().map(|r| r.body.as_str()).collect();
        assert_eq!(bodies, vec!["first", "결제가 실패했습니다", "last"]);
        let lines: Vec<usize> = batch.rejected.iter().map(|r| r.line.unwrap()).collect();
        assert_eq!(lines, vec![2, 3, 4, 5, 6, 10, 11]);
        let reasons: Vec<&str> = batch.rejected.iter().map(|r| r.reason.as_str()).collect();
        assert!(
            reasons[0].contains("line 2 column") || reasons[0].contains("EOF"),
            "{}",
            reasons[0]
        );
        assert_eq!(reasons[1], "expected a json object, found an array");
        assert_eq!(reasons[2], "invalid timestamp \"yesterday\"");
        assert_eq!(reasons[3], "more than 1000 fields");
        assert!(
            reasons[4].starts_with("record of ")
                && reasons[4].ends_with("exceeds the 262144 byte limit")
        );
        assert!(reasons[5].starts_with("invalid utf-8"), "{}", reasons[5]);
        assert_eq!(reasons[6], "expected a json object, found a string");
    }

    #[test]
    fn exactly_max_fields_plus_recognised_keys_is_fine() {
        let mut map: serde_json::Map<String, Value> =
            (0..MAX_FIELDS).map(|i| (format!("f{i}"), Value::from(i))).collect();
        map.insert("msg".into(), "m".into());
        map.insert("level".into(), "warn".into());
        map.insert("time".into(), "2025-11-24T15:00:00Z".into());
        let r = one(&Value::Object(map).to_string());
        assert_eq!(r.attributes.len(), MAX_FIELDS);
    }

    #[test]
    fn every_timestamp_form() {
        let ns = 1_763_996_400_000_000_000i64; // 2025-11-24T15:00:00Z
        for (field, expected) in [
            (r#""timestamp":"2025-11-24T15:00:00Z""#, ns),
            (r#""timestamp":"2025-11-24T15:00:00.250Z""#, ns + 250_000_000),
            (r#""time":"2025-11-25T00:00:00+09:00""#, ns),
            (r#""@timestamp":"2025-11-24 15:00:00Z""#, ns),
            (r#""ts":"2025-11-24T15:00:00""#, ns),
            (r#""ts":1763996400"#, ns),
            (r#""ts":1763996400.5"#, ns + 500_000_000),
            (r#""ts":1763996400000"#, ns),
            (r#""ts":1763996400000000"#, ns),
            (r#""ts":1763996400000000123"#, ns + 123),
            (r#""ts":"1763996400""#, ns),
            (r#""ts":"1763996400000""#, ns),
            (r#""ts":"1763996400000000""#, ns),
            (r#""ts":"1763996400000000123""#, ns + 123),
        ] {
            let r = one(&format!("{{{field},\"msg\":\"m\"}}"));
            assert_eq!(r.time_ns, expected, "{field}");
            assert_eq!(r.observed_time_ns, NOW);
            assert!(r.attributes.is_empty(), "{field}: {:?}", r.attributes);
        }
        assert_eq!(one(r#"{"msg":"no time"}"#).time_ns, NOW);
        // First present wins; the others stay attributes.
        let r = one(r#"{"time":"2025-11-24T15:00:00Z","timestamp":1763996400.5}"#);
        assert_eq!(r.time_ns, ns + 500_000_000);
        assert_eq!(r.attribute("time"), Some(&AttrValue::Str("2025-11-24T15:00:00Z".into())));
        assert_eq!(reason(r#"{"ts":true}"#), "invalid timestamp \"true\"");
        assert_eq!(reason(r#"{"ts":-5}"#), "invalid timestamp \"-5\"");
        // Far off but valid: accepted with the observed time, original kept.
        let r = one(r#"{"ts":0}"#);
        assert_eq!(r.time_ns, NOW);
        assert_eq!(
            r.attribute("trawl.time_adjusted"),
            Some(&AttrValue::Str("1970-01-01T00:00:00Z".into()))
        );
    }

    #[test]
    fn level_spellings() {
        for (line, level, number) in [
            (r#"{"level":"warn"}"#, Level::Warn, 13),
            (r#"{"level":"WARNING"}"#, Level::Warn, 13),
            (r#"{"level":"err"}"#, Level::Error, 17),
            (r#"{"level":"E"}"#, Level::Error, 17),
            (r#"{"severity":"crit"}"#, Level::Fatal, 21),
            (r#"{"severity":"notice"}"#, Level::Info, 9),
            (r#"{"severity":18}"#, Level::Error, 18),
            (r#"{"log.level":"debug"}"#, Level::Debug, 5),
            (r#"{"log":{"level":"trace"}}"#, Level::Trace, 1),
            (r#"{"level":"Info","severity":"error"}"#, Level::Info, 9),
        ] {
            let r = one(line);
            assert_eq!((r.level, r.severity_number), (level, number), "{line}");
        }
        let r = one(r#"{"level":"banana"}"#);
        assert_eq!((r.level, r.severity_number), (Level::Info, 0));
        assert_eq!(r.attribute("level.original"), Some(&AttrValue::Str("banana".into())));
        assert_eq!(one("{}").level, Level::Info);
    }

    #[test]
    fn recognised_keys_leave_the_attributes() {
        let r = one(
            r#"{"message":"paid","service":{"name":"checkout","version":"1.2"},"env":"prod",
                "hostname":"web-1","traceId":"4BF92F35-77B3-4DA6-A3CE-929D0E0E4736","span.id":"00F067AA0BA902B7",
                "http":{"status":502},"tags":["a","b"],"nothing":null}"#
                .replace('\n', " ")
                .as_str(),
        );
        assert_eq!(r.body, "paid");
        assert_eq!(
            (r.service.as_str(), r.environment.as_str(), r.host.as_str()),
            ("checkout", "prod", "web-1")
        );
        assert_eq!(r.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(r.span_id, "00f067aa0ba902b7");
        assert_eq!(
            r.attributes,
            vec![
                ("http.status".to_string(), AttrValue::Int(502)),
                ("service.version".to_string(), AttrValue::Str("1.2".into())),
                ("tags".to_string(), AttrValue::Str("[\"a\",\"b\"]".into())),
            ]
        );
        let r = one(
            r#"{"service.name":"a","msg":12,"host":{"name":"h"},"deployment.environment":"stg"}"#,
        );
        assert_eq!(
            (r.service.as_str(), r.body.as_str(), r.host.as_str(), r.environment.as_str()),
            ("a", "12", "h", "stg")
        );
        assert_eq!(one(r#"{"service":""}"#).service, "unknown");
        assert_eq!(one(r#"{"trace_id":"Req_ABC"}"#).trace_id, "req_abc");
        assert_eq!(one("{\"log\":\"docker line\\n\"}").body, "docker line");
        assert_eq!(one("\u{feff}{\"msg\":\"bom\"}").body, "bom");
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
            let batch = decode_ndjson(&bytes, NOW);
            for r in &batch.rejected {
                prop_assert!(r.line.unwrap() >= 1);
            }
        }

        #[test]
        fn never_panics_on_json_like_lines(lines in proptest::collection::vec("[{}\\[\\]\":,a-z0-9 .\\-\\\\]{0,40}", 0..20)) {
            let _ = decode_ndjson(lines.join("\n").as_bytes(), NOW);
        }

        #[test]
        fn body_and_service_round_trip(body in any::<String>(), service in any::<String>()) {
            let line = serde_json::json!({"message": body, "service": service, "ts": NOW}).to_string();
            let batch = decode_ndjson(format!("{line}\n").as_bytes(), NOW);
            prop_assert!(batch.rejected.is_empty(), "{:?}", batch.rejected);
            let r = &batch.records[0];
            prop_assert_eq!(&r.body, &body);
            let expected = if service.is_empty() { "unknown" } else { service.as_str() };
            prop_assert_eq!(r.service.as_str(), expected);
            prop_assert_eq!(r.time_ns, NOW);
        }
    }
}
