//! The evaluator: a scheduler thread that starts each enabled rule on its interval (aligned to
//! the clock, with a per-rule offset so rules do not all start on the same second), and a pool
//! of worker threads that evaluate them. The pool is alerting's own lane: interactive queries
//! run on other threads behind their own gate, so neither can starve the other. A rule still
//! running when it is next due is skipped and counted, never queued twice.

use std::collections::HashMap;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use trawl_storage::AlertWrite;

use crate::engine::{event_row, instance_row, point_samples, push_history, Alerting, EvalPoint};
use crate::evidence::{self, EvidenceRequest};
use crate::kinds::{self, EvalContext, EvalOutput};
use crate::labels::{Labels, RULE_LABEL};
use crate::rule::{Compiled, Rule};
use crate::state::{AlertState, Band, Change, EvidenceStatus, Instance, Timing};

/// Stack of an evaluation thread (rule queries are parsed, planned and run on it).
const EVAL_STACK_BYTES: usize = 16 << 20;
/// How often the scheduler looks for due rules and dispatches (real time).
const TICK: Duration = Duration::from_millis(200);
/// How often old history is pruned (clock time).
const PRUNE_EVERY_NS: i64 = 10 * 60 * 1_000_000_000;

/// The offset of a rule inside its interval: a stable spread of up to a quarter of the
/// interval (at most 15 s).
fn offset_ns(name: &str, interval_ns: i64) -> i64 {
    let spread = (interval_ns / 4).min(15_000_000_000).max(1);
    (xxhash_rust::xxh3::xxh3_64(name.as_bytes()) % spread as u64) as i64
}

/// The first due time after `after`.
pub fn next_due(name: &str, interval_ns: i64, after: i64) -> i64 {
    let interval = interval_ns.max(1);
    let offset = offset_ns(name, interval);
    ((after - offset).div_euclid(interval) + 1) * interval + offset
}

impl Alerting {
    /// Starts the scheduler, the evaluation workers and the outbox.
    pub fn start(self: &Arc<Self>) -> Result<(), String> {
        let workers = self.config.workers.max(1);
        let (tx, rx) = mpsc::sync_channel::<(String, i64)>(workers * 64);
        let rx = Arc::new(Mutex::new(rx));
        let mut threads = self.threads.lock();
        for n in 0..workers {
            let (me, rx) = (self.clone(), rx.clone());
            threads.push(
                std::thread::Builder::new()
                    .name(format!("trawl-alert-eval-{n}"))
                    // Rule queries are parsed and run here: the same stack as the query threads.
                    .stack_size(EVAL_STACK_BYTES)
                    .spawn(move || worker(me, rx))
                    .map_err(|e| format!("cannot start an alert worker: {e}"))?,
            );
        }
        let me = self.clone();
        threads.push(
            std::thread::Builder::new()
                .name("trawl-alert-scheduler".into())
                .spawn(move || scheduler(me, tx))
                .map_err(|e| format!("cannot start the alert scheduler: {e}"))?,
        );
        drop(threads);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("trawl-alert-notify")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the notification runtime: {e}"))?;
        runtime.spawn(crate::outbox::run(self.clone()));
        *self.notify_runtime.lock() = Some(runtime);
        Ok(())
    }

    /// Evaluates one rule now and applies the result.
    pub fn evaluate_rule(&self, name: &str) {
        self.evaluate_rule_at(name, self.now_ns());
    }

    /// Evaluates one rule as of `at` (its due time: a rule with `for` equal to its interval
    /// fires on its second evaluation whatever the jitter of the threads) and applies the
    /// result, evidence and notifications included.
    fn evaluate_rule_at(&self, name: &str, at: i64) {
        let Some(rule) = self.state.lock().rules.get(name).map(|(r, _)| r.clone()) else { return };
        let frozen = self.frozen_bands(&rule);
        let started = Instant::now();
        let ctx = EvalContext {
            store: &self.store,
            rollups: &self.rollups,
            now_ns: at,
            limits: self.config.limits,
            frozen_bands: &frozen,
            cancel: None,
            memo: &self.memo,
        };
        let result = kinds::evaluate(&rule, &ctx);
        let seconds = started.elapsed().as_secs_f64();
        self.metrics.evaluation(rule.spec.kind.as_str(), seconds, result.is_ok());
        self.apply(&rule, result, at, seconds);
    }

    /// Bands of this rule's firing alerts, by their group labels.
    fn frozen_bands(&self, rule: &Rule) -> HashMap<Labels, Band> {
        if !matches!(rule.compiled, Compiled::Baseline(_)) {
            return HashMap::new();
        }
        let state = self.state.lock();
        state
            .instances
            .values()
            .filter(|i| i.rule == rule.spec.name && i.state == AlertState::Firing)
            .filter_map(|i| i.band.map(|b| (group_labels(rule, &i.labels), b)))
            .collect()
    }

    fn apply(&self, rule: &Arc<Rule>, result: Result<EvalOutput, String>, at: i64, seconds: f64) {
        let name = rule.spec.name.clone();
        let timing = Timing { pending_for_ns: rule.spec.pending_for().ns(), keep_firing_for_ns: rule.spec.keep_firing_for().ns() };
        let mut write = AlertWrite::default();
        let mut fired: Vec<(String, u64, i64, i64)> = Vec::new();
        {
            let mut state = self.state.lock();
            let current = state.rules.get(&name).map(|(r, _)| r.clone());
            let health = state.health.entry(name.clone()).or_default();
            health.evaluations += 1;
            health.last_eval_ns = Some(at);
            health.last_duration_ms = Some(seconds * 1e3);
            let output = match result {
                Err(e) => {
                    health.failures += 1;
                    health.last_error = Some(e.clone());
                    push_history(&mut state, &name, EvalPoint { at_ns: at, duration_ms: seconds * 1e3, error: Some(e), groups: 0, samples: Vec::new() });
                    return;
                }
                Ok(o) => o,
            };
            health.last_error = None;
            health.last_warnings = output.warnings.clone();
            if seconds > rule.spec.interval().ns() as f64 / 1e9 / self.clock.speed() {
                health.last_warnings.push(format!("slow: the evaluation took {seconds:.1}s, longer than the interval"));
            }
            push_history(
                &mut state,
                &name,
                EvalPoint { at_ns: at, duration_ms: seconds * 1e3, error: None, groups: output.samples.len(), samples: point_samples(&output.samples) },
            );
            // A rule replaced or removed while it ran: its result is stale.
            if !current.is_some_and(|c| Arc::ptr_eq(&c, rule)) {
                return;
            }
            if !output.slo.is_empty() {
                state.slo.insert(name.clone(), output.slo.clone());
            }
            let mut rule_labels: Labels = rule.spec.labels.clone();
            rule_labels.insert(RULE_LABEL.into(), name.clone());
            let mut samples: HashMap<String, (Labels, crate::state::Sample)> = HashMap::new();
            for s in output.samples {
                let mut labels = s.labels.clone();
                labels.extend(rule_labels.iter().map(|(k, v)| (k.clone(), v.clone())));
                samples.insert(crate::labels::fingerprint(&labels), (labels, s));
            }
            let render = |labels: &Labels, s: &crate::state::Sample| -> std::collections::BTreeMap<String, String> {
                let context = serde_json::json!({
                    "labels": labels,
                    "value": s.value,
                    "threshold": s.threshold,
                    "band": s.band,
                    "result": s.detail,
                    "rule": name,
                    "metric": s.scope.metric,
                    "service": s.scope.service,
                    "operation": s.scope.operation,
                });
                let mut out: std::collections::BTreeMap<String, String> =
                    rule.spec.annotations.iter().map(|(k, t)| (k.clone(), crate::template::render(t, &context))).collect();
                out.entry("summary".into()).or_insert_with(|| default_summary(&name, labels, s));
                out
            };
            let mut dropped = Vec::new();
            let fps: Vec<String> = state.instances.iter().filter(|(_, i)| i.rule == name).map(|(fp, _)| fp.clone()).collect();
            for fp in fps {
                let sample = samples.remove(&fp);
                let Some(i) = state.instances.get_mut(&fp) else { continue };
                let annotations = sample.as_ref().filter(|(_, s)| s.active).map(|(l, s)| render(l, s));
                let change = i.observe(sample.as_ref().map(|(_, s)| s), annotations, at, timing);
                if sample.is_some() {
                    i.scope = sample.as_ref().map(|(_, s)| s.scope.clone()).unwrap_or_default();
                }
                match change {
                    Change::Unchanged => {}
                    Change::Dropped => dropped.push(fp.clone()),
                    c => {
                        if c == Change::Firing {
                            fired.push((fp.clone(), i.episode, output.start_ns, output.end_ns));
                        }
                        write.events.push(event_row(i, at));
                        if let Ok(row) = instance_row(i) {
                            write.instances.push(row);
                        }
                    }
                }
            }
            for fp in dropped {
                state.instances.remove(&fp);
                write.deleted_instances.push(fp);
            }
            // At most `max_groups` alerts per rule: a rule grouping by an unbounded field
            // cannot grow without bound.
            let mut held = state.instances.values().filter(|i| i.rule == name).count();
            let mut refused = 0usize;
            for (fp, (labels, s)) in samples {
                if !s.active {
                    continue;
                }
                if held >= self.config.limits.max_groups {
                    refused += 1;
                    continue;
                }
                held += 1;
                let annotations = render(&labels, &s);
                let (i, change) = Instance::start(&name, labels, &s, annotations, at, timing);
                if change == Change::Firing {
                    fired.push((fp.clone(), i.episode, output.start_ns, output.end_ns));
                }
                write.events.push(event_row(&i, at));
                if let Ok(row) = instance_row(&i) {
                    write.instances.push(row);
                }
                state.instances.insert(fp, i);
            }
            if refused > 0 {
                let health = state.health.entry(name.clone()).or_default();
                health.last_warnings.push(format!("{refused} more groups hold: the rule has reached its {} alerts", self.config.limits.max_groups));
            }
            // Stored before the lock is let go (state, then tables: the order of every path),
            // so the dispatcher never acts on a change that is not stored, and rows land in order.
            if let Err(e) = self.store.with_alert_tables(|t| t.apply(&write)) {
                tracing::error!(rule = %name, error = %e, "cannot store alert states");
            }
        }
        if !fired.is_empty() {
            self.gather_evidence(rule, fired);
        }
        self.dispatch();
    }

    /// Computes and stores the evidence of alerts that just fired.
    fn gather_evidence(&self, rule: &Arc<Rule>, fired: Vec<(String, u64, i64, i64)>) {
        let max = self.config.max_evidence_per_evaluation;
        for (n, (fp, episode, start, end)) in fired.into_iter().enumerate() {
            let Some(instance) = self.state.lock().instances.get(&fp).cloned() else { continue };
            let (evidence, status) = if n < max {
                let series = self.series(rule, &instance, end);
                let request = EvidenceRequest { instance: &instance, window_start_ns: start, window_end_ns: end, public_url: &self.config.public_url, series: Some(series) };
                (Some(evidence::compute(&self.store, &request, self.now_ns())), EvidenceStatus::Ready)
            } else {
                (None, EvidenceStatus::Failed)
            };
            let mut state = self.state.lock();
            let Some(i) = state.instances.get_mut(&fp) else { continue };
            if i.episode != episode || i.state != AlertState::Firing {
                continue;
            }
            i.evidence = evidence;
            i.evidence_status = status;
            if let Ok(row) = instance_row(i) {
                if let Err(e) = self.store.with_alert_tables(|t| t.apply(&AlertWrite { instances: vec![row], ..Default::default() })) {
                    tracing::error!(error = %e, "cannot store evidence");
                }
            }
        }
    }

    /// The figure of an alert before and through its window: from the rollups for rollup
    /// rules, else from the rule's past evaluations.
    fn series(&self, rule: &Rule, i: &Instance, end: i64) -> (Vec<Option<f64>>, i64) {
        const POINTS: i64 = 30;
        let step = rule.spec.interval().ns().max(60_000_000_000);
        let (target, metric) = match &rule.compiled {
            Compiled::Red { target, metric, .. } => (Some(target), Some(*metric)),
            Compiled::Baseline(b) => (Some(&b.target), Some(b.metric)),
            _ => (None, None),
        };
        if let (Some(target), Some(metric), Some(service)) = (target, metric, i.scope.service.as_deref()) {
            let start = end - POINTS * step;
            if let Ok(view) = self.store.rollups(start, end - 1) {
                let series = kinds::figure_series(&view.rollups, target, service, i.scope.operation.as_deref(), metric, start, end, step);
                return (series, step);
            }
        }
        let state = self.state.lock();
        let group = group_labels(rule, &i.labels);
        let series: Vec<Option<f64>> = state
            .history
            .get(&rule.spec.name)
            .map(|h| {
                let skip = h.len().saturating_sub(POINTS as usize);
                h.iter().skip(skip).map(|p| p.samples.iter().find(|s| s.labels == group).map(|s| s.value)).collect()
            })
            .unwrap_or_default();
        (series, rule.spec.interval().ns())
    }

    /// Drops old history: events and finished notifications past their age, and resolved
    /// alerts past their retention.
    fn prune(&self, now: i64) {
        let history_before = trawl_model::now_ns() - self.config.history.ns();
        // Channels' thread ids go with the history.
        let transient = [crate::engine::THREAD];
        if let Err(e) = self.store.with_alert_tables(|t| t.prune(history_before, &transient)) {
            tracing::warn!(error = %e, "cannot prune alert history");
        }
        let retention = self.config.resolved_retention.ns();
        let mut write = AlertWrite::default();
        let expired = {
            let mut state = self.state.lock();
            let old: Vec<String> = state
                .instances
                .iter()
                .filter(|(_, i)| i.state == AlertState::Resolved && i.resolved_at_ns.is_some_and(|t| now - t > retention))
                .map(|(fp, _)| fp.clone())
                .collect();
            for fp in old {
                state.instances.remove(&fp);
                write.deleted_instances.push(fp);
            }
            let expired: Vec<String> = state.silences.values().filter(|s| now - s.ends_at_ns > retention).map(|s| s.id.clone()).collect();
            for id in &expired {
                state.silences.remove(id);
            }
            expired
        };
        if let Err(e) = self.store.with_alert_tables(|t| {
            t.apply(&write)?;
            for id in &expired {
                t.delete_object(crate::engine::SILENCE, id)?;
            }
            Ok(())
        }) {
            tracing::warn!(error = %e, "cannot prune resolved alerts and expired silences");
        }
        self.rollups.age(now);
    }
}

/// The labels of an instance that came from its group (not from the rule).
fn group_labels(rule: &Rule, labels: &Labels) -> Labels {
    labels.iter().filter(|(k, _)| k.as_str() != RULE_LABEL && !rule.spec.labels.contains_key(*k)).map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn default_summary(rule: &str, labels: &Labels, s: &crate::state::Sample) -> String {
    let value = crate::format::figure(s.value, &s.scope.unit);
    let what = if s.scope.metric.is_empty() { "value".to_string() } else { s.scope.metric.replace('_', " ") };
    let scope = match (&s.scope.service, &s.scope.operation) {
        (Some(svc), Some(op)) => format!(" on {svc} · {op}"),
        (Some(svc), None) => format!(" on {svc}"),
        _ => {
            let rest: Vec<String> = labels.iter().filter(|(k, _)| k.as_str() != RULE_LABEL).map(|(k, v)| format!("{k}={v}")).collect();
            if rest.is_empty() {
                String::new()
            } else {
                format!(" ({})", rest.join(", "))
            }
        }
    };
    let against = match (s.band, s.threshold) {
        (Some(b), _) => format!(", normal {}–{}", crate::format::figure(b.low, &s.scope.unit), crate::format::figure(b.high, &s.scope.unit)),
        (None, Some(t)) => format!(", threshold {}", crate::format::figure(t, &s.scope.unit)),
        _ => String::new(),
    };
    format!("{rule}: {what} {value}{scope}{against}")
}

fn scheduler(alerting: Arc<Alerting>, jobs: SyncSender<(String, i64)>) {
    let mut last_prune: Option<i64> = None;
    while !alerting.is_shutting_down() {
        // A bug in one round must not stop alerting for good: it is logged, and the next round runs.
        let round = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| schedule_round(&alerting, &jobs, &mut last_prune)));
        if round.is_err() {
            tracing::error!("an alert scheduling round failed (a bug); continuing");
        }
        std::thread::sleep(TICK);
    }
}

/// One round of the scheduler: start the due rules, dispatch, prune now and then.
fn schedule_round(alerting: &Arc<Alerting>, jobs: &SyncSender<(String, i64)>, last_prune: &mut Option<i64>) {
    {
        let now = alerting.now_ns();
        let mut due = Vec::new();
        {
            let mut state = alerting.state.lock();
            let names: Vec<String> = state.rules.keys().cloned().collect();
            for name in names {
                let Some((rule, next)) = state.rules.get(&name).cloned() else { continue };
                if !rule.spec.enabled {
                    continue;
                }
                let interval = rule.spec.interval().ns();
                if next == 0 {
                    let first = next_due(&name, interval, now - interval);
                    state.rules.insert(name.clone(), (rule, first));
                    continue;
                }
                if next > now {
                    continue;
                }
                let following = next_due(&name, interval, now);
                state.rules.insert(name.clone(), (rule, following));
                state.health.entry(name.clone()).or_default().next_eval_ns = Some(following);
                if state.running.contains(&name) {
                    state.health.entry(name.clone()).or_default().skipped += 1;
                    alerting.metrics.skipped();
                    continue;
                }
                state.running.insert(name.clone());
                due.push((name, next));
            }
        }
        for job in due {
            match jobs.try_send(job) {
                Ok(()) => {}
                Err(TrySendError::Full((name, _))) | Err(TrySendError::Disconnected((name, _))) => {
                    let mut state = alerting.state.lock();
                    state.running.remove(&name);
                    state.health.entry(name).or_default().skipped += 1;
                    alerting.metrics.skipped();
                }
            }
        }
        alerting.dispatch();
        if last_prune.is_none_or(|t| now.saturating_sub(t) >= PRUNE_EVERY_NS) {
            *last_prune = Some(now);
            alerting.prune(now);
        }
    }
}

fn worker(alerting: Arc<Alerting>, jobs: Arc<Mutex<Receiver<(String, i64)>>>) {
    while !alerting.is_shutting_down() {
        let job = jobs.lock().recv_timeout(Duration::from_millis(500));
        match job {
            Ok((name, due)) => {
                // A due time far in the past (the queue was long) is evaluated now.
                let at = if alerting.now_ns() - due > 60_000_000_000 { alerting.now_ns() } else { due };
                let evaluated = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| alerting.evaluate_rule_at(&name, at)));
                let mut state = alerting.state.lock();
                // Only now, evidence and dispatch done, may the rule run again.
                state.running.remove(&name);
                if evaluated.is_err() {
                    tracing::error!(rule = %name, "a rule evaluation failed (a bug); the rule runs again next time");
                    let health = state.health.entry(name).or_default();
                    health.failures += 1;
                    health.last_error = Some("the evaluation failed unexpectedly (see the server log)".into());
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_times_are_aligned_with_a_stable_offset() {
        let m = 60_000_000_000;
        let a = next_due("rule a", m, 10 * m);
        assert!(a > 10 * m && a <= 11 * m + 15_000_000_000);
        assert_eq!((a - next_due("rule a", m, a)).abs(), m);
        assert_eq!(next_due("rule a", m, a - 1), a);
        // Offsets spread rules over the first quarter of the interval.
        let offsets: std::collections::HashSet<i64> = (0..50).map(|i| next_due(&format!("r{i}"), m, 0) % m).collect();
        assert!(offsets.len() > 40);
        assert!(offsets.iter().all(|o| *o < 15_000_000_000));
    }
}
