//! Field discovery for autocomplete: which fields the newest records of a range carry, with
//! their types and counts, and the top values of one field. Answers come from a sample (the
//! newest records), so they are fast while a user types; counts are of the sample.

use std::collections::HashMap;

use serde::Serialize;
use trawl_model::{AttrValue, Record};
use trawl_storage::Snapshot;

use crate::{search, Query, QueryError, SearchRequest};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FieldInfo {
    pub name: String,
    /// `string`, `int`, `float`, `bool`, or `mixed`.
    pub kind: &'static str,
    /// Records of the sample that carry the field.
    pub count: usize,
}

#[derive(Debug, Serialize)]
pub struct FieldsReport {
    pub sampled: usize,
    pub fields: Vec<FieldInfo>,
}

const CORE: [&str; 7] = ["service", "level", "host", "environment", "trace_id", "span_id", "body"];

fn kind(v: &AttrValue) -> &'static str {
    match v {
        AttrValue::Str(_) => "string",
        AttrValue::Int(_) => "int",
        AttrValue::Float(_) => "float",
        AttrValue::Bool(_) => "bool",
    }
}

fn sample(snapshot: &Snapshot, start: i64, end: i64, n: usize) -> Result<Vec<Record>, QueryError> {
    let everything = Query::default();
    Ok(search(snapshot, &SearchRequest { query: &everything, start_ns: start, end_ns: end, limit: n, timeout: None })?.records)
}

fn core_value(r: &Record, name: &str) -> Option<String> {
    let v = match name {
        "service" => r.service.clone(),
        "level" => r.level.as_str().to_string(),
        "host" => r.host.clone(),
        "environment" => r.environment.clone(),
        "trace_id" => r.trace_id.clone(),
        "span_id" => r.span_id.clone(),
        "body" => r.body.clone(),
        _ => return None,
    };
    (!v.is_empty()).then_some(v)
}

/// Fields of the newest `sample_size` records in `[start, end]`, most common first.
pub fn discover_fields(snapshot: &Snapshot, start: i64, end: i64, sample_size: usize) -> Result<FieldsReport, QueryError> {
    let records = sample(snapshot, start, end, sample_size)?;
    let mut seen: HashMap<String, (&'static str, usize)> = HashMap::new();
    for r in &records {
        for name in CORE {
            if core_value(r, name).is_some() {
                seen.entry(name.to_string()).or_insert(("string", 0)).1 += 1;
            }
        }
        for (k, v) in r.attributes.iter().chain(&r.resource) {
            let entry = seen.entry(k.clone()).or_insert((kind(v), 0));
            if entry.0 != kind(v) {
                entry.0 = "mixed";
            }
            entry.1 += 1;
        }
    }
    let mut fields: Vec<FieldInfo> = seen.into_iter().map(|(name, (kind, count))| FieldInfo { name, kind, count }).collect();
    fields.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
    Ok(FieldsReport { sampled: records.len(), fields })
}

/// The most frequent values of `field` (a core column or an attribute) starting with `prefix`
/// (case-insensitive), among the newest `sample_size` records.
pub fn field_values(
    snapshot: &Snapshot,
    field: &str,
    prefix: &str,
    start: i64,
    end: i64,
    sample_size: usize,
    top: usize,
) -> Result<(usize, Vec<(String, usize)>), QueryError> {
    let records = sample(snapshot, start, end, sample_size)?;
    let prefix = prefix.to_lowercase();
    let mut counts: HashMap<String, usize> = HashMap::new();
    for r in &records {
        let value = core_value(r, field).or_else(|| {
            r.attributes.iter().chain(&r.resource).find(|(k, _)| k == field).map(|(_, v)| v.to_text().into_owned())
        });
        if let Some(v) = value {
            if v.to_lowercase().starts_with(&prefix) {
                // Long values (bodies) are cut so one field cannot blow up the answer.
                let v: String = v.chars().take(200).collect();
                *counts.entry(v).or_default() += 1;
            }
        }
    }
    let mut values: Vec<(String, usize)> = counts.into_iter().collect();
    values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    values.truncate(top);
    Ok((records.len(), values))
}
