//! The evaluation of each kind of rule: from the rule and the time, the samples (one per group,
//! with its figure and whether the condition holds). Rollup kinds (red, baseline, absence, slo)
//! read the per-minute rollups, never the raw data; threshold and pattern rules run a query.

mod absence;
mod baseline;
mod figures;
mod pattern;
mod red;
mod slo;
mod threshold;

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use trawl_rollup::Resolution;
use trawl_storage::Store;

use crate::labels::Labels;
use crate::rollup_cache::RollupCache;
use crate::rule::{Compiled, Rule};
use crate::state::{Band, Sample};

pub use figures::{figure_series, metric_value};
pub use slo::SloStatus;
pub use threshold::search_part;

/// Bounds of one evaluation.
#[derive(Debug, Clone, Copy)]
pub struct EvalLimits {
    pub timeout: Duration,
    pub memory_bytes: usize,
    /// Most groups (alert instances) one rule may produce; more are cut with a warning.
    pub max_groups: usize,
}

impl Default for EvalLimits {
    fn default() -> EvalLimits {
        EvalLimits { timeout: Duration::from_secs(30), memory_bytes: 256 << 20, max_groups: 1_000 }
    }
}

pub struct EvalContext<'a> {
    pub store: &'a Arc<Store>,
    pub rollups: &'a RollupCache,
    /// The evaluation's time (the clock's now).
    pub now_ns: i64,
    pub limits: EvalLimits,
    /// Bands frozen while an alert fires, by the group's labels: a baseline rule keeps the band
    /// it fired against, so a long incident does not become its own normal.
    pub frozen_bands: &'a HashMap<Labels, Band>,
    pub cancel: Option<&'a AtomicBool>,
    pub memo: &'a Memo,
}

/// What evaluations keep between runs.
#[derive(Default)]
pub struct Memo {
    /// SLO budgets over their whole window, recomputed every 10 minutes.
    pub slo_budgets: parking_lot::Mutex<slo::Budgets>,
}

#[derive(Debug, Default)]
pub struct EvalOutput {
    pub samples: Vec<Sample>,
    /// The window evaluated.
    pub start_ns: i64,
    pub end_ns: i64,
    pub warnings: Vec<String>,
    /// SLO rules: each target's error budget.
    pub slo: Vec<SloStatus>,
}

/// Where the window of a rollup rule of ratios and quantiles ends: on 5 s steps (rules evaluated
/// within the same 5 s share one read of the rollups).
const FRESH_STEP_NS: i64 = 5_000_000_000;

impl EvalContext<'_> {
    /// The window of a rule: `lookback` ending `delay` before now. Rollup rules read whole
    /// minutes: counts and per-second rates end on the last whole minute; ratios and quantiles
    /// (error rate, latency) take the current minute as well, so a failure shows up to a minute
    /// sooner (their window then spans up to one minute more than `lookback`).
    pub fn window(&self, rule: &Rule) -> (i64, i64) {
        let end = self.now_ns - rule.spec.delay().ns();
        let end = match &rule.compiled {
            Compiled::Threshold(_) | Compiled::Pattern(_) => end,
            Compiled::Red { metric, .. } if metric.is_proportion() => end - end.rem_euclid(FRESH_STEP_NS),
            Compiled::Baseline(b) if b.metric.is_proportion() => end - end.rem_euclid(FRESH_STEP_NS),
            _ => Resolution::Minute.bucket_start(end),
        };
        (end - rule.spec.lookback().ns(), end)
    }
}

/// Evaluates `rule` at `ctx.now_ns`.
pub fn evaluate(rule: &Rule, ctx: &EvalContext<'_>) -> Result<EvalOutput, String> {
    let (start, end) = ctx.window(rule);
    let mut out = match &rule.compiled {
        Compiled::Threshold(t) => threshold::evaluate(t, rule.spec.query.as_deref().unwrap_or(""), ctx, start, end)?,
        Compiled::Red { target, metric, op, threshold, min_requests } => red::evaluate(target, *metric, *op, *threshold, *min_requests, ctx, start, end)?,
        Compiled::Baseline(b) => baseline::evaluate(b, ctx, start, end)?,
        Compiled::Pattern(p) => pattern::evaluate(p, rule.spec.query.as_deref().unwrap_or("level:(warn OR error OR fatal)"), ctx, start, end)?,
        Compiled::Absence { target, absent_for, history } => absence::evaluate(target, *absent_for, *history, ctx, end)?,
        Compiled::Slo(s) => slo::evaluate(s, ctx, end)?,
    };
    if out.samples.len() > ctx.limits.max_groups {
        out.warnings.push(format!("{} groups: only the first {} are kept as alerts", out.samples.len(), ctx.limits.max_groups));
        // Keep the active ones first.
        out.samples.sort_by_key(|s| !s.active);
        out.samples.truncate(ctx.limits.max_groups);
    }
    out.start_ns = start;
    out.end_ns = end;
    Ok(out)
}
