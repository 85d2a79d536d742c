//! Microsoft Teams through an incoming webhook, as a MessageCard: a colored title, the
//! notification text in Markdown (data escaped, one paragraph per line) and buttons opening
//! the alert, its logs and its example trace.

use serde_json::{json, Value};

use crate::channels::text::Rendered;
use crate::channels::{check_answer, DeliveryContext, DeliveryError};
use crate::contact_point::TeamsSettings;
use crate::notification::{Notification, NotificationKind};

/// Teams refuses cards over about 28 KB; the text is kept well under.
const MAX_TEXT_BYTES: usize = 20 * 1024;
const MAX_TITLE_CHARS: usize = 250;
/// MessageCards show at most four actions.
const MAX_ACTIONS: usize = 4;

/// Posts the card of `n`.
pub async fn deliver(s: &TeamsSettings, n: &Notification, r: &Rendered, ctx: &DeliveryContext<'_>) -> Result<(), DeliveryError> {
    let body = serde_json::to_vec(&card(n, r)).map_err(|e| DeliveryError::Permanent(format!("cannot encode the teams card: {e}")))?;
    let result = match ctx.http.send(reqwest::Method::POST, &s.webhook_url, &[], "application/json", body).await {
        Ok(answer) => check_answer("teams", &answer).and_then(|()| failure_in_body(&answer.body)),
        Err(e) => Err(e.into()),
    };
    result.map_err(|e| super::slack::redact(e, &s.webhook_url))
}

/// Office 365 connectors answer some failures with HTTP 200 and the reason in the body
/// (`Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error
/// 429 …`); success is `1` or nothing.
fn failure_in_body(body: &str) -> Result<(), DeliveryError> {
    if !body.contains("delivery failed") {
        return Ok(());
    }
    let message = format!("teams: {}", crate::template::clip(body.trim().to_string(), 300));
    let status = body.split("HTTP error ").nth(1).and_then(|rest| rest.get(..3)).and_then(|code| code.parse::<u16>().ok());
    match status {
        Some(s) if (400..500).contains(&s) && s != 429 && s != 408 => Err(DeliveryError::Permanent(message)),
        _ => Err(DeliveryError::Retryable { message, retry_after: None }),
    }
}

fn theme_color(n: &Notification) -> &'static str {
    match n.kind {
        NotificationKind::Acknowledged => "D69E2E",
        NotificationKind::Test => "2B6CB0",
        _ if n.is_resolved() => "2F855A",
        _ => "C53030",
    }
}

fn card(n: &Notification, r: &Rendered) -> Value {
    let title = super::slack::clip_chars(&r.title.replace(['\n', '\r'], " "), MAX_TITLE_CHARS);
    let mut lines: Vec<String> = Vec::new();
    if let Some(by) = n.acknowledged_by.as_deref().filter(|_| n.kind == NotificationKind::Acknowledged) {
        lines.push(format!("Acknowledged by **{}**", esc(by)));
    }
    lines.extend(r.text.lines().filter(|l| !l.trim().is_empty()).map(esc));
    json!({
        "@type": "MessageCard",
        "@context": "http://schema.org/extensions",
        "themeColor": theme_color(n),
        "summary": title,
        "title": esc(&title),
        "text": crate::template::clip(lines.join("\n\n"), MAX_TEXT_BYTES),
        "potentialAction": actions(n),
    })
}

/// OpenUri actions: the first alert, its logs and example trace, then the next alerts.
fn actions(n: &Notification) -> Vec<Value> {
    let mut candidates: Vec<(String, &str)> = Vec::new();
    if let Some(a) = n.alerts.first() {
        candidates.push(("Open alert".into(), a.url.as_str()));
        if let Some(e) = &a.evidence {
            candidates.push(("Logs".into(), e.links.search.as_str()));
            if let Some(t) = &e.links.trace {
                candidates.push(("Example trace".into(), t.as_str()));
            }
        }
    }
    for (i, a) in n.alerts.iter().enumerate().skip(1) {
        candidates.push((format!("Alert {}", i + 1), a.url.as_str()));
    }
    candidates
        .into_iter()
        .filter_map(|(name, url)| {
            super::slack::web_url(url).map(|u| json!({"@type": "OpenUri", "name": name, "targets": [{"os": "default", "uri": u}]}))
        })
        .take(MAX_ACTIONS)
        .collect()
}

/// Text safe for the card's Markdown: HTML's special characters as entities (cards render
/// some HTML) and Markdown's with a backslash. URLs are left whole so they stay links.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if super::slack::web_url(word).is_some() && !word.contains(['<', '>', '"', '\'']) {
            out.push_str(word);
            continue;
        }
        for c in word.chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '\\' | '*' | '_' | '`' | '~' | '#' | '[' | ']' | '|' => {
                    out.push('\\');
                    out.push(c);
                }
                _ => out.push(c),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::slack::fixture;
    use super::*;
    use crate::channels::text::default_text;

    fn build(n: &Notification) -> Value {
        card(n, &Rendered { title: n.title(), text: default_text(n) })
    }

    #[test]
    fn the_card_is_red_when_firing_and_green_when_resolved() {
        let firing = build(&fixture::notification(NotificationKind::Firing));
        assert_eq!(firing["@type"], "MessageCard");
        assert_eq!(firing["@context"], "http://schema.org/extensions");
        assert_eq!(firing["themeColor"], "C53030");
        assert_eq!(build(&fixture::notification(NotificationKind::Resolved))["themeColor"], "2F855A");
        assert_eq!(firing["summary"], "[FIRING:1] 결제 실패율 41%");
        let text = firing["text"].as_str().unwrap();
        assert!(
            text.contains("● 결제 실패율 41%") && text.contains("Root cause: payment-service · POST third-party-payment-api /v1/charges"),
            "{text}"
        );
        let names: Vec<&str> = firing["potentialAction"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Open alert", "Logs", "Example trace"]);
        // The links in the text stay links.
        assert!(text.contains("logs: https://trawl.example.com/search?q=service%3A%22payment-service%22&from="), "{text}");
    }

    #[test]
    fn data_is_escaped_for_markdown_and_html() {
        let n = fixture::hostile(fixture::notification(NotificationKind::Firing));
        let card = build(&n);
        let text = card["text"].as_str().unwrap();
        assert!(!text.contains("<script>") && !text.contains("<img"), "{text}");
        assert!(text.contains("&lt;script&gt;alert('x')&lt;/script&gt; &amp; &lt;!channel&gt; \\*굵게\\* \\_기울임\\_"), "{text}");
        assert!(text.contains("\\[link\\](https://evil.example)"), "{text}");
        assert!(card["title"].as_str().unwrap().starts_with("\\[FIRING:1\\] &lt;script&gt;"));
    }

    #[test]
    fn at_most_four_actions_and_only_web_links() {
        let mut n = fixture::notification_of(NotificationKind::Firing, 6);
        n.alerts[0].url = "javascript:alert(1)".into();
        let actions = build(&n)["potentialAction"].as_array().unwrap().clone();
        assert_eq!(actions.len(), MAX_ACTIONS);
        assert!(actions.iter().all(|a| a["targets"][0]["uri"].as_str().unwrap().starts_with("https://")));
    }

    #[test]
    fn failures_reported_with_http_200_are_failures() {
        assert_eq!(failure_in_body("1"), Ok(()));
        assert_eq!(failure_in_body(""), Ok(()));
        let e = failure_in_body("Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 429 with ContextId …")
            .unwrap_err();
        assert!(matches!(e, DeliveryError::Retryable { .. }));
        let e = failure_in_body("Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 400").unwrap_err();
        assert!(matches!(e, DeliveryError::Permanent(_)));
    }

    #[test]
    fn long_text_is_cut_at_a_character_boundary() {
        let n = fixture::notification(NotificationKind::Firing);
        let card = card(&n, &Rendered { title: "결제".repeat(500), text: "결제 실패 ".repeat(10_000) });
        assert!(card["text"].as_str().unwrap().len() <= MAX_TEXT_BYTES);
        assert!(fixture::units(card["summary"].as_str().unwrap()) <= MAX_TITLE_CHARS);
    }
}
