//! Pattern rules over log patterns (ids given at ingest, per service):
//! - `new`: a pattern first seen in the window, in a service that has sent records for at least
//!   `min_history` (on a fresh install every pattern is new, which is not news), with at least
//!   `min_count` lines;
//! - `spike`: a pattern whose count in the window is `factor` times its average count in the
//!   six windows before (a pattern absent before counts as 1).
//! Patterns are per service: one alert per service and pattern.

use std::collections::HashMap;
use std::time::Duration;

use crate::kinds::{EvalContext, EvalOutput};
use crate::labels::{clip_value, Labels};
use crate::rule::{PatternMode, PatternRule};
use crate::state::{Sample, Scope};

/// Windows of the spike mode's baseline.
const SPIKE_WINDOWS: i64 = 6;
/// Longest template kept as a label.
const TEMPLATE_LABEL_BYTES: usize = 200;

pub fn evaluate(rule: &PatternRule, text: &str, ctx: &EvalContext<'_>, start: i64, end: i64) -> Result<EvalOutput, String> {
    let snapshot = ctx.store.snapshot();
    let groups = |s: i64, e: i64| {
        trawl_query::pattern_groups(
            &snapshot,
            &trawl_query::PatternGroupsRequest {
                query: &rule.query,
                start_ns: s,
                end_ns: e - 1,
                max_groups: ctx.limits.max_groups * 10,
                timeout: ctx.limits.timeout.min(Duration::from_secs(60)),
                cancel: ctx.cancel,
            },
        )
        .map_err(|e| e.to_string())
    };
    let now = groups(start, end)?;
    let mut out = EvalOutput { warnings: now.warnings.clone(), ..Default::default() };
    if now.dropped > 0 {
        out.warnings.push(format!("{} lines of further patterns were not counted (group cap)", now.dropped));
    }
    let candidates: Vec<&trawl_query::PatternGroup> = now.groups.iter().filter(|g| g.pattern_id != 0).collect();
    let (first_seen, previous): (HashMap<(String, u64), i64>, HashMap<(String, u64), u64>) = match rule.mode {
        PatternMode::New => {
            let keys: Vec<(String, u64)> = candidates.iter().map(|g| (g.service.clone(), g.pattern_id)).collect();
            (snapshot.patterns.first_seen(&keys).map_err(|e| e.to_string())?, HashMap::new())
        }
        PatternMode::Spike => {
            let length = end - start;
            let before = groups(start - SPIKE_WINDOWS * length, start)?;
            (HashMap::new(), before.groups.iter().map(|g| ((g.service.clone(), g.pattern_id), g.count)).collect())
        }
    };
    // Services old enough for "new" to mean something: they sent records before min_history.
    let old_services: Option<std::collections::HashSet<String>> = match rule.mode {
        PatternMode::New => {
            let at = start - rule.min_history.ns();
            // Any record in the hour before that point (a quiet service logs in bursts).
            let set = ctx.rollups.get(at - 3_600 * 1_000_000_000, at, ctx.now_ns)?;
            Some(set.levels.iter().filter(|(_, c)| c.total() > 0).map(|(k, _)| k.service.clone()).collect())
        }
        PatternMode::Spike => None,
    };
    let search = crate::kinds::search_part(text).to_string();
    for g in candidates {
        let key = (g.service.clone(), g.pattern_id);
        let (value, active, threshold) = match rule.mode {
            PatternMode::New => {
                let first = first_seen.get(&key).copied().unwrap_or(0);
                let old_enough = old_services.as_ref().is_some_and(|s| s.contains(&g.service));
                let is_new = first > 0 && first >= start;
                (g.count as f64, is_new && old_enough && g.count >= rule.min_count, Some(rule.min_count as f64))
            }
            PatternMode::Spike => {
                let before = previous.get(&key).copied().unwrap_or(0) as f64 / SPIKE_WINDOWS as f64;
                let ratio = g.count as f64 / before.max(1.0);
                (ratio, g.count >= rule.min_count && ratio >= rule.factor, Some(rule.factor))
            }
        };
        // Only patterns that matter become instances: active ones, and the ones the rule
        // watches closely enough to resolve (the firing ones come back as inactive samples).
        if !active && g.count < rule.min_count {
            continue;
        }
        let mut labels = Labels::new();
        labels.insert("service".into(), g.service.clone());
        labels.insert("pattern".into(), clip_value(&crate::template::clip(crate::mask::mask_sensitive(&g.template), TEMPLATE_LABEL_BYTES)));
        let mut detail = serde_json::Map::new();
        detail.insert("count".into(), g.count.into());
        detail.insert("pattern_id".into(), g.pattern_id.into());
        if let Some(first) = first_seen.get(&key) {
            detail.insert("first_seen".into(), trawl_model::format_rfc3339(*first).into());
        }
        detail.insert("example".into(), g.samples.first().map(|s| crate::mask::mask_sensitive(&s.body)).unwrap_or_default().into());
        out.samples.push(Sample {
            labels,
            value,
            active,
            threshold,
            band: None,
            scope: Scope {
                service: Some(g.service.clone()),
                operation: None,
                query: Some(search.clone()),
                metric: match rule.mode {
                    PatternMode::New => "count".into(),
                    PatternMode::Spike => "rate_change".into(),
                },
                unit: match rule.mode {
                    PatternMode::New => "count".into(),
                    PatternMode::Spike => "x".into(),
                },
            },
            detail,
        });
    }
    Ok(out)
}
