//! From alert states to notifications, as Alertmanager groups them: each firing alert is routed
//! by the policies into groups (the route and the values of its `group_by` labels); a new group
//! waits `group_wait` so alerts firing together arrive together, a changed group is notified at
//! most every `group_interval`, an unchanged firing group again every `repeat_interval`, and a
//! group whose alerts have all resolved gets one resolved notification. Silenced and inhibited
//! alerts are left out, acknowledged ones are not repeated.
//!
//! The notifications go into the outbox in the same transaction as the groups' new state, so a
//! crash or restart neither loses nor repeats one.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use trawl_storage::{AlertWrite, OutboxRow};

use crate::engine::{Alerting, State};
use crate::labels::Labels;
use crate::notification::{AlertPayload, Notification, NotificationKind, SCHEMA_VERSION};
use crate::policy::RouteSettings;
use crate::state::{AlertState, EvidenceStatus, Instance};

/// Alerts written out with their evidence in one notification, and in all.
const MAX_ALERTS_WITH_EVIDENCE: usize = 20;
const MAX_ALERTS: usize = 100;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupState {
    pub key: String,
    pub receivers: Vec<String>,
    pub group_labels: Labels,
    pub first_seen_ns: i64,
    #[serde(default)]
    pub last_notified_ns: Option<i64>,
    /// `fingerprint#episode` of the alerts last notified as firing.
    #[serde(default)]
    pub notified_firing: BTreeSet<String>,
    /// Acknowledged alerts already told about.
    #[serde(default)]
    pub notified_acks: BTreeSet<String>,
    #[serde(default)]
    pub seq: u64,
    pub group_wait_ns: i64,
    pub group_interval_ns: i64,
    pub repeat_interval_ns: i64,
}

fn tag(i: &Instance) -> String {
    format!("{}#{}", i.fingerprint, i.episode)
}

/// What can inhibit an alert, indexed once per dispatch so each alert is checked in constant
/// time: for each inhibition rule, its firing sources by the values of its `equal` labels; and
/// the services that have an alert of their own (pending or firing).
pub(crate) struct Inhibitors<'a> {
    /// Per inhibition rule: equal-label values → up to two sources (one may be the target).
    sources: Vec<std::collections::HashMap<Vec<Option<&'a str>>, Vec<&'a Instance>>>,
    /// Service → an alert on it, pending or firing.
    alerting: std::collections::HashMap<&'a str, &'a Instance>,
}

impl<'a> Inhibitors<'a> {
    pub(crate) fn new(state: &'a State) -> Inhibitors<'a> {
        let firing: Vec<&Instance> = state.instances.values().filter(|o| o.state == AlertState::Firing).collect();
        let sources = state
            .policies
            .inhibit_rules
            .iter()
            .map(|rule| {
                let mut by: std::collections::HashMap<Vec<Option<&str>>, Vec<&Instance>> = std::collections::HashMap::new();
                for o in firing.iter().filter(|o| crate::labels::all_match(&rule.source_matchers, &o.labels)) {
                    let key: Vec<Option<&str>> = rule.equal.iter().map(|l| o.labels.get(l).map(String::as_str)).collect();
                    let slot = by.entry(key).or_default();
                    if slot.len() < 2 {
                        slot.push(o);
                    }
                }
                by
            })
            .collect();
        let mut alerting = std::collections::HashMap::new();
        for o in state.instances.values().filter(|o| matches!(o.state, AlertState::Firing | AlertState::Pending)) {
            if let Some(service) = o.scope.service.as_deref() {
                alerting.entry(service).or_insert(o);
            }
        }
        Inhibitors { sources, alerting }
    }

    /// Why `i` is not notified by inhibition, if it is: an inhibition rule, or its root cause
    /// lying in another service that has an alert of its own.
    pub(crate) fn reason(&self, state: &State, i: &Instance) -> Option<String> {
        self.inhibition(state, i).map(|(reason, _)| reason)
    }

    /// The reason, and whether it is kept for the rest of the alert's episode: it is once the
    /// inhibiting alert fires (a pending one mutes only while it is pending, so a cause that
    /// never fires cannot swallow the page).
    pub(crate) fn inhibition(&self, state: &State, i: &Instance) -> Option<(String, bool)> {
        if i.state != AlertState::Firing {
            return None;
        }
        if let Some(reason) = &i.inhibited_by {
            return Some((reason.clone(), true));
        }
        for (rule, by) in state.policies.inhibit_rules.iter().zip(&self.sources) {
            if !crate::labels::all_match(&rule.target_matchers, &i.labels) {
                continue;
            }
            let key: Vec<Option<&str>> = rule.equal.iter().map(|l| i.labels.get(l).map(String::as_str)).collect();
            if let Some(source) = by.get(&key).and_then(|v| v.iter().find(|o| o.fingerprint != i.fingerprint)) {
                let service = source.labels.get("service").map(|s| format!(" on {s}")).unwrap_or_default();
                return Some((format!("inhibition rule: alert {:?}{service}", source.rule), true));
            }
        }
        if state.policies.inhibit_by_root_cause {
            let cause = i.evidence.as_ref().and_then(|e| e.root_causes.first()).map(|c| c.service.as_str())?;
            if Some(cause) == i.scope.service.as_deref() || cause.is_empty() {
                return None;
            }
            let other = self.alerting.get(cause)?;
            let reason = format!("root cause is in {cause}, which has its own alert {:?}", other.rule);
            return Some((reason, other.state == AlertState::Firing));
        }
        None
    }
}

fn silenced(state: &State, i: &Instance, now: i64) -> bool {
    state.silences.values().any(|s| s.mutes(&i.labels, now))
}

fn common<'a>(maps: impl Iterator<Item = &'a BTreeMap<String, String>>) -> BTreeMap<String, String> {
    let mut out: Option<BTreeMap<String, String>> = None;
    for m in maps {
        out = Some(match out {
            None => m.clone(),
            Some(acc) => acc.into_iter().filter(|(k, v)| m.get(k) == Some(v)).collect(),
        });
    }
    out.unwrap_or_default()
}

fn payload(i: &Instance, with_evidence: bool, public_url: &str) -> AlertPayload {
    AlertPayload {
        fingerprint: i.fingerprint.clone(),
        status: if i.state == AlertState::Firing { "firing".into() } else { "resolved".into() },
        rule: i.rule.clone(),
        labels: i.labels.clone(),
        annotations: i.annotations.clone(),
        starts_at: trawl_model::format_rfc3339(i.fired_at_ns.unwrap_or(i.active_since_ns)),
        ends_at: i.resolved_at_ns.map(trawl_model::format_rfc3339),
        value: i.value,
        threshold: i.threshold,
        band: i.band,
        metric: i.scope.metric.clone(),
        unit: i.scope.unit.clone(),
        url: crate::evidence::UiLinks { public_url }.alert(&i.fingerprint),
        evidence: if with_evidence { i.evidence.clone() } else { None },
    }
}

/// Largest notification body: the outbound cap is 1 MiB.
const MAX_NOTIFICATION_BYTES: usize = 900 * 1024;

/// `n` within [`MAX_NOTIFICATION_BYTES`]: evidence is dropped from the last alerts first, then
/// the last alerts themselves (counted in `truncated_alerts`).
fn bounded(mut n: Notification) -> Notification {
    let size = |n: &Notification| serde_json::to_vec(n).map(|v| v.len()).unwrap_or(usize::MAX);
    while size(&n) > MAX_NOTIFICATION_BYTES {
        if let Some(a) = n.alerts.iter_mut().rev().find(|a| a.evidence.is_some()) {
            a.evidence = None;
        } else if n.alerts.len() > 1 {
            n.alerts.pop();
            n.truncated_alerts += 1;
        } else {
            if let Some(a) = n.alerts.first_mut() {
                a.annotations.retain(|k, _| k == "summary");
                for v in a.annotations.values_mut() {
                    *v = crate::template::clip(std::mem::take(v), 4096);
                }
            }
            n.common_annotations.clear();
            break;
        }
    }
    n
}

/// The notification of a group with these alerts (firing ones first).
fn notification(group: &GroupState, kind: NotificationKind, alerts: &[&Instance], receiver: &str, id: String, public_url: &str) -> Notification {
    let mut sorted: Vec<&&Instance> = alerts.iter().collect();
    sorted.sort_by_key(|i| (i.state != AlertState::Firing, i.fingerprint.clone()));
    let truncated = sorted.len().saturating_sub(MAX_ALERTS);
    let payloads: Vec<AlertPayload> =
        sorted.iter().take(MAX_ALERTS).enumerate().map(|(n, i)| payload(i, n < MAX_ALERTS_WITH_EVIDENCE, public_url)).collect();
    let any_firing = alerts.iter().any(|i| i.state == AlertState::Firing);
    bounded(Notification {
        schema_version: SCHEMA_VERSION,
        id,
        kind,
        status: if any_firing { "firing".into() } else { "resolved".into() },
        receiver: receiver.to_string(),
        group_key: group.key.clone(),
        group_labels: group.group_labels.clone(),
        common_labels: common(alerts.iter().map(|i| &i.labels)),
        common_annotations: common(alerts.iter().map(|i| &i.annotations)),
        alerts: payloads,
        truncated_alerts: truncated,
        external_url: public_url.to_string(),
        sent_at: trawl_model::format_rfc3339(trawl_model::now_ns()),
        valid_until: any_firing.then(|| trawl_model::format_rfc3339(trawl_model::now_ns() + group.repeat_interval_ns + group.group_interval_ns)),
        acknowledged_by: alerts.iter().find_map(|i| i.ack.as_ref().map(|a| a.by.clone())).filter(|_| kind == NotificationKind::Acknowledged),
    })
}

/// A notification's outbox row, due now.
fn outbox_row(n: &Notification, group_key: &str, now_ns: i64) -> Option<OutboxRow> {
    let body = serde_json::to_string(n).ok()?;
    Some(OutboxRow {
        id: n.id.clone(),
        contact_point: n.receiver.clone(),
        group_key: group_key.to_string(),
        state: "pending".into(),
        attempts: 0,
        next_attempt_ns: now_ns,
        last_error: String::new(),
        body,
        created_at_ns: now_ns,
        updated_at_ns: now_ns,
    })
}

/// Unique per group incarnation (`first_seen`: a group that ends and comes back is a new one),
/// sequence number and receiver; the same on a retried dispatch.
fn notification_id(group: &GroupState, extra: &str, receiver: &str) -> String {
    let seq = group.seq;
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(group.key.as_bytes());
    h.update(extra.as_bytes());
    h.update(&group.first_seen_ns.to_le_bytes());
    h.update(&seq.to_le_bytes());
    h.update(receiver.as_bytes());
    format!("{:016x}{:08x}", h.digest(), seq)
}

impl Alerting {
    /// Turns the current alert states into notifications (see the module documentation).
    pub(crate) fn dispatch(&self) {
        let now = self.now_ns();
        let real_now = trawl_model::now_ns();
        let mut state = self.state.lock();
        let evidence_wait = self.config.evidence_wait.ns();

        // The groups of every alert (a pending one too: notified as firing in its previous
        // episode, it is told as resolved).
        let mut members: BTreeMap<String, (RouteSettings, Vec<String>)> = BTreeMap::new();
        let rules_policy: BTreeMap<String, Option<String>> =
            state.rules.iter().map(|(n, (r, _))| (n.clone(), r.spec.policy.clone())).collect();
        for i in state.instances.values() {
            let pinned = rules_policy.get(&i.rule).cloned().flatten();
            for route in state.policies.routes_for(&i.labels, pinned.as_deref()) {
                if route.receivers.is_empty() {
                    continue;
                }
                let key = route.group_key(&i.labels);
                members.entry(key).or_insert_with(|| (route.clone(), Vec::new())).1.push(i.fingerprint.clone());
            }
        }
        let channel_kind = |receiver: &str| state.contact_points.get(receiver).map(|c| c.spec.channel.kind());

        let mut write = AlertWrite::default();
        let inhibitors = Inhibitors::new(&state);
        let mut newly_inhibited: Vec<(String, String)> = Vec::new();
        let mut new_groups: BTreeMap<String, Option<GroupState>> = BTreeMap::new();
        let keys: BTreeSet<String> = members.keys().cloned().chain(state.groups.keys().cloned()).collect();
        for key in keys {
            let fps: Vec<String> = members.get(&key).map(|m| m.1.clone()).unwrap_or_default();
            let alerts: Vec<&Instance> = fps.iter().filter_map(|fp| state.instances.get(fp)).collect();
            let any_firing = alerts.iter().any(|i| i.state == AlertState::Firing);
            let mut group = match (state.groups.get(&key), members.get(&key)) {
                (Some(g), _) => g.clone(),
                // A group begins with a firing alert.
                (None, Some((route, _))) if any_firing => GroupState {
                    key: key.clone(),
                    receivers: route.receivers.clone(),
                    group_labels: alerts.first().map(|i| route.group_labels(&i.labels)).unwrap_or_default(),
                    first_seen_ns: now,
                    last_notified_ns: None,
                    notified_firing: BTreeSet::new(),
                    notified_acks: BTreeSet::new(),
                    seq: 0,
                    group_wait_ns: route.group_wait.ns(),
                    group_interval_ns: route.group_interval.ns(),
                    repeat_interval_ns: route.repeat_interval.ns(),
                },
                _ => continue,
            };
            if let Some((route, _)) = members.get(&key) {
                group.receivers = route.receivers.clone();
                group.group_wait_ns = route.group_wait.ns();
                group.group_interval_ns = route.group_interval.ns();
                group.repeat_interval_ns = route.repeat_interval.ns();
            }
            let before = group.clone();

            // Firing alerts ready to be told (evidence in, or waited for long enough), and the
            // muted ones (silenced or inhibited), which are neither news nor resolved.
            let mut firing: Vec<&Instance> = Vec::new();
            let mut muted: BTreeSet<String> = BTreeSet::new();
            let mut waiting = false;
            for i in alerts.iter().filter(|i| i.state == AlertState::Firing) {
                let inhibited = inhibitors.inhibition(&state, i);
                if let (Some((reason, true)), None) = (&inhibited, &i.inhibited_by) {
                    newly_inhibited.push((i.fingerprint.clone(), reason.clone()));
                }
                if silenced(&state, i, now) || inhibited.is_some() {
                    muted.insert(tag(i));
                } else if i.evidence_status == EvidenceStatus::Computing && now - i.fired_at_ns.unwrap_or(now) < evidence_wait {
                    waiting = true;
                    if group.notified_firing.contains(&tag(i)) {
                        firing.push(i);
                    }
                } else {
                    firing.push(i);
                }
            }
            // Alerts notified as firing whose episode ended: resolved, or pending again.
            let resolved: Vec<&Instance> =
                alerts.iter().filter(|i| i.state != AlertState::Firing && group.notified_firing.contains(&tag(i))).copied().collect();
            let firing_tags: BTreeSet<String> = firing.iter().map(|i| tag(i)).collect();
            let known: BTreeSet<String> = group.notified_firing.iter().filter(|t| !muted.contains(*t)).cloned().collect();
            let present: BTreeSet<String> = alerts.iter().map(|i| tag(i)).collect();
            // Notified alerts that left the group without resolving (pruned, or moved by a
            // change of their rule or the policies).
            let gone: Vec<String> = group.notified_firing.iter().filter(|t| !present.contains(*t)).cloned().collect();
            let changed = firing_tags != known || !resolved.is_empty();
            let since_last = group.last_notified_ns.map(|t| now - t);
            let all_acked = !firing.is_empty() && firing.iter().all(|i| i.ack.is_some());
            let to_alertmanager = group.receivers.iter().any(|r| channel_kind(r) == Some("alertmanager"));
            // A group is resolved only once nothing in it fires, muted or waiting alerts included.
            let hold_resolution = firing.is_empty() && (!muted.is_empty() || waiting);
            let send = match since_last {
                None => !firing.is_empty() && !(waiting && now - group.first_seen_ns < evidence_wait) && now - group.first_seen_ns >= group.group_wait_ns,
                Some(elapsed) if changed => {
                    elapsed >= group.group_interval_ns && (!firing.is_empty() || (!resolved.is_empty() && !hold_resolution))
                }
                // Acknowledged: repeats go on only to Alertmanager, whose alerts expire otherwise.
                Some(elapsed) => !firing.is_empty() && elapsed >= group.repeat_interval_ns && (!all_acked || to_alertmanager),
            };
            let repeat_to_alertmanager_only = send && since_last.is_some() && !changed && all_acked;
            if send {
                let kind = if firing.is_empty() { NotificationKind::Resolved } else { NotificationKind::Firing };
                let mut told: Vec<&Instance> = firing.clone();
                told.extend(resolved.iter().copied());
                for receiver in &group.receivers {
                    let Some(cp) = state.contact_points.get(receiver) else { continue };
                    if kind == NotificationKind::Resolved && !cp.spec.send_resolved {
                        continue;
                    }
                    if repeat_to_alertmanager_only && cp.spec.channel.kind() != "alertmanager" {
                        continue;
                    }
                    let id = notification_id(&group, "", receiver);
                    let n = notification(&group, kind, &told, receiver, id, &self.config.public_url);
                    write.outbox.extend(outbox_row(&n, &key, real_now));
                }
                group.seq += 1;
                group.last_notified_ns = Some(now);
                group.notified_firing = firing_tags.iter().cloned().chain(muted.iter().filter(|t| group.notified_firing.contains(*t)).cloned()).collect();
            }
            for g in &gone {
                group.notified_firing.remove(g);
            }
            // Acknowledgements: told once to the receivers that act on them.
            let new_acks: Vec<&Instance> = firing.iter().filter(|i| i.ack.is_some() && group.notified_firing.contains(&tag(i)) && !group.notified_acks.contains(&tag(i))).copied().collect();
            if !new_acks.is_empty() {
                for receiver in &group.receivers {
                    let Some(cp) = state.contact_points.get(receiver) else { continue };
                    if matches!(cp.spec.channel.kind(), "alertmanager" | "console" | "email") {
                        continue;
                    }
                    let id = notification_id(&group, "ack", receiver);
                    let n = notification(&group, NotificationKind::Acknowledged, &new_acks, receiver, id, &self.config.public_url);
                    write.outbox.extend(outbox_row(&n, &key, real_now));
                }
                group.seq += 1;
                group.notified_acks.extend(new_acks.iter().map(|i| tag(i)));
            }
            group.notified_acks.retain(|t| group.notified_firing.contains(t));
            // A group with nothing firing and nothing left to tell is done.
            if !any_firing && group.notified_firing.iter().all(|t| !resolved.iter().any(|i| tag(i) == *t)) {
                if state.groups.contains_key(&key) {
                    new_groups.insert(key.clone(), None);
                }
            } else if group != before || !state.groups.contains_key(&key) {
                new_groups.insert(key.clone(), Some(group));
            }
        }
        for (fp, reason) in newly_inhibited {
            if let Some(i) = state.instances.get_mut(&fp) {
                i.inhibited_by = Some(reason);
                if let Ok(row) = crate::engine::instance_row(i) {
                    write.instances.push(row);
                }
            }
        }
        for (key, g) in &new_groups {
            write.groups.push((key.clone(), g.as_ref().and_then(|g| serde_json::to_string(g).ok())));
        }
        if write.is_empty() {
            return;
        }
        let n_notifications = write.outbox.len();
        match self.store.with_alert_tables(|t| t.apply(&write)) {
            Ok(()) => {
                for (key, g) in new_groups {
                    match g {
                        Some(g) => {
                            state.groups.insert(key, g);
                        }
                        None => {
                            state.groups.remove(&key);
                        }
                    }
                }
                drop(state);
                if n_notifications > 0 {
                    self.metrics.queued(n_notifications);
                    self.outbox_wake.notify_one();
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot store notifications; retried at the next dispatch"),
        }
    }
}
