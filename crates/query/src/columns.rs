//! Which columns of a records segment a query reads.
//!
//! A query names fields; a segment stores each attribute key either in a typed column of its own
//! or in the JSON remainder (see `trawl_storage::TypedColumn`). [`Columns`] collects what is
//! needed by name, and [`Columns::resolve`] turns it into the column names of one segment: a key
//! with a typed column there reads only that column, any other key reads the JSON it is in.

use std::collections::BTreeSet;

use trawl_storage::{AttrSource, SegmentIndex};

use crate::ast::{core_field, Expr, FieldTerm, ValueExpr};

/// The columns a scan decodes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Columns {
    /// Fixed columns of the records schema (`time`, `service`, `body`...).
    core: BTreeSet<&'static str>,
    /// Attribute keys read by name (in `attributes`, else in `resource`).
    keys: BTreeSet<String>,
    /// Every attribute (not resource) value: full-text terms look in all of them.
    all_attributes: bool,
}

impl<const N: usize> From<[&'static str; N]> for Columns {
    fn from(core: [&'static str; N]) -> Columns {
        Columns { core: BTreeSet::from(core), ..Columns::default() }
    }
}

impl Columns {
    pub fn new() -> Columns {
        Columns::default()
    }

    pub fn extend(&mut self, other: &Columns) {
        self.core.extend(other.core.iter().copied());
        self.keys.extend(other.keys.iter().cloned());
        self.all_attributes |= other.all_attributes;
    }

    /// Adds the columns holding field `name`, as a search term or a pipe reads it.
    pub fn field(&mut self, name: &str) {
        self.core.insert("time");
        match core_field(name) {
            Some(column) => {
                self.core.insert(column);
            }
            None => {
                self.keys.insert(name.to_string());
            }
        }
    }

    /// Adds the columns a search expression reads.
    pub fn expr(&mut self, expr: &Expr) {
        match expr {
            Expr::And(items) | Expr::Or(items) => items.iter().for_each(|e| self.expr(e)),
            Expr::Not(e) => self.expr(e),
            Expr::Text(_) => {
                self.core.extend(["body", "trace_id", "span_id"]);
                self.all_attributes = true;
            }
            Expr::Field(FieldTerm::TextPrefix { .. }) => {
                self.core.insert("body");
                self.all_attributes = true;
            }
            Expr::Field(
                FieldTerm::Equals { field, .. }
                | FieldTerm::Prefix { field, .. }
                | FieldTerm::Exists { field }
                | FieldTerm::Compare { field, .. }
                | FieldTerm::Range { field, .. }
                | FieldTerm::Regex { field, .. },
            ) => self.field(field),
        }
    }

    /// Adds the columns a `where` or aggregate expression reads.
    pub fn value(&mut self, value: &ValueExpr) {
        match value {
            ValueExpr::Field(name) => self.field(name),
            ValueExpr::Neg(v) | ValueExpr::Not(v) => self.value(v),
            ValueExpr::Binary(a, _, b) => {
                self.value(a);
                self.value(b);
            }
            ValueExpr::In { value, list, .. } => {
                self.value(value);
                list.iter().for_each(|v| self.value(v));
            }
            ValueExpr::Number(_) | ValueExpr::Text(_) | ValueExpr::Bool(_) | ValueExpr::Null => {}
        }
    }

    /// The names of the columns to read from the segment indexed by `index`.
    pub fn resolve(&self, index: &SegmentIndex) -> Vec<String> {
        let mut out: BTreeSet<String> = self.core.iter().map(|c| c.to_string()).collect();
        if self.all_attributes {
            out.insert("attributes".into());
            out.extend(index.columns.iter().filter(|c| c.source == AttrSource::Attributes).map(|c| c.name()));
        }
        for key in &self.keys {
            for source in [AttrSource::Attributes, AttrSource::Resource] {
                match index.typed_column(source, key) {
                    Some(column) => out.insert(column.name()),
                    None => out.insert(source.column().to_string()),
                };
            }
        }
        out.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trawl_storage::{ColumnType, SegmentKind, TypedColumn};

    fn index(columns: Vec<TypedColumn>) -> SegmentIndex {
        SegmentIndex {
            format_version: 3,
            kind: SegmentKind::Records,
            tenant: "default".into(),
            n_rows: 0,
            min_time_ns: 0,
            max_time_ns: 0,
            services: Vec::new(),
            levels_mask: 0,
            row_groups: Vec::new(),
            columns,
        }
    }

    #[test]
    fn a_typed_key_reads_its_column_and_others_read_the_json() {
        let typed = index(vec![
            TypedColumn { source: AttrSource::Attributes, key: "http.duration_ms".into(), ty: ColumnType::Int },
            TypedColumn { source: AttrSource::Resource, key: "http.duration_ms".into(), ty: ColumnType::Int },
            TypedColumn { source: AttrSource::Attributes, key: "user.id".into(), ty: ColumnType::Str },
        ]);
        let mut c = Columns::new();
        c.field("http.duration_ms");
        c.field("service");
        assert_eq!(c.resolve(&typed), ["attributes.http.duration_ms", "resource.http.duration_ms", "service", "time"]);
        // A segment without typed columns (format version 2) reads the JSON.
        assert_eq!(c.resolve(&index(Vec::new())), ["attributes", "resource", "service", "time"]);
        let mut words = Columns::new();
        words.expr(&crate::parse("timeout").unwrap().expr.unwrap());
        assert_eq!(words.resolve(&typed), ["attributes", "attributes.http.duration_ms", "attributes.user.id", "body", "span_id", "trace_id"]);
    }
}
