use serde::{Deserialize, Serialize};

use crate::{AttrValue, Attributes, Level};

/// A record larger than this (body plus attributes, in bytes) is rejected alone.
pub const MAX_RECORD_BYTES: usize = 256 * 1024;

/// One log event (OpenTelemetry log data model, flattened).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Event time, nanoseconds since the Unix epoch.
    pub time_ns: i64,
    /// When trawl (or the first collector) saw it, nanoseconds since the Unix epoch.
    pub observed_time_ns: i64,
    pub service: String,
    pub environment: String,
    pub host: String,
    pub level: Level,
    /// OpenTelemetry severity number (1..=24), 0 when the sender gave none.
    pub severity_number: i32,
    /// Lowercase hex, empty when absent.
    pub trace_id: String,
    /// Lowercase hex, empty when absent.
    pub span_id: String,
    pub body: String,
    pub attributes: Attributes,
    pub resource: Attributes,
    /// The record's log pattern within its service, given by the store as the write is
    /// acknowledged (0: none yet, or mining off). Not part of the serde form: the WAL holds the
    /// record as received and replay mines it again, in the same order, to the same id.
    #[serde(skip)]
    pub pattern_id: u64,
}

impl Record {
    /// An empty record at `time_ns`, level INFO, service `unknown`.
    pub fn new(time_ns: i64) -> Record {
        Record {
            time_ns,
            observed_time_ns: time_ns,
            service: "unknown".to_string(),
            environment: String::new(),
            host: String::new(),
            level: Level::Info,
            severity_number: 0,
            trace_id: String::new(),
            span_id: String::new(),
            body: String::new(),
            attributes: Vec::new(),
            resource: Vec::new(),
            pattern_id: 0,
        }
    }

    /// Approximate size in bytes, used for the per-record limit and buffer accounting.
    pub fn approx_bytes(&self) -> usize {
        let attrs = |a: &Attributes| -> usize {
            a.iter()
                .map(|(k, v)| {
                    k.len()
                        + match v {
                            AttrValue::Str(s) => s.len(),
                            _ => 8,
                        }
                })
                .sum()
        };
        64 + self.service.len()
            + self.environment.len()
            + self.host.len()
            + self.trace_id.len()
            + self.span_id.len()
            + self.body.len()
            + attrs(&self.attributes)
            + attrs(&self.resource)
    }

    pub fn attribute(&self, name: &str) -> Option<&AttrValue> {
        self.attributes.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }
}
