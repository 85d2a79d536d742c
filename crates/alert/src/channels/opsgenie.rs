//! Opsgenie Alert API: firing and test notifications create an alert, resolved ones close it
//! and acknowledgements acknowledge it, all by an alias stable for the group (the same as
//! PagerDuty's dedup key), so Opsgenie keeps one alert per group. Opsgenie answers 202 and
//! processes requests later.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::channels::text::Rendered;
use crate::channels::{check_answer, DeliveryContext, DeliveryError};
use crate::contact_point::OpsgenieSettings;
use crate::notification::{Notification, NotificationKind};

const DEFAULT_API_URL: &str = "https://api.opsgenie.com";
const SOURCE: &str = "trawl";
/// Opsgenie's limits.
const MAX_MESSAGE_CHARS: usize = 130;
const MAX_DESCRIPTION_CHARS: usize = 15_000;
const MAX_TAGS: usize = 20;
const MAX_TAG_CHARS: usize = 50;
const MAX_DETAILS_CHARS: usize = 8000;
const MAX_DETAIL_VALUE_CHARS: usize = 1000;
const MAX_NOTE_CHARS: usize = 25_000;

/// Creates, closes or acknowledges the group's alert.
pub async fn deliver(s: &OpsgenieSettings, n: &Notification, r: &Rendered, ctx: &DeliveryContext<'_>) -> Result<(), DeliveryError> {
    let (path, body) = request(n, r);
    let url = format!("{}{path}", s.api_url.as_deref().unwrap_or(DEFAULT_API_URL).trim_end_matches('/'));
    let body = serde_json::to_vec(&body).map_err(|e| DeliveryError::Permanent(format!("cannot encode the opsgenie request: {e}")))?;
    let headers = [("Authorization".to_string(), format!("GenieKey {}", s.api_key.trim()))];
    let answer = ctx.http.send(reqwest::Method::POST, &url, &headers, "application/json", body).await?;
    // 202 accepted; 401, 403 and 422 are settings or content problems; 429 and 5xx later.
    check_answer("opsgenie", &answer)
}

/// The alias of the group's alert.
fn alias(n: &Notification) -> String {
    super::pagerduty::dedup_key(&n.group_key)
}

/// The path (under the API URL) and body of the request for `n`.
fn request(n: &Notification, r: &Rendered) -> (String, Value) {
    let alias = alias(n);
    match n.kind {
        NotificationKind::Firing | NotificationKind::Test => ("/v2/alerts".to_string(), create(n, r, &alias)),
        NotificationKind::Resolved => {
            let note = super::slack::clip_chars(&format!("Resolved in trawl: {}", r.title), MAX_NOTE_CHARS);
            (format!("/v2/alerts/{alias}/close?identifierType=alias"), json!({"source": SOURCE, "note": note}))
        }
        NotificationKind::Acknowledged => {
            let by = n.acknowledged_by.as_deref().unwrap_or("someone");
            let mut body = json!({"source": SOURCE, "note": super::slack::clip_chars(&format!("Acknowledged in trawl by {by}"), MAX_NOTE_CHARS)});
            if let Some(by) = &n.acknowledged_by {
                body["user"] = json!(super::slack::clip_chars(by, 100));
            }
            (format!("/v2/alerts/{alias}/acknowledge?identifierType=alias"), body)
        }
    }
}

fn create(n: &Notification, r: &Rendered, alias: &str) -> Value {
    let mut body = json!({
        "message": super::slack::clip_chars(&r.title.replace(['\n', '\r'], " "), MAX_MESSAGE_CHARS),
        "alias": alias,
        "description": super::slack::clip_chars(&r.text, MAX_DESCRIPTION_CHARS),
        "priority": priority(n),
        "tags": tags(n),
        "details": details(n),
        "source": SOURCE,
    });
    if let Some(service) = n.common_labels.get("service").filter(|s| !s.is_empty()) {
        body["entity"] = json!(super::slack::clip_chars(service, 512));
    }
    body
}

/// P1 critical, P2 error, P3 warning, P5 info (from the same severity as PagerDuty's).
fn priority(n: &Notification) -> &'static str {
    match super::pagerduty::severity(n) {
        "critical" => "P1",
        "warning" => "P3",
        "info" => "P5",
        _ => "P2",
    }
}

/// The common labels as `name:value` tags (Opsgenie allows 20 of 50 characters).
fn tags(n: &Notification) -> Vec<String> {
    let mut tags = vec!["trawl".to_string()];
    tags.extend(n.common_labels.iter().map(|(k, v)| super::slack::clip_chars(&format!("{k}:{v}"), MAX_TAG_CHARS)));
    tags.truncate(MAX_TAGS);
    tags
}

/// A flat map of strings within Opsgenie's 8000 characters: the first alert's figure, root
/// cause and links, then the common labels and annotations, each value cut to 1000.
fn details(n: &Notification) -> BTreeMap<String, String> {
    let mut entries: Vec<(String, String)> = Vec::new();
    entries.push(("alerts".into(), n.alerts.len().saturating_add(n.truncated_alerts).to_string()));
    if let Some(a) = n.alerts.first() {
        entries.push(super::slack::figure_text(a));
        entries.push(("alert_url".into(), a.url.clone()));
        if let Some(e) = &a.evidence {
            if let Some(c) = e.root_causes.first() {
                entries
                    .push(("root_cause".into(), format!("{} · {} ({} of failing traces)", c.service, c.operation, crate::format::percent(c.share))));
                if !c.example_trace_id.is_empty() {
                    entries.push(("example_trace_id".into(), c.example_trace_id.clone()));
                }
            }
            entries.push(("logs_url".into(), e.links.search.clone()));
            if let Some(t) = &e.links.trace {
                entries.push(("trace_url".into(), t.clone()));
            }
        }
    }
    entries.extend(n.common_labels.iter().chain(n.common_annotations.iter()).map(|(k, v)| (k.clone(), v.clone())));
    let mut out = BTreeMap::new();
    let mut room = MAX_DETAILS_CHARS;
    for (k, v) in entries {
        let v = super::slack::clip_chars(&v, MAX_DETAIL_VALUE_CHARS);
        let cost = k.encode_utf16().count() + v.encode_utf16().count();
        if out.contains_key(&k) || cost > room {
            continue;
        }
        room -= cost;
        out.insert(k, v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::slack::fixture::{self, units};
    use super::*;
    use crate::channels::text::default_text;

    fn build(n: &Notification) -> (String, Value) {
        request(n, &Rendered { title: n.title(), text: default_text(n) })
    }

    #[test]
    fn each_kind_has_its_endpoint() {
        let (path, body) = build(&fixture::notification(NotificationKind::Firing));
        assert_eq!(path, "/v2/alerts");
        let alias = body["alias"].as_str().unwrap().to_string();
        assert_eq!(alias, super::super::pagerduty::dedup_key(&fixture::notification(NotificationKind::Firing).group_key));
        let (path, body) = build(&fixture::notification(NotificationKind::Resolved));
        assert_eq!(path, format!("/v2/alerts/{alias}/close?identifierType=alias"));
        assert_eq!(body["source"], "trawl");
        assert!(body["note"].as_str().unwrap().contains("[RESOLVED]"));
        let (path, body) = build(&fixture::notification(NotificationKind::Acknowledged));
        assert_eq!(path, format!("/v2/alerts/{alias}/acknowledge?identifierType=alias"));
        assert_eq!(body["user"], "kim.minji");
        assert_eq!(build(&fixture::notification(NotificationKind::Test)).0, "/v2/alerts");
    }

    #[test]
    fn the_alert_carries_the_evidence_with_korean_intact() {
        let (_, body) = build(&fixture::notification(NotificationKind::Firing));
        assert_eq!(body["message"], "[FIRING:1] 결제 실패율 41%");
        assert_eq!(body["priority"], "P1");
        assert_eq!(body["source"], "trawl");
        assert_eq!(body["entity"], "payment-service");
        assert!(body["tags"].as_array().unwrap().contains(&json!("team:결제팀")));
        let details = body["details"].as_object().unwrap();
        assert!(details.values().all(Value::is_string), "details are a flat map of strings");
        assert_eq!(details["summary"], "결제 실패율 41%");
        assert_eq!(details["root_cause"], "payment-service · POST third-party-payment-api /v1/charges (82% of failing traces)");
        assert_eq!(details["error_rate"], "41% (threshold 5.0%)  ▁▁▁▄█");
        assert!(body["description"].as_str().unwrap().contains("Root cause: payment-service"));
    }

    #[test]
    fn limits_are_kept_at_character_boundaries() {
        let n = fixture::notification(NotificationKind::Firing);
        let mut labels = n.common_labels.clone();
        for i in 0..30 {
            labels.insert(format!("label_{i:02}"), "결제".repeat(400));
        }
        let n = Notification { common_labels: labels, ..n };
        let (_, body) = request(&n, &Rendered { title: "결제 실패 ".repeat(100), text: "결제 실패 🔥".repeat(5000) });
        let message = body["message"].as_str().unwrap();
        assert!(units(message) <= MAX_MESSAGE_CHARS && message.starts_with("결제 실패") && message.ends_with('…'));
        assert!(units(body["description"].as_str().unwrap()) <= MAX_DESCRIPTION_CHARS);
        let tags = body["tags"].as_array().unwrap();
        assert!(tags.len() <= MAX_TAGS && tags.iter().all(|t| units(t.as_str().unwrap()) <= MAX_TAG_CHARS));
        let details: usize = body["details"].as_object().unwrap().iter().map(|(k, v)| units(k) + units(v.as_str().unwrap())).sum();
        assert!(details <= MAX_DETAILS_CHARS, "{details}");
        assert!(body["details"].get("root_cause").is_some(), "the evidence comes first");
    }

    #[test]
    fn priorities_follow_the_severity() {
        let mut n = fixture::notification(NotificationKind::Firing);
        for (severity, expected) in [("critical", "P1"), ("page", "P1"), ("error", "P2"), ("warning", "P3"), ("info", "P5")] {
            n.common_labels.insert("severity".into(), severity.into());
            assert_eq!(priority(&n), expected, "{severity}");
        }
    }
}
