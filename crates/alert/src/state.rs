//! Alert instances (a rule and one set of labels) and their state machine:
//!
//! ```text
//!   (none) ──active──► pending ──active for `for`──► firing ──inactive for `keep_firing_for`──► resolved
//!                        │                              ▲                                          │
//!                        └──inactive──► (dropped)       └──────────── active again (new episode) ◄─┘
//! ```
//!
//! With `for: 0` an active sample fires at once. A failed evaluation changes nothing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::evidence::Evidence;
use crate::labels::Labels;

/// A figure's normal band: what a baseline rule compares with.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Band {
    pub low: f64,
    pub mid: f64,
    pub high: f64,
}

/// What an alert is about, for its evidence and links.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Scope {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// A search (query language, no pipes) for the records behind the alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// The metric a figure is of (`error_rate`, `n`, …).
    #[serde(default)]
    pub metric: String,
    #[serde(default)]
    pub unit: String,
}

/// One group's figure at one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// The group's labels (e.g. `service`), without the rule's own labels.
    pub labels: Labels,
    pub value: f64,
    /// The condition holds.
    pub active: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub band: Option<Band>,
    pub scope: Scope,
    /// Other figures of the group (the result row, request counts, …), for templates and the UI.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub detail: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Pending,
    Firing,
    Resolved,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
            AlertState::Resolved => "resolved",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceStatus {
    /// Not asked for (pending alerts).
    #[default]
    None,
    /// Being computed: notifications wait for it (a little).
    Computing,
    Ready,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ack {
    pub by: String,
    pub at_ns: i64,
    #[serde(default)]
    pub comment: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    pub fingerprint: String,
    pub rule: String,
    /// The rule's labels, the group's labels and `rule`.
    pub labels: Labels,
    /// Rendered at each evaluation while active.
    pub annotations: BTreeMap<String, String>,
    pub state: AlertState,
    pub value: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub band: Option<Band>,
    pub scope: Scope,
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub detail: serde_json::Map<String, serde_json::Value>,
    /// Start of the current episode (when it went pending).
    pub active_since_ns: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fired_at_ns: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at_ns: Option<i64>,
    /// Last evaluation whose condition held.
    pub last_active_ns: i64,
    pub last_eval_ns: i64,
    /// Counts the times it fired; part of notification ids.
    pub episode: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
    #[serde(default)]
    pub evidence_status: EvidenceStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack: Option<Ack>,
    /// Why it is not notified, once inhibited: it stays so for the rest of the episode, so an
    /// incident whose source alert resolves first does not page again through its dependents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inhibited_by: Option<String>,
}

/// What an observation did to an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Unchanged,
    /// Became pending (new, or again after resolving).
    Pending,
    Firing,
    Resolved,
    /// A pending instance whose condition stopped holding before it fired: forget it.
    Dropped,
}

/// Timing of a rule's instances.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub pending_for_ns: i64,
    pub keep_firing_for_ns: i64,
}

impl Instance {
    /// A new instance for an active sample (pending, or firing at once with `for: 0`).
    pub fn start(rule: &str, labels: Labels, sample: &Sample, annotations: BTreeMap<String, String>, now_ns: i64, timing: Timing) -> (Instance, Change) {
        let mut i = Instance {
            fingerprint: crate::labels::fingerprint(&labels),
            rule: rule.to_string(),
            labels,
            annotations,
            state: AlertState::Pending,
            value: sample.value,
            threshold: sample.threshold,
            band: sample.band,
            scope: sample.scope.clone(),
            detail: sample.detail.clone(),
            active_since_ns: now_ns,
            fired_at_ns: None,
            resolved_at_ns: None,
            last_active_ns: now_ns,
            last_eval_ns: now_ns,
            episode: 0,
            evidence: None,
            evidence_status: EvidenceStatus::None,
            ack: None,
            inhibited_by: None,
        };
        if timing.pending_for_ns <= 0 {
            i.fire(now_ns);
            return (i, Change::Firing);
        }
        (i, Change::Pending)
    }

    fn fire(&mut self, now_ns: i64) {
        self.state = AlertState::Firing;
        self.fired_at_ns = Some(now_ns);
        self.episode += 1;
        self.evidence_status = EvidenceStatus::Computing;
    }

    /// Applies one evaluation: `sample` is this instance's group in the result, if present.
    pub fn observe(&mut self, sample: Option<&Sample>, annotations: Option<BTreeMap<String, String>>, now_ns: i64, timing: Timing) -> Change {
        self.last_eval_ns = now_ns;
        let active = sample.is_some_and(|s| s.active);
        if let Some(s) = sample {
            // The figure of a firing alert stays the one that fired it in its evidence; the
            // instance shows the latest.
            self.value = s.value;
            self.threshold = s.threshold;
            self.band = s.band;
            self.detail = s.detail.clone();
        }
        if active {
            self.last_active_ns = now_ns;
            if let Some(a) = annotations {
                self.annotations = a;
            }
        }
        match (self.state, active) {
            (AlertState::Pending, true) => {
                if now_ns - self.active_since_ns >= timing.pending_for_ns {
                    self.fire(now_ns);
                    Change::Firing
                } else {
                    Change::Unchanged
                }
            }
            (AlertState::Pending, false) => Change::Dropped,
            (AlertState::Firing, true) => Change::Unchanged,
            (AlertState::Firing, false) => {
                if now_ns - self.last_active_ns >= timing.keep_firing_for_ns {
                    self.state = AlertState::Resolved;
                    self.resolved_at_ns = Some(now_ns);
                    Change::Resolved
                } else {
                    Change::Unchanged
                }
            }
            (AlertState::Resolved, true) => {
                self.state = AlertState::Pending;
                self.active_since_ns = now_ns;
                self.fired_at_ns = None;
                self.resolved_at_ns = None;
                self.ack = None;
                self.inhibited_by = None;
                self.evidence = None;
                self.evidence_status = EvidenceStatus::None;
                if timing.pending_for_ns <= 0 {
                    self.fire(now_ns);
                    Change::Firing
                } else {
                    Change::Pending
                }
            }
            (AlertState::Resolved, false) => Change::Unchanged,
        }
    }

    /// Resolves a firing (or drops a pending) instance whose rule went away or was disabled.
    pub fn end(&mut self, now_ns: i64) -> Change {
        self.last_eval_ns = now_ns;
        match self.state {
            AlertState::Pending => Change::Dropped,
            AlertState::Firing => {
                self.state = AlertState::Resolved;
                self.resolved_at_ns = Some(now_ns);
                Change::Resolved
            }
            AlertState::Resolved => Change::Unchanged,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: i64 = 60_000_000_000;

    fn sample(active: bool, value: f64) -> Sample {
        Sample { labels: Labels::new(), value, active, threshold: Some(10.0), band: None, scope: Scope::default(), detail: Default::default() }
    }

    #[test]
    fn pending_then_firing_then_resolved_then_again() {
        let timing = Timing { pending_for_ns: 2 * M, keep_firing_for_ns: 2 * M };
        let (mut i, c) = Instance::start("r", Labels::new(), &sample(true, 11.0), BTreeMap::new(), 0, timing);
        assert_eq!((c, i.state), (Change::Pending, AlertState::Pending));
        assert_eq!(i.observe(Some(&sample(true, 12.0)), None, M, timing), Change::Unchanged);
        assert_eq!(i.observe(Some(&sample(true, 13.0)), None, 2 * M, timing), Change::Firing);
        assert_eq!((i.episode, i.fired_at_ns, i.value), (1, Some(2 * M), 13.0));
        assert_eq!(i.evidence_status, EvidenceStatus::Computing);
        // keep_firing_for: one inactive evaluation is not enough.
        assert_eq!(i.observe(None, None, 3 * M, timing), Change::Unchanged);
        assert_eq!(i.observe(Some(&sample(false, 1.0)), None, 4 * M, timing), Change::Resolved);
        assert_eq!(i.resolved_at_ns, Some(4 * M));
        assert_eq!(i.observe(None, None, 5 * M, timing), Change::Unchanged);
        assert_eq!(i.observe(Some(&sample(true, 20.0)), None, 6 * M, timing), Change::Pending);
        assert_eq!((i.state, i.active_since_ns, i.fired_at_ns), (AlertState::Pending, 6 * M, None));
    }

    #[test]
    fn a_pending_alert_that_stops_is_dropped_and_for_zero_fires_at_once() {
        let timing = Timing { pending_for_ns: 5 * M, keep_firing_for_ns: 0 };
        let (mut i, _) = Instance::start("r", Labels::new(), &sample(true, 11.0), BTreeMap::new(), 0, timing);
        assert_eq!(i.observe(Some(&sample(false, 1.0)), None, M, timing), Change::Dropped);
        let now = Timing { pending_for_ns: 0, keep_firing_for_ns: 0 };
        let (mut i, c) = Instance::start("r", Labels::new(), &sample(true, 11.0), BTreeMap::new(), 0, now);
        assert_eq!((c, i.state), (Change::Firing, AlertState::Firing));
        assert_eq!(i.observe(None, None, M, now), Change::Resolved);
        assert_eq!(i.end(2 * M), Change::Unchanged);
    }
}
