//! PagerDuty Events API v2: `trigger` for firing and test notifications, `acknowledge` and
//! `resolve` for the others, all with a `dedup_key` stable for the group, so PagerDuty keeps
//! one incident per group. The trigger's payload carries the alerts' labels, annotations and
//! evidence as `custom_details`, and links into trawl.
//!
//! Also here, shared with Opsgenie: [`dedup_key`] and [`severity`].

use serde_json::{json, Map, Value};

use crate::channels::text::Rendered;
use crate::channels::{check_answer, DeliveryContext, DeliveryError};
use crate::contact_point::PagerDutySettings;
use crate::notification::{Notification, NotificationKind};

const DEFAULT_URL: &str = "https://events.pagerduty.com/v2/enqueue";
const MAX_SUMMARY_CHARS: usize = 1024;
/// Alerts written out in `custom_details`, and alerts given a link.
const MAX_ALERTS_IN_DETAILS: usize = 20;
const MAX_ALERT_LINKS: usize = 5;

/// Sends the event of `n`.
pub async fn deliver(s: &PagerDutySettings, n: &Notification, r: &Rendered, ctx: &DeliveryContext<'_>) -> Result<(), DeliveryError> {
    let body = serde_json::to_vec(&event(s, n, r)).map_err(|e| DeliveryError::Permanent(format!("cannot encode the pagerduty event: {e}")))?;
    let url = s.url.as_deref().unwrap_or(DEFAULT_URL);
    let answer = ctx.http.send(reqwest::Method::POST, url, &[], "application/json", body).await?;
    // 202 accepted; 400 invalid event (permanent); 429 and 5xx: later.
    check_answer("pagerduty", &answer)
}

/// `trawl-` and 16 hex digits of the group key's xxh3: the same for every notification of a
/// group.
pub(super) fn dedup_key(group_key: &str) -> String {
    format!("trawl-{:016x}", xxhash_rust::xxh3::xxh3_64(group_key.as_bytes()))
}

/// PagerDuty's severity (critical, error, warning or info) from the `severity` label the
/// alerts have in common (`page` is critical; default error).
pub(super) fn severity(n: &Notification) -> &'static str {
    let label = n.common_labels.get("severity").map(|s| s.trim().to_ascii_lowercase()).unwrap_or_default();
    match label.as_str() {
        "critical" | "page" => "critical",
        "error" => "error",
        "warning" | "warn" => "warning",
        "info" => "info",
        _ => "error",
    }
}

fn event_action(kind: NotificationKind) -> &'static str {
    match kind {
        NotificationKind::Firing | NotificationKind::Test => "trigger",
        NotificationKind::Resolved => "resolve",
        NotificationKind::Acknowledged => "acknowledge",
    }
}

/// A label the alerts have in common, else the first alert's.
fn label<'a>(n: &'a Notification, name: &str) -> Option<&'a str> {
    n.common_labels.get(name).or_else(|| n.alerts.first().and_then(|a| a.labels.get(name))).map(String::as_str).filter(|v| !v.is_empty())
}

/// The event. Acknowledge and resolve need only the key; trigger has the payload and links.
fn event(s: &PagerDutySettings, n: &Notification, r: &Rendered) -> Value {
    let action = event_action(n.kind);
    let mut event = json!({"routing_key": s.routing_key, "event_action": action, "dedup_key": dedup_key(&n.group_key)});
    if action != "trigger" {
        return event;
    }
    let service = label(n, "service");
    let mut payload = json!({
        "summary": super::slack::clip_chars(&r.title, MAX_SUMMARY_CHARS),
        "source": service.unwrap_or("trawl"),
        "severity": severity(n),
        "timestamp": n.alerts.iter().find(|a| a.status == "firing").map_or(n.sent_at.as_str(), |a| a.starts_at.as_str()),
        "custom_details": custom_details(n),
    });
    if let Some(service) = service {
        payload["component"] = json!(service);
    }
    if let Some(rule) = label(n, crate::labels::RULE_LABEL).or_else(|| n.alerts.first().map(|a| a.rule.as_str())) {
        payload["group"] = json!(rule);
    }
    if let Some(metric) = n.alerts.first().map(|a| a.metric.as_str()).filter(|m| !m.is_empty()) {
        payload["class"] = json!(metric);
    }
    event["payload"] = payload;
    event["links"] = Value::Array(links(n));
    event["client"] = json!("trawl");
    if let Some(url) = super::slack::web_url(&n.external_url) {
        event["client_url"] = json!(url);
    }
    event
}

/// Each alert's labels, annotations and evidence lines.
fn custom_details(n: &Notification) -> Value {
    let alerts: Vec<Value> = n
        .alerts
        .iter()
        .take(MAX_ALERTS_IN_DETAILS)
        .map(|a| {
            let mut alert = Map::new();
            alert.insert("status".into(), json!(a.status));
            alert.insert("labels".into(), json!(a.labels));
            alert.insert("annotations".into(), json!(a.annotations));
            let (metric, figure) = super::slack::figure_text(a);
            alert.insert("figure".into(), json!(format!("{metric}: {figure}")));
            if let Some(e) = &a.evidence {
                alert.insert("evidence".into(), json!(crate::evidence::text_lines(e)));
            }
            alert.insert("url".into(), json!(a.url));
            Value::Object(alert)
        })
        .collect();
    let mut details = json!({"alerts": alerts});
    let more = n.alerts.len().saturating_sub(MAX_ALERTS_IN_DETAILS) + n.truncated_alerts;
    if more > 0 {
        details["more_alerts"] = json!(more);
    }
    details
}

/// The alerts in trawl, and the first one's logs and example trace.
fn links(n: &Notification) -> Vec<Value> {
    let mut out = Vec::new();
    let mut add = |href: &str, text: String| {
        if let Some(href) = super::slack::web_url(href) {
            out.push(json!({"href": href, "text": text}));
        }
    };
    for a in n.alerts.iter().take(MAX_ALERT_LINKS) {
        let summary = a.annotations.get("summary").unwrap_or(&a.rule);
        add(&a.url, format!("Alert: {}", super::slack::clip_chars(summary, 200)));
    }
    if let Some(e) = n.alerts.iter().find_map(|a| a.evidence.as_ref()) {
        add(&e.links.search, "Logs".to_string());
        if let Some(trace) = &e.links.trace {
            add(trace, "Example trace".to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::slack::fixture::{self, units};
    use super::*;
    use crate::channels::text::default_text;

    fn build(n: &Notification) -> Value {
        event(&PagerDutySettings { routing_key: "R0UTING".into(), url: None }, n, &Rendered { title: n.title(), text: default_text(n) })
    }

    #[test]
    fn the_event_action_follows_the_kind() {
        for (kind, action) in [
            (NotificationKind::Firing, "trigger"),
            (NotificationKind::Test, "trigger"),
            (NotificationKind::Resolved, "resolve"),
            (NotificationKind::Acknowledged, "acknowledge"),
        ] {
            let e = build(&fixture::notification(kind));
            assert_eq!(e["event_action"], action, "{kind:?}");
            assert_eq!(e["routing_key"], "R0UTING");
            assert_eq!(e.get("payload").is_some(), action == "trigger", "{kind:?}");
        }
    }

    #[test]
    fn the_dedup_key_is_stable_per_group() {
        let firing = build(&fixture::notification(NotificationKind::Firing));
        let resolved = build(&fixture::notification(NotificationKind::Resolved));
        assert_eq!(firing["dedup_key"], resolved["dedup_key"]);
        let key = firing["dedup_key"].as_str().unwrap();
        assert!(key.starts_with("trawl-") && key.len() == 22 && key[6..].chars().all(|c| c.is_ascii_hexdigit()), "{key}");
        assert_eq!(dedup_key("a"), dedup_key("a"));
        assert_ne!(dedup_key("a"), dedup_key("b"));
        // xxh3 of the empty input, a published test vector: pins the hash function.
        assert_eq!(dedup_key(""), "trawl-2d06800538d394c2");
    }

    #[test]
    fn the_trigger_carries_the_evidence_with_korean_intact() {
        let e = build(&fixture::notification(NotificationKind::Firing));
        let p = &e["payload"];
        assert_eq!(p["summary"], "[FIRING:1] 결제 실패율 41%");
        assert_eq!(p["source"], "payment-service");
        assert_eq!(p["component"], "payment-service");
        assert_eq!(p["group"], "payment-errors");
        assert_eq!(p["class"], "error_rate");
        assert_eq!(p["severity"], "critical");
        assert_eq!(p["timestamp"], "2026-01-01T00:00:00Z");
        let alert = &p["custom_details"]["alerts"][0];
        assert_eq!(alert["labels"]["team"], "결제팀");
        assert_eq!(alert["annotations"]["summary"], "결제 실패율 41%");
        let lines: Vec<&str> = alert["evidence"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
        assert!(lines.iter().any(|l| l.starts_with("Root cause: payment-service · POST third-party-payment-api /v1/charges")), "{lines:?}");
        let links: Vec<&str> = e["links"].as_array().unwrap().iter().map(|l| l["text"].as_str().unwrap()).collect();
        assert_eq!(links, ["Alert: 결제 실패율 41%", "Logs", "Example trace"]);
        assert_eq!(e["client"], "trawl");
        assert_eq!(e["client_url"], "https://trawl.example.com");
    }

    #[test]
    fn severities_map_to_pagerduty_ones() {
        let mut n = fixture::notification(NotificationKind::Firing);
        for (label, expected) in [("page", "critical"), ("Warning", "warning"), ("info", "info"), ("error", "error"), ("whatever", "error")] {
            n.common_labels.insert("severity".into(), label.into());
            assert_eq!(severity(&n), expected, "{label}");
        }
        n.common_labels.remove("severity");
        assert_eq!(severity(&n), "error");
    }

    #[test]
    fn the_summary_is_cut_at_a_character_boundary() {
        let mut n = fixture::notification(NotificationKind::Firing);
        n.common_annotations.insert("summary".into(), "결제 실패 <script>".repeat(200));
        let e = build(&n);
        let summary = e["payload"]["summary"].as_str().unwrap();
        assert!(units(summary) <= MAX_SUMMARY_CHARS && summary.ends_with('…'), "{}", units(summary));
        // JSON, not markup: data is carried as written.
        assert!(summary.contains("<script>"));
    }
}
