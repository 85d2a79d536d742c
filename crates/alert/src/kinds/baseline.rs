//! Baseline rules: a figure against its own normal band. The band comes from the same window
//! at the same hour of the week over the last `weeks` weeks when the rollups reach back that
//! far with enough volume (daily and weekly rhythms then cancel out), else from the windows of
//! the same length in the hours just before (see `band.rs` for the method). A firing alert
//! keeps the band it fired against until it resolves.

use std::collections::HashMap;

use crate::band::{self, Point, MIN_POINTS};
use crate::kinds::figures::{classes, covered_seconds, group_figures, metric_value, slice, GroupFigures};
use crate::kinds::red::sample;
use crate::kinds::{EvalContext, EvalOutput};
use crate::rule::{BaselineRule, Direction, Metric};

const WEEK_NS: i64 = 7 * 86_400 * 1_000_000_000;
const HOUR_NS: i64 = 3_600 * 1_000_000_000;
/// Past windows of the fallback, at most.
const MAX_RECENT_WINDOWS: i64 = 60;

type Key = (String, Option<String>);

fn is_count(metric: Metric) -> bool {
    matches!(metric, Metric::Errors | Metric::Requests | Metric::LogErrors)
}

/// A past window's point: its figure scaled to the window's length (an hour row stands for
/// every window inside it).
fn point(metric: Metric, g: &GroupFigures, covered: f64, window: f64) -> Option<Point> {
    let scale = window / covered.max(window);
    let value = metric_value(metric, g, covered)?;
    let value = if is_count(metric) { value * scale } else { value };
    Some(Point { value, volume: g.volume(metric) as f64 * scale })
}

pub fn evaluate(rule: &BaselineRule, ctx: &EvalContext<'_>, start: i64, end: i64) -> Result<EvalOutput, String> {
    let length = end - start;
    let window_s = length as f64 / 1e9;
    let now_set = ctx.rollups.get(start, end - 1, ctx.now_ns)?;
    let now_classes = classes(&now_set);
    let current = group_figures(&now_set, &rule.target, &now_classes);
    let mut out = EvalOutput::default();
    if current.is_empty() {
        return Ok(out);
    }
    let mut history: HashMap<Key, Vec<Point>> = HashMap::new();
    let enough = |p: &Point| p.volume >= rule.min_requests.max(1) as f64;

    // The same window 1..=weeks weeks ago.
    for k in 1..=i64::from(rule.weeks) {
        let (s, e) = (start - k * WEEK_NS, end - k * WEEK_NS);
        let set = ctx.rollups.get(s, e - 1, ctx.now_ns)?;
        if set.is_empty() {
            continue;
        }
        let covered = covered_seconds(&set, s, e);
        let mut set_classes = classes(&set);
        set_classes.extend(now_classes.iter().map(|(k, v)| (k.clone(), *v)));
        for (key, g) in group_figures(&set, &rule.target, &set_classes) {
            if let Some(p) = point(rule.metric, &g, covered, window_s).filter(enough) {
                history.entry(key).or_default().push(p);
            }
        }
    }
    // Too few weeks: the windows just before, over the last hour or more.
    let thin: Vec<&Key> = current.keys().filter(|k| history.get(*k).is_none_or(|p| p.len() < MIN_POINTS)).collect();
    if !thin.is_empty() {
        let n = (HOUR_NS.max(12 * length) / length).clamp(1, MAX_RECENT_WINDOWS);
        let from = start - n * length;
        let set = ctx.rollups.get(from, start - 1, ctx.now_ns)?;
        let mut recent: HashMap<Key, Vec<Point>> = HashMap::new();
        for j in 1..=n {
            let (s, e) = (start - j * length, start - (j - 1) * length);
            let part = slice(&set, s, e);
            if part.is_empty() {
                continue;
            }
            for (key, g) in group_figures(&part, &rule.target, &now_classes) {
                if let Some(p) = point(rule.metric, &g, window_s, window_s).filter(enough) {
                    recent.entry(key).or_default().push(p);
                }
            }
        }
        for key in thin {
            if let Some(points) = recent.remove(key) {
                history.insert(key.clone(), points);
            }
        }
    }

    for ((service, operation), g) in current {
        let volume = g.volume(rule.metric);
        let Some(value) = metric_value(rule.metric, &g, window_s) else { continue };
        let points = history.get(&(service.clone(), operation.clone())).map(Vec::as_slice).unwrap_or(&[]);
        let mut labels = crate::labels::Labels::new();
        labels.insert("service".into(), service.clone());
        if let Some(op) = &operation {
            labels.insert("operation".into(), crate::labels::clip_value(op));
        }
        let band = ctx.frozen_bands.get(&labels).copied().or_else(|| band::band(rule.metric, points, volume as f64, rule.sigmas, rule.min_change));
        let expected_volume = {
            let mut v: Vec<f64> = points.iter().map(|p| p.volume).collect();
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied().unwrap_or(0.0)
        };
        let active = match band {
            None => false,
            Some(b) => match rule.direction {
                Direction::Up => volume >= rule.min_requests && value > b.high,
                Direction::Down => expected_volume >= rule.min_requests as f64 && value < b.low,
                Direction::Both => (volume >= rule.min_requests && value > b.high) || (expected_volume >= rule.min_requests as f64 && value < b.low),
            },
        };
        let mut s = sample(service, operation, rule.metric, value, active, None, band, volume, &g);
        s.detail.insert("baseline_windows".into(), points.len().into());
        s.detail.insert("seasonal".into(), (points.len() >= MIN_POINTS && history_is_seasonal(rule, points)).into());
        out.samples.push(s);
    }
    Ok(out)
}

/// The weeks give at most `weeks` points; more came from the recent windows.
fn history_is_seasonal(rule: &BaselineRule, points: &[Point]) -> bool {
    points.len() <= rule.weeks as usize
}
