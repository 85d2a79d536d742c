//! The Elasticsearch `_bulk` API, as Fluent Bit, Vector, Filebeat, Logstash, syslog-ng, rsyslog
//! and the official Elasticsearch clients send it.
//!
//! The body is NDJSON: an action line (`{"index":{..}}`, `{"create":{..}}`, `{"update":{..}}` or
//! `{"delete":{..}}`), then one source line, except after `delete`. trawl keeps the sources of
//! `index` and `create` items as records and answers every other item with an error of its own,
//! as Elasticsearch answers per item. An action line that cannot be read loses the framing of
//! the rest of the body, so it fails the whole request, as it does in Elasticsearch.
//!
//! [`bulk_response`] writes Elasticsearch's answer and [`es_root_info`] the `GET /` body. Clients
//! also check things only the API layer can give: every 2xx answer must carry
//! `X-Elastic-Product: Elasticsearch` (the product check of the official clients, 7.14 and
//! later), and the media types `application/vnd.elasticsearch+json; compatible-with=7|8|9`
//! (and `+x-ndjson`) must be accepted like their `application/json` forms.

use base64::Engine as _;
use serde_json::{Map, Value};
use trawl_model::{AttrValue, Attributes, Record, MAX_FIELDS};

use crate::ndjson::{apply_level, json_kind, parse_time, short, too_many_fields};
use crate::normalize::{finish_record, flatten_json_capped};
use crate::IngestError;

/// The Elasticsearch version [`es_root_info`] claims.
///
/// The official clients 8.x and 9.x (elasticsearch-py included) never read this number: they
/// verify the server by the `X-Elastic-Product` header alone, so a 9.x client that sends
/// `compatible-with=9` is satisfied as long as the API accepts that media type. The number
/// matters to shippers: Vector picks its API flavour from the major version, Logstash and
/// rsyslog likewise, and Beats started with `allow_older_versions: false` refuse a server older
/// than themselves. 8.19 is the last 8.x minor: no `_type` anywhere (unlike 7.x), understood by
/// every shipper that knows 8.x, and not older than any 8.x Beat.
pub const ES_VERSION: &str = "8.19.0";

/// The Lucene version that Elasticsearch [`ES_VERSION`] ships with.
const LUCENE_VERSION: &str = "9.12.2";

/// Elasticsearch's limit on an index name, in bytes.
const MAX_INDEX_BYTES: usize = 255;

/// Elasticsearch's limit on a document id, in bytes.
const MAX_ID_BYTES: usize = 512;

/// Room for the recognised keys, which leave the attributes, on top of [`MAX_FIELDS`].
const FLATTEN_CAP: usize = MAX_FIELDS + 64;

/// The attribute that keeps the index an item was sent to.
pub const ES_INDEX_ATTR: &str = "es.index";

/// The attribute that keeps the `_id` an item was sent with.
pub const ES_ID_ATTR: &str = "es.id";

/// The four actions of a bulk request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkAction {
    Index,
    Create,
    Update,
    Delete,
}

impl BulkAction {
    /// The action's name, which is also the key of its item in the response.
    pub fn as_str(self) -> &'static str {
        match self {
            BulkAction::Index => "index",
            BulkAction::Create => "create",
            BulkAction::Update => "update",
            BulkAction::Delete => "delete",
        }
    }

    fn parse(name: &str) -> Option<BulkAction> {
        Some(match name {
            "index" => BulkAction::Index,
            "create" => BulkAction::Create,
            "update" => BulkAction::Update,
            "delete" => BulkAction::Delete,
            _ => return None,
        })
    }

    /// Whether a source line follows the action line: every action but `delete`.
    fn has_source(self) -> bool {
        self != BulkAction::Delete
    }
}

/// Why one item was refused, in Elasticsearch's terms: the item's HTTP status, an error type
/// such as `document_parsing_exception`, and a reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkItemError {
    pub status: u16,
    pub error_type: String,
    pub reason: String,
}

impl BulkItemError {
    pub fn new(status: u16, error_type: impl Into<String>, reason: impl Into<String>) -> Self {
        BulkItemError { status, error_type: error_type.into(), reason: reason.into() }
    }

    /// 429 `es_rejected_execution_exception`: every shipper retries such an item later.
    pub fn overloaded(reason: impl Into<String>) -> Self {
        BulkItemError::new(429, "es_rejected_execution_exception", reason)
    }

    /// 400 `document_parsing_exception`: the source line cannot become a record.
    fn document(reason: impl Into<String>) -> Self {
        BulkItemError::new(400, "document_parsing_exception", reason)
    }

    /// 400 `action_request_validation_exception`: the action's metadata is wrong.
    fn validation(reason: impl Into<String>) -> Self {
        BulkItemError::new(400, "action_request_validation_exception", reason)
    }

    fn unsupported_action() -> Self {
        BulkItemError::new(
            400,
            "illegal_argument_exception",
            "trawl accepts only index and create actions",
        )
    }
}

/// What became of one item. Decoding gives `Accepted` or `Failed`; the caller may then turn an
/// `Accepted` item into `Duplicate` or `Failed` before [`bulk_response`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkOutcome {
    /// Decoded into [`BulkRequest::records`]`[record]`; answered 201 `created`.
    Accepted { record: usize },
    /// Not stored because the caller found its `_id` stored already; answered 200 `noop`.
    Duplicate { record: usize },
    /// Refused; answered with the error's status, type and reason.
    Failed(BulkItemError),
}

/// One action of a bulk request and its outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkItem {
    pub action: BulkAction,
    /// The action's `_index`, else the index of the URL; empty when neither was given.
    pub index: String,
    /// The action's `_id`. Items without one get an id generated by [`bulk_response`].
    pub id: Option<String>,
    pub outcome: BulkOutcome,
}

/// A decoded bulk request: one item per action, in order, and the records of the accepted ones.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BulkRequest {
    pub items: Vec<BulkItem>,
    /// The records of the accepted items, in item order; items refer to them by position.
    pub records: Vec<Record>,
}

impl BulkRequest {
    /// Moves out the records of the items still `Accepted`, in order, and leaves
    /// [`BulkRequest::records`] empty. Positions in the items keep referring to the decoded
    /// order, so the response can still be built afterwards.
    pub fn take_accepted_records(&mut self) -> Vec<Record> {
        let mut keep = vec![false; self.records.len()];
        for item in &self.items {
            if let BulkOutcome::Accepted { record } = item.outcome {
                if let Some(k) = keep.get_mut(record) {
                    *k = true;
                }
            }
        }
        std::mem::take(&mut self.records)
            .into_iter()
            .zip(keep)
            .filter_map(|(record, keep)| keep.then_some(record))
            .collect()
    }

    /// Turns every `Accepted` item into `Failed(error)`, for a write refused as a whole
    /// (for example [`BulkItemError::overloaded`]).
    pub fn fail_accepted(&mut self, error: &BulkItemError) {
        for item in &mut self.items {
            if matches!(item.outcome, BulkOutcome::Accepted { .. }) {
                item.outcome = BulkOutcome::Failed(error.clone());
            }
        }
    }

    /// Number of items whose outcome is `Accepted`.
    pub fn n_accepted(&self) -> usize {
        self.items.iter().filter(|i| matches!(i.outcome, BulkOutcome::Accepted { .. })).count()
    }

    /// Number of items whose outcome is `Failed`.
    pub fn n_failed(&self) -> usize {
        self.items.iter().filter(|i| matches!(i.outcome, BulkOutcome::Failed(_))).count()
    }
}

/// Decodes a `_bulk` body (already decompressed). `default_index` is the `{index}` of
/// `/{index}/_bulk`; an action's `_index` overrides it.
///
/// Whole-request errors ([`IngestError::InvalidInput`], with the 1-based line number): an action
/// line that is not valid UTF-8, not JSON, not an object with exactly one of `index`, `create`,
/// `update`, `delete` whose value is an object; and a body without any action. Everything else
/// is answered per item:
/// - `update` and `delete`: 400 `illegal_argument_exception` (the source line of an `update` is
///   skipped unread);
/// - no index (neither `_index` nor the URL), an empty or over-long `_id` or index, an `_id` that
///   is not a string or number, a missing source line at the end: 400
///   `action_request_validation_exception` (or `invalid_index_name_exception`);
/// - a source line that is not a JSON object or fails [`finish_record`]: 400
///   `document_parsing_exception` with the reason.
///
/// Blank lines between items are skipped; `\r\n` line ends and a missing final line end are
/// accepted. Other action metadata (`_type`, `pipeline`, `routing`, `version`,
/// `require_alias`, ...) is ignored.
///
/// Source fields (nested objects count by their dotted path; the first usable key wins):
/// - time: `@timestamp`, `timestamp`, `time`, `date` (RFC 3339 or epoch s/ms/us/ns; missing
///   means now; unreadable rejects the item);
/// - body: `message`, `msg`, `log`, `event.original`, `MESSAGE` (a `log` loses its trailing
///   line end);
/// - level: `log.level`, `level`, `severity`, `log.syslog.severity.name`, `PRIORITY` (an
///   unknown spelling gives INFO and is kept as `level.original`);
/// - service: `service.name`, `service`, then `kubernetes.labels.app`,
///   `kubernetes.pod_labels.app`, `kubernetes.labels.app.kubernetes.io/name`,
///   `kubernetes.labels.app_kubernetes_io/name` (de-dotted by Filebeat and Fluent Bit's
///   `Replace_Dots`), `kubernetes.pod_labels.app.kubernetes.io/name` (Vector),
///   `kubernetes.container_name` (Fluent Bit, Vector), `kubernetes.container.name` (Filebeat),
///   `app`, `syslog.appname`, `log.syslog.appname`, `process.name`, `PROGRAM`;
/// - environment: `service.environment`, `deployment.environment`,
///   `deployment.environment.name`, `environment`, `env`;
/// - host: `host.name`, `host.hostname`, `hostname`, `host`, `HOST` (strings only);
///
/// The upper-case names are the macros of syslog-ng's `elasticsearch-http()` destination,
/// whose default template is `$(format-json --scope rfc5424 ...)`.
/// - trace id `trace.id`, `trace_id`, `traceId`; span id `span.id`, `span_id`, `spanId`.
///
/// Keys that only say what they name leave the attributes once used (`service.name`, `message`,
/// `log.level`, ...); keys that describe something else and only hint at the service, host or
/// level (every `kubernetes.*` key, `app`, `syslog.appname`, `log.syslog.appname`,
/// `process.name`, `PROGRAM`, `PRIORITY`, `host.hostname`, `log.syslog.severity.name`) stay in the
/// attributes too.
/// Empty values are skipped. Everything else is flattened into the attributes, plus
/// [`ES_INDEX_ATTR`] and, when given, [`ES_ID_ATTR`].
pub fn decode_es_bulk(
    bytes: &[u8],
    default_index: Option<&str>,
    now_ns: i64,
) -> Result<BulkRequest, IngestError> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let mut request = BulkRequest::default();
    let mut lines = numbered_lines(bytes);
    while let Some((line_no, line)) = lines.next() {
        if is_blank(line) {
            continue;
        }
        let (action, metadata) = parse_action(line_no, line)?;
        let source = if action.has_source() { lines.next().map(|(_, l)| l) } else { None };
        let item = decode_item(action, &metadata, source, default_index, now_ns, &mut request);
        request.items.push(item);
    }
    if request.items.is_empty() {
        return Err(IngestError::invalid("no requests added: the bulk body holds no action"));
    }
    Ok(request)
}

/// The lines of a body with their 1-based numbers. A final line end does not start another
/// line, and a `\r` before a line end is dropped.
fn numbered_lines(bytes: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    body.split(|b| *b == b'\n')
        .enumerate()
        .map(|(i, line)| (i + 1, line.strip_suffix(b"\r").unwrap_or(line)))
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|b| b.is_ascii_whitespace())
}

/// Reads an action line: `{"<action>": {<metadata>}}`.
fn parse_action(
    line_no: usize,
    line: &[u8],
) -> Result<(BulkAction, Map<String, Value>), IngestError> {
    let malformed = |reason: String| {
        IngestError::invalid(format!("line {line_no}: malformed action line: {reason}"))
    };
    let text = std::str::from_utf8(line).map_err(|e| malformed(format!("invalid utf-8: {e}")))?;
    let value: Value = serde_json::from_str(text).map_err(|e| malformed(e.to_string()))?;
    let Value::Object(map) = value else {
        return Err(malformed(format!("expected a json object, found {}", json_kind(&value))));
    };
    let n = map.len();
    let mut entries = map.into_iter();
    let (Some((name, metadata)), None) = (entries.next(), entries.next()) else {
        return Err(malformed(format!("expected exactly one action, found {n} keys")));
    };
    let action = BulkAction::parse(&name).ok_or_else(|| {
        malformed(format!("expected index, create, update or delete, found {}", short(&name)))
    })?;
    match metadata {
        Value::Object(metadata) => Ok((action, metadata)),
        other => Err(malformed(format!(
            "the metadata of {name} must be an object, found {}",
            json_kind(&other)
        ))),
    }
}

fn decode_item(
    action: BulkAction,
    metadata: &Map<String, Value>,
    source: Option<&[u8]>,
    default_index: Option<&str>,
    now_ns: i64,
    request: &mut BulkRequest,
) -> BulkItem {
    let (index, id, target) = target(metadata, default_index);
    let outcome = match (action, target, source) {
        (BulkAction::Update | BulkAction::Delete, _, _) => {
            BulkOutcome::Failed(BulkItemError::unsupported_action())
        }
        (_, Err(e), _) => BulkOutcome::Failed(e),
        (_, Ok(()), None) => {
            BulkOutcome::Failed(BulkItemError::validation("the action has no source line"))
        }
        (_, Ok(()), Some(line)) => match decode_source(line, &index, id.as_deref(), now_ns) {
            Ok(record) => {
                request.records.push(record);
                BulkOutcome::Accepted { record: request.records.len() - 1 }
            }
            Err(reason) => BulkOutcome::Failed(BulkItemError::document(reason)),
        },
    };
    BulkItem { action, index, id, outcome }
}

/// The index and id an action names, and whether they are usable.
fn target(
    metadata: &Map<String, Value>,
    default_index: Option<&str>,
) -> (String, Option<String>, Result<(), BulkItemError>) {
    let url_index = default_index.unwrap_or("").to_string();
    let (index, index_check) = match metadata.get("_index") {
        None | Some(Value::Null) => (url_index, Ok(())),
        Some(Value::String(s)) if s.is_empty() => (url_index, Ok(())),
        Some(Value::String(s)) => (s.clone(), Ok(())),
        Some(other) => (
            url_index,
            Err(BulkItemError::validation(format!(
                "_index must be a string, found {}",
                json_kind(other)
            ))),
        ),
    };
    let (id, id_check) = match metadata.get("_id") {
        None | Some(Value::Null) => (None, Ok(())),
        Some(Value::String(s)) => (Some(s.clone()), Ok(())),
        Some(Value::Number(n)) => (Some(n.to_string()), Ok(())),
        Some(other) => (
            None,
            Err(BulkItemError::validation(format!(
                "_id must be a string, found {}",
                json_kind(other)
            ))),
        ),
    };
    let check = index_check
        .and_then(|()| check_index(&index))
        .and(id_check)
        .and_then(|()| id.as_deref().map_or(Ok(()), check_id));
    (index, id, check)
}

fn check_index(index: &str) -> Result<(), BulkItemError> {
    if index.is_empty() {
        return Err(BulkItemError::validation("index is missing"));
    }
    if index.len() > MAX_INDEX_BYTES {
        return Err(BulkItemError::new(
            400,
            "invalid_index_name_exception",
            format!(
                "index name is too long, must be no longer than {MAX_INDEX_BYTES} bytes but was: {}",
                index.len()
            ),
        ));
    }
    Ok(())
}

fn check_id(id: &str) -> Result<(), BulkItemError> {
    if id.is_empty() {
        return Err(BulkItemError::validation("if _id is specified it must not be empty"));
    }
    if id.len() > MAX_ID_BYTES {
        return Err(BulkItemError::validation(format!(
            "id is too long, must be no longer than {MAX_ID_BYTES} bytes but was: {}",
            id.len()
        )));
    }
    Ok(())
}

/// A recognised source key, and whether it leaves the attributes once used.
#[derive(Clone, Copy)]
struct Key {
    name: &'static str,
    moves: bool,
}

const fn moved(name: &'static str) -> Key {
    Key { name, moves: true }
}

const fn kept(name: &'static str) -> Key {
    Key { name, moves: false }
}

const TIME_KEYS: &[Key] = &[moved("@timestamp"), moved("timestamp"), moved("time"), moved("date")];
const BODY_KEYS: &[Key] =
    &[moved("message"), moved("msg"), moved("log"), moved("event.original"), moved("MESSAGE")];
const LEVEL_KEYS: &[Key] = &[
    moved("log.level"),
    moved("level"),
    moved("severity"),
    kept("log.syslog.severity.name"),
    kept("PRIORITY"),
];
const SERVICE_KEYS: &[Key] = &[
    moved("service.name"),
    moved("service"),
    kept("kubernetes.labels.app"),
    kept("kubernetes.pod_labels.app"),
    kept("kubernetes.labels.app.kubernetes.io/name"),
    kept("kubernetes.labels.app_kubernetes_io/name"),
    kept("kubernetes.pod_labels.app.kubernetes.io/name"),
    kept("kubernetes.container_name"),
    kept("kubernetes.container.name"),
    kept("app"),
    kept("syslog.appname"),
    kept("log.syslog.appname"),
    kept("process.name"),
    kept("PROGRAM"),
];
const ENVIRONMENT_KEYS: &[Key] = &[
    moved("service.environment"),
    moved("deployment.environment"),
    moved("deployment.environment.name"),
    moved("environment"),
    moved("env"),
];
const HOST_KEYS: &[Key] =
    &[moved("host.name"), kept("host.hostname"), moved("hostname"), moved("host"), moved("HOST")];
const TRACE_KEYS: &[Key] = &[moved("trace.id"), moved("trace_id"), moved("traceId")];
const SPAN_KEYS: &[Key] = &[moved("span.id"), moved("span_id"), moved("spanId")];

/// Turns one source line into a record; `Err` is the reason of a `document_parsing_exception`.
fn decode_source(
    line: &[u8],
    index: &str,
    id: Option<&str>,
    now_ns: i64,
) -> Result<Record, String> {
    if is_blank(line) {
        return Err("the document is empty".to_string());
    }
    let text = std::str::from_utf8(line).map_err(|e| format!("invalid utf-8: {e}"))?;
    let value: Value = serde_json::from_str(text).map_err(|e| format!("invalid json: {e}"))?;
    if !value.is_object() {
        return Err(format!("expected a json object, found {}", json_kind(&value)));
    }
    let mut fields = Vec::new();
    if !flatten_json_capped("", &value, &mut fields, FLATTEN_CAP) {
        return Err(too_many_fields());
    }
    drop(value);

    let mut record = Record::new(now_ns);
    if let Some((_, t)) = pick(&mut fields, TIME_KEYS, |_| true) {
        record.time_ns =
            parse_time(&t).ok_or_else(|| format!("invalid timestamp {}", short(&t.to_text())))?;
    }
    if let Some((_, level)) = pick(&mut fields, LEVEL_KEYS, has_text) {
        apply_level(&mut record, &mut fields, &level);
    }
    if let Some((_, v)) = pick(&mut fields, SERVICE_KEYS, has_text) {
        record.service = v.to_text().into_owned();
    }
    if let Some((_, v)) = pick(&mut fields, ENVIRONMENT_KEYS, has_text) {
        record.environment = v.to_text().into_owned();
    }
    if let Some((_, v)) =
        pick(&mut fields, HOST_KEYS, |v| matches!(v, AttrValue::Str(s) if !s.trim().is_empty()))
    {
        record.host = v.to_text().into_owned();
    }
    if let Some((_, v)) = pick(&mut fields, TRACE_KEYS, has_text) {
        record.trace_id = v.to_text().into_owned();
    }
    if let Some((_, v)) = pick(&mut fields, SPAN_KEYS, has_text) {
        record.span_id = v.to_text().into_owned();
    }
    if let Some((key, v)) = pick(&mut fields, BODY_KEYS, |_| true) {
        record.body = body_text(key, v);
    }
    if fields.len() > MAX_FIELDS {
        return Err(too_many_fields());
    }
    set_field(&mut fields, ES_INDEX_ATTR, index);
    if let Some(id) = id {
        set_field(&mut fields, ES_ID_ATTR, id);
    }
    record.attributes = fields;
    finish_record(&mut record, now_ns)?;
    Ok(record)
}

/// The first field named like one of `keys`, in the order of `keys`, whose value is `usable`:
/// removed from `fields` when its key moves, cloned otherwise.
fn pick(
    fields: &mut Attributes,
    keys: &[Key],
    usable: impl Fn(&AttrValue) -> bool,
) -> Option<(&'static str, AttrValue)> {
    keys.iter().find_map(|key| {
        let i = fields.iter().position(|(k, v)| k == key.name && usable(v))?;
        let value = if key.moves { fields.remove(i).1 } else { fields[i].1.clone() };
        Some((key.name, value))
    })
}

fn has_text(value: &AttrValue) -> bool {
    !value.to_text().trim().is_empty()
}

/// A body as text; a `log` body (Docker's JSON logs, Fluent Bit's tail input) loses the line
/// end it was read with.
fn body_text(key: &str, value: AttrValue) -> String {
    let mut body = match value {
        AttrValue::Str(s) => s,
        other => other.to_text().into_owned(),
    };
    if key == "log" {
        let kept = body.trim_end_matches(['\n', '\r']).len();
        body.truncate(kept);
    }
    body
}

/// Sets a string attribute, replacing a field of the same name sent by the client.
fn set_field(fields: &mut Attributes, name: &str, value: &str) {
    fields.retain(|(k, _)| k != name);
    fields.push((name.to_string(), AttrValue::Str(value.to_string())));
}

/// Elasticsearch's answer to a bulk request:
/// `{"took":N,"errors":bool,"items":[{"<action>":{..}}, ..]}`, one item per action in order.
///
/// An `Accepted` item answers 201 `created` and a `Duplicate` 200 `noop`, both with `_version`
/// 1, `_seq_no` (the item's position), `_primary_term` 1 and one successful shard; a `Failed`
/// item answers its status and `{"type":..,"reason":..}`. `errors` is true when any item's
/// status is not 2xx.
///
/// Successful items without an `_id` get a generated one: 20 URL-safe base64 characters like
/// Elasticsearch's, made of `id_seed` (scrambled) and the item's position. They are unique
/// within a request, and across requests as long as every request gets its own seed (a counter
/// or a random number); they are not stored with the record. Failed items without an `_id`
/// answer `"_id": null`, as Elasticsearch does for items refused before an id is generated.
pub fn bulk_response(request: &BulkRequest, id_seed: u64, took_ms: u64) -> Value {
    let mut errors = false;
    let items: Vec<Value> = request
        .items
        .iter()
        .enumerate()
        .map(|(position, item)| {
            let (status, body) = item_response(item, position, id_seed);
            errors |= !(200..300).contains(&status);
            let mut wrapper = Map::with_capacity(1);
            wrapper.insert(item.action.as_str().to_string(), body);
            Value::Object(wrapper)
        })
        .collect();
    serde_json::json!({"took": took_ms, "errors": errors, "items": items})
}

/// The status and body of one response item.
fn item_response(item: &BulkItem, position: usize, id_seed: u64) -> (u16, Value) {
    let index = if item.index.is_empty() { Value::Null } else { Value::from(item.index.as_str()) };
    let (status, result) = match &item.outcome {
        BulkOutcome::Accepted { .. } => (201, "created"),
        BulkOutcome::Duplicate { .. } => (200, "noop"),
        BulkOutcome::Failed(error) => {
            let id = item.id.as_deref().map_or(Value::Null, Value::from);
            let body = serde_json::json!({
                "_index": index,
                "_id": id,
                "status": error.status,
                "error": {"type": error.error_type, "reason": error.reason},
            });
            return (error.status, body);
        }
    };
    let id = item.id.clone().unwrap_or_else(|| generated_id(id_seed, position));
    let body = serde_json::json!({
        "_index": index,
        "_id": id,
        "_version": 1,
        "result": result,
        "_shards": {"total": 1, "successful": 1, "failed": 0},
        "_seq_no": position,
        "_primary_term": 1,
        "status": status,
    });
    (status, body)
}

/// 15 bytes as 20 URL-safe base64 characters: the scrambled seed, then the position's low
/// 7 bytes. Distinct (seed, position) pairs give distinct ids because the scrambling is a
/// bijection.
fn generated_id(seed: u64, position: usize) -> String {
    let mut bytes = [0u8; 15];
    bytes[..8].copy_from_slice(&scramble(seed).to_be_bytes());
    bytes[8..].copy_from_slice(&(position as u64).to_be_bytes()[1..]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// SplitMix64's output function: a bijection of `u64` that makes counters look random.
fn scramble(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The `GET /` body that the official clients, Beats, Logstash and Vector accept from an
/// Elasticsearch server: name, cluster name and uuid, [`ES_VERSION`] with the default build
/// flavour (older clients check it), and the tagline. The cluster uuid is derived from the
/// cluster name, so it is stable across restarts.
pub fn es_root_info(cluster_name: &str) -> Value {
    serde_json::json!({
        "name": "trawl",
        "cluster_name": cluster_name,
        "cluster_uuid": cluster_uuid(cluster_name),
        "version": {
            "number": ES_VERSION,
            "build_flavor": "default",
            "build_type": "tar",
            "build_snapshot": false,
            "lucene_version": LUCENE_VERSION,
            "minimum_wire_compatibility_version": "7.17.0",
            "minimum_index_compatibility_version": "7.0.0",
        },
        "tagline": "You Know, for Search",
    })
}

/// 22 URL-safe base64 characters (16 bytes), like Elasticsearch's uuids, from two FNV-1a
/// hashes of the name.
fn cluster_uuid(cluster_name: &str) -> String {
    let fnv = |seed: u64| {
        cluster_name
            .bytes()
            .fold(seed, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
    };
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&fnv(0xcbf2_9ce4_8422_2325).to_be_bytes());
    bytes[8..].copy_from_slice(&scramble(fnv(0x6c62_272e_07bb_0142)).to_be_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;
    use trawl_model::{Level, MAX_RECORD_BYTES};

    const NOW: i64 = 1_764_000_000_000_000_000; // 2025-11-24T16:00:00Z
    const T0: i64 = 1_763_996_400_000_000_000; // 2025-11-24T15:00:00Z

    fn decode(body: &str) -> BulkRequest {
        decode_es_bulk(body.as_bytes(), Some("logs"), NOW).unwrap()
    }

    /// One `index` item with this source line, which must be accepted.
    fn one(source: &str) -> Record {
        let request = decode(&format!("{{\"index\":{{}}}}\n{source}\n"));
        assert_eq!(request.items.len(), 1);
        assert_eq!(request.items[0].outcome, BulkOutcome::Accepted { record: 0 }, "{source}");
        request.records.into_iter().next().unwrap()
    }

    /// One `index` item with this source line, which must be refused; its error.
    fn refused(source: &str) -> BulkItemError {
        let request = decode(&format!("{{\"index\":{{}}}}\n{source}\n"));
        match &request.items[0].outcome {
            BulkOutcome::Failed(e) => e.clone(),
            other => panic!("{source} gave {other:?}"),
        }
    }

    fn whole_error(body: &[u8]) -> String {
        match decode_es_bulk(body, Some("logs"), NOW) {
            Err(IngestError::InvalidInput { reason }) => reason,
            other => panic!("{:?} gave {other:?}", String::from_utf8_lossy(body)),
        }
    }

    fn attr<'a>(r: &'a Record, name: &str) -> Option<&'a str> {
        match r.attribute(name) {
            Some(AttrValue::Str(s)) => Some(s.as_str()),
            _ => None,
        }
    }

    #[test]
    fn fluent_bit_request() {
        // Fluent Bit's es output: Logstash_Format on, Suppress_Type_Name on, kubernetes filter.
        let body = concat!(
            r#"{"create":{"_index":"logstash-2025.11.24"}}"#,
            "\n",
            r#"{"@timestamp":"2025-11-24T15:00:00.000Z","log":"결제 실패: 카드 한도 초과\n","stream":"stderr","kubernetes":{"pod_name":"checkout-7d9f","namespace_name":"shop","labels":{"app.kubernetes.io/name":"checkout","pod-template-hash":"7d9f"},"container_name":"app","host":"node-3"}}"#,
            "\n",
            r#"{"create":{"_index":"logstash-2025.11.24"}}"#,
            "\n",
            r#"{"@timestamp":"2025-11-24T15:00:01.000Z","log":"GET /health 200\n","kubernetes":{"labels":{"app":"frontend"},"container_name":"nginx"}}"#,
            "\n",
        );
        let request = decode(body);
        assert_eq!(request.n_accepted(), 2);
        let r = &request.records[0];
        assert_eq!(r.time_ns, T0);
        assert_eq!(r.body, "결제 실패: 카드 한도 초과");
        assert_eq!(r.service, "checkout");
        assert_eq!(r.host, "");
        assert_eq!(attr(r, "kubernetes.labels.app.kubernetes.io/name"), Some("checkout"));
        assert_eq!(attr(r, "kubernetes.container_name"), Some("app"));
        assert_eq!(attr(r, "es.index"), Some("logstash-2025.11.24"));
        assert_eq!(attr(r, "stream"), Some("stderr"));
        assert_eq!(r.attribute("es.id"), None);
        assert_eq!(request.records[1].service, "frontend");
        assert_eq!(request.items[1].action, BulkAction::Create);
        assert_eq!(request.items[1].index, "logstash-2025.11.24");
    }

    #[test]
    fn filebeat_request() {
        // Filebeat 8: ECS fields, add_kubernetes_metadata with de-dotted labels.
        let body = concat!(
            r#"{"create":{"_index":"filebeat-8.19.0"}}"#,
            "\n",
            r#"{"@timestamp":"2025-11-24T15:00:00.250Z","message":"payment declined","log":{"level":"warn","file":{"path":"/var/log/pay.log"},"offset":42},"host":{"name":"web-1","hostname":"web-1.internal"},"agent":{"type":"filebeat","version":"8.19.0"},"ecs":{"version":"8.0.0"},"kubernetes":{"labels":{"app_kubernetes_io/name":"payments"},"container":{"name":"pay"}},"trace":{"id":"4BF92F3577B34DA6A3CE929D0E0E4736"},"span":{"id":"00F067AA0BA902B7"},"service":{"environment":"prod"}}"#,
            "\n",
        );
        let request = decode(body);
        let r = &request.records[0];
        assert_eq!(r.time_ns, T0 + 250_000_000);
        assert_eq!(
            (r.body.as_str(), r.level, r.severity_number),
            ("payment declined", Level::Warn, 13)
        );
        assert_eq!((r.service.as_str(), r.environment.as_str()), ("payments", "prod"));
        assert_eq!(r.host, "web-1");
        assert_eq!(attr(r, "host.hostname"), Some("web-1.internal"));
        assert_eq!(r.attribute("host.name"), None);
        assert_eq!(r.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(r.span_id, "00f067aa0ba902b7");
        assert_eq!(r.attribute("log.offset"), Some(&AttrValue::Int(42)));
        assert_eq!(attr(r, "kubernetes.container.name"), Some("pay"));
    }

    #[test]
    fn python_client_helpers_bulk() {
        // elasticsearch.helpers.bulk: `index` actions with `_index` and `_id`, no URL index.
        let body = concat!(
            r#"{"index":{"_index":"orders","_id":"ord-1"}}"#,
            "\n",
            r#"{"timestamp":1763996400,"msg":"order placed","service":"orders","level":"info","env":"prod","user_id":7}"#,
            "\n",
            r#"{"index":{"_index":"orders","_id":17}}"#,
            "\n",
            r#"{"time":"2025-11-24T15:00:00Z","message":"order shipped","service":{"name":"shipping"},"deployment":{"environment":"stg"}}"#,
            "\n",
        );
        let request = decode_es_bulk(body.as_bytes(), None, NOW).unwrap();
        let r = &request.records[0];
        assert_eq!(
            (r.time_ns, r.body.as_str(), r.service.as_str()),
            (T0, "order placed", "orders")
        );
        assert_eq!((r.level, r.environment.as_str()), (Level::Info, "prod"));
        assert_eq!(attr(r, "es.id"), Some("ord-1"));
        assert_eq!(attr(r, "es.index"), Some("orders"));
        assert_eq!(r.attribute("user_id"), Some(&AttrValue::Int(7)));
        assert_eq!(request.items[1].id.as_deref(), Some("17"));
        let r = &request.records[1];
        assert_eq!((r.service.as_str(), r.environment.as_str()), ("shipping", "stg"));
    }

    #[test]
    fn logstash_and_syslog_shapes() {
        let r = one(
            r#"{"@timestamp":"2025-11-24T15:00:00.000Z","@version":"1","message":"disk full","host":"db-2","type":"syslog","syslog":{"appname":"postgres"},"log":{"syslog":{"severity":{"name":"crit"}}}}"#,
        );
        assert_eq!(
            (r.service.as_str(), r.host.as_str(), r.level),
            ("postgres", "db-2", Level::Fatal)
        );
        assert_eq!(attr(&r, "syslog.appname"), Some("postgres"));
        assert_eq!(attr(&r, "log.syslog.severity.name"), Some("crit"));
        assert_eq!(attr(&r, "@version"), Some("1"));
        let r = one(
            r#"{"date":1763996400.5,"event":{"original":"<13>Nov 24 15:00:00 h sshd: ok"},"process":{"name":"sshd"},"hostname":"bastion","severity":"notice"}"#,
        );
        assert_eq!(r.time_ns, T0 + 500_000_000);
        assert_eq!(r.body, "<13>Nov 24 15:00:00 h sshd: ok");
        assert_eq!(
            (r.service.as_str(), r.host.as_str(), r.level),
            ("sshd", "bastion", Level::Info)
        );
        assert_eq!(attr(&r, "process.name"), Some("sshd"));
    }

    #[test]
    fn field_precedence() {
        // The first usable key wins; the others stay attributes; empty values fall through.
        let r = one(
            r#"{"@timestamp":"2025-11-24T15:00:00Z","timestamp":"2025-11-24T14:00:00Z","message":"m","msg":"other","service":{"name":""},"app":"fallback","kubernetes":{"container_name":"c"}}"#,
        );
        assert_eq!(r.time_ns, T0);
        assert_eq!(attr(&r, "timestamp"), Some("2025-11-24T14:00:00Z"));
        assert_eq!(attr(&r, "msg"), Some("other"));
        assert_eq!(r.service, "c");
        assert_eq!(attr(&r, "app"), Some("fallback"));
        // `host` counts only as a string; an object flattens to host.* instead.
        let r = one(r#"{"host":7,"message":"x"}"#);
        assert_eq!(r.host, "");
        assert_eq!(r.attribute("host"), Some(&AttrValue::Int(7)));
        // Nothing recognised: now, INFO, unknown.
        let r = one("{}");
        assert_eq!(
            (r.time_ns, r.level, r.service.as_str(), r.body.as_str()),
            (NOW, Level::Info, "unknown", "")
        );
        assert_eq!(r.attributes, vec![("es.index".to_string(), AttrValue::Str("logs".into()))]);
        // A client field named es.index does not hide the real index.
        let r = one(r#"{"es":{"index":"fake"}}"#);
        assert_eq!(attr(&r, "es.index"), Some("logs"));
        assert_eq!(r.attributes.len(), 1);
        // An unknown level spelling is kept.
        let r = one(r#"{"level":"loud"}"#);
        assert_eq!((r.level, attr(&r, "level.original")), (Level::Info, Some("loud")));
        // The first time key present decides: a bad one refuses the item, like Elasticsearch
        // refuses a malformed date.
        let e = refused(r#"{"date":"Tuesday","message":"x"}"#);
        assert_eq!((e.status, e.error_type.as_str()), (400, "document_parsing_exception"));
        assert_eq!(e.reason, "invalid timestamp \"Tuesday\"");
    }

    #[test]
    fn per_item_errors_keep_the_rest() {
        let many: Map<String, Value> =
            (0..=MAX_FIELDS).map(|i| (format!("f{i}"), Value::from(i))).collect();
        let mut body = String::new();
        body.push_str("{\"index\":{}}\n{\"message\":\"first\"}\n"); // 0 ok
        body.push_str("{\"index\":{}}\n[1,2]\n"); // 1 not an object
        body.push_str("{\"index\":{}}\n{\"message\": broken}\n"); // 2 invalid json
        body.push_str("{\"index\":{}}\n{\"@timestamp\":\"yesterday\"}\n"); // 3 bad time
        body.push_str(&format!("{{\"index\":{{}}}}\n{}\n", Value::Object(many))); // 4 fields
        body.push_str(&format!(
            "{{\"index\":{{}}}}\n{}\n",
            json!({"message": "x".repeat(MAX_RECORD_BYTES)})
        )); // 5 size
        body.push_str("{\"index\":{}}\n\n"); // 6 empty document
        body.push_str("{\"delete\":{\"_index\":\"logs\",\"_id\":\"1\"}}\n"); // 7 no source line
        body.push_str("{\"update\":{\"_id\":\"2\"}}\n{\"doc\":{\"a\":1}}\n"); // 8 source skipped
        body.push_str("{\"create\":{\"_id\":\"\"}}\n{}\n"); // 9 empty id
        body.push_str(&format!("{{\"create\":{{\"_id\":\"{}\"}}}}\n{{}}\n", "i".repeat(513))); // 10
        body.push_str("{\"create\":{\"_id\":{\"a\":1}}}\n{}\n"); // 11 id not a string
        body.push_str("{\"create\":{\"_index\":5}}\n{}\n"); // 12 index not a string
        body.push_str(&format!("{{\"create\":{{\"_index\":\"{}\"}}}}\n{{}}\n", "x".repeat(256))); // 13
        body.push_str("{\"index\":{}}\n{\"message\":\"last\"}"); // 14 ok, no final newline
        let mut bytes = body.into_bytes();
        bytes.extend_from_slice(b"\n{\"index\":{}}\n{\"message\":\"\xff\"}\n"); // 15 invalid utf-8
        bytes.extend_from_slice(b"{\"index\":{}}"); // 16 no source line at the end

        let request = decode_es_bulk(&bytes, Some("logs"), NOW).unwrap();
        assert_eq!(request.items.len(), 17);
        let bodies: Vec<&str> = request.records.iter().map(|r| r.body.as_str()).collect();
        assert_eq!(bodies, vec!["first", "last"]);
        assert_eq!(request.items[14].outcome, BulkOutcome::Accepted { record: 1 });
        let errors: Vec<(usize, u16, String, String)> = request
            .items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| match &item.outcome {
                BulkOutcome::Failed(e) => {
                    Some((i, e.status, e.error_type.clone(), e.reason.clone()))
                }
                _ => None,
            })
            .collect();
        let types: Vec<(usize, &str)> =
            errors.iter().map(|(i, _, t, _)| (*i, t.as_str())).collect();
        assert_eq!(
            types,
            vec![
                (1, "document_parsing_exception"),
                (2, "document_parsing_exception"),
                (3, "document_parsing_exception"),
                (4, "document_parsing_exception"),
                (5, "document_parsing_exception"),
                (6, "document_parsing_exception"),
                (7, "illegal_argument_exception"),
                (8, "illegal_argument_exception"),
                (9, "action_request_validation_exception"),
                (10, "action_request_validation_exception"),
                (11, "action_request_validation_exception"),
                (12, "action_request_validation_exception"),
                (13, "invalid_index_name_exception"),
                (15, "document_parsing_exception"),
                (16, "action_request_validation_exception"),
            ]
        );
        assert!(errors.iter().all(|(_, status, _, _)| *status == 400));
        let reason = |i: usize| errors.iter().find(|e| e.0 == i).map(|e| e.3.as_str()).unwrap();
        assert_eq!(reason(1), "expected a json object, found an array");
        assert!(reason(2).starts_with("invalid json: expected value"), "{}", reason(2));
        assert_eq!(reason(3), "invalid timestamp \"yesterday\"");
        assert_eq!(reason(4), "more than 1000 fields");
        assert!(reason(5).ends_with("exceeds the 262144 byte limit"), "{}", reason(5));
        assert_eq!(reason(6), "the document is empty");
        assert_eq!(reason(7), "trawl accepts only index and create actions");
        assert_eq!(reason(8), "trawl accepts only index and create actions");
        assert_eq!(reason(9), "if _id is specified it must not be empty");
        assert_eq!(reason(10), "id is too long, must be no longer than 512 bytes but was: 513");
        assert_eq!(reason(11), "_id must be a string, found an object");
        assert_eq!(reason(12), "_index must be a string, found a number");
        assert_eq!(
            reason(13),
            "index name is too long, must be no longer than 255 bytes but was: 256"
        );
        assert!(reason(15).starts_with("invalid utf-8"), "{}", reason(15));
        assert_eq!(reason(16), "the action has no source line");
        assert_eq!(request.items[7].action, BulkAction::Delete);
        assert_eq!(request.items[7].id.as_deref(), Some("1"));
        assert_eq!(request.items[8].action, BulkAction::Update);
    }

    #[test]
    fn syslog_ng_default_template() {
        // What `elasticsearch-http()` sends with its default template.
        let r = one(r#"{"PROGRAM":"relayapp","PRIORITY":"err","PID":"42","MESSAGE":"relayed","HOST":"vm","FACILITY":"local0","ISODATE":"2025-11-24T15:00:00+00:00","@timestamp":"2025-11-24T15:00:00+00:00"}"#);
        assert_eq!((r.body.as_str(), r.service.as_str(), r.host.as_str()), ("relayed", "relayapp", "vm"));
        assert_eq!(r.level, Level::Error);
        assert_eq!(r.time_ns, T0);
        assert_eq!(attr(&r, "PROGRAM"), Some("relayapp"));
        assert_eq!(attr(&r, "FACILITY"), Some("local0"));
        assert_eq!(attr(&r, "MESSAGE"), None);
    }

    #[test]
    fn index_comes_from_the_action_or_the_url() {
        let body = "{\"index\":{\"_index\":\"a\"}}\n{}\n{\"index\":{}}\n{}\n{\"index\":{\"_index\":\"\"}}\n{}\n";
        let request = decode_es_bulk(body.as_bytes(), Some("url"), NOW).unwrap();
        let indexes: Vec<&str> = request.items.iter().map(|i| i.index.as_str()).collect();
        assert_eq!(indexes, vec!["a", "url", "url"]);
        let request = decode_es_bulk(body.as_bytes(), None, NOW).unwrap();
        assert_eq!(request.items[0].outcome, BulkOutcome::Accepted { record: 0 });
        for item in &request.items[1..] {
            assert_eq!(
                item.outcome,
                BulkOutcome::Failed(BulkItemError::validation("index is missing"))
            );
        }
        // Legacy and ignored metadata.
        let body = "{\"index\":{\"_index\":\"a\",\"_type\":\"_doc\",\"pipeline\":\"p\",\"routing\":\"r\",\"require_alias\":false}}\n{}\n";
        assert_eq!(decode(body).n_accepted(), 1);
    }

    #[test]
    fn line_ends_and_blank_lines() {
        let body = "\u{feff}\r\n{\"index\":{}}\r\n{\"message\":\"a\"}\r\n\r\n\n{\"create\":{}}\n{\"message\":\"b\"}\n\n";
        let request = decode(body);
        let bodies: Vec<&str> = request.records.iter().map(|r| r.body.as_str()).collect();
        assert_eq!(bodies, vec!["a", "b"]);
    }

    #[test]
    fn whole_request_errors() {
        assert_eq!(whole_error(b""), "no requests added: the bulk body holds no action");
        assert_eq!(whole_error(b"\n\n \n"), "no requests added: the bulk body holds no action");
        let e = whole_error(b"{\"index\":{}}\n{}\n{\"index\":\n{}\n");
        assert!(e.starts_with("line 3: malformed action line: EOF while parsing"), "{e}");
        assert_eq!(
            whole_error(b"{\"index\":{}}\n{}\n{\"upsert\":{}}\n{}\n"),
            "line 3: malformed action line: expected index, create, update or delete, found \"upsert\""
        );
        assert_eq!(
            whole_error(b"{\"index\":{},\"create\":{}}\n{}\n"),
            "line 1: malformed action line: expected exactly one action, found 2 keys"
        );
        assert_eq!(
            whole_error(b"{}\n"),
            "line 1: malformed action line: expected exactly one action, found 0 keys"
        );
        assert_eq!(
            whole_error(b"{\"index\":\"logs\"}\n{}\n"),
            "line 1: malformed action line: the metadata of index must be an object, found a string"
        );
        assert_eq!(
            whole_error(b"[\"index\"]\n"),
            "line 1: malformed action line: expected a json object, found an array"
        );
        let e = whole_error(b"{\"index\":{\"_id\":\"\xff\"}}\n{}\n");
        assert!(e.starts_with("line 1: malformed action line: invalid utf-8"), "{e}");
        // A source line taken for an action line after a `delete` with a stray source.
        let e = whole_error(b"{\"delete\":{\"_id\":\"1\"}}\n{\"message\":\"x\"}\n");
        assert!(e.starts_with("line 2: malformed action line: expected index, create"), "{e}");
        // Deep nesting is refused by the JSON parser, not by the stack.
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let e = whole_error(deep.as_bytes());
        assert!(e.contains("recursion limit"), "{e}");
        let request = decode(&format!(
            "{{\"index\":{{}}}}\n{{\"a\":{}1{}}}\n",
            "{\"a\":".repeat(200),
            "}".repeat(200)
        ));
        match &request.items[0].outcome {
            BulkOutcome::Failed(e) => assert!(e.reason.contains("recursion limit"), "{}", e.reason),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn response_has_elasticsearchs_shape() {
        let body = concat!(
            "{\"index\":{\"_index\":\"logs\",\"_id\":\"a1\"}}\n{\"message\":\"kept\"}\n",
            "{\"create\":{}}\n{\"message\":\"auto id\"}\n",
            "{\"create\":{\"_id\":\"dup\"}}\n{\"message\":\"seen before\"}\n",
            "{\"delete\":{\"_id\":\"x\"}}\n",
            "{\"index\":{}}\n[]\n",
        );
        let mut request = decode(body);
        request.items[2].outcome = BulkOutcome::Duplicate { record: 2 };
        let records = request.take_accepted_records();
        let kept: Vec<&str> = records.iter().map(|r| r.body.as_str()).collect();
        assert_eq!(kept, vec!["kept", "auto id"]);
        assert!(request.records.is_empty());

        let response = bulk_response(&request, 7, 12);
        let auto_id = generated_id(7, 1);
        assert_eq!(auto_id.len(), 20);
        assert_eq!(
            response,
            json!({
                "took": 12,
                "errors": true,
                "items": [
                    {"index": {"_index": "logs", "_id": "a1", "_version": 1, "result": "created",
                        "_shards": {"total": 1, "successful": 1, "failed": 0},
                        "_seq_no": 0, "_primary_term": 1, "status": 201}},
                    {"create": {"_index": "logs", "_id": auto_id, "_version": 1, "result": "created",
                        "_shards": {"total": 1, "successful": 1, "failed": 0},
                        "_seq_no": 1, "_primary_term": 1, "status": 201}},
                    {"create": {"_index": "logs", "_id": "dup", "_version": 1, "result": "noop",
                        "_shards": {"total": 1, "successful": 1, "failed": 0},
                        "_seq_no": 2, "_primary_term": 1, "status": 200}},
                    {"delete": {"_index": "logs", "_id": "x", "status": 400, "error": {
                        "type": "illegal_argument_exception",
                        "reason": "trawl accepts only index and create actions"}}},
                    {"index": {"_index": "logs", "_id": null, "status": 400, "error": {
                        "type": "document_parsing_exception",
                        "reason": "expected a json object, found an array"}}},
                ]
            })
        );
    }

    #[test]
    fn overload_fails_the_accepted_items_only() {
        let mut request =
            decode("{\"index\":{}}\n{}\n{\"update\":{}}\n{}\n{\"index\":{\"_id\":\"k\"}}\n{}\n");
        request.fail_accepted(&BulkItemError::overloaded("trawl is overloaded, retry later"));
        assert_eq!((request.n_accepted(), request.n_failed()), (0, 3));
        assert!(request.take_accepted_records().is_empty());
        let response = bulk_response(&request, 1, 0);
        assert_eq!(response["errors"], json!(true));
        assert_eq!(
            response["items"][2],
            json!({"index": {"_index": "logs", "_id": "k", "status": 429, "error": {
                "type": "es_rejected_execution_exception", "reason": "trawl is overloaded, retry later"}}})
        );
        assert_eq!(response["items"][1]["update"]["status"], json!(400));

        let request = decode("{\"index\":{}}\n{}\n");
        assert_eq!(bulk_response(&request, 1, 3)["errors"], json!(false));
    }

    #[test]
    fn generated_ids_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for seed in 0..64u64 {
            for position in 0..64usize {
                let id = generated_id(seed, position);
                assert_eq!(id.len(), 20);
                assert!(
                    id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                    "{id}"
                );
                assert!(seen.insert(id));
            }
        }
        assert_ne!(generated_id(0, 0), generated_id(0, 1 << 40));
    }

    #[test]
    fn root_info_passes_the_product_checks() {
        let info = es_root_info("trawl");
        assert_eq!(info["tagline"], json!("You Know, for Search"));
        assert_eq!(info["version"]["build_flavor"], json!("default"));
        assert_eq!(info["cluster_name"], json!("trawl"));
        // The number parses as major.minor.patch, 7.14 or later (older clients' check).
        let number = info["version"]["number"].as_str().unwrap();
        let parts: Vec<u32> = number.split('.').map(|p| p.parse().unwrap()).collect();
        assert_eq!(parts.len(), 3);
        assert!((parts[0], parts[1]) >= (7, 14));
        for key in [
            "lucene_version",
            "minimum_wire_compatibility_version",
            "minimum_index_compatibility_version",
        ] {
            assert!(info["version"][key].is_string(), "{key}");
        }
        let uuid = info["cluster_uuid"].as_str().unwrap();
        assert_eq!(uuid.len(), 22);
        assert_eq!(es_root_info("trawl")["cluster_uuid"], info["cluster_uuid"]);
        assert_ne!(es_root_info("other")["cluster_uuid"], info["cluster_uuid"]);
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
            let _ = decode_es_bulk(&bytes, Some("logs"), NOW);
        }

        #[test]
        fn never_panics_on_json_like_lines(lines in proptest::collection::vec("[{}\\[\\]\":,a-z_0-9 .\\-\\\\]{0,40}", 0..20)) {
            if let Ok(request) = decode_es_bulk(lines.join("\n").as_bytes(), None, NOW) {
                let response = bulk_response(&request, 3, 1);
                prop_assert_eq!(response["items"].as_array().map(Vec::len), Some(request.items.len()));
            }
        }

        #[test]
        fn every_action_gets_one_item(n in 1usize..50, seed in any::<u64>()) {
            let mut body = String::new();
            for i in 0..n {
                match i % 3 {
                    0 => body.push_str(&format!("{{\"index\":{{\"_id\":\"{i}\"}}}}\n{{\"message\":\"m{i}\"}}\n")),
                    1 => body.push_str("{\"create\":{}}\n{\"message\":\"auto\"}\n"),
                    _ => body.push_str(&format!("{{\"delete\":{{\"_id\":\"{i}\"}}}}\n")),
                }
            }
            let request = decode_es_bulk(body.as_bytes(), Some("x"), NOW).unwrap();
            prop_assert_eq!(request.items.len(), n);
            prop_assert_eq!(request.n_accepted() + request.n_failed(), n);
            let response = bulk_response(&request, seed, 0);
            let ids: std::collections::HashSet<String> = response["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|item| item.as_object()?.values().next()?["_id"].as_str().map(str::to_string))
                .collect();
            prop_assert_eq!(ids.len(), n);
        }
    }
}
