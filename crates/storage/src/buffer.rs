use trawl_model::{Record, Span};

/// One acknowledged write as it sits in memory until flushed: immutable once created, shared
/// by queries through `Arc`.
#[derive(Debug, Default)]
pub struct Chunk {
    pub records: Vec<Record>,
    pub spans: Vec<Span>,
    pub bytes: usize,
}

impl Chunk {
    pub fn new(records: Vec<Record>, spans: Vec<Span>) -> Chunk {
        let bytes = records.iter().map(|r| r.approx_bytes()).sum::<usize>()
            + spans.iter().map(|s| 256 + s.name.len() + s.attributes.len() * 32).sum::<usize>();
        Chunk { records, spans, bytes }
    }

    pub fn n_items(&self) -> usize {
        self.records.len() + self.spans.len()
    }
}
