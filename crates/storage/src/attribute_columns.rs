//! Typed attribute columns of a records segment (format version 3).
//!
//! An attribute key that is frequent in a segment, and whose values there all have one type,
//! gets a column of its own, named `attributes.<key>` (or `resource.<key>`), typed Int64,
//! Float64, Boolean or Utf8 and null where a record lacks the key. Every other key stays in the
//! segment's JSON column (`attributes` or `resource`), which therefore holds only the remainder.
//! A key is in exactly one place per segment: either its typed column or the JSON remainder,
//! never both, so a reader that finds the typed column in a batch need not look at the JSON.
//!
//! Keys whose values mix types within a segment (`"500"` and `500`), and non-finite floats (which
//! JSON stores as text), stay in the JSON: reading a record back gives the values it was written
//! with, of the same types.

use std::collections::HashSet;
use std::sync::Arc;

use ahash::AHashMap;

use arrow::array::{Array, ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field};
use serde::{Deserialize, Serialize};
use trawl_model::{attributes_to_json_string, AttrValue, Attributes, Record};

/// A key gets a column when at least this share of the segment's records has it (1 in N).
const MIN_SHARE_DENOMINATOR: usize = 50;
/// At most this many typed columns per source; the most frequent keys win.
const MAX_COLUMNS_PER_SOURCE: usize = 96;
/// Longer keys stay in the JSON (column names are kept short).
const MAX_KEY_BYTES: usize = 200;
/// A typed column with more distinct values than this in a segment has no dictionary: its
/// dictionary page would be decompressed for every row group read, even to fetch one row.
const MAX_DICTIONARY_VALUES: usize = 256;

/// Which attribute object a typed column comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AttrSource {
    Attributes,
    Resource,
}

impl AttrSource {
    /// The JSON column holding this source's remainder, and the prefix of its typed columns.
    pub fn column(self) -> &'static str {
        match self {
            AttrSource::Attributes => "attributes",
            AttrSource::Resource => "resource",
        }
    }
}

/// The type of a typed attribute column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ColumnType {
    Int,
    Float,
    Bool,
    Str,
}

impl ColumnType {
    fn of(value: &AttrValue) -> ColumnType {
        match value {
            AttrValue::Int(_) => ColumnType::Int,
            AttrValue::Float(f) if f.is_finite() => ColumnType::Float,
            // Stored as text in JSON: the column type would change the value's type.
            AttrValue::Float(_) | AttrValue::Str(_) => ColumnType::Str,
            AttrValue::Bool(_) => ColumnType::Bool,
        }
    }

    fn arrow(self) -> DataType {
        match self {
            ColumnType::Int => DataType::Int64,
            ColumnType::Float => DataType::Float64,
            ColumnType::Bool => DataType::Boolean,
            ColumnType::Str => DataType::Utf8,
        }
    }
}

/// One typed attribute column of a segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypedColumn {
    pub source: AttrSource,
    pub key: String,
    pub ty: ColumnType,
}

impl TypedColumn {
    /// The column's name in the segment: `attributes.<key>` or `resource.<key>`.
    pub fn name(&self) -> String {
        column_name(self.source, &self.key)
    }

    pub fn field(&self) -> Field {
        Field::new(self.name(), self.ty.arrow(), true)
    }
}

pub fn column_name(source: AttrSource, key: &str) -> String {
    format!("{}.{key}", source.column())
}

/// The source and key of a typed column's name; None for any other column.
pub fn parse_column_name(name: &str) -> Option<(AttrSource, &str)> {
    if let Some(key) = name.strip_prefix("attributes.") {
        return Some((AttrSource::Attributes, key));
    }
    name.strip_prefix("resource.").map(|key| (AttrSource::Resource, key))
}

fn source_of(r: &Record, source: AttrSource) -> &Attributes {
    match source {
        AttrSource::Attributes => &r.attributes,
        AttrSource::Resource => &r.resource,
    }
}

/// The keys of `records` that get a typed column: frequent, of one type, not too long.
pub fn choose(records: &[&Record]) -> Vec<TypedColumn> {
    let min_rows = (records.len() / MIN_SHARE_DENOMINATOR).max(2);
    let mut chosen = Vec::new();
    for source in [AttrSource::Attributes, AttrSource::Resource] {
        // key → (rows having it, its type, or None once two types were seen)
        let mut seen: AHashMap<&str, (usize, Option<ColumnType>)> = AHashMap::new();
        for r in records {
            let attrs = source_of(r, source);
            // A key repeated in one record counts twice, and two types there make it mixed:
            // both only err towards the JSON.
            for (key, value) in attrs {
                let ty = ColumnType::of(value);
                let entry = seen.entry(key.as_str()).or_insert((0, Some(ty)));
                entry.0 += 1;
                if entry.1 != Some(ty) {
                    entry.1 = None;
                }
            }
        }
        let mut keys: Vec<(&str, usize, ColumnType)> = seen
            .into_iter()
            .filter_map(|(k, (n, ty))| Some((k, n, ty?)))
            .filter(|&(k, n, _)| n >= min_rows && !k.is_empty() && k.len() <= MAX_KEY_BYTES)
            .collect();
        keys.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        keys.truncate(MAX_COLUMNS_PER_SOURCE);
        keys.sort_by(|a, b| a.0.cmp(b.0));
        chosen.extend(keys.into_iter().map(|(key, _, ty)| TypedColumn { source, key: key.to_string(), ty }));
    }
    chosen
}

/// The values of `source` in `records` sorted out by [`split`]: per typed column, each record's
/// value (the last of a repeated key, as a parse of the JSON keeps); per record, the JSON of the
/// other keys.
pub struct Split<'r> {
    pub columns: Vec<&'r TypedColumn>,
    values: Vec<Vec<Option<&'r AttrValue>>>,
    remainder: Vec<String>,
}

/// Sorts the attributes of `source` in `records` into the typed `columns` of that source and the
/// JSON remainder, one pass over each record's attributes.
pub fn split<'r>(records: &[&'r Record], source: AttrSource, columns: &'r [TypedColumn]) -> Split<'r> {
    let mine: Vec<&TypedColumn> = columns.iter().filter(|c| c.source == source).collect();
    let position: AHashMap<&str, usize> = mine.iter().enumerate().map(|(i, c)| (c.key.as_str(), i)).collect();
    let mut values: Vec<Vec<Option<&AttrValue>>> = vec![vec![None; records.len()]; mine.len()];
    let mut remainder = Vec::with_capacity(records.len());
    for (row, r) in records.iter().enumerate() {
        let attrs = source_of(r, source);
        let mut typed_here = 0;
        for (key, value) in attrs {
            if let Some(&c) = position.get(key.as_str()) {
                values[c][row] = Some(value);
                typed_here += 1;
            }
        }
        remainder.push(if typed_here == 0 {
            attributes_to_json_string(attrs)
        } else if typed_here == attrs.len() {
            "{}".to_string()
        } else {
            let rest: Attributes = attrs.iter().filter(|(k, _)| !position.contains_key(k.as_str())).cloned().collect();
            attributes_to_json_string(&rest)
        });
    }
    Split { columns: mine, values, remainder }
}

impl Split<'_> {
    /// Average bytes per record of the JSON remainder.
    pub fn remainder_bytes_per_record(&self) -> usize {
        self.remainder.iter().map(String::len).sum::<usize>() / self.remainder.len().max(1)
    }

    /// True when typed column `c` has more distinct values than a dictionary serves well.
    pub fn many_distinct(&self, c: usize) -> bool {
        let mut distinct: HashSet<std::borrow::Cow<'_, str>, ahash::RandomState> = HashSet::default();
        for v in self.values[c].iter().flatten() {
            distinct.insert(v.to_text());
            if distinct.len() > MAX_DICTIONARY_VALUES {
                return true;
            }
        }
        false
    }

    /// The JSON remainder column.
    pub fn remainder_array(&self) -> ArrayRef {
        Arc::new(StringArray::from_iter_values(self.remainder.iter()))
    }

    /// The arrays of the typed columns, in the order of [`Split::columns`].
    pub fn typed_arrays(&self) -> Vec<ArrayRef> {
        self.columns
            .iter()
            .zip(&self.values)
            .map(|(c, values)| {
                let values = values.iter();
                let array: ArrayRef = match c.ty {
                    ColumnType::Int => Arc::new(values.map(|v| match v {
                        Some(AttrValue::Int(n)) => Some(*n),
                        _ => None,
                    }).collect::<Int64Array>()),
                    ColumnType::Float => Arc::new(values.map(|v| match v {
                        Some(AttrValue::Float(f)) => Some(*f),
                        _ => None,
                    }).collect::<Float64Array>()),
                    ColumnType::Bool => Arc::new(values.map(|v| match v {
                        Some(AttrValue::Bool(b)) => Some(*b),
                        _ => None,
                    }).collect::<BooleanArray>()),
                    ColumnType::Str => Arc::new(values.map(|v| match v {
                        Some(AttrValue::Str(s)) => Some(s.as_str()),
                        _ => None,
                    }).collect::<StringArray>()),
                };
                array
            })
            .collect()
    }
}

/// A typed attribute column of a batch being read.
#[derive(Debug, Clone, Copy)]
pub enum TypedArray<'a> {
    Int(&'a Int64Array),
    Float(&'a Float64Array),
    Bool(&'a BooleanArray),
    Str(&'a StringArray),
}

impl<'a> TypedArray<'a> {
    /// A view of `array` when its type is one a typed column can have.
    pub fn new(array: &'a ArrayRef) -> Option<TypedArray<'a>> {
        let any = array.as_any();
        Some(match array.data_type() {
            DataType::Int64 => TypedArray::Int(any.downcast_ref()?),
            DataType::Float64 => TypedArray::Float(any.downcast_ref()?),
            DataType::Boolean => TypedArray::Bool(any.downcast_ref()?),
            DataType::Utf8 => TypedArray::Str(any.downcast_ref()?),
            _ => return None,
        })
    }

    pub fn is_valid(&self, i: usize) -> bool {
        match self {
            TypedArray::Int(a) => a.is_valid(i),
            TypedArray::Float(a) => a.is_valid(i),
            TypedArray::Bool(a) => a.is_valid(i),
            TypedArray::Str(a) => a.is_valid(i),
        }
    }

    /// The value of row `i`; None where the record lacks the key.
    pub fn value(&self, i: usize) -> Option<AttrValue> {
        if !self.is_valid(i) {
            return None;
        }
        Some(match self {
            TypedArray::Int(a) => AttrValue::Int(a.value(i)),
            TypedArray::Float(a) => AttrValue::Float(a.value(i)),
            TypedArray::Bool(a) => AttrValue::Bool(a.value(i)),
            TypedArray::Str(a) => AttrValue::Str(a.value(i).to_string()),
        })
    }

    /// The text of a string value without copying it.
    pub fn str_value(&self, i: usize) -> Option<&'a str> {
        match self {
            TypedArray::Str(a) if a.is_valid(i) => Some(a.value(i)),
            _ => None,
        }
    }

    /// The value of row `i` as a number, for aggregates: None where absent or not numeric.
    pub fn f64_value(&self, i: usize) -> Option<f64> {
        match self {
            TypedArray::Int(a) if a.is_valid(i) => Some(a.value(i) as f64),
            TypedArray::Float(a) if a.is_valid(i) => Some(a.value(i)),
            _ => None,
        }
    }
}

/// A typed attribute column found in a batch.
#[derive(Debug, Clone, Copy)]
pub struct TypedView<'a> {
    pub source: AttrSource,
    pub key: &'a str,
    pub array: TypedArray<'a>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(attrs: Vec<(&str, AttrValue)>) -> Record {
        let mut r = Record::new(1);
        r.attributes = attrs.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        r.resource = vec![("service.version".into(), AttrValue::Str("1.2".into()))];
        r
    }

    #[test]
    fn frequent_keys_of_one_type_get_columns_and_mixed_ones_stay_in_json() {
        let mut records = Vec::new();
        for i in 0..100 {
            let mut attrs = vec![("http.duration_ms", AttrValue::Int(i)), ("ok", AttrValue::Bool(i % 2 == 0))];
            attrs.push(("status", if i == 7 { AttrValue::Str("500".into()) } else { AttrValue::Int(200) }));
            if i == 3 {
                attrs.push(("rare", AttrValue::Str("x".into())));
            }
            if i % 10 == 0 {
                attrs.push(("ratio", AttrValue::Float(i as f64 / 3.0)));
            }
            if i == 5 {
                attrs.push(("ratio", AttrValue::Float(f64::NAN)));
            }
            records.push(record(attrs));
        }
        let refs: Vec<&Record> = records.iter().collect();
        let chosen = choose(&refs);
        let names: Vec<String> = chosen.iter().map(|c| c.name()).collect();
        assert_eq!(names, ["attributes.http.duration_ms", "attributes.ok", "resource.service.version"]);
        assert_eq!(chosen[0].ty, ColumnType::Int);
        assert_eq!(chosen[1].ty, ColumnType::Bool);

        let attributes = split(&refs, AttrSource::Attributes, &chosen);
        let (remainder, arrays) = (attributes.remainder_array(), attributes.typed_arrays());
        let remainder = remainder.as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(remainder.value(7), r#"{"status":"500"}"#);
        assert_eq!(remainder.value(3), r#"{"status":200,"rare":"x"}"#);
        assert_eq!(arrays.len(), 2);
        assert_eq!(TypedArray::new(&arrays[0]).unwrap().value(42), Some(AttrValue::Int(42)));
        assert_eq!(TypedArray::new(&arrays[1]).unwrap().value(3), Some(AttrValue::Bool(false)));
        let resource = split(&refs, AttrSource::Resource, &chosen);
        let (resource_rest, resource_arrays) = (resource.remainder_array(), resource.typed_arrays());
        assert_eq!(resource_rest.as_any().downcast_ref::<StringArray>().unwrap().value(0), "{}");
        assert_eq!(TypedArray::new(&resource_arrays[0]).unwrap().str_value(9), Some("1.2"));
    }

    #[test]
    fn names_parse_back() {
        assert_eq!(parse_column_name("attributes.http.route"), Some((AttrSource::Attributes, "http.route")));
        assert_eq!(parse_column_name("resource.k8s.pod"), Some((AttrSource::Resource, "k8s.pod")));
        assert_eq!(parse_column_name("attributes"), None);
        assert_eq!(parse_column_name("body"), None);
    }

    #[test]
    fn repeated_keys_keep_the_last_value() {
        let records = [
            record(vec![("k", AttrValue::Int(1)), ("k", AttrValue::Int(2))]),
            record(vec![("k", AttrValue::Int(3))]),
        ];
        let refs: Vec<&Record> = records.iter().collect();
        let chosen = choose(&refs);
        let arrays = split(&refs, AttrSource::Attributes, &chosen).typed_arrays();
        assert_eq!(TypedArray::new(&arrays[0]).unwrap().value(0), Some(AttrValue::Int(2)));
    }
}
