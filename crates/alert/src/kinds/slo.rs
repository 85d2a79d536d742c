//! SLO rules: an availability or latency objective per service (or operation), alerted on by
//! burn rate as the Google SRE workbook recommends: a fast burn (the last hour and the last 5
//! minutes both burning 2 % of the budget in an hour: 14.4 times too fast for a 30-day SLO) and
//! a slow burn (6 hours and 30 minutes burning 5 % of it in 6 hours: 6 times). Each target has one alert
//! per burn window, labelled `burn="fast"` or `burn="slow"`. The remaining error budget over the
//! SLO's window is computed every 10 minutes and shown with the service.

use std::collections::BTreeMap;

use serde::Serialize;
use trawl_rollup::RollupSet;

use crate::kinds::figures::{classes, group_figures, slice, GroupFigures};
use crate::kinds::{EvalContext, EvalOutput};
use crate::labels::Labels;
use crate::rule::{Sli, SloRule};
use crate::state::{Sample, Scope};

const MINUTE: i64 = 60 * 1_000_000_000;

/// (long window, short window, share of the budget it may burn, label): 2 % of the budget in an
/// hour, 5 % in six hours; with a 30-day SLO the burn-rate factors 14.4 and 6.
const WINDOWS: [(i64, i64, f64, &str); 2] = [(60 * MINUTE, 5 * MINUTE, 0.02, "fast"), (360 * MINUTE, 30 * MINUTE, 0.05, "slow")];

/// The burn-rate factor of a window: the budget share it may burn, over the window's share of
/// the SLO's window (an SLO over 1 day pages at a lower rate than one over 30 days).
fn factor(share: f64, long_ns: i64, slo_window_ns: i64) -> f64 {
    share * slo_window_ns as f64 / long_ns as f64
}

/// How often the budget over the whole SLO window is recomputed.
const BUDGET_EVERY_NS: i64 = 10 * MINUTE;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SloStatus {
    pub service: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// Objective as a fraction (0.999).
    pub objective: f64,
    pub sli: &'static str,
    pub window: String,
    /// Good / total over the SLO window; None without requests.
    pub attained: Option<f64>,
    /// Share of the error budget left (1 = untouched, below 0 = overspent).
    pub budget_remaining: Option<f64>,
    pub total: u64,
    pub bad: u64,
    pub burn_rate_1h: Option<f64>,
    pub burn_rate_6h: Option<f64>,
    pub computed_at_ns: i64,
}

/// Bad requests of a group under the SLI.
fn bad(rule: &SloRule, g: &GroupFigures) -> u64 {
    match rule.sli {
        Sli::Availability => g.requests.errors,
        Sli::Latency => g.requests.latency.count_above(rule.latency_threshold.ns() as f64),
    }
}

fn burn(rule: &SloRule, g: Option<&GroupFigures>) -> Option<f64> {
    let g = g?;
    (g.requests.requests > 0).then(|| (bad(rule, g) as f64 / g.requests.requests as f64) / (1.0 - rule.objective))
}

/// (total, bad) per group, and when they were computed, per SLO.
pub type Budgets = BTreeMap<String, (i64, BTreeMap<(String, Option<String>), (u64, u64)>)>;

fn budget_key(rule: &SloRule) -> String {
    format!("{:?}", rule.target) + &format!("{}{:?}{}{}", rule.objective, rule.sli, rule.latency_threshold.ns(), rule.window.ns())
}

pub fn evaluate(rule: &SloRule, ctx: &EvalContext<'_>, end: i64) -> Result<EvalOutput, String> {
    let longest = WINDOWS.iter().map(|w| w.0).max().unwrap_or(0);
    let set = ctx.rollups.get(end - longest, end - 1, ctx.now_ns)?;
    let class = classes(&set);
    let windows: BTreeMap<i64, BTreeMap<(String, Option<String>), GroupFigures>> = WINDOWS
        .iter()
        .flat_map(|w| [w.0, w.1])
        .map(|len| (len, group_figures(&slice(&set, end - len, end), &rule.target, &class)))
        .collect();
    let budgets = budget(rule, ctx, end)?;
    let mut out = EvalOutput::default();
    let long_groups = &windows[&longest];
    for (key, _) in long_groups.iter() {
        let (service, operation) = key;
        let mut labels = Labels::new();
        labels.insert("service".into(), service.clone());
        if let Some(op) = operation {
            labels.insert("operation".into(), crate::labels::clip_value(op));
        }
        for (long, short, share, name) in WINDOWS {
            let factor = factor(share, long, rule.window.ns());
            let burn_long = burn(rule, windows[&long].get(key));
            let burn_short = burn(rule, windows[&short].get(key));
            let active = burn_long.is_some_and(|b| b >= factor) && burn_short.is_some_and(|b| b >= factor);
            let mut l = labels.clone();
            l.insert("burn".into(), name.to_string());
            let mut detail = serde_json::Map::new();
            detail.insert("burn_rate_short".into(), burn_short.into());
            detail.insert("objective".into(), rule.objective.into());
            if let Some((total, bad)) = budgets.get(key) {
                detail.insert("budget_remaining".into(), budget_remaining(rule, *total, *bad).into());
            }
            out.samples.push(Sample {
                labels: l,
                value: burn_long.unwrap_or(0.0),
                active,
                threshold: Some(factor),
                band: None,
                scope: Scope {
                    service: Some(service.clone()),
                    operation: operation.clone(),
                    query: None,
                    metric: format!("burn_rate_{}", if long == 60 * MINUTE { "1h" } else { "6h" }),
                    unit: "x".into(),
                },
                detail,
            });
        }
        let (total, bad) = budgets.get(key).copied().unwrap_or((0, 0));
        out.slo.push(SloStatus {
            service: service.clone(),
            operation: operation.clone(),
            objective: rule.objective,
            sli: match rule.sli {
                Sli::Availability => "availability",
                Sli::Latency => "latency",
            },
            window: rule.window.to_string(),
            attained: (total > 0).then(|| 1.0 - bad as f64 / total as f64),
            budget_remaining: budget_remaining(rule, total, bad),
            total,
            bad,
            burn_rate_1h: burn(rule, windows[&(60 * MINUTE)].get(key)),
            burn_rate_6h: burn(rule, windows[&(360 * MINUTE)].get(key)),
            computed_at_ns: ctx.now_ns,
        });
    }
    Ok(out)
}

fn budget_remaining(rule: &SloRule, total: u64, bad: u64) -> Option<f64> {
    (total > 0).then(|| 1.0 - (bad as f64 / total as f64) / (1.0 - rule.objective))
}

/// (total, bad) per group over the SLO window, recomputed every 10 minutes.
fn budget(rule: &SloRule, ctx: &EvalContext<'_>, end: i64) -> Result<BTreeMap<(String, Option<String>), (u64, u64)>, String> {
    let key = budget_key(rule);
    if let Some((at, b)) = ctx.memo.slo_budgets.lock().get(&key) {
        if ctx.now_ns - at < BUDGET_EVERY_NS && *at <= ctx.now_ns {
            return Ok(b.clone());
        }
    }
    let view = ctx.store.rollups(end - rule.window.ns(), end - 1).map_err(|e| format!("rollups: {e}"))?;
    let set: RollupSet = view.rollups;
    let class = classes(&set);
    let b: BTreeMap<(String, Option<String>), (u64, u64)> =
        group_figures(&set, &rule.target, &class).into_iter().map(|(k, g)| (k, (g.requests.requests, bad(rule, &g)))).collect();
    let mut cache = ctx.memo.slo_budgets.lock();
    if cache.len() > 10_000 {
        cache.clear();
    }
    cache.insert(key, (ctx.now_ns, b.clone()));
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factors_follow_the_slo_window() {
        let day = 24 * 60 * MINUTE;
        assert!((factor(0.02, 60 * MINUTE, 30 * day) - 14.4).abs() < 1e-9);
        assert!((factor(0.05, 360 * MINUTE, 30 * day) - 6.0).abs() < 1e-9);
        assert!((factor(0.02, 60 * MINUTE, day) - 0.48).abs() < 1e-9);
    }
}
