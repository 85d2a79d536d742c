//! `| sort`: the first N matches by the sort keys, in a bounded heap.



use trawl_model::Record;

use crate::ast::SortKey;
use crate::eval::RowView;
use crate::search::Sink;
use crate::value::{Fields, RecordFields, Value};
use crate::QueryError;

use crate::pipeline::compare_keys;

/// `| sort`: keeps the first `n` rows by the keys, ties broken by arrival.
pub(crate) struct SortSink<'a> {
    pub(crate) keys: &'a [SortKey],
    pub(crate) n: usize,
    pub(crate) rows: Vec<(Vec<Value>, u64, Record)>,
    pub(crate) seq: u64,
}

impl SortSink<'_> {
    pub(crate) fn shrink(&mut self) {
        let keys = self.keys;
        self.rows.sort_by(|a, b| compare_keys(keys, &a.0, &b.0).then(a.1.cmp(&b.1)));
        self.rows.truncate(self.n);
    }

    pub(crate) fn finish(mut self) -> Vec<Record> {
        self.shrink();
        self.rows.into_iter().map(|(_, _, r)| r).collect()
    }
}

impl Sink for SortSink<'_> {
    fn offer<R: RowView>(&mut self, row: &R, record: impl FnOnce() -> Record) -> Result<(), QueryError> {
        if self.n == 0 {
            return Ok(());
        }
        let fields = RecordFields(row);
        let key: Vec<Value> = self.keys.iter().map(|k| fields.get(&k.field)).collect();
        self.seq += 1;
        self.rows.push((key, self.seq, record()));
        if self.rows.len() >= 2 * self.n.max(512) {
            self.shrink();
        }
        Ok(())
    }
}
