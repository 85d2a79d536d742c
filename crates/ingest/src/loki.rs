//! Grafana Loki push API (`POST /loki/api/v1/push`): JSON, and snappy-compressed protobuf, as
//! sent by Promtail, Grafana Alloy, Fluent Bit, python-logging-loki and winston-loki.
//!
//! One Loki entry becomes one record; both encodings share the mapping below.
//!
//! - Stream labels and structured metadata become string attributes under their own names
//!   (`job`, `namespace`, `pod`); the tenant of `X-Scope-OrgID` becomes `loki.tenant`.
//! - Core columns are taken from those fields, the first name present (and non-empty) wins and
//!   leaves the attributes; when a name is both a label and structured metadata, the metadata
//!   (which is per line) wins: service `service_name`, `service`, `app`, `application`, `job`,
//!   `container`, `container_name`; environment `env`, `environment`,
//!   `deployment_environment`; host `host`, `hostname`, `instance`, `node_name`; trace id
//!   `trace_id`, `traceID`; span id `span_id`, `spanID`.
//! - Level: the first of `level`, `detected_level`, `severity`, `lvl` whose value is a known
//!   spelling ([`Level::parse`]); an unknown one (Loki's `detected_level="unknown"`) stays an
//!   attribute. Else the line is looked at, cheaply: a JSON `"level":"..."` (also `lvl`,
//!   `severity`) or a logfmt `level=...` within its first 1 KiB. Else INFO with severity
//!   number 0 (none given).
//! - Body: the line. Time: the entry's timestamp (nanoseconds); observed time: now.
//!
//! Malformed JSON, protobuf or snappy fail the request. Inside a well-formed request, an entry
//! with an unparsable timestamp, or whose stream has an invalid labels string, is rejected with
//! its position (`streams[1].values[3]: ...`), and the rest is kept. Lines and labels that are
//! not valid UTF-8 in protobuf are decoded lossily (U+FFFD): Go clients do not check UTF-8, and
//! one bad byte should not cost a whole batch.

use prost::Message;
use serde_json::{Map, Value};
use trawl_model::{
    parse_time_value, AttrValue, Attributes, Level, Record, MAX_FIELDS, MAX_RECORD_BYTES,
};

use crate::ndjson::json_kind;
use crate::normalize::finish_record;
use crate::{Batch, IngestError};

/// Attribute holding the tenant of the request's `X-Scope-OrgID` header.
pub const LOKI_TENANT_ATTR: &str = "loki.tenant";

const SERVICE_KEYS: &[&str] = &[
    "service_name",
    "service",
    "app",
    "application",
    "job",
    "container",
    "container_name",
];
const LEVEL_KEYS: &[&str] = &["level", "detected_level", "severity", "lvl"];
const ENVIRONMENT_KEYS: &[&str] = &["env", "environment", "deployment_environment"];
const HOST_KEYS: &[&str] = &["host", "hostname", "instance", "node_name"];
const TRACE_KEYS: &[&str] = &["trace_id", "traceID"];
const SPAN_KEYS: &[&str] = &["span_id", "spanID"];

/// Keys of a level written in the line itself, as JSON or logfmt.
const LINE_LEVEL_KEYS: &[&str] = &["level", "lvl", "severity"];
/// Level detection in the line reads this many bytes at most.
const LINE_LEVEL_SCAN: usize = 1024;
/// A level value in a line longer than this is not a level.
const LINE_LEVEL_MAX: usize = 16;

/// `logproto.PushRequest` of grafana/loki `pkg/push/push.proto`. Newer versions add
/// `string format = 2`, skipped here as an unknown field.
#[derive(Clone, PartialEq, Message)]
struct PushRequest {
    #[prost(message, repeated, tag = "1")]
    streams: Vec<StreamAdapter>,
}

/// `logproto.StreamAdapter`. String fields are read as bytes (the same wire type) so that
/// invalid UTF-8 can be decoded lossily instead of failing the whole request.
#[derive(Clone, PartialEq, Message)]
struct StreamAdapter {
    #[prost(bytes = "vec", tag = "1")]
    labels: Vec<u8>,
    #[prost(message, repeated, tag = "2")]
    entries: Vec<EntryAdapter>,
    #[prost(uint64, tag = "3")]
    hash: u64,
}

/// `logproto.EntryAdapter`.
#[derive(Clone, PartialEq, Message)]
struct EntryAdapter {
    #[prost(message, optional, tag = "1")]
    timestamp: Option<Timestamp>,
    #[prost(bytes = "vec", tag = "2")]
    line: Vec<u8>,
    #[prost(message, repeated, tag = "3")]
    structured_metadata: Vec<LabelPairAdapter>,
}

/// `logproto.LabelPairAdapter`.
#[derive(Clone, PartialEq, Message)]
struct LabelPairAdapter {
    #[prost(bytes = "vec", tag = "1")]
    name: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    value: Vec<u8>,
}

/// `google.protobuf.Timestamp`, defined here rather than pulling in `prost-types`.
#[derive(Clone, Copy, PartialEq, Message)]
struct Timestamp {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}

/// One Loki entry, decoded from either encoding.
struct Entry {
    time_ns: i64,
    line: String,
    metadata: Vec<(String, String)>,
}

/// Decodes a Loki JSON push body (already gunzipped by the caller).
///
/// Accepts `{"streams":[{"stream":{..labels..},"values":[["<ns>","<line>"],
/// ["<ns>","<line>",{..structured metadata..}]]}]}` (timestamps as strings of Unix
/// nanoseconds, or integers), and the legacy `{"streams":[{"labels":"{a=\"b\"}",
/// "entries":[{"ts":"<RFC 3339>","line":"<line>"}]}]}`. Label and metadata values that are not
/// strings are kept as their JSON text. `tenant` is the `X-Scope-OrgID` header, if any.
pub fn decode_loki_json(
    bytes: &[u8],
    tenant: Option<&str>,
    now_ns: i64,
) -> Result<Batch, IngestError> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let root: Value = serde_json::from_slice(bytes)
        .map_err(|e| IngestError::invalid(format!("invalid json: {e}")))?;
    let Value::Object(mut root) = root else {
        return Err(IngestError::invalid(format!(
            "expected a json object, found {}",
            json_kind(&root)
        )));
    };
    let mut batch = Batch::default();
    let streams = take_array(&mut root, "streams").map_err(IngestError::invalid)?;
    for (si, stream) in streams.into_iter().enumerate() {
        let envelope = |reason: String| IngestError::invalid(format!("streams[{si}]: {reason}"));
        let Value::Object(mut stream) = stream else {
            return Err(envelope(format!(
                "expected an object, found {}",
                json_kind(&stream)
            )));
        };
        let labels = json_stream_labels(&stream).map_err(envelope)?;
        let labels = labels.and_then(|l| stream_attributes(l, tenant));
        let (key, items) = if stream.contains_key("values") {
            (
                "values",
                take_array(&mut stream, "values").map_err(envelope)?,
            )
        } else {
            (
                "entries",
                take_array(&mut stream, "entries").map_err(envelope)?,
            )
        };
        for (ei, item) in items.into_iter().enumerate() {
            let entry = if key == "values" {
                json_value_entry(item)
            } else {
                json_legacy_entry(item)
            };
            accept(&mut batch, &labels, entry, now_ns, || {
                format!("streams[{si}].{key}[{ei}]")
            });
        }
    }
    Ok(batch)
}

/// Decodes a Loki protobuf push body: a snappy block (not the framed stream format) holding a
/// `logproto.PushRequest`. The decompressed length, which snappy writes first, is checked
/// against `max_bytes` before anything is allocated ([`IngestError::TooLarge`]). An entry
/// without a timestamp gets `now_ns`. `tenant` is the `X-Scope-OrgID` header, if any.
pub fn decode_loki_protobuf(
    bytes: &[u8],
    tenant: Option<&str>,
    max_bytes: usize,
    now_ns: i64,
) -> Result<Batch, IngestError> {
    let raw = snappy_decompress(bytes, max_bytes)?;
    let request = PushRequest::decode(raw.as_slice())
        .map_err(|e| IngestError::invalid(format!("invalid protobuf: {e}")))?;
    drop(raw);
    let mut batch = Batch::default();
    for (si, stream) in request.streams.into_iter().enumerate() {
        let labels = parse_loki_labels(&String::from_utf8_lossy(&stream.labels))
            .map_err(|e| format!("invalid labels: {e}"))
            .and_then(|l| stream_attributes(l, tenant));
        for (ei, entry) in stream.entries.into_iter().enumerate() {
            let entry = proto_entry(entry, now_ns);
            accept(&mut batch, &labels, entry, now_ns, || {
                format!("streams[{si}].entries[{ei}]")
            });
        }
    }
    Ok(batch)
}

/// Parses a Loki labels string (a stream selector) such as `{job="api", pod="a-1"}`.
///
/// Label names are runs of ASCII letters, digits and `_` (Prometheus), plus `.`, `-` and `:`,
/// which some clients send. Values are double-quoted with the escapes `\\`, `\"`, `\n`, `\t`
/// and `\r`; any other escape is an error. Whitespace may surround every token and a trailing
/// comma is allowed; an empty or blank string means no labels. More than [`MAX_FIELDS`] labels
/// or a repeated name are errors. Errors name the byte offset where it went wrong.
pub fn parse_loki_labels(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut cursor = LabelCursor { text, pos: 0 };
    cursor.skip_ws();
    if cursor.at_end() {
        return Ok(Vec::new());
    }
    cursor.expect(b'{')?;
    let mut labels = Vec::new();
    loop {
        cursor.skip_ws();
        if cursor.eat(b'}') {
            break;
        }
        if labels.len() >= MAX_FIELDS {
            return Err(format!("more than {MAX_FIELDS} labels"));
        }
        let name = cursor.name()?;
        cursor.skip_ws();
        cursor.expect(b'=')?;
        cursor.skip_ws();
        let value = cursor.quoted()?;
        labels.push((name.to_string(), value));
        cursor.skip_ws();
        if !cursor.eat(b',') {
            cursor.expect(b'}')?;
            break;
        }
    }
    cursor.skip_ws();
    if !cursor.at_end() {
        return Err(format!(
            "unexpected {} after the closing '}}' at byte {}",
            cursor.found(),
            cursor.pos
        ));
    }
    check_unique(&labels)?;
    Ok(labels)
}

/// A position in a labels string. It only ever stops on ASCII bytes, which are always
/// character boundaries in UTF-8, so slicing between two stops is safe.
struct LabelCursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> LabelCursor<'a> {
    fn at_end(&self) -> bool {
        self.pos >= self.text.len()
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.pos += 1;
        }
        found
    }

    /// What is at the cursor, for errors.
    fn found(&self) -> String {
        match self.text.get(self.pos..).and_then(|s| s.chars().next()) {
            Some(c) => format!("{c:?}"),
            None => "the end".to_string(),
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), String> {
        if self.eat(byte) {
            Ok(())
        } else {
            Err(format!(
                "expected '{}' at byte {}, found {}",
                byte as char,
                self.pos,
                self.found()
            ))
        }
    }

    fn name(&mut self) -> Result<&'a str, String> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b))
        {
            self.pos += 1;
        }
        match self.text.get(start..self.pos) {
            Some(name) if !name.is_empty() => Ok(name),
            _ => Err(format!(
                "expected a label name at byte {start}, found {}",
                self.found()
            )),
        }
    }

    fn quoted(&mut self) -> Result<String, String> {
        let open = self.pos;
        self.expect(b'"')?;
        let unterminated = || format!("unterminated label value starting at byte {open}");
        let mut value = String::new();
        let mut segment = self.pos;
        loop {
            match self.peek() {
                None => return Err(unterminated()),
                Some(b'"') => {
                    value.push_str(self.slice(segment)?);
                    self.pos += 1;
                    return Ok(value);
                }
                Some(b'\\') => {
                    value.push_str(self.slice(segment)?);
                    let escaped = match self.text.as_bytes().get(self.pos + 1) {
                        None => return Err(unterminated()),
                        Some(b'\\') => '\\',
                        Some(b'"') => '"',
                        Some(b'n') => '\n',
                        Some(b't') => '\t',
                        Some(b'r') => '\r',
                        Some(_) => {
                            let c = self.text.get(self.pos + 1..).and_then(|t| t.chars().next());
                            let c = c.unwrap_or(char::REPLACEMENT_CHARACTER);
                            return Err(format!("unknown escape '\\{c}' at byte {}", self.pos));
                        }
                    };
                    value.push(escaped);
                    self.pos += 2;
                    segment = self.pos;
                }
                Some(_) => self.pos += 1,
            }
        }
    }

    fn slice(&self, start: usize) -> Result<&'a str, String> {
        self.text.get(start..self.pos).ok_or_else(|| {
            format!(
                "internal error: label value cut inside a character at byte {}",
                self.pos
            )
        })
    }
}

/// Refuses a repeated label name, as Loki does; sorting keeps this O(n log n).
fn check_unique(labels: &[(String, String)]) -> Result<(), String> {
    let mut names: Vec<&str> = labels.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    match names.windows(2).find(|w| w[0] == w[1]) {
        Some(w) => Err(format!("duplicate label name {:?}", w[0])),
        None => Ok(()),
    }
}

/// Undoes Loki's snappy block compression; an empty body is an empty request.
fn snappy_decompress(bytes: &[u8], max_bytes: usize) -> Result<Vec<u8>, IngestError> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let invalid = |e: snap::Error| IngestError::invalid(format!("invalid snappy body: {e}"));
    let len = snap::raw::decompress_len(bytes).map_err(invalid)?;
    if len > max_bytes {
        return Err(IngestError::TooLarge {
            limit: max_bytes,
            what: "decompressed body",
        });
    }
    snap::raw::Decoder::new()
        .decompress_vec(bytes)
        .map_err(invalid)
}

/// The labels of a stream as attributes, plus the tenant. A stream whose labels alone break
/// the record limits is refused here, once, instead of once per entry after copying them.
fn stream_attributes(
    labels: Vec<(String, String)>,
    tenant: Option<&str>,
) -> Result<Attributes, String> {
    if labels.len() > MAX_FIELDS {
        return Err(format!("more than {MAX_FIELDS} fields"));
    }
    let bytes: usize = labels.iter().map(|(k, v)| k.len() + v.len()).sum();
    if bytes > MAX_RECORD_BYTES {
        return Err(format!(
            "labels of {bytes} bytes exceed the {MAX_RECORD_BYTES} byte limit"
        ));
    }
    let mut attributes: Attributes = labels
        .into_iter()
        .map(|(k, v)| (k, AttrValue::Str(v)))
        .collect();
    if let Some(tenant) = tenant.filter(|t| !t.is_empty()) {
        attributes.push((
            LOKI_TENANT_ATTR.to_string(),
            AttrValue::Str(tenant.to_string()),
        ));
    }
    Ok(attributes)
}

/// Converts one entry and files it as a record or a rejection; `path` is built only for a
/// rejection.
fn accept(
    batch: &mut Batch,
    labels: &Result<Attributes, String>,
    entry: Result<Entry, String>,
    now_ns: i64,
    path: impl FnOnce() -> String,
) {
    let converted = match labels {
        Ok(labels) => entry.and_then(|e| convert_entry(labels, e, now_ns)),
        Err(reason) => Err(reason.clone()),
    };
    match converted {
        Ok(record) => batch.records.push(record),
        Err(reason) => batch.reject(format!("{}: {reason}", path())),
    }
}

/// One entry with its stream's labels as a finished [`Record`] (see the module docs).
fn convert_entry(labels: &Attributes, entry: Entry, now_ns: i64) -> Result<Record, String> {
    if entry.metadata.len() > MAX_FIELDS {
        return Err(format!("more than {MAX_FIELDS} fields"));
    }
    let mut fields = Attributes::with_capacity(labels.len() + entry.metadata.len());
    fields.extend(labels.iter().cloned());
    fields.extend(
        entry
            .metadata
            .into_iter()
            .map(|(k, v)| (k, AttrValue::Str(v))),
    );

    let mut record = Record::new(entry.time_ns);
    record.observed_time_ns = now_ns;
    if let Some(v) = take(&mut fields, SERVICE_KEYS) {
        record.service = v;
    }
    if let Some(v) = take(&mut fields, ENVIRONMENT_KEYS) {
        record.environment = v;
    }
    if let Some(v) = take(&mut fields, HOST_KEYS) {
        record.host = v;
    }
    if let Some(v) = take(&mut fields, TRACE_KEYS) {
        record.trace_id = v;
    }
    if let Some(v) = take(&mut fields, SPAN_KEYS) {
        record.span_id = v;
    }
    let level = take_level(&mut fields)
        .or_else(|| level_in_line(&entry.line).map(|l| (l, l.severity_number())));
    if let Some((level, number)) = level {
        record.level = level;
        record.severity_number = number;
    }
    record.body = entry.line;
    record.attributes = fields;
    finish_record(&mut record, now_ns)?;
    Ok(record)
}

/// Removes the field of the first of `names` that is present with a non-empty value and
/// returns its value. The last field of a name is taken, so structured metadata, which comes
/// after the labels, wins over a label of the same name.
fn take(fields: &mut Attributes, names: &[&str]) -> Option<String> {
    names.iter().find_map(|name| {
        let i = fields
            .iter()
            .rposition(|(k, v)| k == name && !v.to_text().is_empty())?;
        Some(fields.remove(i).1.to_text().into_owned())
    })
}

/// Like [`take`] for the level keys, but only a value that is a known level spelling is taken.
fn take_level(fields: &mut Attributes) -> Option<(Level, i32)> {
    LEVEL_KEYS.iter().find_map(|name| {
        let i = fields
            .iter()
            .rposition(|(k, v)| k == name && parse_level(&v.to_text()).is_some())?;
        parse_level(&fields.remove(i).1.to_text())
    })
}

/// A level and its severity number (a numeric value is an OpenTelemetry severity number).
fn parse_level(text: &str) -> Option<(Level, i32)> {
    let level = Level::parse(text)?;
    let number = text
        .trim()
        .parse::<i32>()
        .unwrap_or_else(|_| level.severity_number());
    Some((level, number))
}

/// The level written in the line: a JSON `"level":"error"` or a logfmt `level=error` (also
/// `lvl` and `severity`), within the first [`LINE_LEVEL_SCAN`] bytes.
fn level_in_line(line: &str) -> Option<Level> {
    let head = &line.as_bytes()[..line.len().min(LINE_LEVEL_SCAN)];
    LINE_LEVEL_KEYS.iter().find_map(|key| {
        let key = key.as_bytes();
        (0..head.len().saturating_sub(key.len()))
            .filter(|&i| head[i..].starts_with(key))
            .find_map(|i| level_value_at(head, i, i + key.len()).and_then(Level::parse))
    })
}

/// The value of a key found at `start..end` of `head`, if the key is a JSON key (`"key":
/// "value"`) or a logfmt key (`key=value`, `key="value"`).
fn level_value_at(head: &[u8], start: usize, end: usize) -> Option<&str> {
    let before = start.checked_sub(1).map(|i| head[i]);
    let rest = &head[end..];
    let value = if before == Some(b'"') && rest.first() == Some(&b'"') {
        let rest = rest[1..]
            .trim_ascii_start()
            .strip_prefix(b":")?
            .trim_ascii_start();
        let rest = rest.strip_prefix(b"\"")?;
        &rest[..rest.iter().position(|b| *b == b'"')?]
    } else if matches!(before, None | Some(b' ' | b'\t')) && rest.first() == Some(&b'=') {
        let rest = &rest[1..];
        match rest.strip_prefix(b"\"") {
            Some(quoted) => &quoted[..quoted.iter().position(|b| *b == b'"')?],
            None => {
                &rest[..rest
                    .iter()
                    .position(|b| b.is_ascii_whitespace())
                    .unwrap_or(rest.len())]
            }
        }
    } else {
        return None;
    };
    if value.is_empty() || value.len() > LINE_LEVEL_MAX {
        return None;
    }
    std::str::from_utf8(value).ok()
}

/// Labels of a JSON stream: the `stream` object, else the legacy `labels` string. The outer
/// error is a malformed request; the inner one, an invalid labels string, rejects the
/// stream's entries only.
#[allow(clippy::type_complexity)]
fn json_stream_labels(
    stream: &Map<String, Value>,
) -> Result<Result<Vec<(String, String)>, String>, String> {
    match (stream.get("stream"), stream.get("labels")) {
        (Some(Value::Object(map)), _) => Ok(Ok(json_pairs(map))),
        (Some(Value::Null) | None, Some(Value::String(text))) => {
            Ok(parse_loki_labels(text).map_err(|e| format!("invalid labels: {e}")))
        }
        (Some(Value::Null) | None, Some(Value::Null) | None) => Ok(Ok(Vec::new())),
        (Some(Value::Null) | None, Some(other)) => Err(format!(
            "labels: expected a string, found {}",
            json_kind(other)
        )),
        (Some(other), _) => Err(format!(
            "stream: expected an object, found {}",
            json_kind(other)
        )),
    }
}

/// Removes an array member; a missing or null member is an empty array.
fn take_array(obj: &mut Map<String, Value>, key: &str) -> Result<Vec<Value>, String> {
    match obj.remove(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(format!(
            "{key}: expected an array, found {}",
            json_kind(&other)
        )),
    }
}

/// A JSON object as name/value strings: non-string values as their JSON text, nulls dropped.
fn json_pairs(map: &Map<String, Value>) -> Vec<(String, String)> {
    map.iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), text)
        })
        .collect()
}

/// One `values` item: `[ts, line]` or `[ts, line, {metadata}]`.
fn json_value_entry(item: Value) -> Result<Entry, String> {
    let Value::Array(mut parts) = item else {
        return Err(format!(
            "expected an array [timestamp, line], found {}",
            json_kind(&item)
        ));
    };
    if !(2..=3).contains(&parts.len()) {
        return Err(format!("expected 2 or 3 elements, found {}", parts.len()));
    }
    let time_ns = unix_nanos(&parts[0])?;
    let line = match parts[1].take() {
        Value::String(s) => s,
        other => {
            return Err(format!(
                "line: expected a string, found {}",
                json_kind(&other)
            ))
        }
    };
    let metadata = match parts.get(2) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(map)) => json_pairs(map),
        Some(other) => {
            return Err(format!(
                "structured metadata: expected an object, found {}",
                json_kind(other)
            ))
        }
    };
    Ok(Entry {
        time_ns,
        line,
        metadata,
    })
}

/// One legacy `entries` item: `{"ts": "<RFC 3339>", "line": "<line>"}`.
fn json_legacy_entry(item: Value) -> Result<Entry, String> {
    let Value::Object(mut obj) = item else {
        return Err(format!("expected an object, found {}", json_kind(&item)));
    };
    let ts = obj
        .get("ts")
        .or_else(|| obj.get("timestamp"))
        .unwrap_or(&Value::Null);
    let time_ns = parse_time_value(ts).ok_or_else(|| format!("invalid timestamp {}", short(ts)))?;
    let line = match obj.remove("line") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s,
        Some(other) => {
            return Err(format!(
                "line: expected a string, found {}",
                json_kind(&other)
            ))
        }
    };
    Ok(Entry {
        time_ns,
        line,
        metadata: Vec::new(),
    })
}

/// A `values` timestamp: Unix nanoseconds as a decimal string (what Loki specifies) or as a
/// JSON integer.
fn unix_nanos(value: &Value) -> Result<i64, String> {
    let parsed = match value {
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().ok()
        }
        Value::Number(n) => n.as_i64().filter(|n| *n >= 0),
        _ => None,
    };
    parsed.ok_or_else(|| {
        format!(
            "invalid timestamp {}: expected unix nanoseconds",
            short(value)
        )
    })
}

/// One protobuf entry; text is decoded lossily.
fn proto_entry(entry: EntryAdapter, now_ns: i64) -> Result<Entry, String> {
    let time_ns = match entry.timestamp {
        None => now_ns,
        Some(t) => proto_time(t)?,
    };
    let metadata = entry
        .structured_metadata
        .into_iter()
        .map(|pair| (lossy(pair.name), lossy(pair.value)))
        .collect();
    Ok(Entry {
        time_ns,
        line: lossy(entry.line),
        metadata,
    })
}

fn proto_time(t: Timestamp) -> Result<i64, String> {
    if !(0..1_000_000_000).contains(&t.nanos) {
        return Err(format!(
            "invalid timestamp: nanos {} outside 0..1e9",
            t.nanos
        ));
    }
    t.seconds
        .checked_mul(1_000_000_000)
        .and_then(|ns| ns.checked_add(i64::from(t.nanos)))
        .ok_or_else(|| format!("invalid timestamp: {} seconds is out of range", t.seconds))
}

fn lossy(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// At most 64 characters of a JSON value, for reasons.
fn short(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(64) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: i64 = 1_764_000_000_000_000_000; // 2025-11-24T16:00:00Z
    const MAX: usize = 64 << 20;

    fn json(body: &str, tenant: Option<&str>) -> Batch {
        decode_loki_json(body.as_bytes(), tenant, NOW).unwrap()
    }

    fn snappy(raw: &[u8]) -> Vec<u8> {
        snap::raw::Encoder::new().compress_vec(raw).unwrap()
    }

    fn proto(request: &PushRequest) -> Batch {
        decode_loki_protobuf(&snappy(&request.encode_to_vec()), None, MAX, NOW).unwrap()
    }

    fn entry(ns: i64, line: &str, metadata: &[(&str, &str)]) -> EntryAdapter {
        EntryAdapter {
            timestamp: Some(Timestamp {
                seconds: ns.div_euclid(1_000_000_000),
                nanos: ns.rem_euclid(1_000_000_000) as i32,
            }),
            line: line.as_bytes().to_vec(),
            structured_metadata: metadata
                .iter()
                .map(|(n, v)| LabelPairAdapter {
                    name: n.as_bytes().into(),
                    value: v.as_bytes().into(),
                })
                .collect(),
        }
    }

    fn stream(labels: &str, entries: Vec<EntryAdapter>) -> StreamAdapter {
        StreamAdapter {
            labels: labels.as_bytes().to_vec(),
            entries,
            hash: 0,
        }
    }

    fn s(v: &str) -> AttrValue {
        AttrValue::Str(v.to_string())
    }

    fn attr_pairs(r: &Record) -> Vec<(&str, String)> {
        r.attributes
            .iter()
            .map(|(k, v)| (k.as_str(), v.to_text().into_owned()))
            .collect()
    }

    /// Attributes sorted by name: JSON objects need not keep their order.
    fn sorted_attrs(r: &Record) -> Vec<(&str, String)> {
        let mut pairs = attr_pairs(r);
        pairs.sort();
        pairs
    }

    #[test]
    fn python_logging_loki_v1_payload() {
        // LokiEmitterV1.build_payload: handler tags, the level under `level` (older
        // releases: `severity`), the logger under `logger`, extra tags; ts as a string.
        let body = r#"{"streams": [{"stream": {"application": "my-app", "level": "error",
            "logger": "my-logger", "service": "my-service"},
            "values": [["1572827108123456000", "Something happened"]]}]}"#;
        let batch = json(body, None);
        assert!(batch.rejected.is_empty(), "{:?}", batch.rejected);
        let r = &batch.records[0];
        assert_eq!(r.time_ns, 1_572_827_108_123_456_000);
        assert_eq!(r.body, "Something happened");
        // `service` comes before `application`, which stays an attribute.
        assert_eq!(r.service, "my-service");
        assert_eq!((r.level, r.severity_number), (Level::Error, 17));
        assert_eq!(
            sorted_attrs(r),
            vec![
                ("application", "my-app".to_string()),
                ("logger", "my-logger".to_string())
            ]
        );

        let body = r#"{"streams":[{"stream":{"application":"결제","logger":"pay","severity":"warning"},
            "values":[["1764000000000000000","카드 승인이 거절되었습니다"]]}]}"#;
        let r = &json(body, None).records[0];
        assert_eq!(
            (r.service.as_str(), r.body.as_str()),
            ("결제", "카드 승인이 거절되었습니다")
        );
        assert_eq!((r.level, r.severity_number), (Level::Warn, 13));
        assert_eq!(r.time_ns, NOW);
    }

    #[test]
    fn python_logging_loki_v0_legacy_payload() {
        // LokiEmitterV0: a labels string and RFC 3339 timestamps with microseconds.
        let body = r#"{"streams": [{"labels": "{application=\"my-app\",severity=\"info\",logger=\"test\"}",
            "entries": [{"ts": "2019-11-04T00:25:08.123456+00:00", "line": "Test"}]}]}"#;
        let batch = json(body, None);
        assert!(batch.rejected.is_empty(), "{:?}", batch.rejected);
        let r = &batch.records[0];
        assert_eq!(r.time_ns, 1_572_827_108_123_456_000);
        assert_eq!((r.service.as_str(), r.level), ("my-app", Level::Info));
        assert_eq!(r.attribute("logger"), Some(&s("test")));
    }

    #[test]
    fn winston_loki_protobuf() {
        // winston-loki's prepareProtoBatch builds `{level="info",job="<label>"}` and sends
        // millisecond timestamps as seconds and nanos, snappy-compressed.
        let ms = 1_763_999_999_123i64;
        let request = PushRequest {
            streams: vec![stream(
                r#"{level="info",job="checkout-api"}"#,
                vec![EntryAdapter {
                    timestamp: Some(Timestamp {
                        seconds: ms / 1000,
                        nanos: ((ms % 1000) * 1_000_000) as i32,
                    }),
                    line: br#"payment accepted {"orderId":42}"#.to_vec(),
                    structured_metadata: vec![],
                }],
            )],
        };
        let batch = proto(&request);
        assert!(batch.rejected.is_empty(), "{:?}", batch.rejected);
        let r = &batch.records[0];
        assert_eq!(r.time_ns, ms * 1_000_000);
        assert_eq!(r.observed_time_ns, NOW);
        assert_eq!(
            (r.service.as_str(), r.level, r.severity_number),
            ("checkout-api", Level::Info, 9)
        );
        assert_eq!(r.body, r#"payment accepted {"orderId":42}"#);
        assert!(r.attributes.is_empty(), "{:?}", r.attributes);
    }

    #[test]
    fn promtail_with_structured_metadata() {
        let body = r#"{"streams":[{"stream":{"job":"varlogs","namespace":"prod","host":"web-1",
            "env":"production","filename":"/var/log/app.log","level":"unknown"},
            "values":[
              ["1763999000000000000","GET /pay 502 12ms",{"trace_id":"4BF92F3577B34DA6A3CE929D0E0E4736","spanID":"00f067aa0ba902b7","pod":"pay-7d9c"}],
              ["1763999000000000001","ts=2025-11-24T15:43:20Z level=warn msg=\"slow upstream\""],
              ["1763999000000000002","{\"msg\":\"x\",\"level\":\"ERROR\"}",{"detected_level":"debug"}],
              ["1763999000000000003","no level here"]
            ]}]}"#;
        let batch = json(body, Some("team-a"));
        assert!(batch.rejected.is_empty(), "{:?}", batch.rejected);
        let r = &batch.records;
        assert_eq!(r.len(), 4);
        assert_eq!(
            (
                r[0].service.as_str(),
                r[0].host.as_str(),
                r[0].environment.as_str()
            ),
            ("varlogs", "web-1", "production")
        );
        assert_eq!(r[0].trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(r[0].span_id, "00f067aa0ba902b7");
        assert_eq!(
            sorted_attrs(&r[0]),
            vec![
                ("filename", "/var/log/app.log".to_string()),
                // An unknown level spelling stays an attribute.
                ("level", "unknown".to_string()),
                ("loki.tenant", "team-a".to_string()),
                ("namespace", "prod".to_string()),
                ("pod", "pay-7d9c".to_string()),
            ]
        );
        assert_eq!((r[0].level, r[0].severity_number), (Level::Info, 0));
        assert_eq!((r[1].level, r[1].severity_number), (Level::Warn, 13));
        // Structured metadata beats the line.
        assert_eq!(r[2].level, Level::Debug);
        assert_eq!(r[3].level, Level::Info);
    }

    #[test]
    fn alloy_protobuf_with_structured_metadata_and_korean() {
        let request = PushRequest {
            streams: vec![
                stream(
                    r#"{service_name="결제-api", job="prod/pay", cluster="서울", level="info"}"#,
                    vec![
                        entry(
                            NOW - 5,
                            "결제가 실패했습니다: 카드 한도 초과",
                            &[
                                ("level", "error"),
                                ("trace_id", "5b8efff798038103d269b633813fc60c"),
                            ],
                        ),
                        entry(NOW - 4, "정상 처리", &[]),
                    ],
                ),
                stream("{}", vec![entry(NOW - 3, "", &[])]),
            ],
        };
        let batch = proto(&request);
        assert!(batch.rejected.is_empty(), "{:?}", batch.rejected);
        let r = &batch.records;
        assert_eq!(r[0].service, "결제-api");
        assert_eq!(r[0].body, "결제가 실패했습니다: 카드 한도 초과");
        assert_eq!((r[0].level, r[0].time_ns), (Level::Error, NOW - 5));
        assert_eq!(r[0].trace_id, "5b8efff798038103d269b633813fc60c");
        // The label `level` lost to the metadata and stays.
        assert_eq!(
            attr_pairs(&r[0]),
            vec![
                ("job", "prod/pay".into()),
                ("cluster", "서울".into()),
                ("level", "info".into())
            ]
        );
        assert_eq!(r[1].level, Level::Info);
        assert_eq!(r[1].severity_number, 9);
        assert_eq!((r[2].service.as_str(), r[2].body.as_str()), ("unknown", ""));
    }

    #[test]
    fn service_host_and_environment_precedence() {
        for (labels, service, host, env) in [
            (r#"{"container":"c","job":"j","app":"a"}"#, "a", "", ""),
            (r#"{"container_name":"cn"}"#, "cn", "", ""),
            (r#"{"service_name":"","service":"s"}"#, "s", "", ""),
            (
                r#"{"instance":"10.0.0.1:9100","node_name":"n1"}"#,
                "unknown",
                "10.0.0.1:9100",
                "",
            ),
            (
                r#"{"deployment_environment":"stg","environment":"prod"}"#,
                "unknown",
                "",
                "prod",
            ),
        ] {
            let body = format!(r#"{{"streams":[{{"stream":{labels},"values":[["{NOW}","x"]]}}]}}"#);
            let r = &json(&body, None).records[0];
            assert_eq!(
                (r.service.as_str(), r.host.as_str(), r.environment.as_str()),
                (service, host, env),
                "{labels}"
            );
        }
    }

    #[test]
    fn level_detection_in_lines() {
        for (line, level) in [
            (r#"{"level":"warn","msg":"x"}"#, Some(Level::Warn)),
            (r#"{"msg":"x", "lvl" : "error"}"#, Some(Level::Error)),
            (r#"{"severity":"DEBUG"}"#, Some(Level::Debug)),
            ("level=error msg=boom", Some(Level::Error)),
            ("t=1 lvl=\"warning\" msg=x", Some(Level::Warn)),
            ("msg=x severity=crit", Some(Level::Fatal)),
            ("loglevel=error", None),
            ("level= error", None),
            ("the level=high", None),
            (r#"{"level":123}"#, None),
            ("plain ERROR text", None),
            ("", None),
        ] {
            assert_eq!(level_in_line(line), level, "{line}");
        }
        // Beyond the first KiB nothing is looked at.
        let late = format!("{} level=error", "x".repeat(LINE_LEVEL_SCAN));
        assert_eq!(level_in_line(&late), None);
        // A multi-byte character cut at the limit does not panic.
        let cut = format!("{}level=error", "가".repeat(400));
        assert_eq!(level_in_line(&cut), None);
    }

    #[test]
    fn tenant_is_kept() {
        let body =
            format!(r#"{{"streams":[{{"stream":{{"job":"a"}},"values":[["{NOW}","x"]]}}]}}"#);
        assert_eq!(
            json(&body, Some("acme")).records[0].attribute(LOKI_TENANT_ATTR),
            Some(&s("acme"))
        );
        assert_eq!(
            json(&body, Some("")).records[0].attribute(LOKI_TENANT_ATTR),
            None
        );
        assert_eq!(
            json(&body, None).records[0].attribute(LOKI_TENANT_ATTR),
            None
        );
        let request = PushRequest {
            streams: vec![stream(r#"{job="a"}"#, vec![entry(NOW, "x", &[])])],
        };
        let raw = snappy(&request.encode_to_vec());
        let batch = decode_loki_protobuf(&raw, Some("acme"), MAX, NOW).unwrap();
        assert_eq!(
            batch.records[0].attribute(LOKI_TENANT_ATTR),
            Some(&s("acme"))
        );
    }

    #[test]
    fn bad_entries_are_rejected_alone() {
        let body = r#"{"streams":[
            {"stream":{"job":"a"},"values":[
                ["1764000000000000000","good"],
                ["yesterday","bad time"],
                ["-5","negative"],
                ["99999999999999999999","overflow"],
                [1764000000000000000,"number time is fine"],
                ["1764000000000000000"],
                ["1764000000000000000",42],
                ["1764000000000000000","x",["not","an","object"]],
                "not an array",
                ["1764000000000000000","meta",{"n":1,"b":true,"z":null}]
            ]},
            {"labels":"{job=\"b\"","entries":[{"ts":"2025-11-24T15:00:00Z","line":"x"}]},
            {"labels":"{job=\"c\"}","entries":[{"ts":"not a time","line":"x"},{"ts":"2025-11-24T15:00:00Z"}]}
        ]}"#;
        let batch = json(body, None);
        let bodies: Vec<&str> = batch.records.iter().map(|r| r.body.as_str()).collect();
        assert_eq!(bodies, vec!["good", "number time is fine", "meta", ""]);
        let meta = &batch.records[2];
        assert_eq!(
            sorted_attrs(meta),
            vec![("b", "true".into()), ("n", "1".into())]
        );
        let reasons: Vec<&str> = batch.rejected.iter().map(|r| r.reason.as_str()).collect();
        assert_eq!(
            reasons,
            vec![
                "streams[0].values[1]: invalid timestamp \"yesterday\": expected unix nanoseconds",
                "streams[0].values[2]: invalid timestamp \"-5\": expected unix nanoseconds",
                "streams[0].values[3]: invalid timestamp \"99999999999999999999\": expected unix nanoseconds",
                "streams[0].values[5]: expected 2 or 3 elements, found 1",
                "streams[0].values[6]: line: expected a string, found a number",
                "streams[0].values[7]: structured metadata: expected an object, found an array",
                "streams[0].values[8]: expected an array [timestamp, line], found a string",
                "streams[1].entries[0]: invalid labels: expected '}' at byte 8, found the end",
                "streams[2].entries[0]: invalid timestamp \"not a time\"",
            ]
        );
        assert!(batch.rejected.iter().all(|r| r.line.is_none()));
    }

    #[test]
    fn malformed_json_requests_fail() {
        for (body, reason) in [
            (
                "",
                "invalid input: invalid json: EOF while parsing a value at line 1 column 0",
            ),
            (
                "[]",
                "invalid input: expected a json object, found an array",
            ),
            (
                r#"{"streams":{}}"#,
                "invalid input: streams: expected an array, found an object",
            ),
            (
                r#"{"streams":[1]}"#,
                "invalid input: streams[0]: expected an object, found a number",
            ),
            (
                r#"{"streams":[{"stream":"job=a"}]}"#,
                "invalid input: streams[0]: stream: expected an object, found a string",
            ),
            (
                r#"{"streams":[{"labels":7}]}"#,
                "invalid input: streams[0]: labels: expected a string, found a number",
            ),
            (
                r#"{"streams":[{"values":{}}]}"#,
                "invalid input: streams[0]: values: expected an array, found an object",
            ),
        ] {
            let err = decode_loki_json(body.as_bytes(), None, NOW).unwrap_err();
            assert_eq!(err.to_string(), reason, "{body}");
            assert_eq!(err.http_status(), 400);
        }
        assert!(json("{}", None).is_empty());
        assert!(json("\u{feff}{\"streams\":[]}", None).is_empty());
    }

    #[test]
    fn oversize_records_and_label_sets() {
        let big = "x".repeat(MAX_RECORD_BYTES);
        let body = serde_json::json!({"streams":[{"stream":{"job":"a"},"values":[[NOW.to_string(), big], [NOW.to_string(), "ok"]]}]}).to_string();
        let batch = json(&body, None);
        assert_eq!(batch.records.len(), 1);
        assert!(batch.rejected[0]
            .reason
            .starts_with("streams[0].values[0]: record of "));

        let labels: serde_json::Map<String, Value> = (0..=MAX_FIELDS)
            .map(|i| (format!("l{i}"), Value::from("v")))
            .collect();
        let body = serde_json::json!({"streams":[{"stream":labels,"values":[[NOW.to_string(),"a"],[NOW.to_string(),"b"]]}]}).to_string();
        let batch = json(&body, None);
        assert_eq!(batch.rejected.len(), 2);
        assert_eq!(
            batch.rejected[1].reason,
            "streams[0].values[1]: more than 1000 fields"
        );

        let request = PushRequest {
            streams: vec![stream(
                &format!("{{big=\"{}\"}}", "v".repeat(MAX_RECORD_BYTES)),
                vec![entry(NOW, "x", &[])],
            )],
        };
        let batch = proto(&request);
        assert_eq!(
            batch.rejected[0].reason,
            "streams[0].entries[0]: labels of 262147 bytes exceed the 262144 byte limit"
        );
    }

    #[test]
    fn protobuf_hostile_inputs() {
        let invalid = |bytes: &[u8]| decode_loki_protobuf(bytes, None, MAX, NOW).unwrap_err();
        // Not snappy at all.
        let err = invalid(b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff");
        assert!(
            err.to_string()
                .starts_with("invalid input: invalid snappy body: "),
            "{err}"
        );
        // A valid header with a truncated block.
        let mut cut = snappy(&vec![b'a'; 1000]);
        cut.truncate(cut.len() / 2);
        assert!(invalid(&cut)
            .to_string()
            .starts_with("invalid input: invalid snappy body: "));
        // Snappy around something that is not a PushRequest.
        let err = invalid(&snappy(b"\xff\xff\xff"));
        assert!(
            err.to_string()
                .starts_with("invalid input: invalid protobuf: "),
            "{err}"
        );
        // Raw protobuf, not compressed.
        let request = PushRequest {
            streams: vec![stream("{}", vec![entry(NOW, "x", &[])])],
        };
        assert!(decode_loki_protobuf(&request.encode_to_vec(), None, MAX, NOW).is_err());
        // An empty body is an empty request.
        assert!(decode_loki_protobuf(b"", None, MAX, NOW)
            .unwrap()
            .is_empty());
        assert!(proto(&PushRequest::default()).is_empty());
    }

    #[test]
    fn protobuf_declared_length_is_checked_before_allocating() {
        let raw = snappy(&vec![b'a'; 10_000]);
        let err = decode_loki_protobuf(&raw, None, 9_999, NOW).unwrap_err();
        assert_eq!(
            err,
            IngestError::TooLarge {
                limit: 9_999,
                what: "decompressed body"
            }
        );
        assert_eq!(err.http_status(), 413);
        assert!(
            decode_loki_protobuf(&raw, None, 10_000, NOW).is_err_and(|e| e.http_status() == 400)
        );
        // A 4 GiB claim in a 6-byte body.
        let bomb = [0xff, 0xff, 0xff, 0xff, 0x0f, 0x00];
        let err = decode_loki_protobuf(&bomb, None, MAX, NOW).unwrap_err();
        assert!(
            matches!(
                err,
                IngestError::TooLarge { .. } | IngestError::InvalidInput { .. }
            ),
            "{err}"
        );
        let claim = [0x80, 0x80, 0x80, 0x40, 0x00]; // 128 MiB
        assert_eq!(
            decode_loki_protobuf(&claim, None, MAX, NOW).unwrap_err(),
            IngestError::TooLarge {
                limit: MAX,
                what: "decompressed body"
            }
        );
    }

    #[test]
    fn protobuf_bad_entries_are_rejected_alone() {
        let request = PushRequest {
            streams: vec![
                stream(
                    r#"{job="a"}"#,
                    vec![
                        entry(NOW, "ok", &[]),
                        EntryAdapter {
                            timestamp: Some(Timestamp {
                                seconds: i64::MAX,
                                nanos: 0,
                            }),
                            ..entry(0, "far", &[])
                        },
                        EntryAdapter {
                            timestamp: Some(Timestamp {
                                seconds: 1,
                                nanos: -1,
                            }),
                            ..entry(0, "neg", &[])
                        },
                        EntryAdapter {
                            timestamp: Some(Timestamp {
                                seconds: 1,
                                nanos: 1_000_000_000,
                            }),
                            ..entry(0, "big", &[])
                        },
                        EntryAdapter {
                            timestamp: None,
                            ..entry(0, "no time", &[])
                        },
                        EntryAdapter {
                            timestamp: Some(Timestamp {
                                seconds: -5,
                                nanos: 0,
                            }),
                            ..entry(0, "1969", &[])
                        },
                        EntryAdapter {
                            line: b"bad \xff\xfe utf-8".to_vec(),
                            ..entry(NOW, "", &[])
                        },
                    ],
                ),
                stream(r#"{job="b", job="c"}"#, vec![entry(NOW, "dup", &[])]),
                stream("job=b", vec![entry(NOW, "x", &[]), entry(NOW, "y", &[])]),
            ],
        };
        let batch = proto(&request);
        let bodies: Vec<&str> = batch.records.iter().map(|r| r.body.as_str()).collect();
        assert_eq!(
            bodies,
            vec!["ok", "no time", "1969", "bad \u{fffd}\u{fffd} utf-8"]
        );
        assert_eq!(batch.records[1].time_ns, NOW);
        assert_eq!(batch.records[2].time_ns, NOW);
        assert_eq!(
            batch.records[2].attribute("trawl.time_adjusted"),
            Some(&s("1969-12-31T23:59:55Z"))
        );
        let reasons: Vec<&str> = batch.rejected.iter().map(|r| r.reason.as_str()).collect();
        assert_eq!(
            reasons,
            vec![
                "streams[0].entries[1]: invalid timestamp: 9223372036854775807 seconds is out of range",
                "streams[0].entries[2]: invalid timestamp: nanos -1 outside 0..1e9",
                "streams[0].entries[3]: invalid timestamp: nanos 1000000000 outside 0..1e9",
                "streams[1].entries[0]: invalid labels: duplicate label name \"job\"",
                "streams[2].entries[0]: invalid labels: expected '{' at byte 0, found 'j'",
                "streams[2].entries[1]: invalid labels: expected '{' at byte 0, found 'j'",
            ]
        );
    }

    #[test]
    fn protobuf_non_utf8_labels_are_lossy() {
        let request = PushRequest {
            streams: vec![StreamAdapter {
                labels: b"{job=\"a\xffb\"}".to_vec(),
                entries: vec![EntryAdapter {
                    structured_metadata: vec![LabelPairAdapter {
                        name: b"k\xc3".to_vec(),
                        value: b"v".to_vec(),
                    }],
                    ..entry(NOW, "x", &[])
                }],
                hash: 7,
            }],
        };
        let raw = snappy(&request.encode_to_vec());
        let batch = decode_loki_protobuf(&raw, None, MAX, NOW).unwrap();
        let r = &batch.records[0];
        assert_eq!(r.service, "a\u{fffd}b");
        assert_eq!(attr_pairs(r), vec![("k\u{fffd}", "v".into())]);
    }

    #[test]
    fn protobuf_field_numbers_match_loki() {
        // Hand-encoded: streams(1) { labels(1) "{a=\"b\"}", entries(2) { timestamp(1)
        // { seconds(1) 1, nanos(2) 2 }, line(2) "hi", structuredMetadata(3) { name(1) "k",
        // value(2) "v" } }, hash(3) 9 }, format(2) "loki" (newer Loki, skipped).
        let labels = br#"{a="b"}"#;
        let ts = [0x08, 0x01, 0x10, 0x02];
        let meta = [0x0a, 0x01, b'k', 0x12, 0x01, b'v'];
        let mut entry = vec![0x0a, ts.len() as u8];
        entry.extend_from_slice(&ts);
        entry.extend_from_slice(&[0x12, 0x02, b'h', b'i', 0x1a, meta.len() as u8]);
        entry.extend_from_slice(&meta);
        let mut stream = vec![0x0a, labels.len() as u8];
        stream.extend_from_slice(labels);
        stream.extend_from_slice(&[0x12, entry.len() as u8]);
        stream.extend_from_slice(&entry);
        stream.extend_from_slice(&[0x18, 0x09]);
        let mut request = vec![0x0a, stream.len() as u8];
        request.extend_from_slice(&stream);
        request.extend_from_slice(&[0x12, 0x04, b'l', b'o', b'k', b'i']);

        let decoded = PushRequest::decode(request.as_slice()).unwrap();
        assert_eq!(decoded.streams[0].hash, 9);
        let batch = decode_loki_protobuf(&snappy(&request), None, MAX, NOW).unwrap();
        let r = &batch.records[0];
        assert_eq!(r.body, "hi");
        assert_eq!(r.attribute("a"), Some(&s("b")));
        assert_eq!(r.attribute("k"), Some(&s("v")));
        // 1970 is far off: replaced by now, the original kept.
        assert_eq!(
            r.attribute("trawl.time_adjusted"),
            Some(&s("1970-01-01T00:00:01.000000002Z"))
        );
    }

    #[test]
    fn labels_parse() {
        let ok = |text: &str| parse_loki_labels(text).unwrap();
        let pairs = |p: &[(&str, &str)]| -> Vec<(String, String)> {
            p.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        assert_eq!(
            ok(r#"{foo="bar", baz="quo\"ted"}"#),
            pairs(&[("foo", "bar"), ("baz", "quo\"ted")])
        );
        assert_eq!(
            ok(r#"{a="back\\slash\nnew\tline\r"}"#),
            pairs(&[("a", "back\\slash\nnew\tline\r")])
        );
        assert_eq!(
            ok(" { a = \"1\" ,\n b=\"\" , } "),
            pairs(&[("a", "1"), ("b", "")])
        );
        assert_eq!(
            ok(r#"{service.name="x",k8s-app="y",a:b="z"}"#),
            pairs(&[("service.name", "x"), ("k8s-app", "y"), ("a:b", "z")])
        );
        assert_eq!(
            ok(r#"{team="결제팀",msg="카드 \"거절\""}"#),
            pairs(&[("team", "결제팀"), ("msg", "카드 \"거절\"")])
        );
        assert_eq!(ok("{}"), pairs(&[]));
        assert_eq!(ok(""), pairs(&[]));
        assert_eq!(ok("  "), pairs(&[]));

        let err = |text: &str| parse_loki_labels(text).unwrap_err();
        assert_eq!(err("job=\"a\""), "expected '{' at byte 0, found 'j'");
        assert_eq!(err("{job=\"a\""), "expected '}' at byte 8, found the end");
        assert_eq!(
            err("{job=\"a"),
            "unterminated label value starting at byte 5"
        );
        assert_eq!(
            err("{job=\"a\\"),
            "unterminated label value starting at byte 5"
        );
        assert_eq!(err("{job=a}"), "expected '\"' at byte 5, found 'a'");
        assert_eq!(err("{job}"), "expected '=' at byte 4, found '}'");
        assert_eq!(
            err("{=\"a\"}"),
            "expected a label name at byte 1, found '='"
        );
        assert_eq!(err("{,}"), "expected a label name at byte 1, found ','");
        assert_eq!(
            err("{a=\"x\" b=\"y\"}"),
            "expected '}' at byte 7, found 'b'"
        );
        assert_eq!(
            err("{a=\"x\"} extra"),
            "unexpected 'e' after the closing '}' at byte 8"
        );
        assert_eq!(err("{a=\"\\x41\"}"), "unknown escape '\\x' at byte 4");
        assert_eq!(err("{a=\"\\결\"}"), "unknown escape '\\결' at byte 4");
        assert_eq!(err("{a=\"1\",a=\"2\"}"), "duplicate label name \"a\"");
        assert_eq!(
            err("{결=\"x\"}"),
            "expected a label name at byte 1, found '결'"
        );
        let many: String = (0..=MAX_FIELDS).map(|i| format!("l{i}=\"v\",")).collect();
        assert_eq!(err(&format!("{{{many}}}")), "more than 1000 labels");
    }

    fn quote(value: &str) -> String {
        let mut out = String::from("\"");
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    proptest! {
        #[test]
        fn labels_round_trip(labels in proptest::collection::btree_map("[a-zA-Z_][a-zA-Z0-9_]{0,10}", any::<String>(), 0..8)) {
            let text = format!(
                "{{{}}}",
                labels.iter().map(|(k, v)| format!("{k}={}", quote(v))).collect::<Vec<_>>().join(", ")
            );
            let parsed = parse_loki_labels(&text).unwrap();
            let expected: Vec<(String, String)> = labels.into_iter().collect();
            prop_assert_eq!(parsed, expected);
        }

        #[test]
        fn labels_never_panic(text in "[{}=\",a-z\\\\ nx가]{0,40}") {
            let _ = parse_loki_labels(&text);
        }

        #[test]
        fn json_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode_loki_json(&bytes, None, NOW);
        }

        #[test]
        fn json_like_never_panics(text in "[{}\\[\\]\":,a-z0-9 \\\\]{0,80}") {
            let wrapped = format!("{{\"streams\":[{{\"stream\":{{}},\"values\":[{text}]}}]}}");
            let _ = decode_loki_json(wrapped.as_bytes(), None, NOW);
            let _ = decode_loki_json(text.as_bytes(), None, NOW);
        }

        #[test]
        fn protobuf_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode_loki_protobuf(&bytes, None, 1 << 16, NOW);
            let _ = decode_loki_protobuf(&snappy(&bytes), None, 1 << 16, NOW);
        }

        #[test]
        fn every_entry_is_accepted_or_rejected(
            lines in proptest::collection::vec((any::<String>(), -2i64..i64::MAX), 0..20),
            labels in "[{}=\"a-z, ]{0,12}",
        ) {
            let entries: Vec<EntryAdapter> = lines.iter().map(|(line, ns)| entry(*ns, line, &[])).collect();
            let n = entries.len();
            let batch = proto(&PushRequest { streams: vec![stream(&labels, entries)] });
            prop_assert_eq!(batch.records.len() + batch.rejected.len(), n);
        }
    }
}
