//! What a notification carries to a contact point: the group, its alerts, and each alert's
//! evidence. The generic webhook posts exactly this as JSON (schema in docs/alerting.md); the
//! other channels render it in their own format.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::evidence::Evidence;
use crate::labels::Labels;
use crate::state::Band;

/// Version of the webhook body; bumped on an incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// New or changed firing alerts, or a repeat of firing ones.
    Firing,
    /// Every alert of the group has resolved.
    Resolved,
    /// Someone acknowledged the group's alerts (PagerDuty and Slack are told).
    Acknowledged,
    /// Sent by the test button of a contact point.
    Test,
}

impl NotificationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::Firing => "firing",
            NotificationKind::Resolved => "resolved",
            NotificationKind::Acknowledged => "acknowledged",
            NotificationKind::Test => "test",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub schema_version: u32,
    /// Unique per notification, the same on every retry: receivers deduplicate by it.
    pub id: String,
    pub kind: NotificationKind,
    /// `firing` while any alert of the group fires, else `resolved`.
    pub status: String,
    /// The contact point's name.
    pub receiver: String,
    /// Stable for the group: the same alerts of the same route share it (PagerDuty's
    /// `dedup_key` is derived from it).
    pub group_key: String,
    pub group_labels: Labels,
    /// Labels and annotations every alert of the group has.
    pub common_labels: Labels,
    pub common_annotations: BTreeMap<String, String>,
    pub alerts: Vec<AlertPayload>,
    /// Alerts left out of `alerts` to bound the size.
    #[serde(default)]
    pub truncated_alerts: usize,
    /// The UI's base URL (`public_url`).
    pub external_url: String,
    /// RFC 3339.
    pub sent_at: String,
    /// RFC 3339: until when the firing alerts are current without a further notification (the
    /// group's repeat interval from now); receivers that expire alerts (Alertmanager) use it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertPayload {
    pub fingerprint: String,
    /// `firing` or `resolved`.
    pub status: String,
    pub rule: String,
    pub labels: Labels,
    pub annotations: BTreeMap<String, String>,
    /// RFC 3339: when it fired, and when it resolved.
    pub starts_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<String>,
    /// The figure now, its threshold or normal band, and what it measures.
    pub value: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub band: Option<Band>,
    pub metric: String,
    pub unit: String,
    /// The alert in the UI.
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
}

impl Notification {
    pub fn is_resolved(&self) -> bool {
        self.status == "resolved"
    }

    /// A one-line title: `[FIRING:2] high error rate (payment-service)`.
    pub fn title(&self) -> String {
        let firing = self.alerts.iter().filter(|a| a.status == "firing").count();
        let head = match self.kind {
            NotificationKind::Test => "[TEST]".to_string(),
            NotificationKind::Acknowledged => "[ACK]".to_string(),
            _ if self.is_resolved() => "[RESOLVED]".to_string(),
            _ => format!("[FIRING:{firing}]"),
        };
        let rule = self.common_labels.get(crate::labels::RULE_LABEL).cloned().or_else(|| self.alerts.first().map(|a| a.rule.clone()));
        let summary = self.common_annotations.get("summary").cloned();
        let what = summary.or(rule).unwrap_or_else(|| "alert".to_string());
        let group: Vec<&str> =
            self.group_labels.iter().filter(|(k, _)| k.as_str() != crate::labels::RULE_LABEL).map(|(_, v)| v.as_str()).collect();
        if group.is_empty() || what.contains(group[0]) {
            format!("{head} {what}")
        } else {
            format!("{head} {what} ({})", group.join(", "))
        }
    }
}
