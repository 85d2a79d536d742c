//! Values of pipe expressions: what a field holds, how two values compare, and arithmetic.
//!
//! Comparison rules, written down in `docs/query-language.md`:
//! - numbers compare numerically, and a text that parses as a number compares as that number;
//! - times compare as nanoseconds, and a text compares as the time it parses to;
//! - text equality ignores ASCII case (`level = "error"` matches `ERROR`); `<`/`>` on text is
//!   byte order;
//! - `null` (a missing field) equals only `null`; every other comparison with it is false.

use std::cmp::Ordering;
use std::collections::HashSet;

use serde::Serialize;
use trawl_model::text::{contains_folded, fold};
use trawl_model::{format_rfc3339, AttrValue};

use crate::ast::{core_field, BinOp, ValueExpr};
use crate::eval::RowView;

/// One value in a row of a table or of an expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// Nanoseconds since the Unix epoch.
    Time(i64),
}

impl Value {
    pub fn from_attr(v: &AttrValue) -> Value {
        match v {
            AttrValue::Str(s) => Value::Str(s.clone()),
            AttrValue::Int(i) => Value::Int(*i),
            AttrValue::Float(f) => Value::Float(*f),
            AttrValue::Bool(b) => Value::Bool(*b),
        }
    }

    /// The value as a number, if it is one or is text that reads as one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Time(t) => Some(*t as f64),
            Value::Str(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
            Value::Bool(_) | Value::Null => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// `where` keeps a row when its condition is truthy: true, a non-zero number, a non-empty text.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0 && !f.is_nan(),
            Value::Str(s) => !s.is_empty(),
            Value::Time(_) => true,
        }
    }

    /// The type name shown in a result's column schema.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::Float(_) => "number",
            Value::Str(_) => "string",
            Value::Time(_) => "time",
        }
    }

    /// The value as plain text, as the CLI prints it.
    pub fn to_text(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => format_float(*f),
            Value::Str(s) => s.clone(),
            Value::Time(t) => format_rfc3339(*t),
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, serde_json::Value::Number),
            Value::Str(s) => serde_json::Value::String(s.clone()),
            Value::Time(t) => serde_json::Value::String(format_rfc3339(*t)),
        }
    }

    /// Total order used by `sort`: nulls last, then numbers and times by value, then text.
    pub fn sort_cmp(&self, other: &Value) -> Ordering {
        fn rank(v: &Value) -> u8 {
            match v {
                Value::Int(_) | Value::Float(_) | Value::Time(_) => 0,
                Value::Bool(_) => 1,
                Value::Str(_) => 2,
                Value::Null => 3,
            }
        }
        match (self, other) {
            (Value::Str(a), Value::Str(b)) => a.cmp(b),
            (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
            (Value::Int(a), Value::Int(b)) | (Value::Time(a), Value::Time(b)) => a.cmp(b),
            (a, b) if rank(a) == 0 && rank(b) == 0 => {
                a.as_f64().unwrap_or(0.0).total_cmp(&b.as_f64().unwrap_or(0.0))
            }
            (a, b) => rank(a).cmp(&rank(b)),
        }
    }

    /// The hashable form used as a group key.
    /// [`Value::key`] without copying text.
    pub fn into_key(self) -> Key {
        match self {
            Value::Str(s) => Key::Str(s),
            other => other.key(),
        }
    }

    pub fn key(&self) -> Key {
        match self {
            Value::Null => Key::Null,
            Value::Bool(b) => Key::Bool(*b),
            Value::Int(i) => Key::Int(*i),
            // 2.0 and 2 fall in one group.
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9e15 => Key::Int(*f as i64),
            Value::Float(f) => Key::Float(f.to_bits()),
            Value::Str(s) => Key::Str(s.clone()),
            Value::Time(t) => Key::Time(*t),
        }
    }
}

/// A [`Value`] that can be hashed: floats by their bits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    Null,
    Bool(bool),
    Int(i64),
    Float(u64),
    Str(String),
    Time(i64),
}

impl Key {
    pub fn to_value(&self) -> Value {
        match self {
            Key::Null => Value::Null,
            Key::Bool(b) => Value::Bool(*b),
            Key::Int(i) => Value::Int(*i),
            Key::Float(bits) => Value::Float(f64::from_bits(*bits)),
            Key::Str(s) => Value::Str(s.clone()),
            Key::Time(t) => Value::Time(*t),
        }
    }

    /// Approximate heap and inline size, for the memory cap.
    pub fn size(&self) -> usize {
        std::mem::size_of::<Key>() + if let Key::Str(s) = self { s.len() } else { 0 }
    }
}

/// Integral floats print without a fraction; others with up to 6 significant decimals.
pub fn format_float(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else if f.is_finite() {
        let s = format!("{f:.6}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        String::new()
    }
}

/// Field access for expression evaluation.
pub trait Fields {
    /// The field's value, `Value::Null` when the row has no such field.
    fn get(&self, name: &str) -> Value;
}

/// A record (in memory or in a segment batch) seen as fields.
pub struct RecordFields<'a, R: RowView>(pub &'a R);

/// Names of the time column.
pub fn is_time_field(name: &str) -> bool {
    matches!(name, "time" | "_time" | "timestamp" | "@timestamp")
}

impl<R: RowView> Fields for RecordFields<'_, R> {
    fn get(&self, name: &str) -> Value {
        let row = self.0;
        if is_time_field(name) {
            return Value::Time(row.time_ns());
        }
        let text = |s: &str| if s.is_empty() { Value::Null } else { Value::Str(s.to_string()) };
        match core_field(name) {
            Some("service") => text(row.service()),
            Some("level") => Value::Str(row.level().as_str().to_string()),
            Some("trace_id") => text(row.trace_id()),
            Some("span_id") => text(row.span_id()),
            Some("host") => text(row.host()),
            Some("environment") => text(row.environment()),
            Some("body") => Value::Str(row.body().to_string()),
            _ => row.attribute(name).map_or(Value::Null, |v| Value::from_attr(&v)),
        }
    }
}

/// One row of a table, by column name.
pub struct TableRow<'a> {
    pub columns: &'a [String],
    pub values: &'a [Value],
}

impl Fields for TableRow<'_> {
    fn get(&self, name: &str) -> Value {
        let pos = self.columns.iter().position(|c| c == name).or_else(|| {
            // `time` also finds `_time` and the like, and `service` finds `service.name`.
            let canonical = core_field(name);
            self.columns.iter().position(|c| {
                (is_time_field(name) && is_time_field(c)) || (canonical.is_some() && core_field(c) == canonical)
            })
        });
        pos.and_then(|i| self.values.get(i)).cloned().unwrap_or(Value::Null)
    }
}

/// Evaluates `expr` over one row.
pub fn eval(expr: &ValueExpr, row: &dyn Fields) -> Value {
    match expr {
        ValueExpr::Field(name) => row.get(name),
        ValueExpr::Number(n) => Value::Float(*n),
        ValueExpr::Text(s) => Value::Str(s.clone()),
        ValueExpr::Bool(b) => Value::Bool(*b),
        ValueExpr::Null => Value::Null,
        ValueExpr::Neg(e) => match eval(e, row) {
            Value::Int(i) => Value::Int(i.wrapping_neg()),
            v => v.as_f64().map_or(Value::Null, |f| Value::Float(-f)),
        },
        ValueExpr::Not(e) => Value::Bool(!eval(e, row).truthy()),
        ValueExpr::In { value, list, negated, set } => {
            let v = eval(value, row);
            let found = match set {
                Some(set) => set.contains(&v),
                None => list.iter().any(|item| equal(&v, &eval(item, row))),
            };
            Value::Bool(found != *negated)
        }
        ValueExpr::Binary(l, op, r) => match op {
            BinOp::And => Value::Bool(eval(l, row).truthy() && eval(r, row).truthy()),
            BinOp::Or => Value::Bool(eval(l, row).truthy() || eval(r, row).truthy()),
            _ => binary(&eval(l, row), *op, &eval(r, row)),
        },
    }
}

fn binary(a: &Value, op: BinOp, b: &Value) -> Value {
    match op {
        BinOp::Eq => Value::Bool(equal(a, b)),
        BinOp::Ne => Value::Bool(!equal(a, b)),
        BinOp::Lt => Value::Bool(compare(a, b) == Some(Ordering::Less)),
        BinOp::Le => Value::Bool(matches!(compare(a, b), Some(Ordering::Less | Ordering::Equal))),
        BinOp::Gt => Value::Bool(compare(a, b) == Some(Ordering::Greater)),
        BinOp::Ge => Value::Bool(matches!(compare(a, b), Some(Ordering::Greater | Ordering::Equal))),
        BinOp::Contains => match (a, b) {
            (Value::Null, _) | (_, Value::Null) => Value::Bool(false),
            (a, b) => Value::Bool(contains_folded(&a.to_text(), &fold(&b.to_text()))),
        },
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem => arithmetic(a, op, b),
        BinOp::And | BinOp::Or => unreachable!("handled lazily by eval"),
    }
}

fn arithmetic(a: &Value, op: BinOp, b: &Value) -> Value {
    // Time minus time is a duration in nanoseconds; time plus a number stays a time.
    if let (Value::Time(x), Value::Time(y), BinOp::Sub) = (a, b, op) {
        return Value::Int(x.saturating_sub(*y));
    }
    if let (Value::Int(x), Value::Int(y)) = (a, b) {
        let r = match op {
            BinOp::Add => x.checked_add(*y),
            BinOp::Sub => x.checked_sub(*y),
            BinOp::Mul => x.checked_mul(*y),
            BinOp::Rem if *y != 0 => x.checked_rem(*y),
            _ => None,
        };
        if let Some(r) = r {
            return Value::Int(r);
        }
    }
    let (Some(x), Some(y)) = (a.as_f64(), b.as_f64()) else { return Value::Null };
    let r = match op {
        BinOp::Add => x + y,
        BinOp::Sub => x - y,
        BinOp::Mul => x * y,
        BinOp::Div if y != 0.0 => x / y,
        BinOp::Rem if y != 0.0 => x % y,
        _ => return Value::Null,
    };
    match (a, b) {
        (Value::Time(_), _) | (_, Value::Time(_)) if matches!(op, BinOp::Add | BinOp::Sub) => Value::Time(r as i64),
        _ => Value::Float(r),
    }
}

/// Equality by the rules in the module documentation.
pub fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Null, _) | (_, Value::Null) => false,
        (Value::Str(x), Value::Str(y)) => x.eq_ignore_ascii_case(y),
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Bool(x), Value::Str(s)) | (Value::Str(s), Value::Bool(x)) => s.eq_ignore_ascii_case(if *x { "true" } else { "false" }),
        _ => compare(a, b) == Some(Ordering::Equal),
    }
}

/// A list of literals as lookup tables, so `x in (...)` with thousands of values costs a few
/// hash lookups per row; `contains(v)` is true exactly when `equal(v, item)` holds for an item.
#[derive(Debug, Default)]
pub struct InSet {
    /// Text items, ASCII-lowercased (text equality ignores ASCII case).
    texts: HashSet<String>,
    /// Number items.
    number_items: HashSet<u64>,
    /// Text items that read as numbers (a number equals such a text; a text does not).
    text_numbers: HashSet<u64>,
    /// Text items that read as times (a time equals such a text).
    times: HashSet<i64>,
    /// `true`/`false` items, and text items spelling them.
    bools: [bool; 2],
    null: bool,
}

impl PartialEq for InSet {
    /// A set is derived from its list, which the expression compares already.
    fn eq(&self, _: &InSet) -> bool {
        true
    }
}

impl InSet {
    /// The lookup tables of `list`, or None when an item is not a literal.
    pub fn of(list: &[ValueExpr]) -> Option<InSet> {
        let mut set = InSet::default();
        for item in list {
            match item {
                ValueExpr::Null => set.null = true,
                ValueExpr::Bool(b) => set.bools[*b as usize] = true,
                ValueExpr::Number(n) => {
                    set.number_items.insert(number_key(*n));
                }
                ValueExpr::Text(s) => {
                    set.texts.insert(s.to_ascii_lowercase());
                    if let Some(n) = Value::Str(s.clone()).as_f64() {
                        set.text_numbers.insert(number_key(n));
                    }
                    if let Some(t) = trawl_model::parse_time_str(s) {
                        set.times.insert(t);
                    }
                    for (i, word) in ["false", "true"].iter().enumerate() {
                        if s.eq_ignore_ascii_case(word) {
                            set.bools[i] = true;
                        }
                    }
                }
                _ => return None,
            }
        }
        Some(set)
    }

    pub fn contains(&self, v: &Value) -> bool {
        match v {
            Value::Null => self.null,
            Value::Bool(b) => self.bools[*b as usize],
            Value::Int(_) | Value::Float(_) => v.as_f64().is_some_and(|n| {
                let key = number_key(n);
                self.number_items.contains(&key) || self.text_numbers.contains(&key)
            }),
            Value::Time(t) => self.times.contains(t) || self.number_items.contains(&number_key(*t as f64)),
            // Text against text is equality without ASCII case; against a number, the number
            // it reads as; against a boolean, its spelling.
            Value::Str(s) => {
                self.texts.contains(&s.to_ascii_lowercase())
                    || self.list_numbers_match_text(s)
                    || (s.eq_ignore_ascii_case("true") && self.bools[1])
                    || (s.eq_ignore_ascii_case("false") && self.bools[0])
            }
        }
    }

    /// A text compared with a number item compares as the number it reads as.
    fn list_numbers_match_text(&self, s: &str) -> bool {
        let Some(n) = Value::Str(s.to_string()).as_f64() else { return false };
        self.number_items.contains(&number_key(n))
    }
}

/// Equal numbers, equal keys (`-0.0` is `0.0`).
fn number_key(n: f64) -> u64 {
    if n == 0.0 {
        0
    } else {
        n.to_bits()
    }
}

/// Ordering by the rules in the module documentation; None when the two do not compare.
pub fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Null, _) | (_, Value::Null) => None,
        (Value::Int(x), Value::Int(y)) | (Value::Time(x), Value::Time(y)) => Some(x.cmp(y)),
        (Value::Time(t), Value::Str(s)) => trawl_model::parse_time_str(s).map(|u| t.cmp(&u)),
        (Value::Str(s), Value::Time(t)) => trawl_model::parse_time_str(s).map(|u| u.cmp(t)),
        (Value::Str(x), Value::Str(y)) => match (x.trim().parse::<f64>(), y.trim().parse::<f64>()) {
            (Ok(p), Ok(q)) => p.partial_cmp(&q),
            _ => Some(x.as_str().cmp(y.as_str())),
        },
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

/// The column schema entry for a result table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;
    use trawl_model::{Level, Record};

    fn record() -> Record {
        let mut r = Record::new(1_700_000_000_000_000_000);
        r.service = "checkout".into();
        r.level = Level::Error;
        r.body = "결제가 실패했습니다 order=7".into();
        r.attributes = vec![
            ("status".into(), AttrValue::Int(504)),
            ("duration_ms".into(), AttrValue::Float(1250.5)),
            ("code".into(), AttrValue::Str("0042".into())),
            ("cached".into(), AttrValue::Bool(false)),
        ];
        r
    }

    fn check(condition: &str, expect: bool) {
        let q = parse(&format!("| where {condition}")).unwrap_or_else(|e| panic!("{condition}: {e}"));
        let crate::ast::Pipe::Where(e) = &q.pipes[0] else { panic!() };
        let r = record();
        assert_eq!(eval(e, &RecordFields(&r)).truthy(), expect, "{condition}");
    }

    #[test]
    fn where_conditions_follow_the_documented_rules() {
        check("status = 504", true);
        check("status >= 500 and status < 600", true);
        check("status in (500, 502, 504)", true);
        check("status not in (500, 502)", true);
        check("code = 42", true);
        check("code = \"0042\"", true);
        check("level = \"error\"", true);
        check("level != \"ERROR\"", false);
        check("service = \"CHECKOUT\"", true);
        check("body contains \"결제\"", true);
        check("body contains \"ORDER=7\"", true);
        check("missing = null", true);
        check("missing != null", false);
        check("missing > 1", false);
        check("not missing > 1", true);
        check("duration_ms / 1000 > 1.2", true);
        check("duration_ms * 2 - 1 = 2500", true);
        check("status % 100 = 4", true);
        check("status / 0 = null", true);
        check("cached = false", true);
        check("cached", false);
        check("time > \"2023-11-14T22:00:00Z\"", true);
        check("time < \"2023-11-14T22:00:00Z\"", false);
        check("time - time = 0", true);
        check("-status < 0", true);
        check("trace_id = null", true);
    }

    #[test]
    fn sort_order_puts_numbers_first_and_nulls_last() {
        let mut v = vec![Value::Null, Value::Str("b".into()), Value::Float(2.5), Value::Int(1), Value::Str("a".into())];
        v.sort_by(|a, b| a.sort_cmp(b));
        assert_eq!(v, vec![Value::Int(1), Value::Float(2.5), Value::Str("a".into()), Value::Str("b".into()), Value::Null]);
        assert_eq!(Value::Float(2.0).key(), Value::Int(2).key());
        assert_eq!(format_float(0.1 + 0.2), "0.3");
        assert_eq!(format_float(3.0), "3");
    }
}

#[cfg(test)]
mod in_set_tests {
    use super::*;

    #[test]
    fn a_set_agrees_with_item_by_item_equality() {
        let items = vec![
            ValueExpr::Text("Error".into()),
            ValueExpr::Text("42".into()),
            ValueExpr::Text("true".into()),
            ValueExpr::Text("2026-01-02T03:04:05Z".into()),
            ValueExpr::Number(7.0),
            ValueExpr::Number(-0.0),
            ValueExpr::Number(1.5),
            ValueExpr::Bool(false),
            ValueExpr::Null,
        ];
        let set = InSet::of(&items).expect("literals");
        let t = trawl_model::parse_time_str("2026-01-02T03:04:05Z").expect("time");
        let probes = [
            Value::Null,
            Value::Bool(true),
            Value::Bool(false),
            Value::Int(42),
            Value::Int(7),
            Value::Int(0),
            Value::Float(1.5),
            Value::Float(0.0),
            Value::Float(f64::NAN),
            Value::Str("ERROR".into()),
            Value::Str("42".into()),
            Value::Str("42.0".into()),
            Value::Str("7".into()),
            Value::Str("7.0".into()),
            Value::Str("TRUE".into()),
            Value::Str("false".into()),
            Value::Str("결제".into()),
            Value::Time(t),
            Value::Time(7),
            Value::Time(8),
        ];
        for v in &probes {
            let linear = items.iter().any(|item| equal(v, &eval_literal(item)));
            assert_eq!(set.contains(v), linear, "{v:?}");
        }
        assert!(InSet::of(&[ValueExpr::Field("x".into())]).is_none());
    }

    fn eval_literal(e: &ValueExpr) -> Value {
        match e {
            ValueExpr::Text(s) => Value::Str(s.clone()),
            ValueExpr::Number(n) => Value::Float(*n),
            ValueExpr::Bool(b) => Value::Bool(*b),
            _ => Value::Null,
        }
    }
}
