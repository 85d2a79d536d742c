//! `| top`: the most frequent values of fields among the matches.


use std::collections::HashMap;

use trawl_model::Record;

use crate::eval::RowView;
use crate::search::{Columns, Sink};
use crate::value::{Fields, Key, RecordFields, Value};
use crate::QueryError;

use crate::pipeline::{Budget, Table, FastHash};

/// `| top N field [by g]`: the N most frequent values of `field` (in each `g`).
pub(crate) struct TopCounter<'a> {
    pub(crate) n: usize,
    pub(crate) field: &'a str,
    pub(crate) by: Option<&'a str>,
    pub(crate) counts: HashMap<(Key, Key), u64, FastHash>,
    pub(crate) budget: Budget,
}

impl<'a> TopCounter<'a> {
    pub(crate) fn new(n: usize, field: &'a str, by: Option<&'a str>, budget: Budget) -> TopCounter<'a> {
        TopCounter { n, field, by, counts: HashMap::default(), budget }
    }

    pub(crate) fn add(&mut self, row: &dyn Fields) -> Result<(), QueryError> {
        let group = self.by.map_or(Key::Null, |g| row.get(g).key());
        let key = (group, row.get(self.field).key());
        match self.counts.get_mut(&key) {
            Some(c) => *c += 1,
            None => {
                self.budget.charge(key.0.size() + key.1.size() + 32, "the values of top")?;
                self.counts.insert(key, 1);
            }
        }
        Ok(())
    }

    pub(crate) fn finish(self) -> Table {
        let mut totals: HashMap<Key, u64> = HashMap::new();
        for ((g, _), c) in &self.counts {
            *totals.entry(g.clone()).or_default() += c;
        }
        let mut items: Vec<((Key, Key), u64)> = self.counts.into_iter().collect();
        items.sort_by(|a, b| a.0 .0.cmp(&b.0 .0).then(b.1.cmp(&a.1)).then(a.0 .1.cmp(&b.0 .1)));
        let mut columns = Vec::new();
        if let Some(g) = self.by {
            columns.push(g.to_string());
        }
        columns.extend([self.field.to_string(), "count".to_string(), "percent".to_string()]);
        let mut rows = Vec::new();
        let mut current: Option<Key> = None;
        let mut taken = 0;
        for ((g, v), c) in items {
            if current.as_ref() != Some(&g) {
                current = Some(g.clone());
                taken = 0;
            }
            if taken >= self.n {
                continue;
            }
            taken += 1;
            let total = totals.get(&g).copied().unwrap_or(1).max(1);
            let mut row = Vec::new();
            if self.by.is_some() {
                row.push(g.to_value());
            }
            row.extend([v.to_value(), Value::Int(c as i64), Value::Float((c as f64 * 10_000.0 / total as f64).round() / 100.0)]);
            rows.push(row);
        }
        if self.by.is_some() {
            // Groups with the most rows first.
            rows.sort_by(|a, b| {
                let ta = totals.get(&a[0].key()).copied().unwrap_or(0);
                let tb = totals.get(&b[0].key()).copied().unwrap_or(0);
                tb.cmp(&ta).then(a[0].sort_cmp(&b[0])).then(b[2].sort_cmp(&a[2]))
            });
        }
        Table { columns, rows }
    }
}

pub(crate) struct TopSink<'a> {
    pub(crate) top: TopCounter<'a>,
}

impl Sink for TopSink<'_> {
    fn offer<R: RowView>(&mut self, row: &R, _record: impl FnOnce() -> Record) -> Result<(), QueryError> {
        self.top.add(&RecordFields(row))
    }

    fn columns(&self) -> Option<Columns> {
        let mut out = Columns::new();
        out.field(self.top.field);
        if let Some(by) = self.top.by {
            out.field(by);
        }
        Some(out)
    }
}
