//! Evaluates an expression against one record, whether it sits in memory or in a segment.

use std::borrow::Cow;
use std::cell::OnceCell;

use trawl_model::text::{self, contains_folded, Phrase};
use trawl_model::{find_attribute, AttrValue, Attributes, FoundAttribute, Level, Record};
use trawl_storage::{AttrSource, RecordColumns, TypedArray};

use crate::ast::{core_field, Compare, Expr, FieldTerm};

/// Read access to one record's fields.
pub trait RowView {
    fn time_ns(&self) -> i64;
    fn service(&self) -> &str;
    fn environment(&self) -> &str;
    fn host(&self) -> &str;
    fn level(&self) -> Level;
    fn trace_id(&self) -> &str;
    fn span_id(&self) -> &str;
    fn body(&self) -> &str;
    fn attributes(&self) -> &Attributes;
    fn resource(&self) -> &Attributes;
    /// Cheap test that may say yes falsely: could any attribute value contain `folded`?
    fn attributes_may_contain(&self, folded: &str) -> bool;
    /// The pattern id given at ingest (per service), 0 when none was stored.
    fn pattern_id(&self) -> u64 {
        0
    }
    /// The attribute `name`, else the resource attribute `name`.
    fn attribute(&self, name: &str) -> Option<Cow<'_, AttrValue>> {
        find_in(self.attributes(), name).or_else(|| find_in(self.resource(), name)).map(Cow::Borrowed)
    }
}

impl RowView for Record {
    fn time_ns(&self) -> i64 {
        self.time_ns
    }
    fn service(&self) -> &str {
        &self.service
    }
    fn environment(&self) -> &str {
        &self.environment
    }
    fn host(&self) -> &str {
        &self.host
    }
    fn level(&self) -> Level {
        self.level
    }
    fn trace_id(&self) -> &str {
        &self.trace_id
    }
    fn span_id(&self) -> &str {
        &self.span_id
    }
    fn body(&self) -> &str {
        &self.body
    }
    fn attributes(&self) -> &Attributes {
        &self.attributes
    }
    fn resource(&self) -> &Attributes {
        &self.resource
    }
    fn attributes_may_contain(&self, _folded: &str) -> bool {
        !self.attributes.is_empty()
    }
    fn pattern_id(&self) -> u64 {
        self.pattern_id
    }
}

/// One row of a segment batch; attributes are parsed from JSON only when a term needs them.
pub struct BatchRow<'a> {
    cols: &'a RecordColumns<'a>,
    i: usize,
    level: OnceCell<Level>,
    attributes: OnceCell<Attributes>,
    resource: OnceCell<Attributes>,
}

impl<'a> BatchRow<'a> {
    pub fn new(cols: &'a RecordColumns<'a>, i: usize) -> BatchRow<'a> {
        BatchRow { cols, i, level: OnceCell::new(), attributes: OnceCell::new(), resource: OnceCell::new() }
    }
}

impl RowView for BatchRow<'_> {
    fn time_ns(&self) -> i64 {
        self.cols.time.value(self.i)
    }
    fn service(&self) -> &str {
        self.cols.service.value(self.i)
    }
    fn environment(&self) -> &str {
        self.cols.environment.value(self.i)
    }
    fn host(&self) -> &str {
        self.cols.host.value(self.i)
    }
    fn level(&self) -> Level {
        *self.level.get_or_init(|| Level::parse(self.cols.level.value(self.i)).unwrap_or(Level::Info))
    }
    fn trace_id(&self) -> &str {
        self.cols.trace_id.value(self.i)
    }
    fn span_id(&self) -> &str {
        self.cols.span_id.value(self.i)
    }
    fn body(&self) -> &str {
        self.cols.body.value(self.i)
    }
    fn attributes(&self) -> &Attributes {
        self.attributes.get_or_init(|| self.cols.attributes_of(AttrSource::Attributes, self.i))
    }
    fn resource(&self) -> &Attributes {
        self.resource.get_or_init(|| self.cols.attributes_of(AttrSource::Resource, self.i))
    }
    fn attributes_may_contain(&self, folded: &str) -> bool {
        // JSON escapes only quotes, backslashes and control characters, so a word made of
        // letters and digits appears verbatim in the stored object when it is in a value.
        // Numbers and booleans are written out only when the word could be part of one (typed
        // floats are finite, and written without exponents).
        let numeric = folded.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'.'));
        let boolean = "true".contains(folded) || "false".contains(folded);
        contains_folded(self.cols.attributes.value(self.i), folded)
            || self.cols.typed.iter().filter(|t| t.source == AttrSource::Attributes).any(|t| match t.array {
                TypedArray::Str(_) => t.array.str_value(self.i).is_some_and(|s| contains_folded(s, folded)),
                TypedArray::Int(_) | TypedArray::Float(_) if numeric => {
                    t.array.value(self.i).is_some_and(|v| contains_folded(&v.to_text(), folded))
                }
                TypedArray::Bool(_) if boolean => t.array.value(self.i).is_some_and(|v| contains_folded(&v.to_text(), folded)),
                _ => false,
            })
    }
    fn pattern_id(&self) -> u64 {
        self.cols.pattern_id(self.i)
    }
    fn attribute(&self, name: &str) -> Option<Cow<'_, AttrValue>> {
        // A key with a typed column in the batch is only there; any other key of a stored
        // object is found without parsing the rest, unless a term already parsed the object.
        let in_attributes = match self.cols.typed(AttrSource::Attributes, name) {
            Some(t) => t.array.value(self.i).map(Cow::Owned),
            None => match fast_attribute(&self.attributes, self.cols.attributes.value(self.i), name) {
                Some(found) => found,
                None => find_in(self.attributes(), name).map(Cow::Borrowed),
            },
        };
        in_attributes.or_else(|| match self.cols.typed(AttrSource::Resource, name) {
            Some(t) => t.array.value(self.i).map(Cow::Owned),
            None => match fast_attribute(&self.resource, self.cols.resource.value(self.i), name) {
                Some(found) => found,
                None => find_in(self.resource(), name).map(Cow::Borrowed),
            },
        })
    }
}

fn find_in<'a>(attrs: &'a Attributes, name: &str) -> Option<&'a AttrValue> {
    attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// `name` in a stored object: from its parse when one was made, else by [`find_attribute`];
/// None when only a whole parse can tell.
fn fast_attribute<'a>(parsed: &'a OnceCell<Attributes>, json: &str, name: &str) -> Option<Option<Cow<'a, AttrValue>>> {
    match parsed.get() {
        Some(attrs) => Some(find_in(attrs, name).map(Cow::Borrowed)),
        None => match find_attribute(json, name) {
            FoundAttribute::Value(v) => Some(Some(Cow::Owned(v))),
            FoundAttribute::Absent => Some(None),
            FoundAttribute::Unsure => None,
        },
    }
}

/// True when the record matches the query (an empty query matches everything).
pub fn record_matches(query: &crate::Query, record: &Record) -> bool {
    query.expr.as_ref().is_none_or(|e| matches(e, record))
}

/// True when the row matches `expr`.
pub fn matches(expr: &Expr, row: &impl RowView) -> bool {
    match expr {
        Expr::And(items) => items.iter().all(|e| matches(e, row)),
        Expr::Or(items) => items.iter().any(|e| matches(e, row)),
        Expr::Not(e) => !matches(e, row),
        Expr::Text(phrase) => text_matches(phrase, row),
        Expr::Field(term) => field_matches(term, row),
    }
}

fn text_matches(phrase: &Phrase, row: &impl RowView) -> bool {
    if phrase.matches(row.body()) {
        return true;
    }
    if let [word] = phrase.words() {
        if row.trace_id() == word || row.span_id() == word {
            return true;
        }
    }
    if !phrase.words().iter().all(|w| row.attributes_may_contain(w)) {
        return false;
    }
    row.attributes().iter().any(|(_, v)| phrase.matches(&v.to_text()))
}

fn lookup<'r>(row: &'r impl RowView, field: &str) -> Option<Cow<'r, str>> {
    match core_field(field) {
        Some("service") => Some(Cow::Borrowed(row.service())),
        Some("level") => Some(Cow::Borrowed(row.level().as_str())),
        Some("trace_id") => Some(Cow::Borrowed(row.trace_id())).filter(|s| !s.is_empty()),
        Some("span_id") => Some(Cow::Borrowed(row.span_id())).filter(|s| !s.is_empty()),
        Some("host") => Some(Cow::Borrowed(row.host())).filter(|s| !s.is_empty()),
        Some("environment") => Some(Cow::Borrowed(row.environment())).filter(|s| !s.is_empty()),
        Some("body") => Some(Cow::Borrowed(row.body())),
        _ => attribute(row, field).map(|v| match v {
            Cow::Borrowed(AttrValue::Str(s)) => Cow::Borrowed(s.as_str()),
            Cow::Owned(AttrValue::Str(s)) => Cow::Owned(s),
            other => Cow::Owned(other.to_text().into_owned()),
        }),
    }
}

fn attribute<'r>(row: &'r impl RowView, field: &str) -> Option<Cow<'r, AttrValue>> {
    row.attribute(field)
}

fn field_matches(term: &FieldTerm, row: &impl RowView) -> bool {
    match term {
        FieldTerm::Exists { field } => match core_field(field) {
            Some(_) => lookup(row, field).is_some(),
            None => attribute(row, field).is_some(),
        },
        FieldTerm::Equals { field, value } => match core_field(field) {
            Some("level") => Level::parse(value) == Some(row.level()),
            // The parser normalised the id (lowercase hex, no dashes).
            Some("trace_id") => row.trace_id() == value,
            Some("span_id") => row.span_id() == value,
            Some("service") | Some("host") | Some("environment") => {
                lookup(row, field).is_some_and(|v| v.eq_ignore_ascii_case(value))
            }
            Some("body") => Phrase::new(value).matches(row.body()),
            _ => match attribute(row, field) {
                None => false,
                Some(v) => {
                    if v.to_text() == value.as_str() {
                        return true;
                    }
                    match (v.as_f64(), value.parse::<f64>()) {
                        (Some(a), Ok(b)) => a == b,
                        _ => false,
                    }
                }
            },
        },
        FieldTerm::Prefix { field, prefix } => {
            lookup(row, field).is_some_and(|v| v.to_lowercase().starts_with(&prefix.to_lowercase()))
        }
        FieldTerm::Range { field, low, high } => range_matches(row, field, low, high),
        FieldTerm::Regex { field, regex } => lookup(row, field).is_some_and(|v| regex.compiled.is_match(&v)),
        FieldTerm::TextPrefix { prefix } => {
            let starts = |text: &str| text::words(text).any(|w| word_starts_with(w, prefix));
            starts(row.body()) || row.attributes().iter().any(|(_, v)| starts(&v.to_text()))
        }
        FieldTerm::Compare { field, op, value } => {
            let Some(x) = (match core_field(field) {
                Some(_) => lookup(row, field).and_then(|v| v.trim().parse::<f64>().ok()),
                None => attribute(row, field).and_then(|v| v.as_f64()),
            }) else {
                return false;
            };
            match op {
                Compare::Lt => x < *value,
                Compare::Le => x <= *value,
                Compare::Gt => x > *value,
                Compare::Ge => x >= *value,
            }
        }
    }
}

/// `field:[low TO high]`: numeric when both bounds are numbers (or `*`), else by text.
fn range_matches(row: &impl RowView, field: &str, low: &str, high: &str) -> bool {
    let Some(v) = lookup(row, field) else { return false };
    let num = |b: &str| if b == "*" { Some(None) } else { b.parse::<f64>().ok().map(Some) };
    if let (Some(lo), Some(hi)) = (num(low), num(high)) {
        let Ok(x) = v.trim().parse::<f64>() else { return false };
        return lo.is_none_or(|l| x >= l) && hi.is_none_or(|h| x <= h);
    }
    (low == "*" || v.as_ref() >= low) && (high == "*" || v.as_ref() <= high)
}

fn word_starts_with(word: &str, folded_prefix: &str) -> bool {
    if word.is_ascii() {
        word.len() >= folded_prefix.len()
            && word.is_char_boundary(folded_prefix.len())
            && word[..folded_prefix.len()].eq_ignore_ascii_case(folded_prefix)
    } else {
        text::fold(word).starts_with(folded_prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    fn record() -> Record {
        let mut r = Record::new(1);
        r.service = "payment-service".into();
        r.level = Level::Error;
        r.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736".into();
        r.body = "결제가 실패했습니다: read_timeout=3s".into();
        r.attributes = vec![
            ("http.status_code".into(), AttrValue::Int(504)),
            ("user.id".into(), AttrValue::Str("user-42".into())),
            ("order_id".into(), AttrValue::Str("ORD-7".into())),
        ];
        r.resource = vec![("service.version".into(), AttrValue::Str("2.1.0".into()))];
        r
    }

    fn check(query: &str, expect: bool) {
        let q = parse(query).unwrap();
        let got = q.expr.as_ref().is_none_or(|e| matches(e, &record()));
        assert_eq!(got, expect, "{query}");
    }

    #[test]
    fn terms_match_like_a_user_expects() {
        check("결제 실패", true);
        check("\"결제 실패\"", false);
        check("\"결제가 실패했습니다\"", true);
        check("\"제가 실패\"", true);
        check("timeout", true);
        check("timeouts", false);
        check("service:payment-service level:error", true);
        check("service:PAYMENT-SERVICE", true);
        check("level:warn", false);
        check("level:err", true);
        check("trace:4BF92F3577B34DA6A3CE929D0E0E4736", true);
        check("4bf92f3577b34da6a3ce929d0e0e4736", true);
        check("http.status_code:504", true);
        check("http.status_code>=500 http.status_code<600", true);
        check("http.status_code>504", false);
        check("user.id:user-42", true);
        check("user-42", true);
        check("ord", true);
        check("ord-8", false);
        check("ord-7", true);
        check("service.version:2.1.0", true);
        check("service:pay*", true);
        check("user.id:*", true);
        check("missing.field:*", false);
        check("-level:error", false);
        check("NOT timeout OR 결제", true);
        check("(service:a OR service:b) timeout", false);
        check("http.status_code:[500 TO 599]", true);
        check("http.status_code:[505 TO *]", false);
        check("http.status_code:[* TO 504]", true);
        check("user.id:[user-1 TO user-5]", true);
        check("user.id:/^user-\\d+$/", true);
        check("service:/pay.*-svc/", false);
        check("time*", true);
        check("결*", true);
        check("read_*", true);
        check("tim*out", false);
    }
}
