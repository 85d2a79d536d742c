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
        let bytes = records.iter().map(record_memory).sum::<usize>() + spans.iter().map(span_memory).sum::<usize>();
        Chunk { records, spans, bytes }
    }

    pub fn n_items(&self) -> usize {
        self.records.len() + self.spans.len()
    }
}

/// Heap and inline bytes an attribute list holds (key strings, values, the vector itself).
fn attributes_memory(attributes: &trawl_model::Attributes) -> usize {
    attributes
        .iter()
        .map(|(k, v)| {
            std::mem::size_of::<(String, trawl_model::AttrValue)>()
                + k.capacity()
                + match v {
                    trawl_model::AttrValue::Str(s) => s.capacity(),
                    _ => 0,
                }
        })
        .sum()
}

/// Estimated memory of a record in the buffer: what backpressure and flush sizes count.
fn record_memory(r: &Record) -> usize {
    std::mem::size_of::<Record>()
        + r.service.capacity()
        + r.environment.capacity()
        + r.host.capacity()
        + r.trace_id.capacity()
        + r.span_id.capacity()
        + r.body.capacity()
        + attributes_memory(&r.attributes)
        + attributes_memory(&r.resource)
}

fn span_memory(s: &Span) -> usize {
    std::mem::size_of::<Span>()
        + s.trace_id.capacity()
        + s.span_id.capacity()
        + s.parent_span_id.capacity()
        + s.service.capacity()
        + s.name.capacity()
        + s.status_message.capacity()
        + attributes_memory(&s.attributes)
        + attributes_memory(&s.resource)
        + s.events.iter().map(|e| 64 + e.name.capacity() + attributes_memory(&e.attributes)).sum::<usize>()
        + s.links.iter().map(|l| 64 + l.trace_id.capacity() + attributes_memory(&l.attributes)).sum::<usize>()
}
