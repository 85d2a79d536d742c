//! Absence rules: a service that sent records or spans within `history` but nothing in the last
//! `absent_for` (a named service also when it never sent anything). The value is the minutes
//! since it was last heard from.

use std::collections::BTreeMap;


use crate::duration::Dur;
use crate::kinds::{EvalContext, EvalOutput};
use crate::labels::Labels;
use crate::rule::Target;
use crate::state::{Sample, Scope};

pub fn evaluate(target: &Target, absent_for: Dur, history: Dur, ctx: &EvalContext<'_>, end: i64) -> Result<EvalOutput, String> {
    let start = end - history.ns();
    let set = ctx.rollups.get(start, end - 1, ctx.now_ns)?;
    // Last minute each service was heard from (end of its newest bucket).
    let mut last: BTreeMap<&str, i64> = BTreeMap::new();
    let buckets = set
        .red
        .iter()
        .filter(|(_, v)| v.requests > 0)
        .map(|(k, _)| (k.service.as_str(), k.bucket_start_ns + k.resolution.width_ns()))
        .chain(set.levels.iter().filter(|(_, v)| v.total() > 0).map(|(k, _)| (k.service.as_str(), k.bucket_start_ns + k.resolution.width_ns())));
    for (service, seen) in buckets {
        if target.service.matches(service) {
            let at = last.entry(service).or_insert(seen);
            *at = (*at).max(seen);
        }
    }
    let mut out = EvalOutput::default();
    let mut push = |service: &str, last_seen: Option<i64>| {
        let silent_ns = end - last_seen.unwrap_or(start);
        let mut labels = Labels::new();
        labels.insert("service".into(), service.to_string());
        let mut detail = serde_json::Map::new();
        detail.insert("last_seen".into(), last_seen.map(trawl_model::format_rfc3339).into());
        out.samples.push(Sample {
            labels,
            value: silent_ns as f64 / 60e9,
            active: silent_ns >= absent_for.ns(),
            threshold: Some(absent_for.ns() as f64 / 60e9),
            band: None,
            scope: Scope { service: Some(service.to_string()), operation: None, query: None, metric: "minutes_silent".into(), unit: "minutes".into() },
            detail,
        });
    };
    for (service, seen) in &last {
        push(service, Some(*seen));
    }
    if let Some(name) = target.service.exact() {
        if !last.contains_key(name) {
            push(name, None);
        }
    }
    Ok(out)
}
