//! Counters of alerting for `/metrics`: evaluations (by rule kind), their failures, skips and
//! duration; notifications queued, sent and failed by channel; alerts by state.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use parking_lot::Mutex;
use trawl_storage::Histogram;

use crate::engine::Alerting;
use crate::state::AlertState;

pub struct AlertMetrics {
    /// kind → (evaluations, failures)
    evaluations: Mutex<BTreeMap<&'static str, (u64, u64)>>,
    skipped: AtomicU64,
    evaluation_seconds: Histogram,
    queued: AtomicU64,
    /// channel → (sent, failed for good, failed attempts)
    notifications: Mutex<BTreeMap<String, (u64, u64, u64)>>,
}

impl Default for AlertMetrics {
    fn default() -> AlertMetrics {
        AlertMetrics {
            evaluations: Mutex::default(),
            skipped: AtomicU64::new(0),
            evaluation_seconds: Histogram::new(Histogram::LATENCY_BOUNDS),
            queued: AtomicU64::new(0),
            notifications: Mutex::default(),
        }
    }
}

fn kind_name(kind: &str) -> &'static str {
    crate::rule::RuleKind::ALL.iter().map(|k| k.as_str()).find(|k| *k == kind).unwrap_or("other")
}

impl AlertMetrics {
    pub fn evaluation(&self, kind: &str, seconds: f64, ok: bool) {
        let mut e = self.evaluations.lock();
        let slot = e.entry(kind_name(kind)).or_default();
        slot.0 += 1;
        if !ok {
            slot.1 += 1;
        }
        self.evaluation_seconds.observe(seconds);
    }

    pub fn skipped(&self) {
        self.skipped.fetch_add(1, Relaxed);
    }

    pub fn queued(&self, n: usize) {
        self.queued.fetch_add(n as u64, Relaxed);
    }

    /// A delivery that succeeded, or failed for good.
    pub fn notification(&self, channel: &str, sent: bool) {
        let mut n = self.notifications.lock();
        let slot = n.entry(channel.to_string()).or_default();
        if sent {
            slot.0 += 1;
        } else {
            slot.1 += 1;
        }
    }

    /// A delivery attempt that failed and will be retried.
    pub fn attempt_failed(&self, channel: &str) {
        self.notifications.lock().entry(channel.to_string()).or_default().2 += 1;
    }

    /// Evaluations so far (every kind).
    pub fn evaluations_total(&self) -> u64 {
        self.evaluations.lock().values().map(|v| v.0).sum()
    }
}

impl Alerting {
    /// Alerting's part of `/metrics`, in Prometheus text format.
    pub fn render_metrics(&self, out: &mut String) {
        let m = &self.metrics;
        let _ = writeln!(out, "# HELP trawl_alert_evaluations_total Rule evaluations, by rule kind.\n# TYPE trawl_alert_evaluations_total counter");
        let evaluations = m.evaluations.lock().clone();
        for (kind, (n, _)) in &evaluations {
            let _ = writeln!(out, "trawl_alert_evaluations_total{{kind=\"{kind}\"}} {n}");
        }
        let _ = writeln!(out, "# HELP trawl_alert_evaluation_failures_total Rule evaluations that failed, by rule kind.\n# TYPE trawl_alert_evaluation_failures_total counter");
        for (kind, (_, failed)) in &evaluations {
            let _ = writeln!(out, "trawl_alert_evaluation_failures_total{{kind=\"{kind}\"}} {failed}");
        }
        let _ = writeln!(
            out,
            "# HELP trawl_alert_evaluations_skipped_total Evaluations skipped because the previous one of the rule was still running.\n# TYPE trawl_alert_evaluations_skipped_total counter\ntrawl_alert_evaluations_skipped_total {}",
            m.skipped.load(Relaxed)
        );
        let _ = writeln!(out, "# HELP trawl_alert_evaluation_seconds Duration of rule evaluations.\n# TYPE trawl_alert_evaluation_seconds histogram");
        m.evaluation_seconds.render("trawl_alert_evaluation_seconds", "", out);
        let _ = writeln!(
            out,
            "# HELP trawl_notifications_queued_total Notifications put in the outbox.\n# TYPE trawl_notifications_queued_total counter\ntrawl_notifications_queued_total {}",
            m.queued.load(Relaxed)
        );
        let notifications = m.notifications.lock().clone();
        let _ = writeln!(out, "# HELP trawl_notifications_sent_total Notifications delivered, by channel.\n# TYPE trawl_notifications_sent_total counter");
        for (channel, (sent, _, _)) in &notifications {
            let _ = writeln!(out, "trawl_notifications_sent_total{{channel=\"{channel}\"}} {sent}");
        }
        let _ = writeln!(out, "# HELP trawl_notifications_failed_total Notifications given up on, by channel.\n# TYPE trawl_notifications_failed_total counter");
        for (channel, (_, failed, _)) in &notifications {
            let _ = writeln!(out, "trawl_notifications_failed_total{{channel=\"{channel}\"}} {failed}");
        }
        let _ = writeln!(out, "# HELP trawl_notification_attempts_failed_total Delivery attempts that failed and were retried, by channel.\n# TYPE trawl_notification_attempts_failed_total counter");
        for (channel, (_, _, attempts)) in &notifications {
            let _ = writeln!(out, "trawl_notification_attempts_failed_total{{channel=\"{channel}\"}} {attempts}");
        }
        let (mut firing, mut pending, mut resolved) = (0, 0, 0);
        let rules = {
            let state = self.state.lock();
            for i in state.instances.values() {
                match i.state {
                    AlertState::Firing => firing += 1,
                    AlertState::Pending => pending += 1,
                    AlertState::Resolved => resolved += 1,
                }
            }
            state.rules.len()
        };
        let _ = writeln!(out, "# HELP trawl_alerts Alert instances, by state.\n# TYPE trawl_alerts gauge");
        for (name, n) in [("firing", firing), ("pending", pending), ("resolved", resolved)] {
            let _ = writeln!(out, "trawl_alerts{{state=\"{name}\"}} {n}");
        }
        let _ = writeln!(out, "# HELP trawl_alert_rules Alert rules loaded.\n# TYPE trawl_alert_rules gauge\ntrawl_alert_rules {rules}");
        if let Ok(counts) = self.store.with_alert_tables(|t| t.outbox_counts()) {
            let _ = writeln!(out, "# HELP trawl_notification_outbox Notifications in the outbox, by state.\n# TYPE trawl_notification_outbox gauge");
            for (state, n) in counts {
                let _ = writeln!(out, "trawl_notification_outbox{{state=\"{state}\"}} {n}");
            }
        }
    }
}
