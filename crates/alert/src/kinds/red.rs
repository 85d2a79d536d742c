//! RED rules: a service's (or operation's) error rate, request rate, latency or log errors over
//! the window against a fixed threshold, one alert per service (and operation).

use crate::kinds::figures::{classes, group_figures, metric_value};
use crate::kinds::{EvalContext, EvalOutput};
use crate::labels::Labels;
use crate::rule::{CmpOp, Metric, Target};
use crate::state::{Sample, Scope};

#[allow(clippy::too_many_arguments)]
pub fn evaluate(
    target: &Target,
    metric: Metric,
    op: CmpOp,
    threshold: f64,
    min_requests: u64,
    ctx: &EvalContext<'_>,
    start: i64,
    end: i64,
) -> Result<EvalOutput, String> {
    // Whole minutes (the rule's lookback is): the buckets read are exactly the window's.
    let set = ctx.rollups.get(start, end - 1, ctx.now_ns)?;
    let classes = classes(&set);
    let seconds = (end - start) as f64 / 1e9;
    let mut out = EvalOutput::default();
    for ((service, operation), g) in group_figures(&set, target, &classes) {
        let volume = g.volume(metric);
        let Some(value) = metric_value(metric, &g, seconds) else { continue };
        let active = volume >= min_requests && op.holds(value, threshold);
        out.samples.push(sample(service, operation, metric, value, active, Some(threshold), None, volume, &g));
    }
    Ok(out)
}

/// A rollup rule's sample for one group.
#[allow(clippy::too_many_arguments)]
pub fn sample(
    service: String,
    operation: Option<String>,
    metric: Metric,
    value: f64,
    active: bool,
    threshold: Option<f64>,
    band: Option<crate::state::Band>,
    volume: u64,
    g: &crate::kinds::figures::GroupFigures,
) -> Sample {
    let mut labels = Labels::new();
    labels.insert("service".into(), service.clone());
    if let Some(op) = &operation {
        labels.insert("operation".into(), crate::labels::clip_value(op));
    }
    let mut detail = serde_json::Map::new();
    detail.insert("requests".into(), g.requests.requests.into());
    detail.insert("errors".into(), g.requests.errors.into());
    detail.insert("records".into(), g.records.total().into());
    detail.insert("log_errors".into(), g.records.errors().into());
    detail.insert("volume".into(), volume.into());
    Sample {
        labels,
        value,
        active,
        threshold,
        band,
        scope: Scope { service: Some(service), operation, query: None, metric: metric.as_str().to_string(), unit: metric.unit().to_string() },
        detail,
    }
}
