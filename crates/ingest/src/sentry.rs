//! Sentry SDK ingestion: envelopes (`POST /api/{project}/envelope/`, what every current SDK
//! sends) and the legacy store endpoint (`POST /api/{project}/store/`, one event).
//!
//! An error event becomes one record, a transaction becomes spans (the transaction itself as the
//! entry span, then its child spans), and each log of a `log` item becomes a record. Every other
//! item type (session, sessions, client_report, attachment, profile, check_in, statsd, replay,
//! ...) is skipped and listed in [`SentryBatch::skipped`], not refused: the SDK would resend what
//! it sees refused.
//!
//! Service name, for every record and span of an event, the first present of:
//! 1. the tag `service.name`, then the tag `service`;
//! 2. `contexts.trace.data["service.name"]`;
//! 3. the name part of a `release` written `name@version` (`checkout@1.4.2` gives `checkout`;
//!    the last `@` splits, so `@acme/web@2.0.1` gives `@acme/web`);
//! 4. the caller's fallback, for example one derived from the project id of the URL.
//!
//! `server_name` is the host and `environment` the environment.

use serde_json::{Map, Value};
use trawl_model::{
    parse_time_value, AttrValue, Attributes, Level, Record, Span, SpanKind, StatusCode, MAX_FIELDS,
};

use crate::ndjson::{json_kind, short};
use crate::normalize::{finish_record, finish_span, flatten_json_capped, push_field};
use crate::{Batch, IngestError, Rejection};

type Obj = Map<String, Value>;

/// `exception.stacktrace` keeps at most this many bytes, the end of the text (the innermost
/// frames and the outermost exception), so a deep recursion does not push the record over
/// [`trawl_model::MAX_RECORD_BYTES`].
const MAX_STACKTRACE_BYTES: usize = 64 * 1024;

/// At most this many frames per exception are written, the innermost ones.
const MAX_FRAMES: usize = 256;

/// Room for the fields trawl adds on top of the flattened tags, data and extra.
const FLATTEN_CAP: usize = MAX_FIELDS + 64;

/// The credentials of a Sentry request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentryAuth {
    /// The DSN's public key (`sentry_key`).
    pub key: String,
    /// The protocol version (`sentry_version`), 7 for current SDKs.
    pub version: Option<String>,
    /// The SDK and its version (`sentry_client`), such as `sentry.python/2.19.2`.
    pub client: Option<String>,
}

/// What one envelope or store request decoded to.
///
/// Every record or span that was decoded counts once, in [`SentryBatch::accepted`] or
/// [`SentryBatch::rejected`]; an event or transaction that cannot be read at all counts as one
/// rejection. Items of types trawl does not keep are in [`SentryBatch::skipped`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SentryBatch {
    /// Accepted records and spans, and the rejected ones with `item N (type): reason`.
    pub batch: Batch,
    /// The type of every envelope item that was skipped, in order (at most 64 characters each).
    pub skipped: Vec<String>,
    /// The `event_id` of the envelope header or of the stored event, for the `{"id": ..}`
    /// answer.
    pub event_id: Option<String>,
    /// The `dsn` envelope header, with which an envelope may authenticate itself (see
    /// [`sentry_key_from_dsn`]).
    pub dsn: Option<String>,
}

impl SentryBatch {
    /// Number of accepted records plus spans.
    pub fn accepted(&self) -> usize {
        self.batch.accepted()
    }

    /// Number of rejected records, spans and unreadable items.
    pub fn rejected(&self) -> usize {
        self.batch.rejected.len()
    }
}

/// What every record and span of one request shares.
struct Context<'a> {
    fallback_service: &'a str,
    now_ns: i64,
    /// The envelope's `event_id`, for events that do not repeat it.
    event_id: Option<&'a str>,
}

/// Decodes a Sentry envelope (already decompressed): a header line, then items, each an item
/// header line (`type`, optional `length`) and a payload of `length` bytes followed by a line end
/// or the end of the envelope, or, without `length`, the rest of the line.
///
/// Whole-request errors: an empty body, a header or item header that is not a JSON object, an
/// item header without a string `type`, a `length` that is not a non-negative integer or runs
/// past the end, and a payload followed by anything but a line end. Blank lines between items
/// and a missing final line end are accepted. A payload that is not a JSON object, or a record
/// or span that fails [`finish_record`] / [`finish_span`], is rejected alone.
///
/// Items: `event` → one record (see [`decode_sentry_store`] for the fields), `transaction` →
/// spans, `log` → one record per log; any other type is skipped.
pub fn decode_sentry_envelope(
    bytes: &[u8],
    fallback_service: &str,
    now_ns: i64,
) -> Result<SentryBatch, IngestError> {
    let mut reader = Reader { bytes: bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes), pos: 0 };
    if reader.at_end() {
        return Err(IngestError::invalid("empty envelope"));
    }
    let (header_line, _) = reader.line();
    let header = parse_header(header_line)
        .map_err(|e| IngestError::invalid(format!("envelope header: {e}")))?;
    let mut out = SentryBatch {
        event_id: str_of(&header, "event_id").map(str::to_string),
        dsn: str_of(&header, "dsn").map(str::to_string),
        ..SentryBatch::default()
    };
    let ctx = Context { fallback_service, now_ns, event_id: out.event_id.as_deref() };
    let mut batch = Batch::default();
    let mut skipped = Vec::new();
    let mut n_items = 0;
    while !reader.at_end() {
        let (line, _) = reader.line();
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        n_items += 1;
        let (item_type, payload) = read_item(&mut reader, line)
            .map_err(|e| IngestError::invalid(format!("item {n_items}: {e}")))?;
        let what = format!("item {n_items} ({})", short_type(&item_type));
        match item_type.as_str() {
            "event" => decode_event_item(payload, &ctx, &what, &mut batch),
            "transaction" => decode_transaction_item(payload, &ctx, &what, &mut batch),
            "log" => decode_log_item(payload, &ctx, &what, &mut batch),
            other => skipped.push(short_type(other)),
        }
    }
    out.batch = batch;
    out.skipped = skipped;
    Ok(out)
}

/// The type and payload of the item whose header line is `header_line`; `Err` is the reason
/// the envelope cannot be read further.
fn read_item<'a>(
    reader: &mut Reader<'a>,
    header_line: &[u8],
) -> Result<(String, &'a [u8]), String> {
    let header = parse_header(header_line).map_err(|e| format!("item header: {e}"))?;
    let item_type = str_of(&header, "type").ok_or("the item header has no type")?;
    let payload = match header.get("length") {
        None | Some(Value::Null) => reader.implicit_payload()?,
        Some(length) => {
            let length = length
                .as_u64()
                .ok_or_else(|| format!("invalid length {}", short(&value_text(length))))?;
            reader.payload(length)?
        }
    };
    Ok((item_type.to_string(), payload))
}

/// Decodes the body of the legacy store endpoint: one event as a JSON object (a body that is not
/// one fails the request). An event of `"type": "transaction"` becomes spans; any other event
/// becomes one record:
///
/// - time `timestamp` (RFC 3339 or epoch seconds; missing means now); level `level` (fatal,
///   error, warning, info, debug; missing means error);
/// - body `"{type}: {value}"` of the last exception of `exception.values` (Sentry lists the
///   oldest cause first, so the last is the one that was thrown), else `message`,
///   `logentry.formatted`, `logentry.message`; the message of an event with an exception is
///   kept as `sentry.message`;
/// - `exception.type` (qualified by `module` unless it is `builtins` or `__main__`, as Python
///   prints it), `exception.message`, `exception.stacktrace` (every chained exception, oldest
///   first, frames innermost last, Python traceback style), `sentry.handled`;
/// - trace and span id from `contexts.trace`, so errors join their traces; host `server_name`;
///   environment `environment`; service as in the module documentation;
/// - `sentry.event_id`, `sentry.release`, `service.version` (the version part of
///   `name@version`, else the whole release), `sentry.logger`, `sentry.platform`,
///   `sentry.sdk.name`, `sentry.sdk.version`, `sentry.transaction`, `user.id`, `user.email`,
///   `user.username`, `user.ip_address`, `url.full` and `http.request.method` from `request`,
///   `tags.<key>` (tags as an object or as `[key, value]` pairs), `extra.<key>`.
pub fn decode_sentry_store(
    bytes: &[u8],
    fallback_service: &str,
    now_ns: i64,
) -> Result<SentryBatch, IngestError> {
    let event = parse_object(bytes).map_err(IngestError::invalid)?;
    let event_id = str_of(&event, "event_id").map(str::to_string);
    let ctx = Context { fallback_service, now_ns, event_id: None };
    let mut batch = Batch::default();
    if str_of(&event, "type") == Some("transaction") {
        transaction_spans(&event, &ctx, "transaction", &mut batch);
    } else {
        match event_record(&event, &ctx) {
            Ok(record) => batch.records.push(record),
            Err(reason) => batch.rejected.push(rejection("event", reason)),
        }
    }
    Ok(SentryBatch { batch, event_id, ..SentryBatch::default() })
}

/// Reads the credentials of a Sentry request from a header value, `X-Sentry-Auth` or
/// `Authorization`, in the form `Sentry sentry_key=abc, sentry_version=7,
/// sentry_client=sentry.python/2.19.2` (the `Sentry` scheme may be missing) or `DSN <dsn>`; else
/// from the query string (`sentry_key=abc&sentry_version=7`, percent-encoded). The header wins
/// when it names a key. `None` when neither names a non-empty key.
pub fn parse_sentry_auth(header: Option<&str>, query: Option<&str>) -> Option<SentryAuth> {
    header.and_then(auth_from_header).or_else(|| query.and_then(auth_from_query))
}

/// The public key of a DSN such as `https://abc@o1.ingest.sentry.io/42`.
pub fn sentry_key_from_dsn(dsn: &str) -> Option<String> {
    let (_, rest) = dsn.trim().split_once("://")?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let (userinfo, _) = authority.split_once('@')?;
    let key = userinfo.split(':').next().unwrap_or(userinfo);
    (!key.is_empty()).then(|| key.to_string())
}

fn auth_from_header(value: &str) -> Option<SentryAuth> {
    let value = value.trim();
    if let Some(dsn) = strip_prefix_ignore_case(value, "dsn ") {
        let key = sentry_key_from_dsn(dsn)?;
        return Some(SentryAuth { key, version: None, client: None });
    }
    let params = strip_prefix_ignore_case(value, "sentry ").unwrap_or(value);
    let pairs = params
        .split(',')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()));
    auth_from_pairs(pairs)
}

fn auth_from_query(query: &str) -> Option<SentryAuth> {
    let query = query.strip_prefix('?').unwrap_or(query);
    let pairs = query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (percent_decode(k), percent_decode(v)));
    auth_from_pairs(pairs)
}

fn auth_from_pairs(pairs: impl Iterator<Item = (String, String)>) -> Option<SentryAuth> {
    let mut auth = SentryAuth { key: String::new(), version: None, client: None };
    for (name, value) in pairs {
        match name.as_str() {
            "sentry_key" => auth.key = value,
            "sentry_version" => auth.version = Some(value),
            "sentry_client" => auth.client = Some(value),
            _ => {}
        }
    }
    (!auth.key.is_empty()).then_some(auth)
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &text[prefix.len()..])
}

/// Decodes `%XX` escapes and `+` as a space; a malformed escape is kept as it is.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let escaped = match (b, bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(h), Some(l)) => hex_value(*h).zip(hex_value(*l)).map(|(h, l)| h * 16 + l),
            _ => None,
        };
        match (b, escaped) {
            (_, Some(decoded)) => {
                out.push(decoded);
                i += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                i += 1;
            }
            (other, None) => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// A cursor over an envelope. `pos` never passes the end.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn rest(&self) -> &'a [u8] {
        self.bytes.get(self.pos..).unwrap_or_default()
    }

    /// The bytes up to the next line end or the end, and whether a line end followed; moves
    /// past the line end.
    fn line(&mut self) -> (&'a [u8], bool) {
        let rest = self.rest();
        match rest.iter().position(|b| *b == b'\n') {
            Some(i) => {
                self.pos += i + 1;
                (&rest[..i], true)
            }
            None => {
                self.pos = self.bytes.len();
                (rest, false)
            }
        }
    }

    /// The payload of an item without `length`: the next line. The envelope may not end right
    /// after the item header, because the payload is still expected.
    fn implicit_payload(&mut self) -> Result<&'a [u8], String> {
        if self.at_end() && self.bytes.last() != Some(&b'\n') {
            return Err("the envelope ends before the payload".to_string());
        }
        Ok(self.line().0)
    }

    /// Exactly `length` bytes, then a line end or the end of the envelope.
    fn payload(&mut self, length: u64) -> Result<&'a [u8], String> {
        let rest = self.rest();
        let n = usize::try_from(length).ok().filter(|n| *n <= rest.len()).ok_or_else(|| {
            format!("length {length} runs past the end of the envelope ({} bytes left)", rest.len())
        })?;
        let payload = &rest[..n];
        self.pos += n;
        match self.rest().first() {
            None => {}
            Some(b'\n') => self.pos += 1,
            Some(_) => {
                return Err(format!("the payload of {length} bytes is not followed by a line end"))
            }
        }
        Ok(payload)
    }
}

/// An envelope or item header: a JSON object on one line.
fn parse_header(line: &[u8]) -> Result<Obj, String> {
    let value: Value = serde_json::from_slice(line).map_err(|e| format!("invalid json: {e}"))?;
    match value {
        Value::Object(map) => Ok(map),
        other => Err(format!("expected a json object, found {}", json_kind(&other))),
    }
}

/// A payload that must be one JSON object.
fn parse_object(bytes: &[u8]) -> Result<Obj, String> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let value: Value = serde_json::from_slice(bytes).map_err(|e| format!("invalid json: {e}"))?;
    match value {
        Value::Object(map) => Ok(map),
        other => Err(format!("expected a json object, found {}", json_kind(&other))),
    }
}

/// An item type for lists and reasons: at most 64 characters.
fn short_type(item_type: &str) -> String {
    item_type.chars().take(64).collect()
}

fn rejection(what: &str, reason: String) -> Rejection {
    Rejection { line: None, reason: format!("{what}: {reason}") }
}

fn decode_event_item(payload: &[u8], ctx: &Context, what: &str, batch: &mut Batch) {
    match parse_object(payload).and_then(|event| event_record(&event, ctx)) {
        Ok(record) => batch.records.push(record),
        Err(reason) => batch.rejected.push(rejection(what, reason)),
    }
}

fn decode_transaction_item(payload: &[u8], ctx: &Context, what: &str, batch: &mut Batch) {
    match parse_object(payload) {
        Ok(event) => transaction_spans(&event, ctx, what, batch),
        Err(reason) => batch.rejected.push(rejection(what, reason)),
    }
}

fn decode_log_item(payload: &[u8], ctx: &Context, what: &str, batch: &mut Batch) {
    let container = match parse_object(payload) {
        Ok(container) => container,
        Err(reason) => {
            batch.rejected.push(rejection(what, reason));
            return;
        }
    };
    let Some(logs) = container.get("items").and_then(Value::as_array) else {
        batch.rejected.push(rejection(what, "expected an items array".to_string()));
        return;
    };
    for (i, log) in logs.iter().enumerate() {
        let record = match log.as_object() {
            Some(log) => log_record(log, ctx),
            None => Err(format!("expected a json object, found {}", json_kind(log))),
        };
        match record {
            Ok(record) => batch.records.push(record),
            Err(reason) => batch.rejected.push(rejection(&format!("{what} items[{i}]"), reason)),
        }
    }
}

/// A string field, absent when empty.
fn str_of<'a>(obj: &'a Obj, key: &str) -> Option<&'a str> {
    obj.get(key)?.as_str().filter(|s| !s.is_empty())
}

fn obj_of<'a>(obj: &'a Obj, key: &str) -> Option<&'a Obj> {
    obj.get(key)?.as_object()
}

/// A string or number field as text (user ids and line numbers come as either).
fn text_of(obj: &Obj, key: &str) -> Option<String> {
    match obj.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A time field: `Ok(None)` when absent, an error naming the field when unreadable.
fn time_of(obj: &Obj, key: &str) -> Result<Option<i64>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => float_seconds(v)
            .or_else(|| parse_time_value(v))
            .map(Some)
            .ok_or_else(|| format!("invalid {key} {}", short(&value_text(v)))),
    }
}

/// Epoch seconds with a fraction, as most SDKs send times, rounded to the microsecond: SDKs
/// send at most microseconds, and a double near 1.7e9 holds about a quarter of one, so
/// `x * 1e9` would turn `.25` into `.249999872`.
fn float_seconds(value: &Value) -> Option<i64> {
    let Value::Number(n) = value else { return None };
    if n.is_i64() || n.is_u64() {
        return None;
    }
    let x = n.as_f64().filter(|x| (0.0..1e11).contains(x))?;
    let whole = x.trunc();
    let micros = ((x - whole) * 1e6).round() as i64;
    (whole as i64).checked_mul(1_000_000_000)?.checked_add(micros * 1000)
}

/// A JSON value for reasons: strings without their quotes, the rest as JSON.
fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn push_str(attrs: &mut Attributes, key: &str, value: Option<&str>) {
    if let Some(v) = value.filter(|v| !v.is_empty()) {
        push_field(attrs, key.to_string(), AttrValue::Str(v.to_string()));
    }
}

/// `contexts.trace`, where the trace and span ids of an event live.
fn trace_context(event: &Obj) -> Option<&Obj> {
    obj_of(event, "contexts").and_then(|c| obj_of(c, "trace"))
}

/// The tags of an event, as an object or as `[key, value]` pairs, in order.
fn tags(event: &Obj) -> Vec<(&str, &Value)> {
    match event.get("tags") {
        Some(Value::Object(map)) => map.iter().map(|(k, v)| (k.as_str(), v)).collect(),
        Some(Value::Array(pairs)) => pairs
            .iter()
            .filter_map(|pair| match pair.as_array().map(Vec::as_slice) {
                Some([Value::String(k), v]) => Some((k.as_str(), v)),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The service of an event's records and spans (precedence in the module documentation).
fn service_of(event: &Obj, ctx: &Context) -> String {
    let tags = tags(event);
    let tag = |name: &str| {
        tags.iter().find(|(k, _)| *k == name).and_then(|(_, v)| match v {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            _ => None,
        })
    };
    let trace_data = trace_context(event)
        .and_then(|t| obj_of(t, "data"))
        .and_then(|d| str_of(d, "service.name"))
        .map(str::to_string);
    let from_release =
        str_of(event, "release").and_then(split_release).map(|(name, _)| name.to_string());
    tag("service.name")
        .or_else(|| tag("service"))
        .or(trace_data)
        .or(from_release)
        .unwrap_or_else(|| ctx.fallback_service.to_string())
}

/// `name@version` split at the last `@`, when both parts are there.
fn split_release(release: &str) -> Option<(&str, &str)> {
    release.rsplit_once('@').filter(|(name, version)| !name.is_empty() && !version.is_empty())
}

/// Fields that every record and span of an event carry: `sentry.event_id`, release and
/// version, SDK, platform, tags.
fn common_attributes(event: &Obj, ctx: &Context, attrs: &mut Attributes) {
    push_str(attrs, "sentry.event_id", str_of(event, "event_id").or(ctx.event_id));
    if let Some(release) = str_of(event, "release") {
        push_str(attrs, "sentry.release", Some(release));
        let version = split_release(release).map_or(release, |(_, version)| version);
        push_str(attrs, "service.version", Some(version));
    }
    push_str(attrs, "sentry.platform", str_of(event, "platform"));
    if let Some(sdk) = obj_of(event, "sdk") {
        push_str(attrs, "sentry.sdk.name", str_of(sdk, "name"));
        push_str(attrs, "sentry.sdk.version", str_of(sdk, "version"));
    }
    for (key, value) in tags(event) {
        flatten_json_capped(&format!("tags.{key}"), value, attrs, FLATTEN_CAP);
    }
}

/// The request and user fields of an event.
fn request_and_user(event: &Obj, attrs: &mut Attributes) {
    if let Some(request) = obj_of(event, "request") {
        push_str(attrs, "url.full", str_of(request, "url"));
        push_str(attrs, "http.request.method", str_of(request, "method"));
    }
    if let Some(user) = obj_of(event, "user") {
        for field in ["id", "email", "username", "ip_address"] {
            push_str(attrs, &format!("user.{field}"), text_of(user, field).as_deref());
        }
    }
}

fn event_record(event: &Obj, ctx: &Context) -> Result<Record, String> {
    let mut record = Record::new(ctx.now_ns);
    if let Some(t) = time_of(event, "timestamp")? {
        record.time_ns = t;
    }
    let mut attrs = Vec::new();
    record.level = match event.get("level") {
        None | Some(Value::Null) => Level::Error,
        Some(v) => {
            let text = v.as_str().map_or_else(|| v.to_string(), str::to_string);
            Level::parse(&text).unwrap_or_else(|| {
                push_field(&mut attrs, "level.original".to_string(), AttrValue::Str(text));
                Level::Error
            })
        }
    };
    record.severity_number = record.level.severity_number();
    record.service = service_of(event, ctx);
    record.environment = str_of(event, "environment").unwrap_or_default().to_string();
    record.host = str_of(event, "server_name").unwrap_or_default().to_string();
    if let Some(trace) = trace_context(event) {
        record.trace_id = str_of(trace, "trace_id").unwrap_or_default().to_string();
        record.span_id = str_of(trace, "span_id").unwrap_or_default().to_string();
    }

    let exceptions = exception_values(event);
    let message = message_of(event);
    match exceptions.last() {
        Some(outermost) => {
            record.body = exception_line(outermost);
            push_str(&mut attrs, "exception.type", Some(exception_type(outermost).as_str()));
            push_str(&mut attrs, "exception.message", str_of(outermost, "value"));
            push_str(
                &mut attrs,
                "exception.stacktrace",
                Some(stacktrace_text(&exceptions).as_str()),
            );
            if let Some(handled) = obj_of(outermost, "mechanism")
                .and_then(|m| m.get("handled"))
                .and_then(Value::as_bool)
            {
                push_field(&mut attrs, "sentry.handled".to_string(), AttrValue::Bool(handled));
            }
            push_str(&mut attrs, "sentry.message", message);
        }
        None => record.body = message.unwrap_or_default().to_string(),
    }
    common_attributes(event, ctx, &mut attrs);
    push_str(&mut attrs, "sentry.logger", str_of(event, "logger"));
    push_str(&mut attrs, "sentry.transaction", str_of(event, "transaction"));
    request_and_user(event, &mut attrs);
    if let Some(extra) = event.get("extra") {
        flatten_json_capped("extra", extra, &mut attrs, FLATTEN_CAP);
    }
    record.attributes = attrs;
    finish_record(&mut record, ctx.now_ns)?;
    Ok(record)
}

/// `exception.values` (or the older bare array), oldest cause first.
fn exception_values(event: &Obj) -> Vec<&Obj> {
    let values = match event.get("exception") {
        Some(Value::Object(e)) => e.get("values").and_then(Value::as_array),
        Some(Value::Array(values)) => Some(values),
        _ => None,
    };
    values.map_or_else(Vec::new, |v| v.iter().filter_map(Value::as_object).collect())
}

/// `type: value`, or whichever of the two is there.
fn exception_line(exception: &Obj) -> String {
    let kind = exception_type(exception);
    match str_of(exception, "value") {
        Some(value) if !kind.is_empty() => format!("{kind}: {value}"),
        Some(value) => value.to_string(),
        None => kind,
    }
}

/// The exception's type, qualified by its module the way Python prints it.
fn exception_type(exception: &Obj) -> String {
    let kind = str_of(exception, "type").unwrap_or_default();
    match str_of(exception, "module") {
        Some(module) if !kind.is_empty() && !matches!(module, "builtins" | "__main__") => {
            format!("{module}.{kind}")
        }
        _ => kind.to_string(),
    }
}

/// The message of an event: `message` (a string, or an object with `formatted` or `message`),
/// then `logentry.formatted`, then `logentry.message`.
fn message_of(event: &Obj) -> Option<&str> {
    let message = match event.get("message") {
        Some(Value::String(s)) if !s.is_empty() => Some(s.as_str()),
        Some(Value::Object(o)) => formatted_or_message(o),
        _ => None,
    };
    message.or_else(|| obj_of(event, "logentry").and_then(formatted_or_message))
}

fn formatted_or_message(obj: &Obj) -> Option<&str> {
    str_of(obj, "formatted").or_else(|| str_of(obj, "message"))
}

/// Every exception of the chain as Python prints a traceback: oldest first, frames innermost
/// last, each exception closed by its `type: value` line. Only the last
/// [`MAX_STACKTRACE_BYTES`] are kept.
fn stacktrace_text(exceptions: &[&Obj]) -> String {
    let mut out = String::new();
    for (i, exception) in exceptions.iter().enumerate() {
        if let Some(cause) = i.checked_sub(1).and_then(|j| exceptions.get(j)) {
            out.push('\n');
            out.push_str(chain_separator(cause));
            out.push_str("\n\n");
        }
        write_frames(exception, &mut out);
        out.push_str(&exception_line(exception));
        out.push('\n');
    }
    keep_tail(out, MAX_STACKTRACE_BYTES)
}

/// What Python prints between a cause and the exception it led to; Sentry's Python SDK names
/// the link in the cause's `mechanism.source`.
fn chain_separator(cause: &Obj) -> &'static str {
    match obj_of(cause, "mechanism").and_then(|m| str_of(m, "source")) {
        Some("__context__") => {
            "During handling of the above exception, another exception occurred:"
        }
        Some("__cause__") => "The above exception was the direct cause of the following exception:",
        _ => "The above exception led to the following exception:",
    }
}

fn write_frames(exception: &Obj, out: &mut String) {
    let frames: Vec<&Obj> = obj_of(exception, "stacktrace")
        .and_then(|s| s.get("frames"))
        .and_then(Value::as_array)
        .map_or_else(Vec::new, |f| f.iter().filter_map(Value::as_object).collect());
    if frames.is_empty() {
        return;
    }
    out.push_str("Traceback (most recent call last):\n");
    let omitted = frames.len().saturating_sub(MAX_FRAMES);
    if omitted > 0 {
        out.push_str(&format!("  ... {omitted} earlier frames omitted\n"));
    }
    for frame in &frames[omitted..] {
        let file = str_of(frame, "filename")
            .or_else(|| str_of(frame, "abs_path"))
            .or_else(|| str_of(frame, "module"))
            .unwrap_or("<unknown>");
        out.push_str(&format!("  File \"{file}\""));
        if let Some(line) = text_of(frame, "lineno") {
            out.push_str(&format!(", line {line}"));
        }
        out.push_str(&format!(", in {}\n", str_of(frame, "function").unwrap_or("?")));
        if let Some(code) = str_of(frame, "context_line").map(str::trim).filter(|c| !c.is_empty()) {
            out.push_str(&format!("    {code}\n"));
        }
    }
}

/// The last `max` bytes of `text` (cut at a character boundary), marked when cut.
fn keep_tail(text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("... (truncated)\n{}", &text[start..])
}

/// The spans of a transaction: the transaction itself from `contexts.trace`, then `spans[]`.
fn transaction_spans(event: &Obj, ctx: &Context, what: &str, batch: &mut Batch) {
    let empty = Obj::new();
    let trace = trace_context(event).unwrap_or(&empty);
    let shared = SpanShared {
        trace_id: str_of(trace, "trace_id").unwrap_or_default(),
        service: service_of(event, ctx),
        environment: str_of(event, "environment").unwrap_or_default(),
        host: str_of(event, "server_name").unwrap_or_default(),
    };
    match root_span(event, trace, &shared, ctx) {
        Ok(span) => batch.spans.push(span),
        Err(reason) => batch.rejected.push(rejection(what, reason)),
    }
    let children = event.get("spans").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
    for (i, child) in children.iter().enumerate() {
        let span = match child.as_object() {
            Some(child) => child_span(child, &shared, ctx),
            None => Err(format!("expected a json object, found {}", json_kind(child))),
        };
        match span {
            Ok(span) => batch.spans.push(span),
            Err(reason) => batch.rejected.push(rejection(&format!("{what} spans[{i}]"), reason)),
        }
    }
}

/// What every span of one transaction shares.
struct SpanShared<'a> {
    trace_id: &'a str,
    service: String,
    environment: &'a str,
    host: &'a str,
}

fn root_span(event: &Obj, trace: &Obj, shared: &SpanShared, ctx: &Context) -> Result<Span, String> {
    let op = str_of(trace, "op").unwrap_or_default();
    let name = str_of(event, "transaction").unwrap_or(op);
    let mut attrs = Vec::new();
    push_str(&mut attrs, "sentry.op", Some(op));
    push_str(&mut attrs, "sentry.origin", str_of(trace, "origin"));
    push_str(
        &mut attrs,
        "sentry.transaction_source",
        obj_of(event, "transaction_info").and_then(|t| str_of(t, "source")),
    );
    common_attributes(event, ctx, &mut attrs);
    request_and_user(event, &mut attrs);
    if let Some(data) = trace.get("data") {
        flatten_json_capped("", data, &mut attrs, FLATTEN_CAP);
    }
    let mut span = new_span(trace, shared, name, op, attrs, event)?;
    span.trace_id = shared.trace_id.to_string();
    finish_span(&mut span, ctx.now_ns)?;
    Ok(span)
}

fn child_span(child: &Obj, shared: &SpanShared, ctx: &Context) -> Result<Span, String> {
    let op = str_of(child, "op").unwrap_or_default();
    let name = str_of(child, "description").unwrap_or(op);
    let mut attrs = Vec::new();
    push_str(&mut attrs, "sentry.op", Some(op));
    push_str(&mut attrs, "sentry.origin", str_of(child, "origin"));
    if let Some(data) = child.get("data") {
        flatten_json_capped("", data, &mut attrs, FLATTEN_CAP);
    }
    for (key, value) in tags(child) {
        flatten_json_capped(&format!("tags.{key}"), value, &mut attrs, FLATTEN_CAP);
    }
    let mut span = new_span(child, shared, name, op, attrs, child)?;
    span.trace_id = str_of(child, "trace_id").unwrap_or(shared.trace_id).to_string();
    finish_span(&mut span, ctx.now_ns)?;
    Ok(span)
}

/// A span from the ids and status of `ids` (`contexts.trace` or a child span) and the times of
/// `times` (the transaction or the child span). The trace id is the caller's to set.
fn new_span(
    ids: &Obj,
    shared: &SpanShared,
    name: &str,
    op: &str,
    attributes: Attributes,
    times: &Obj,
) -> Result<Span, String> {
    let start_ns = time_of(times, "start_timestamp")?.ok_or("no start_timestamp")?;
    let end_ns = time_of(times, "timestamp")?.ok_or("no timestamp")?;
    let (status_code, status_message) = status_of(ids);
    Ok(Span {
        trace_id: String::new(),
        span_id: str_of(ids, "span_id").unwrap_or_default().to_string(),
        parent_span_id: str_of(ids, "parent_span_id").unwrap_or_default().to_string(),
        service: shared.service.clone(),
        environment: shared.environment.to_string(),
        host: shared.host.to_string(),
        name: if name.is_empty() { "unknown".to_string() } else { name.to_string() },
        kind: kind_of(op),
        start_ns,
        duration_ns: end_ns.saturating_sub(start_ns),
        status_code,
        status_message,
        attributes,
        resource: Vec::new(),
        events: Vec::new(),
        links: Vec::new(),
    })
}

/// Sentry's span status: `ok` is OK, any other (`internal_error`, `deadline_exceeded`, ...) an
/// error named by it, none unset.
fn status_of(span: &Obj) -> (StatusCode, String) {
    match str_of(span, "status") {
        None => (StatusCode::Unset, String::new()),
        Some("ok") => (StatusCode::Ok, String::new()),
        Some(other) => (StatusCode::Error, other.to_string()),
    }
}

/// SERVER for `http.server*` ops, CLIENT for `http.client*` and database ops (`db`, `db.*`),
/// INTERNAL otherwise.
fn kind_of(op: &str) -> SpanKind {
    if op.starts_with("http.server") {
        SpanKind::Server
    } else if op.starts_with("http.client") || op == "db" || op.starts_with("db.") {
        SpanKind::Client
    } else {
        SpanKind::Internal
    }
}

/// One log of a `log` item: `timestamp` (epoch seconds), `level`, `body`, `trace_id`,
/// `span_id`, `severity_number`, and typed `attributes` (`{"value": .., "type": ..}`), of which
/// `sentry.environment` gives the environment, `server.address` the host, and `service.name`
/// or the release name of `sentry.release` the service.
fn log_record(log: &Obj, ctx: &Context) -> Result<Record, String> {
    let mut record = Record::new(ctx.now_ns);
    if let Some(t) = time_of(log, "timestamp")? {
        record.time_ns = t;
    }
    let severity =
        log.get("severity_number").and_then(Value::as_i64).and_then(|n| i32::try_from(n).ok());
    let level = str_of(log, "level").and_then(Level::parse);
    record.level =
        level.or_else(|| severity.and_then(Level::from_severity_number)).unwrap_or(Level::Info);
    record.severity_number =
        severity.filter(|n| (1..=24).contains(n)).unwrap_or(record.level.severity_number());
    record.body = str_of(log, "body").unwrap_or_default().to_string();
    record.trace_id = str_of(log, "trace_id").unwrap_or_default().to_string();
    record.span_id = str_of(log, "span_id").unwrap_or_default().to_string();

    let mut attrs = Vec::new();
    if let Some(typed) = obj_of(log, "attributes") {
        for (key, value) in typed {
            let value = value.as_object().and_then(|v| v.get("value")).unwrap_or(value);
            flatten_json_capped(key, value, &mut attrs, FLATTEN_CAP);
        }
    }
    let text = |attrs: &Attributes, name: &str| {
        attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.to_text().into_owned())
            .filter(|t| !t.is_empty())
    };
    if let Some(environment) = text(&attrs, "sentry.environment") {
        record.environment = environment;
    }
    if let Some(host) = text(&attrs, "server.address") {
        record.host = host;
    }
    let release_name = text(&attrs, "sentry.release")
        .and_then(|r| split_release(&r).map(|(name, _)| name.to_string()));
    record.service = text(&attrs, "service.name")
        .or(release_name)
        .unwrap_or_else(|| ctx.fallback_service.to_string());
    record.attributes = attrs;
    finish_record(&mut record, ctx.now_ns)?;
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const NOW: i64 = 1_764_000_000_000_000_000; // 2025-11-24T16:00:00Z
    const T0: i64 = 1_763_996_400_000_000_000; // 2025-11-24T15:00:00Z
    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const ROOT: &str = "a1b2c3d4e5f60718";

    /// An envelope as sentry-python 2.x writes it: header, then per item a header with
    /// `length` and the payload, each followed by a line end.
    fn envelope(header: Value, items: &[(&str, Value)]) -> Vec<u8> {
        let mut out = header.to_string().into_bytes();
        out.push(b'\n');
        for (item_type, payload) in items {
            let payload = payload.to_string().into_bytes();
            let item_header = json!({"type": item_type, "content_type": "application/json", "length": payload.len()});
            out.extend_from_slice(item_header.to_string().as_bytes());
            out.push(b'\n');
            out.extend_from_slice(&payload);
            out.push(b'\n');
        }
        out
    }

    fn envelope_header() -> Value {
        json!({
            "event_id": "f2b8c7e6a1d94c0e9b3a5d7f1e2c4b6a",
            "sent_at": "2025-11-24T15:00:01.000000Z",
            "trace": {"trace_id": TRACE, "environment": "production", "release": "checkout@1.4.2",
                      "public_key": "e12d836b15bb49d7bbf99e64295d995b", "sample_rate": "1.0",
                      "sampled": "true", "transaction": "/pay"}
        })
    }

    /// What sentry-python 2.x sends for `raise PaymentError(...) from e` inside a FastAPI
    /// request, with a KeyError as the cause.
    fn python_error_event() -> Value {
        json!({
            "level": "error",
            "exception": {"values": [
                {
                    "mechanism": {"type": "chained", "handled": true, "source": "__cause__",
                                  "exception_id": 1, "parent_id": 0},
                    "module": null, "type": "KeyError", "value": "'card_token'",
                    "stacktrace": {"frames": [
                        {"filename": "checkout/payments.py", "abs_path": "/srv/app/checkout/payments.py",
                         "function": "charge", "module": "checkout.payments", "lineno": 41,
                         "pre_context": ["def charge(payload):", "    try:"],
                         "context_line": "        token = payload[\"card_token\"]",
                         "post_context": ["    except KeyError as e:"],
                         "vars": {"payload": "{}"}, "in_app": true}
                    ]}
                },
                {
                    "mechanism": {"type": "starlette", "handled": false, "exception_id": 0},
                    "module": "checkout.errors", "type": "PaymentError",
                    "value": "결제 실패: 카드 토큰이 없습니다",
                    "stacktrace": {"frames": [
                        {"filename": "starlette/routing.py",
                         "abs_path": "/usr/lib/python3.12/site-packages/starlette/routing.py",
                         "function": "handle", "module": "starlette.routing", "lineno": 73,
                         "context_line": "            response = await func(request)", "in_app": false},
                        {"filename": "checkout/views.py", "abs_path": "/srv/app/checkout/views.py",
                         "function": "pay", "module": "checkout.views", "lineno": 88,
                         "context_line": "        raise PaymentError(\"결제 실패: 카드 토큰이 없습니다\") from e",
                         "in_app": true}
                    ]}
                }
            ]},
            "event_id": "f2b8c7e6a1d94c0e9b3a5d7f1e2c4b6a",
            "timestamp": "2025-11-24T15:00:00.123456Z",
            "contexts": {
                "trace": {"trace_id": TRACE, "span_id": ROOT, "parent_span_id": "00f067aa0ba902b7",
                          "op": "http.server", "origin": "auto.http.starlette",
                          "dynamic_sampling_context": {"trace_id": TRACE, "sample_rate": "1.0"}},
                "runtime": {"name": "CPython", "version": "3.12.3"}
            },
            "transaction": "/pay",
            "transaction_info": {"source": "route"},
            "breadcrumbs": {"values": [{"type": "default", "category": "query", "message": "SELECT 1",
                                        "timestamp": "2025-11-24T14:59:59.900000Z", "level": "info"}]},
            "tags": {"region": "kr-seoul", "tenant": "acme"},
            "user": {"id": 42, "email": "kim@example.kr", "username": "kim", "ip_address": "203.0.113.9"},
            "request": {"url": "http://shop.example/pay", "query_string": "", "method": "POST",
                        "headers": {"user-agent": "curl/8.5.0"}},
            "extra": {"sys.argv": ["/srv/app/.venv/bin/uvicorn", "checkout.main:app"]},
            "modules": {"sentry-sdk": "2.19.2", "starlette": "0.41.3"},
            "release": "checkout@1.4.2",
            "environment": "production",
            "server_name": "web-1",
            "sdk": {"name": "sentry.python.fastapi", "version": "2.19.2",
                    "packages": [{"name": "pypi:sentry-sdk", "version": "2.19.2"}],
                    "integrations": ["fastapi", "starlette"]},
            "platform": "python"
        })
    }

    /// The transaction of the same request: the server span, a database query, a timed-out
    /// payment gateway call and a plain function span.
    fn python_transaction() -> Value {
        json!({
            "type": "transaction",
            "transaction": "/pay",
            "transaction_info": {"source": "route"},
            "contexts": {
                "trace": {"trace_id": TRACE, "span_id": ROOT, "parent_span_id": "00f067aa0ba902b7",
                          "op": "http.server", "status": "internal_error", "origin": "auto.http.starlette",
                          "data": {"thread.id": "140245", "thread.name": "MainThread"}},
                "runtime": {"name": "CPython", "version": "3.12.3"}
            },
            "tags": [["region", "kr-seoul"]],
            "start_timestamp": "2025-11-24T15:00:00.000000Z",
            "timestamp": "2025-11-24T15:00:00.250000Z",
            "spans": [
                {"trace_id": TRACE, "span_id": "b1b2b3b4b5b6b7b8", "parent_span_id": ROOT,
                 "same_process_as_parent": true, "op": "db",
                 "description": "SELECT id, token FROM cards WHERE user_id = %s",
                 "start_timestamp": "2025-11-24T15:00:00.010000Z", "timestamp": "2025-11-24T15:00:00.030000Z",
                 "origin": "auto.db.sqlalchemy",
                 "data": {"db.system": "postgresql", "db.name": "shop", "server.address": "db-1"}},
                {"trace_id": TRACE, "span_id": "c1c2c3c4c5c6c7c8", "parent_span_id": ROOT,
                 "op": "http.client", "description": "POST https://pg.example/charge",
                 "status": "deadline_exceeded",
                 "start_timestamp": "2025-11-24T15:00:00.040000Z", "timestamp": "2025-11-24T15:00:00.240000Z",
                 "tags": {"http.status_code": "504"},
                 "data": {"http.method": "POST", "http.response.status_code": 504}},
                {"span_id": "d1d2d3d4d5d6d7d8", "parent_span_id": ROOT, "op": "function",
                 "description": null, "status": "ok",
                 "start_timestamp": 1763996400.2405, "timestamp": 1763996400.2455}
            ],
            "measurements": {},
            "release": "checkout@1.4.2",
            "environment": "production",
            "server_name": "web-1",
            "event_id": "0a1b2c3d4e5f40718293a4b5c6d7e8f9",
            "sdk": {"name": "sentry.python.fastapi", "version": "2.19.2"},
            "platform": "python"
        })
    }

    fn decode(bytes: &[u8]) -> SentryBatch {
        decode_sentry_envelope(bytes, "sentry-project-42", NOW).unwrap()
    }

    fn error_of(bytes: &[u8]) -> String {
        match decode_sentry_envelope(bytes, "fallback", NOW) {
            Err(IngestError::InvalidInput { reason }) => reason,
            other => panic!("{:?} gave {other:?}", String::from_utf8_lossy(bytes)),
        }
    }

    fn store(event: Value) -> Record {
        let out = decode_sentry_store(event.to_string().as_bytes(), "fallback", NOW).unwrap();
        assert!(out.batch.rejected.is_empty(), "{:?}", out.batch.rejected);
        assert_eq!(out.batch.records.len(), 1);
        out.batch.records.into_iter().next().unwrap()
    }

    fn attr<'a>(r: &'a Record, name: &str) -> Option<&'a str> {
        match r.attribute(name) {
            Some(AttrValue::Str(s)) => Some(s.as_str()),
            _ => None,
        }
    }

    fn span_attr<'a>(s: &'a Span, name: &str) -> Option<&'a AttrValue> {
        s.attributes.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    #[test]
    fn python_error_inside_a_transaction() {
        let bytes = envelope(
            envelope_header(),
            &[
                ("event", python_error_event()),
                ("transaction", python_transaction()),
                ("client_report", json!({"timestamp": 1763996400.0, "discarded_events": []})),
                ("session", json!({"sid": "7c7b6585f3b14b0a", "status": "ok", "init": true})),
            ],
        );
        let out = decode(&bytes);
        assert!(out.batch.rejected.is_empty(), "{:?}", out.batch.rejected);
        assert_eq!(out.skipped, vec!["client_report", "session"]);
        assert_eq!(out.event_id.as_deref(), Some("f2b8c7e6a1d94c0e9b3a5d7f1e2c4b6a"));
        assert_eq!((out.accepted(), out.rejected()), (5, 0));

        let r = &out.batch.records[0];
        assert_eq!(r.time_ns, T0 + 123_456_000);
        assert_eq!((r.level, r.severity_number), (Level::Error, 17));
        assert_eq!(r.body, "checkout.errors.PaymentError: 결제 실패: 카드 토큰이 없습니다");
        assert_eq!(
            (r.service.as_str(), r.environment.as_str(), r.host.as_str()),
            ("checkout", "production", "web-1")
        );
        assert_eq!((r.trace_id.as_str(), r.span_id.as_str()), (TRACE, ROOT));
        assert_eq!(attr(r, "exception.type"), Some("checkout.errors.PaymentError"));
        assert_eq!(attr(r, "exception.message"), Some("결제 실패: 카드 토큰이 없습니다"));
        assert_eq!(r.attribute("sentry.handled"), Some(&AttrValue::Bool(false)));
        assert_eq!(attr(r, "sentry.event_id"), Some("f2b8c7e6a1d94c0e9b3a5d7f1e2c4b6a"));
        assert_eq!(attr(r, "sentry.release"), Some("checkout@1.4.2"));
        assert_eq!(attr(r, "service.version"), Some("1.4.2"));
        assert_eq!(attr(r, "sentry.platform"), Some("python"));
        assert_eq!(attr(r, "sentry.sdk.name"), Some("sentry.python.fastapi"));
        assert_eq!(attr(r, "sentry.sdk.version"), Some("2.19.2"));
        assert_eq!(attr(r, "sentry.transaction"), Some("/pay"));
        assert_eq!(attr(r, "tags.region"), Some("kr-seoul"));
        assert_eq!(attr(r, "tags.tenant"), Some("acme"));
        assert_eq!(attr(r, "user.id"), Some("42"));
        assert_eq!(attr(r, "user.email"), Some("kim@example.kr"));
        assert_eq!(attr(r, "user.username"), Some("kim"));
        assert_eq!(attr(r, "user.ip_address"), Some("203.0.113.9"));
        assert_eq!(attr(r, "url.full"), Some("http://shop.example/pay"));
        assert_eq!(attr(r, "http.request.method"), Some("POST"));
        assert_eq!(
            attr(r, "extra.sys.argv"),
            Some("[\"/srv/app/.venv/bin/uvicorn\",\"checkout.main:app\"]")
        );
        assert_eq!(r.attribute("sentry.message"), None);
        assert_eq!(
            attr(r, "exception.stacktrace"),
            Some(concat!(
                "Traceback (most recent call last):\n",
                "  File \"checkout/payments.py\", line 41, in charge\n",
                "    token = payload[\"card_token\"]\n",
                "KeyError: 'card_token'\n",
                "\n",
                "The above exception was the direct cause of the following exception:\n",
                "\n",
                "Traceback (most recent call last):\n",
                "  File \"starlette/routing.py\", line 73, in handle\n",
                "    response = await func(request)\n",
                "  File \"checkout/views.py\", line 88, in pay\n",
                "    raise PaymentError(\"결제 실패: 카드 토큰이 없습니다\") from e\n",
                "checkout.errors.PaymentError: 결제 실패: 카드 토큰이 없습니다\n",
            ))
        );

        let spans = &out.batch.spans;
        assert_eq!(spans.len(), 4);
        let root = &spans[0];
        assert_eq!((root.trace_id.as_str(), root.span_id.as_str()), (TRACE, ROOT));
        assert_eq!(root.parent_span_id, "00f067aa0ba902b7");
        assert_eq!((root.name.as_str(), root.kind), ("/pay", SpanKind::Server));
        assert_eq!((root.start_ns, root.duration_ns), (T0, 250_000_000));
        assert_eq!(
            (root.status_code, root.status_message.as_str()),
            (StatusCode::Error, "internal_error")
        );
        assert_eq!(
            (root.service.as_str(), root.environment.as_str(), root.host.as_str()),
            ("checkout", "production", "web-1")
        );
        assert_eq!(span_attr(root, "sentry.op"), Some(&AttrValue::Str("http.server".into())));
        assert_eq!(
            span_attr(root, "sentry.transaction_source"),
            Some(&AttrValue::Str("route".into()))
        );
        assert_eq!(span_attr(root, "thread.name"), Some(&AttrValue::Str("MainThread".into())));
        assert_eq!(span_attr(root, "tags.region"), Some(&AttrValue::Str("kr-seoul".into())));
        assert_eq!(span_attr(root, "service.version"), Some(&AttrValue::Str("1.4.2".into())));

        let db = &spans[1];
        assert_eq!((db.kind, db.parent_span_id.as_str()), (SpanKind::Client, ROOT));
        assert_eq!(db.name, "SELECT id, token FROM cards WHERE user_id = %s");
        assert_eq!((db.start_ns, db.duration_ns), (T0 + 10_000_000, 20_000_000));
        assert_eq!(db.status_code, StatusCode::Unset);
        assert_eq!(span_attr(db, "db.system"), Some(&AttrValue::Str("postgresql".into())));
        assert_eq!(
            span_attr(db, "sentry.origin"),
            Some(&AttrValue::Str("auto.db.sqlalchemy".into()))
        );

        let gateway = &spans[2];
        assert_eq!(
            (gateway.kind, gateway.name.as_str()),
            (SpanKind::Client, "POST https://pg.example/charge")
        );
        assert_eq!(
            (gateway.status_code, gateway.status_message.as_str()),
            (StatusCode::Error, "deadline_exceeded")
        );
        assert_eq!(
            span_attr(gateway, "tags.http.status_code"),
            Some(&AttrValue::Str("504".into()))
        );
        assert_eq!(span_attr(gateway, "http.response.status_code"), Some(&AttrValue::Int(504)));

        // No trace id of its own: the transaction's. No description: named by its op.
        let function = &spans[3];
        assert_eq!((function.trace_id.as_str(), function.name.as_str()), (TRACE, "function"));
        assert_eq!((function.kind, function.status_code), (SpanKind::Internal, StatusCode::Ok));
        assert_eq!((function.start_ns, function.duration_ns), (T0 + 240_500_000, 5_000_000));

        // The error joins its trace at the server span.
        assert_eq!(
            (r.trace_id.as_str(), r.span_id.as_str()),
            (root.trace_id.as_str(), root.span_id.as_str())
        );
    }

    #[test]
    fn tags_as_pairs_and_service_precedence() {
        let base = json!({"message": "m", "release": "checkout@1.4.2"});
        let with = |patch: Value| {
            let mut event = base.clone();
            for (k, v) in patch.as_object().unwrap() {
                event[k] = v.clone();
            }
            store(event)
        };
        let r = with(json!({"tags": [["region", "kr-seoul"], ["service", "billing"], ["bad"], 7]}));
        assert_eq!(r.service, "billing");
        assert_eq!(attr(&r, "tags.region"), Some("kr-seoul"));
        assert_eq!(attr(&r, "tags.service"), Some("billing"));
        let r = with(json!({"tags": {"service": "a", "service.name": "b"}}));
        assert_eq!(r.service, "b");
        let r = with(json!({"contexts": {"trace": {"data": {"service.name": "from-trace"}}}}));
        assert_eq!(r.service, "from-trace");
        assert_eq!(with(json!({})).service, "checkout");
        let r = with(json!({"release": "@acme/web@2.0.1"}));
        assert_eq!((r.service.as_str(), attr(&r, "service.version")), ("@acme/web", Some("2.0.1")));
        // A release without a name: the fallback, and the whole release is the version.
        let r = with(json!({"release": "1f2e3d4c"}));
        assert_eq!(
            (r.service.as_str(), attr(&r, "service.version")),
            ("fallback", Some("1f2e3d4c"))
        );
        let r = store(json!({"message": "m"}));
        assert_eq!(r.service, "fallback");
        let out = decode_sentry_store(b"{}", "", NOW).unwrap();
        assert_eq!(out.batch.records[0].service, "unknown");
    }

    #[test]
    fn messages_levels_and_times() {
        // capture_message
        let r = store(json!({"message": "재고 부족", "level": "info", "timestamp": 1763996400.5}));
        assert_eq!(
            (r.body.as_str(), r.level, r.time_ns),
            ("재고 부족", Level::Info, T0 + 500_000_000)
        );
        // the logging integration
        let r = store(json!({
            "logentry": {"message": "payment %s failed", "params": ["p-1"], "formatted": "payment p-1 failed"},
            "logger": "checkout.payments", "level": "warning"
        }));
        assert_eq!(
            (r.body.as_str(), r.level, r.severity_number),
            ("payment p-1 failed", Level::Warn, 13)
        );
        assert_eq!(attr(&r, "sentry.logger"), Some("checkout.payments"));
        let r = store(json!({"logentry": {"message": "only the template"}, "level": "debug"}));
        assert_eq!((r.body.as_str(), r.level), ("only the template", Level::Debug));
        let r = store(json!({"message": {"formatted": "legacy interface"}, "level": "fatal"}));
        assert_eq!((r.body.as_str(), r.level), ("legacy interface", Level::Fatal));
        // logger.exception("..."): the exception is the body, the message is kept.
        let r = store(json!({
            "logentry": {"formatted": "charge failed"},
            "exception": {"values": [{"type": "ValueError", "value": ""}]}
        }));
        assert_eq!(
            (r.body.as_str(), attr(&r, "sentry.message")),
            ("ValueError", Some("charge failed"))
        );
        // No level: error; unknown level: error, kept.
        assert_eq!(store(json!({"message": "m"})).level, Level::Error);
        let r = store(json!({"message": "m", "level": "loud"}));
        assert_eq!((r.level, attr(&r, "level.original")), (Level::Error, Some("loud")));
        // No timestamp: now.
        assert_eq!(store(json!({"message": "m"})).time_ns, NOW);
        // A timestamp that cannot be read rejects the event with a reason.
        let out =
            decode_sentry_store(br#"{"message":"m","timestamp":"yesterday"}"#, "f", NOW).unwrap();
        assert_eq!(out.batch.rejected[0].reason, "event: invalid timestamp \"yesterday\"");
        // Legacy bare exception array, builtins not qualified, no stacktrace.
        let r = store(
            json!({"exception": [{"type": "ZeroDivisionError", "module": "builtins", "value": "division by zero"}]}),
        );
        assert_eq!(r.body, "ZeroDivisionError: division by zero");
        assert_eq!(attr(&r, "exception.stacktrace"), Some("ZeroDivisionError: division by zero\n"));
    }

    #[test]
    fn stacktrace_chains_and_limits() {
        let frame =
            |i: usize| json!({"filename": format!("f{i}.py"), "function": "recurse", "lineno": i});
        let frames: Vec<Value> = (0..10_000).map(frame).collect();
        let r = store(json!({
            "exception": {"values": [
                {"type": "OSError", "value": "disk", "mechanism": {"source": "__context__"}},
                {"type": "RecursionError", "value": "maximum recursion depth exceeded",
                 "stacktrace": {"frames": frames}}
            ]}
        }));
        let text = attr(&r, "exception.stacktrace").unwrap();
        assert!(text.starts_with("OSError: disk\n\nDuring handling of the above exception, another exception occurred:\n\n"), "{}", &text[..200]);
        assert!(text.contains("  ... 9744 earlier frames omitted\n"));
        assert!(text.ends_with("  File \"f9999.py\", line 9999, in recurse\nRecursionError: maximum recursion depth exceeded\n"));
        assert!(text.len() <= MAX_STACKTRACE_BYTES);

        // Frames without file names or line numbers, an exception without a type.
        let r = store(json!({"exception": {"values": [
            {"type": "A", "mechanism": {"source": "cause"}},
            {"value": "only a value", "stacktrace": {"frames": [{"abs_path": "/x.js"}, {"module": "m", "function": "f"}, {}]}}
        ]}}));
        assert_eq!(r.body, "only a value");
        assert_eq!(
            attr(&r, "exception.stacktrace"),
            Some(concat!(
                "A\n\nThe above exception led to the following exception:\n\n",
                "Traceback (most recent call last):\n",
                "  File \"/x.js\", in ?\n",
                "  File \"m\", in f\n",
                "  File \"<unknown>\", in ?\n",
                "only a value\n",
            ))
        );

        // The kept tail starts at a character boundary.
        let cut = keep_tail("가".repeat(100), 10);
        assert_eq!(cut, format!("... (truncated)\n{}", "가".repeat(3)));
    }

    #[test]
    fn envelope_framing() {
        // Implicit lengths, blank lines between items, zero-length and binary attachments
        // (a payload may hold line ends and \r), no final line end.
        let mut bytes = b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}\n".to_vec();
        bytes.extend_from_slice(b"{\"type\":\"attachment\",\"length\":10,\"filename\":\"hello.txt\"}\n\xef\xbb\xbfHello\r\n\n");
        bytes.extend_from_slice(b"\n\n");
        bytes.extend_from_slice(b"{\"type\":\"attachment\",\"length\":0}\n\n");
        bytes.extend_from_slice(b"{\"type\":\"session\"}\n{\"started\":\"2025-11-24T15:00:00Z\",\"attrs\":{\"release\":\"a@1\"}}\n");
        bytes.extend_from_slice(
            b"{\"type\":\"event\"}\n{\"message\":\"implicit\",\"level\":\"info\"}\n",
        );
        // A payload with a line end inside, then a blank line.
        let multiline = "{\"message\":\n\"a\\nb\"}";
        bytes.extend_from_slice(
            format!("{{\"type\":\"event\",\"length\":{}}}\n{multiline}\n\n", multiline.len())
                .as_bytes(),
        );
        let last = "{\"message\":\"eof\"}";
        bytes.extend_from_slice(
            format!("{{\"type\":\"event\",\"length\":{}}}\n{last}", last.len()).as_bytes(),
        );
        let out = decode(&bytes);
        assert!(out.batch.rejected.is_empty(), "{:?}", out.batch.rejected);
        assert_eq!(out.skipped, vec!["attachment", "attachment", "session"]);
        let bodies: Vec<&str> = out.batch.records.iter().map(|r| r.body.as_str()).collect();
        assert_eq!(bodies, vec!["implicit", "a\nb", "eof"]);
        assert_eq!(
            out.batch.records[0].attribute("sentry.event_id"),
            Some(&AttrValue::Str("9ec79c33ec9942ab8353589fcb2e04dc".into()))
        );

        // Header only, empty header, an implicit empty payload at the end.
        assert!(decode(b"{}").batch.is_empty());
        assert!(decode(b"{}\n").batch.is_empty());
        assert_eq!(decode(b"{}\n{\"type\":\"attachment\"}\n").skipped, vec!["attachment"]);
        let out = decode(b"{\"dsn\":\"https://abc@o1.ingest.sentry.io/42\"}\n");
        assert_eq!(out.dsn.as_deref(), Some("https://abc@o1.ingest.sentry.io/42"));
    }

    #[test]
    fn hostile_envelopes_fail_cleanly() {
        assert_eq!(error_of(b""), "empty envelope");
        assert!(error_of(b"hello\n").starts_with("envelope header: invalid json: expected value"));
        assert_eq!(error_of(b"[1]\n"), "envelope header: expected a json object, found an array");
        assert!(error_of(b"{\"event_id\":\"\xff\"}\n").starts_with("envelope header: invalid json"));
        assert!(error_of(b"{}\n{\"type\":\n").starts_with("item 1: item header: invalid json: EOF"));
        assert_eq!(
            error_of(b"{}\n\"event\"\n"),
            "item 1: item header: expected a json object, found a string"
        );
        assert_eq!(error_of(b"{}\n{\"length\":2}\n{}\n"), "item 1: the item header has no type");
        assert_eq!(error_of(b"{}\n{\"type\":7}\n{}\n"), "item 1: the item header has no type");
        // Truncated: the length runs past the end.
        assert_eq!(
            error_of(b"{}\n{\"type\":\"event\",\"length\":41}\n{\"message\":\"hello"),
            "item 1: length 41 runs past the end of the envelope (17 bytes left)"
        );
        assert_eq!(
            error_of(b"{}\n{\"type\":\"event\",\"length\":18446744073709551615}\n{}\n"),
            "item 1: length 18446744073709551615 runs past the end of the envelope (3 bytes left)"
        );
        assert_eq!(
            error_of(b"{}\n{\"type\":\"event\",\"length\":1e300}\n{}\n"),
            "item 1: invalid length \"1e+300\""
        );
        assert_eq!(
            error_of(b"{}\n{\"type\":\"event\",\"length\":-1}\n{}\n"),
            "item 1: invalid length \"-1\""
        );
        assert_eq!(
            error_of(b"{}\n{\"type\":\"event\",\"length\":\"2\"}\n{}\n"),
            "item 1: invalid length \"2\""
        );
        assert_eq!(
            error_of(b"{}\n{\"type\":\"event\",\"length\":2}\n{}x\n"),
            "item 1: the payload of 2 bytes is not followed by a line end"
        );
        // The envelope ends where a payload is due.
        assert_eq!(
            error_of(b"{}\n{\"type\":\"event\"}"),
            "item 1: the envelope ends before the payload"
        );
        // A good item, then a broken one: the request fails as a whole.
        let mut bytes = envelope(json!({}), &[("event", json!({"message": "ok"}))]);
        bytes.extend_from_slice(b"{\"type\":\"event\",\"length\":99}\n{}");
        assert_eq!(
            error_of(&bytes),
            "item 2: length 99 runs past the end of the envelope (2 bytes left)"
        );
    }

    #[test]
    fn bad_payloads_are_rejected_alone() {
        let deep = format!("{}1{}", "{\"a\":".repeat(500), "}".repeat(500));
        let mut bytes = b"{}\n".to_vec();
        for payload in [
            b"{\"message\":\"\xff\"}".to_vec(),      // 1 invalid utf-8
            deep.into_bytes(),                       // 2 nesting
            b"[\"not\",\"an\",\"object\"]".to_vec(), // 3
            b"{\"message\":\"kept\"}".to_vec(),      // 4
            b"".to_vec(),                            // 5 empty
        ] {
            bytes.extend_from_slice(
                format!("{{\"type\":\"event\",\"length\":{}}}\n", payload.len()).as_bytes(),
            );
            bytes.extend_from_slice(&payload);
            bytes.push(b'\n');
        }
        bytes.extend_from_slice(b"{\"type\":\"transaction\"}\n{\"spans\":7}\n"); // 6 no trace context
        bytes.extend_from_slice(b"{\"type\":\"transaction\"}\n7\n"); // 7
        let out = decode(&bytes);
        assert_eq!(out.batch.records.len(), 1);
        let reasons: Vec<&str> = out.batch.rejected.iter().map(|r| r.reason.as_str()).collect();
        assert_eq!(reasons.len(), 6, "{reasons:?}");
        assert!(
            reasons[0].starts_with("item 1 (event): invalid json: invalid unicode code point"),
            "{}",
            reasons[0]
        );
        assert!(
            reasons[1].starts_with("item 2 (event): invalid json: recursion limit exceeded"),
            "{}",
            reasons[1]
        );
        assert_eq!(reasons[2], "item 3 (event): expected a json object, found an array");
        assert!(reasons[3].starts_with("item 5 (event): invalid json: EOF"), "{}", reasons[3]);
        assert_eq!(reasons[4], "item 6 (transaction): no start_timestamp");
        assert_eq!(reasons[5], "item 7 (transaction): expected a json object, found a number");
        assert_eq!((out.accepted(), out.rejected()), (1, 6));
    }

    #[test]
    fn bad_spans_are_rejected_alone() {
        let transaction = json!({
            "type": "transaction", "transaction": "job",
            "contexts": {"trace": {"span_id": ROOT, "op": "queue.task.celery"}},
            "start_timestamp": 1763996400.0, "timestamp": 1763996401.0,
            "spans": [
                {"span_id": "b1b2b3b4b5b6b7b8", "op": "db.redis", "start_timestamp": 1763996400.1, "timestamp": 1763996400.2},
                {"trace_id": TRACE, "span_id": "zz", "start_timestamp": 1763996400.1, "timestamp": 1763996400.2},
                {"trace_id": TRACE, "span_id": "c1c2c3c4c5c6c7c8", "start_timestamp": "soon", "timestamp": 1763996400.2},
                {"trace_id": TRACE, "span_id": "d1d2d3d4d5d6d7d8", "start_timestamp": 1763996400.1},
                "span",
                {"trace_id": TRACE, "span_id": "e1e2e3e4e5e6e7e8", "op": "db.redis", "description": "GET k",
                 "start_timestamp": 1763996400.1, "timestamp": 1763996400.2}
            ]
        });
        let out = decode(&envelope(json!({}), &[("transaction", transaction)]));
        let reasons: Vec<&str> = out.batch.rejected.iter().map(|r| r.reason.as_str()).collect();
        assert_eq!(
            reasons,
            vec![
                "item 1 (transaction): span has no trace_id",
                "item 1 (transaction) spans[0]: span has no trace_id",
                "item 1 (transaction) spans[1]: span_id is not hex",
                "item 1 (transaction) spans[2]: invalid start_timestamp \"soon\"",
                "item 1 (transaction) spans[3]: no timestamp",
                "item 1 (transaction) spans[4]: expected a json object, found a string",
            ]
        );
        assert_eq!(out.batch.spans.len(), 1);
        assert_eq!(
            (out.batch.spans[0].name.as_str(), out.batch.spans[0].kind),
            ("GET k", SpanKind::Client)
        );
        assert_eq!(out.accepted() + out.rejected(), 7);
    }

    #[test]
    fn log_items() {
        let logs = json!({"items": [
            {"timestamp": 1763996400.25, "trace_id": TRACE, "span_id": ROOT, "level": "warn",
             "body": "재시도 3회 후 결제 성공", "severity_number": 13,
             "attributes": {
                "sentry.environment": {"value": "production", "type": "string"},
                "sentry.release": {"value": "checkout@1.4.2", "type": "string"},
                "server.address": {"value": "web-1", "type": "string"},
                "sentry.message.template": {"value": "retried %s times", "type": "string"},
                "sentry.message.parameter.0": {"value": 3, "type": "integer"},
                "ratio": {"value": 0.5, "type": "double"},
                "flag": {"value": false, "type": "boolean"}
             }},
            {"timestamp": 1763996400, "level": "trace", "body": "plain", "attributes": {"service.name": {"value": "worker", "type": "string"}}},
            {"timestamp": "later", "level": "info", "body": "bad time"},
            {"severity_number": 18, "body": "number only"},
            42
        ]});
        let out = decode(&envelope(json!({}), &[("log", logs)]));
        let r = &out.batch.records[0];
        assert_eq!((r.time_ns, r.level, r.severity_number), (T0 + 250_000_000, Level::Warn, 13));
        assert_eq!(r.body, "재시도 3회 후 결제 성공");
        assert_eq!(
            (r.service.as_str(), r.environment.as_str(), r.host.as_str()),
            ("checkout", "production", "web-1")
        );
        assert_eq!((r.trace_id.as_str(), r.span_id.as_str()), (TRACE, ROOT));
        assert_eq!(r.attribute("sentry.message.parameter.0"), Some(&AttrValue::Int(3)));
        assert_eq!(r.attribute("ratio"), Some(&AttrValue::Float(0.5)));
        assert_eq!(r.attribute("flag"), Some(&AttrValue::Bool(false)));
        let r = &out.batch.records[1];
        assert_eq!((r.service.as_str(), r.level, r.time_ns), ("worker", Level::Trace, T0));
        let r = &out.batch.records[2];
        assert_eq!(
            (r.level, r.severity_number, r.service.as_str()),
            (Level::Error, 18, "sentry-project-42")
        );
        let reasons: Vec<&str> = out.batch.rejected.iter().map(|r| r.reason.as_str()).collect();
        assert_eq!(
            reasons,
            vec![
                "item 1 (log) items[2]: invalid timestamp \"later\"",
                "item 1 (log) items[4]: expected a json object, found a number",
            ]
        );
        let out = decode(&envelope(json!({}), &[("log", json!({"logs": []}))]));
        assert_eq!(out.batch.rejected[0].reason, "item 1 (log): expected an items array");
    }

    #[test]
    fn store_endpoint() {
        let out =
            decode_sentry_store(python_error_event().to_string().as_bytes(), "f", NOW).unwrap();
        assert_eq!(out.event_id.as_deref(), Some("f2b8c7e6a1d94c0e9b3a5d7f1e2c4b6a"));
        assert_eq!(out.batch.records[0].service, "checkout");
        let out =
            decode_sentry_store(python_transaction().to_string().as_bytes(), "f", NOW).unwrap();
        assert_eq!((out.batch.spans.len(), out.batch.records.len()), (4, 0));
        let err = decode_sentry_store(b"{\"message\":", "f", NOW).unwrap_err();
        assert!(err.to_string().starts_with("invalid input: invalid json: EOF"), "{err}");
        let err = decode_sentry_store(b"\"event\"", "f", NOW).unwrap_err();
        assert_eq!(err.to_string(), "invalid input: expected a json object, found a string");
    }

    #[test]
    fn auth_header_and_query() {
        let python = "Sentry sentry_key=e12d836b15bb49d7bbf99e64295d995b, sentry_version=7, sentry_client=sentry.python/2.19.2";
        let expected = SentryAuth {
            key: "e12d836b15bb49d7bbf99e64295d995b".into(),
            version: Some("7".into()),
            client: Some("sentry.python/2.19.2".into()),
        };
        assert_eq!(parse_sentry_auth(Some(python), None), Some(expected.clone()));
        assert_eq!(
            parse_sentry_auth(Some(&python.to_lowercase()), None).map(|a| a.version),
            Some(Some("7".into()))
        );
        assert_eq!(
            parse_sentry_auth(Some("sentry_key=e12d836b15bb49d7bbf99e64295d995b,sentry_version=7,sentry_client=sentry.python/2.19.2"), None),
            Some(expected.clone())
        );
        assert_eq!(
            parse_sentry_auth(None, Some("?sentry_key=e12d836b15bb49d7bbf99e64295d995b&sentry_version=7&sentry_client=sentry.python%2F2.19.2")),
            Some(expected.clone())
        );
        // The header wins; a header without a key falls back to the query.
        assert_eq!(
            parse_sentry_auth(Some(python), Some("sentry_key=other")).map(|a| a.key),
            Some(expected.key.clone())
        );
        assert_eq!(
            parse_sentry_auth(Some("Sentry sentry_version=7"), Some("sentry_key=q")).map(|a| a.key),
            Some("q".into())
        );
        assert_eq!(
            parse_sentry_auth(Some("DSN https://abc:secret@o1.ingest.sentry.io/42"), None),
            Some(SentryAuth { key: "abc".into(), version: None, client: None })
        );
        assert_eq!(parse_sentry_auth(Some("Bearer xyz"), None), None);
        assert_eq!(parse_sentry_auth(Some("Sentry sentry_key="), None), None);
        assert_eq!(
            parse_sentry_auth(None, Some("a=%zz&sentry_key=%")).map(|a| a.key),
            Some("%".into())
        );
        assert_eq!(parse_sentry_auth(None, None), None);
        assert_eq!(parse_sentry_auth(Some("한"), Some("")), None);
        assert_eq!(sentry_key_from_dsn("https://abc@sentry.example/1"), Some("abc".into()));
        assert_eq!(sentry_key_from_dsn("https://sentry.example/1"), None);
        assert_eq!(sentry_key_from_dsn("abc@sentry.example"), None);
        assert_eq!(percent_decode("a+b%20c%e2%9c%93%"), "a b c✓%");
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
            let _ = decode_sentry_envelope(&bytes, "f", NOW);
            let _ = decode_sentry_store(&bytes, "f", NOW);
        }

        #[test]
        fn never_panics_on_envelope_like_input(
            items in proptest::collection::vec(("[a-z_]{0,12}", proptest::option::of(0u64..64), "[{}\\[\\]\":,a-z0-9 .\\n]{0,48}"), 0..8)
        ) {
            let mut bytes = b"{}\n".to_vec();
            for (item_type, length, payload) in &items {
                let header = match length {
                    Some(n) => json!({"type": item_type, "length": n}),
                    None => json!({"type": item_type}),
                };
                bytes.extend_from_slice(header.to_string().as_bytes());
                bytes.push(b'\n');
                bytes.extend_from_slice(payload.as_bytes());
                bytes.push(b'\n');
            }
            if let Ok(out) = decode_sentry_envelope(&bytes, "f", NOW) {
                prop_assert!(out.skipped.len() <= items.len());
            }
        }

        #[test]
        fn auth_never_panics(header in any::<String>(), query in any::<String>()) {
            let _ = parse_sentry_auth(Some(&header), Some(&query));
        }

        #[test]
        fn well_formed_events_round_trip(message in any::<String>(), tag in "[a-z]{1,8}", value in any::<String>()) {
            let event = json!({"message": message, "tags": [[tag.clone(), value.clone()]], "timestamp": 1763996400});
            let out = decode_sentry_envelope(&envelope(json!({}), &[("event", event)]), "f", NOW).unwrap();
            prop_assert!(out.batch.rejected.is_empty(), "{:?}", out.batch.rejected);
            let r = &out.batch.records[0];
            prop_assert_eq!(&r.body, &message);
            prop_assert_eq!(r.attribute(&format!("tags.{tag}")), Some(&AttrValue::Str(value)));
        }
    }
}
