//! `| traces`: the newest matches until N distinct traces, then every record and span of them
//! as one table.


use std::collections::{HashMap, HashSet};

use trawl_model::{Record, Span};
use trawl_storage::Snapshot;

use crate::eval::RowView;
use crate::search::{Columns, Sink};
use crate::value::Value;
use crate::QueryError;

use crate::pipeline::{Table, FastHash};

/// `| traces`: the newest `max` distinct trace ids among the matches.
pub(crate) struct TraceSink {
    pub(crate) max: usize,
    pub(crate) newest: HashMap<String, i64, FastHash>,
}

impl TraceSink {
    pub(crate) fn floor_of(&self) -> Option<i64> {
        (self.newest.len() >= self.max).then(|| self.newest.values().copied().min()).flatten()
    }
}

impl Sink for TraceSink {
    fn floor(&self) -> Option<i64> {
        self.floor_of()
    }

    fn columns(&self) -> Option<Columns> {
        Some(Columns::from(["time", "trace_id"]))
    }

    fn offer<R: RowView>(&mut self, row: &R, _record: impl FnOnce() -> Record) -> Result<(), QueryError> {
        let id = row.trace_id();
        if id.is_empty() || self.max == 0 {
            return Ok(());
        }
        let t = row.time_ns();
        if let Some(known) = self.newest.get_mut(id) {
            *known = (*known).max(t);
            return Ok(());
        }
        self.newest.insert(id.to_string(), t);
        if self.newest.len() > self.max {
            if let Some(oldest) = self.newest.iter().min_by_key(|(_, t)| **t).map(|(k, _)| k.clone()) {
                self.newest.remove(&oldest);
            }
        }
        Ok(())
    }
}

pub(crate) const TRACE_COLUMNS: [&str; 12] =
    ["trace_id", "time", "kind", "service", "level", "name", "duration_ms", "status", "span_id", "parent_span_id", "body", "host"];

/// Every record and span of the traces found, grouped by trace (newest match first) and in time
/// order within a trace.
/// The spans and records of the traces found, as a table; their size counts against the
/// query's memory budget (a trace may hold a hundred thousand spans).
pub(crate) fn traces_table(snapshot: &Snapshot, sink: TraceSink, budget: &mut crate::pipeline::Budget, warnings: &mut Vec<String>) -> Result<Table, crate::QueryError> {
    let mut order: Vec<(String, i64)> = sink.newest.into_iter().collect();
    order.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let wanted: HashSet<&str> = order.iter().map(|(id, _)| id.as_str()).collect();
    let (spans, records) = crate::fetch_traces(snapshot, &wanted, i64::MIN, i64::MAX, warnings);
    let bytes: usize = spans.iter().map(|s| 256 + s.name.len() + s.attributes.len() * 48).sum::<usize>()
        + records.iter().map(|r| 256 + r.body.len() + r.attributes.len() * 48).sum::<usize>();
    budget.charge(2 * bytes, "the spans and records of its traces")?;
    let mut by_trace: HashMap<&str, Vec<(i64, u8, Vec<Value>)>> = HashMap::new();
    for s in &spans {
        by_trace.entry(s.trace_id.as_str()).or_default().push((s.start_ns, 0, span_row(s)));
    }
    for r in &records {
        by_trace.entry(r.trace_id.as_str()).or_default().push((r.time_ns, 1, record_row(r)));
    }
    let mut rows = Vec::new();
    for (id, _) in &order {
        if let Some(mut items) = by_trace.remove(id.as_str()) {
            items.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
            rows.extend(items.into_iter().map(|(_, _, r)| r));
        }
    }
    Ok(Table { columns: TRACE_COLUMNS.map(String::from).to_vec(), rows })
}

pub(crate) fn text_or_null(s: &str) -> Value {
    if s.is_empty() {
        Value::Null
    } else {
        Value::Str(s.to_string())
    }
}

pub(crate) fn span_row(s: &Span) -> Vec<Value> {
    vec![
        Value::Str(s.trace_id.clone()),
        Value::Time(s.start_ns),
        Value::Str("span".into()),
        Value::Str(s.service.clone()),
        Value::Null,
        Value::Str(s.name.clone()),
        Value::Float(s.duration_ns as f64 / 1e6),
        Value::Str(s.status_code.as_str().to_string()),
        text_or_null(&s.span_id),
        text_or_null(&s.parent_span_id),
        text_or_null(&s.status_message),
        text_or_null(&s.host),
    ]
}

pub(crate) fn record_row(r: &Record) -> Vec<Value> {
    vec![
        Value::Str(r.trace_id.clone()),
        Value::Time(r.time_ns),
        Value::Str("log".into()),
        Value::Str(r.service.clone()),
        Value::Str(r.level.as_str().to_string()),
        Value::Null,
        Value::Null,
        Value::Null,
        text_or_null(&r.span_id),
        Value::Null,
        Value::Str(r.body.clone()),
        text_or_null(&r.host),
    ]
}
