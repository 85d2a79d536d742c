//! A Prometheus Alertmanager as a contact point: the alerts posted to `/api/v2/alerts`, so its
//! own routing, grouping and receivers take over. Each alert keeps its labels (plus
//! `alertname`), its annotations gain the evidence, and `endsAt` tells Alertmanager when a
//! firing alert expires without a repeat (or when a resolved one ended). Alertmanager has no
//! acknowledgements: those notifications are not sent.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::channels::{check_answer, DeliveryContext, DeliveryError};
use crate::contact_point::AlertmanagerSettings;
use crate::notification::{AlertPayload, Notification, NotificationKind};

/// Posts the alerts of `n`; acknowledgements are left out.
pub async fn deliver(s: &AlertmanagerSettings, n: &Notification, ctx: &DeliveryContext<'_>) -> Result<(), DeliveryError> {
    if n.kind == NotificationKind::Acknowledged || n.alerts.is_empty() {
        return Ok(());
    }
    let body = serde_json::to_vec(&alerts(n)).map_err(|e| DeliveryError::Permanent(format!("cannot encode the alerts: {e}")))?;
    let url = format!("{}/api/v2/alerts", s.url.trim_end_matches('/'));
    let headers: Vec<(String, String)> = authorization(s).into_iter().map(|v| ("Authorization".to_string(), v)).collect();
    let answer = ctx.http.send(reqwest::Method::POST, &url, &headers, "application/json", body).await?;
    // 200 taken; 400 a refused alert (permanent); 5xx later.
    check_answer("alertmanager", &answer)
}

/// `Basic base64(user:password)` when a user is set.
fn authorization(s: &AlertmanagerSettings) -> Option<String> {
    let user = s.username.as_deref().filter(|u| !u.is_empty())?;
    let password = s.password.as_deref().unwrap_or_default();
    Some(format!("Basic {}", base64(format!("{user}:{password}").as_bytes())))
}

/// The body: one postable alert per alert of the notification.
fn alerts(n: &Notification) -> Value {
    Value::Array(n.alerts.iter().map(|a| alert(n, a)).collect())
}

fn alert(n: &Notification, a: &AlertPayload) -> Value {
    let mut labels = names_fixed(a.labels.iter());
    labels.insert("alertname".into(), a.rule.clone());
    let mut alert = json!({
        "labels": labels,
        "annotations": annotations(a),
        "startsAt": a.starts_at,
    });
    if !a.url.is_empty() {
        alert["generatorURL"] = json!(a.url);
    }
    let ends = if a.status == "firing" { n.valid_until.clone() } else { Some(a.ends_at.clone().unwrap_or_else(|| n.sent_at.clone())) };
    if let Some(ends) = ends {
        alert["endsAt"] = json!(ends);
    }
    alert
}

/// The alert's annotations, and its evidence: the root cause, links to the logs and the
/// example trace, and the evidence as lines of text.
fn annotations(a: &AlertPayload) -> BTreeMap<String, String> {
    let mut out = names_fixed(a.annotations.iter());
    let Some(e) = &a.evidence else { return out };
    if let Some(c) = e.root_causes.first() {
        out.insert("root_cause".into(), format!("{} · {} ({} of failing traces)", c.service, c.operation, crate::format::percent(c.share)));
    }
    if !e.links.search.is_empty() {
        out.insert("logs_url".into(), e.links.search.clone());
    }
    if let Some(t) = &e.links.trace {
        out.insert("trace_url".into(), t.clone());
    }
    let lines = crate::evidence::text_lines(e);
    if !lines.is_empty() {
        out.insert("evidence".into(), lines.join("\n"));
    }
    out
}

/// Names as Alertmanager 0.25 takes them (`[a-zA-Z_][a-zA-Z0-9_]*`, else it refuses the whole
/// request): other characters become `_`. Label names already are; annotation names need
/// not be.
fn names_fixed<'a>(pairs: impl Iterator<Item = (&'a String, &'a String)>) -> BTreeMap<String, String> {
    pairs
        .map(|(k, v)| {
            if crate::labels::valid_label_name(k) {
                return (k.clone(), v.clone());
            }
            let mut name: String = k.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
            if !name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
                name.insert(0, '_');
            }
            (name, v.clone())
        })
        .collect()
}

/// Standard base64 with padding (RFC 4648), for the basic authorization header.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> shift) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::slack::fixture;
    use super::*;
    use crate::channels::ThreadStore;
    use crate::http::{OutboundClient, OutboundLimits, OutboundPolicy};

    #[test]
    fn firing_alerts_carry_labels_evidence_and_their_expiry() {
        let n = fixture::notification(NotificationKind::Firing);
        let body = alerts(&n);
        let a = &body[0];
        assert_eq!(a["labels"]["alertname"], "payment-errors");
        assert_eq!(a["labels"]["service"], "payment-service");
        assert_eq!(a["labels"]["team"], "결제팀");
        assert_eq!(a["annotations"]["summary"], "결제 실패율 41%");
        assert_eq!(a["annotations"]["root_cause"], "payment-service · POST third-party-payment-api /v1/charges (82% of failing traces)");
        assert!(a["annotations"]["logs_url"].as_str().unwrap().contains("/search?q="));
        assert!(a["annotations"]["trace_url"].as_str().unwrap().ends_with("/trace/4bf92f3577b34da6a3ce929d0e0e4736"));
        let evidence = a["annotations"]["evidence"].as_str().unwrap();
        assert!(evidence.starts_with("error_rate: 41% (threshold 5.0%)") && evidence.contains("\n  | 결제 실패: charge"), "{evidence}");
        assert_eq!(a["startsAt"], "2026-01-01T00:00:00Z");
        assert_eq!(a["endsAt"], "2026-01-01T04:05:00Z", "firing alerts expire at valid_until");
        assert_eq!(a["generatorURL"], n.alerts[0].url);
    }

    #[test]
    fn resolved_alerts_end_when_they_resolved() {
        let n = fixture::notification(NotificationKind::Resolved);
        assert_eq!(alerts(&n)[0]["endsAt"], "2026-01-01T00:30:00Z");
        let mut n = fixture::notification(NotificationKind::Firing);
        n.valid_until = None;
        assert!(alerts(&n)[0].get("endsAt").is_none());
    }

    #[test]
    fn names_are_made_valid_for_alertmanager() {
        let mut n = fixture::notification(NotificationKind::Firing);
        n.alerts[0].annotations.insert("runbook-url".into(), "https://runbooks.example.com/결제".into());
        n.alerts[0].annotations.insert("1st".into(), "x".into());
        let a = &alerts(&n)[0]["annotations"];
        assert_eq!(a["runbook_url"], "https://runbooks.example.com/결제");
        assert_eq!(a["_1st"], "x");
    }

    #[test]
    fn basic_authorization() {
        assert_eq!(base64(b"Aladdin:open sesame"), "QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        let s = AlertmanagerSettings { url: "http://am:9093".into(), username: Some("trawl".into()), password: Some("비밀".into()) };
        assert_eq!(authorization(&s).unwrap(), format!("Basic {}", base64("trawl:비밀".as_bytes())));
        assert_eq!(authorization(&AlertmanagerSettings::default()), None);
    }

    struct NoThreads;
    impl ThreadStore for NoThreads {
        fn get(&self, _: &str) -> Option<Value> {
            None
        }
        fn put(&self, _: &str, _: Value) {}
    }

    #[tokio::test]
    async fn acknowledgements_are_not_sent() {
        // A destination the guard refuses: a request would fail.
        let http = OutboundClient::new(&OutboundPolicy::default(), OutboundLimits::default()).unwrap();
        let ctx = DeliveryContext { http: &http, threads: &NoThreads };
        let s = AlertmanagerSettings { url: "http://127.0.0.1:9093".into(), ..Default::default() };
        assert_eq!(deliver(&s, &fixture::notification(NotificationKind::Acknowledged), &ctx).await, Ok(()));
        assert!(matches!(deliver(&s, &fixture::notification(NotificationKind::Firing), &ctx).await, Err(DeliveryError::Permanent(_))));
    }
}
