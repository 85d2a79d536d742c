//! The most frequent error messages of one service in a window: status messages of its ERROR
//! spans (or, without one, the message of their `exception` event) and bodies of its ERROR and
//! FATAL records, grouped after masking their variable parts (`trawl_trace::mask_message`).
//!
//! Read with the snapshot's scan, asking for the service's error spans and records only (the
//! sidecar and row indexes leave the rest unread), up to [`MAX_ITEMS`] error items.

use std::collections::HashMap;

use trawl_model::{Level, Record, Span};
use arrow::array::RecordBatch;
use std::path::Path;
use trawl_storage::{span_from_batch, RecordColumns, ScanFilter, ScanStats, ScanVisitor, SegmentIndex, SegmentKind, Snapshot, SpanColumns};
use trawl_trace::mask_message;

/// Error items looked at per request; beyond, the answer says it is truncated.
pub const MAX_ITEMS: u64 = 100_000;
/// Distinct masked messages kept per request; further new ones are only counted in the total.
const MAX_GROUPS: usize = 10_000;
/// Characters of an example message kept.
const MAX_EXAMPLE_CHARS: usize = 500;

/// What to look for.
pub struct ErrorMessagesRequest<'a> {
    pub service: &'a str,
    /// Inclusive, nanoseconds.
    pub start_ns: i64,
    /// Inclusive, nanoseconds.
    pub end_ns: i64,
    /// Most groups returned.
    pub limit: usize,
}

/// One group of messages equal after masking.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorMessage {
    /// The masked message.
    pub message: String,
    /// `spans + records`.
    pub count: u64,
    pub spans: u64,
    pub records: u64,
    /// One original message of the group (the latest seen), cut to 500 characters.
    pub example: String,
    pub last_seen_ns: i64,
}

#[derive(Debug, Default)]
pub struct ErrorMessagesResult {
    /// Most frequent first (ties: by message).
    pub messages: Vec<ErrorMessage>,
    /// Error items seen (every group, also those over the limit).
    pub total: u64,
    /// Stopped at [`MAX_ITEMS`] or at the group cap.
    pub truncated: bool,
    /// Damaged segments that were skipped.
    pub warnings: Vec<String>,
}

#[derive(Default)]
struct Groups {
    by_message: HashMap<String, ErrorMessage>,
    total: u64,
    truncated: bool,
}

impl Groups {
    fn full(&self) -> bool {
        self.total >= MAX_ITEMS
    }

    fn add(&mut self, text: &str, from_span: bool, time_ns: i64) {
        if self.full() {
            self.truncated = true;
            return;
        }
        self.total += 1;
        let mut masked = mask_message(text);
        if masked.is_empty() {
            masked = "(empty message)".to_string();
        }
        if !self.by_message.contains_key(&masked) && self.by_message.len() >= MAX_GROUPS {
            self.truncated = true;
            return;
        }
        let group = self.by_message.entry(masked).or_insert_with_key(|m| ErrorMessage {
            message: m.clone(),
            count: 0,
            spans: 0,
            records: 0,
            example: String::new(),
            last_seen_ns: i64::MIN,
        });
        group.count += 1;
        if from_span {
            group.spans += 1;
        } else {
            group.records += 1;
        }
        if time_ns >= group.last_seen_ns {
            group.last_seen_ns = time_ns;
            group.example = text.chars().take(MAX_EXAMPLE_CHARS).collect();
        }
    }
}

/// The message of an ERROR span: its status message, else its exception event's message or
/// type, else a line naming the span.
pub fn span_error_message(span: &Span) -> String {
    if !span.status_message.trim().is_empty() {
        return span.status_message.clone();
    }
    for event in span.events.iter().filter(|e| e.name == "exception") {
        for key in ["exception.message", "exception.type"] {
            if let Some((_, value)) = event.attributes.iter().find(|(k, _)| k == key) {
                let text = value.to_text();
                if !text.trim().is_empty() {
                    return text.into_owned();
                }
            }
        }
    }
    format!("{}: error status without a message", span.name)
}

/// Feeds the error spans and records a scan hands out to the groups, and stops the scan once
/// they are full.
struct Collector<'g, 's> {
    groups: &'g mut Groups,
    kind: SegmentKind,
    service: &'s str,
    columns: Option<&'s [&'s str]>,
}

/// The groups are full: the rest of the scan is left out.
struct Full;

impl ScanVisitor for Collector<'_, '_> {
    type Error = Full;

    fn check(&self) -> Result<(), Full> {
        match self.groups.full() {
            true => Err(Full),
            false => Ok(()),
        }
    }

    fn columns(&self, _index: &SegmentIndex) -> Option<Vec<String>> {
        self.columns.map(|c| c.iter().map(|s| s.to_string()).collect())
    }

    fn record(&mut self, record: &Record) -> Result<(), Full> {
        if record.service == self.service {
            self.groups.add(&record.body, false, record.time_ns);
        }
        Ok(())
    }

    fn span(&mut self, span: &Span) -> Result<(), Full> {
        if span.service == self.service {
            self.groups.add(&span_error_message(span), true, span.start_ns);
        }
        Ok(())
    }

    fn batch(&mut self, batch: &RecordBatch, path: &Path) -> Result<(), Full> {
        match self.kind {
            SegmentKind::Spans => {
                let Ok(c) = SpanColumns::new(batch, path) else { return Ok(()) }; // checked by the scan
                for i in 0..c.len() {
                    if c.service.value(i) == self.service {
                        self.groups.add(&span_error_message(&span_from_batch(&c, i)), true, c.start.value(i));
                    }
                }
            }
            SegmentKind::Records => {
                let Ok(c) = RecordColumns::new(batch, path) else { return Ok(()) }; // checked by the scan
                for i in 0..c.len() {
                    if c.service.value(i) == self.service {
                        self.groups.add(c.body.value(i), false, c.time.value(i));
                    }
                }
            }
        }
        Ok(())
    }
}

/// The error messages of a service in a window; see the module documentation.
pub fn error_messages(snapshot: &Snapshot, request: &ErrorMessagesRequest<'_>) -> ErrorMessagesResult {
    let (service, start, end) = (request.service, request.start_ns, request.end_ns);
    let mut groups = Groups::default();
    let mut warnings = Vec::new();
    // Only the service's errors are decoded, and of them only what is shown; newest segments
    // first, so a truncated answer favours recent errors.
    let mut scan_warnings = Vec::new();
    let errors = ScanFilter {
        services: Some(vec![service.to_lowercase()]),
        levels: Some(vec![Level::Error, Level::Fatal]),
        ..ScanFilter::spans(start, end)
    };
    let mut stats = ScanStats::default();
    let spans = Collector { groups: &mut groups, kind: SegmentKind::Spans, service, columns: None };
    let stopped = snapshot.scan(&errors, &mut { spans }, &mut stats, &mut scan_warnings).is_err();
    let errors = ScanFilter { kind: SegmentKind::Records, ..errors };
    let columns = ["time", "service", "level", "body"];
    let records = Collector { groups: &mut groups, kind: SegmentKind::Records, service, columns: Some(&columns) };
    let stopped = stopped || snapshot.scan(&errors, &mut { records }, &mut stats, &mut scan_warnings).is_err();
    groups.truncated |= stopped && groups.full();
    warnings.extend(scan_warnings.iter().map(ToString::to_string));
    let mut messages: Vec<ErrorMessage> = groups.by_message.into_values().collect();
    messages.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.message.cmp(&b.message)));
    messages.truncate(request.limit);
    ErrorMessagesResult { messages, total: groups.total, truncated: groups.truncated, warnings }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use trawl_model::{AttrValue, SpanEvent, SpanKind, StatusCode};
    use trawl_storage::Chunk;

    fn span(service: &str, start_ns: i64, status: StatusCode, message: &str) -> Span {
        Span {
            trace_id: "t".into(),
            span_id: "s".into(),
            parent_span_id: String::new(),
            service: service.into(),
            environment: String::new(),
            host: String::new(),
            name: "charge".into(),
            kind: SpanKind::Server,
            start_ns,
            duration_ns: 1,
            status_code: status,
            status_message: message.into(),
            attributes: Vec::new(),
            resource: Vec::new(),
            events: Vec::new(),
            links: Vec::new(),
        }
    }

    fn record(service: &str, time_ns: i64, level: Level, body: &str) -> Record {
        let mut r = Record::new(time_ns);
        r.service = service.into();
        r.level = level;
        r.body = body.into();
        r
    }

    fn snapshot(records: Vec<Record>, spans: Vec<Span>) -> Snapshot {
        Snapshot { chunks: vec![Arc::new(Chunk::new(records, spans))], segments: Vec::new(), patterns: Default::default() }
    }

    fn check(snapshot: &Snapshot, expect: &[(&str, u64, u64)]) {
        let result = error_messages(snapshot, &ErrorMessagesRequest { service: "pay", start_ns: 100, end_ns: 200, limit: 10 });
        let got: Vec<(&str, u64, u64)> = result.messages.iter().map(|m| (m.message.as_str(), m.spans, m.records)).collect();
        assert_eq!(got, expect);
    }

    #[test]
    fn messages_group_after_masking() {
        let mut exception = span("pay", 150, StatusCode::Error, "");
        exception.events.push(SpanEvent {
            time_ns: 150,
            name: "exception".into(),
            attributes: vec![("exception.message".into(), AttrValue::Str("card 4242 declined".into()))],
        });
        let spans = vec![
            span("pay", 100, StatusCode::Error, "timeout after 30 ms"),
            span("pay", 120, StatusCode::Error, "timeout after 45 ms"),
            span("pay", 130, StatusCode::Ok, "timeout after 45 ms"),
            span("pay", 300, StatusCode::Error, "timeout after 45 ms"),
            span("web", 130, StatusCode::Error, "timeout after 45 ms"),
            span("pay", 140, StatusCode::Error, ""),
            exception,
        ];
        let records = vec![
            record("pay", 110, Level::Error, "timeout after 12 ms"),
            record("pay", 111, Level::Fatal, "card 9 declined"),
            record("pay", 112, Level::Warn, "card 9 declined"),
            record("pay", 113, Level::Error, "user 123e4567-e89b-12d3-a456-426614174000 locked"),
        ];
        check(
            &snapshot(records, spans),
            &[
                ("timeout after <*> ms", 2, 1),
                ("card <*> declined", 1, 1),
                ("charge: error status without a message", 1, 0),
                ("user <*> locked", 0, 1),
            ],
        );
    }

    #[test]
    fn segments_are_read_and_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let store = trawl_storage::Store::open(trawl_storage::StoreConfig::new(dir.path())).unwrap();
        let spans = vec![span("pay", 150, StatusCode::Error, "refused by 10.0.0.1"), span("web", 150, StatusCode::Error, "other")];
        let records = vec![record("pay", 160, Level::Error, "refused by 10.0.0.2"), record("pay", 170, Level::Info, "fine")];
        store.write_blocking(records, spans).unwrap();
        assert!(store.flush(std::time::Duration::from_secs(10)));
        let snap = store.snapshot();
        assert!(snap.chunks.is_empty() && snap.segments.len() == 2);
        check(&snap, &[("refused by <*>", 1, 1)]);
    }
}
