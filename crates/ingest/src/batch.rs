use trawl_model::{Record, Span};

/// The outcome of decoding one request: what was accepted and what was rejected, and why.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    pub records: Vec<Record>,
    pub spans: Vec<Span>,
    pub rejected: Vec<Rejection>,
}

/// One record, span or NDJSON line that was refused while the rest of the request was kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// 1-based line number for NDJSON, `None` for OTLP.
    pub line: Option<usize>,
    pub reason: String,
}

impl Batch {
    /// True when nothing was accepted or rejected.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty() && self.spans.is_empty() && self.rejected.is_empty()
    }

    /// Number of accepted records plus spans.
    pub fn accepted(&self) -> usize {
        self.records.len() + self.spans.len()
    }

    /// Records an OTLP rejection (no line number).
    pub(crate) fn reject(&mut self, reason: String) {
        self.rejected.push(Rejection { line: None, reason });
    }
}
