//! Discord through a channel webhook: the title as the message content (what push
//! notifications show) and an embed with the notification text, colored by state and linked
//! to the alert. Data is escaped for Discord's Markdown and no mention in it can ping anyone.

use std::time::Duration;

use serde_json::{json, Value};

use crate::channels::text::Rendered;
use crate::channels::{check_answer, DeliveryContext, DeliveryError};
use crate::contact_point::DiscordSettings;
use crate::http::Answer;
use crate::notification::{Notification, NotificationKind};

const MAX_CONTENT_CHARS: usize = 2000;
const MAX_EMBED_TITLE_CHARS: usize = 256;
const MAX_EMBED_DESCRIPTION_CHARS: usize = 4096;

/// Posts the message of `n`.
pub async fn deliver(s: &DiscordSettings, n: &Notification, r: &Rendered, ctx: &DeliveryContext<'_>) -> Result<(), DeliveryError> {
    let body = serde_json::to_vec(&message(n, r)).map_err(|e| DeliveryError::Permanent(format!("cannot encode the discord message: {e}")))?;
    let result = match ctx.http.send(reqwest::Method::POST, &s.webhook_url, &[], "application/json", body).await {
        Ok(answer) => outcome(&answer),
        Err(e) => Err(e.into()),
    };
    result.map_err(|e| super::slack::redact(e, &s.webhook_url))
}

/// 200 and 204 delivered; 429 retried after the header's or the body's `retry_after`
/// (seconds, possibly fractional); the rest as most receivers mean them.
fn outcome(answer: &Answer) -> Result<(), DeliveryError> {
    if answer.status != 429 {
        return check_answer("discord", answer);
    }
    let from_body = serde_json::from_str::<Value>(&answer.body).ok().and_then(|v| v.get("retry_after").and_then(Value::as_f64));
    let retry_after = answer
        .retry_after
        .or_else(|| from_body.filter(|s| s.is_finite() && *s >= 0.0).map(|s| Duration::from_secs_f64(s.min(3600.0)).max(Duration::from_millis(1))));
    Err(DeliveryError::Retryable { message: "discord answered 429: rate limited".into(), retry_after })
}

/// Red firing, green resolved, amber acknowledged, blue test.
fn color(n: &Notification) -> u32 {
    match n.kind {
        NotificationKind::Acknowledged => 0xFEE75C,
        NotificationKind::Test => 0x5865F2,
        _ if n.is_resolved() => 0x57F287,
        _ => 0xED4245,
    }
}

fn message(n: &Notification, r: &Rendered) -> Value {
    let title = r.title.replace(['\n', '\r'], " ");
    let mut description = String::new();
    if let Some(by) = n.acknowledged_by.as_deref().filter(|_| n.kind == NotificationKind::Acknowledged) {
        description.push_str(&format!("Acknowledged by **{}**\n", esc(by)));
    }
    description.push_str(&esc(&r.text));
    let mut embed = json!({
        "title": super::slack::clip_chars(&esc(&title), MAX_EMBED_TITLE_CHARS),
        "description": super::slack::clip_chars(&description, MAX_EMBED_DESCRIPTION_CHARS),
        "color": color(n),
    });
    if let Some(url) = n.alerts.first().and_then(|a| super::slack::web_url(&a.url)) {
        embed["url"] = json!(url);
    }
    json!({
        "content": super::slack::clip_chars(&esc(&title), MAX_CONTENT_CHARS),
        "embeds": [embed],
        // Nobody is pinged by what the data says (`@everyone`, `<@id>`).
        "allowed_mentions": {"parse": []},
    })
}

/// Text safe for Discord's Markdown: its inline special characters behind a backslash, and
/// the ones that start a heading, quote or list when they begin a line. URLs are left whole
/// so they stay links.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let mut line_start = true;
        for (j, word) in line.split(' ').enumerate() {
            if j > 0 {
                out.push(' ');
            }
            if super::slack::web_url(word).is_some() && !word.contains(['<', '>', '(', ')', '[', ']']) {
                out.push_str(word);
                line_start = false;
                continue;
            }
            for c in word.chars() {
                let block = line_start && matches!(c, '#' | '-' | '+' | '>');
                if block || matches!(c, '\\' | '*' | '_' | '~' | '`' | '|' | '<' | '>' | '[' | ']' | '@') {
                    out.push('\\');
                }
                out.push(c);
                line_start = false;
            }
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
        message(n, &Rendered { title: n.title(), text: default_text(n) })
    }

    #[test]
    fn the_message_has_the_title_and_an_embed_with_korean_intact() {
        let m = build(&fixture::notification(NotificationKind::Firing));
        assert_eq!(m["content"], "\\[FIRING:1\\] 결제 실패율 41%");
        let e = &m["embeds"][0];
        assert_eq!(e["color"], 0xED4245);
        assert!(e["url"].as_str().unwrap().starts_with("https://trawl.example.com/alerts/"));
        let d = e["description"].as_str().unwrap();
        assert!(d.contains("● 결제 실패율 41%") && d.contains("Root cause: payment-service · POST third-party-payment-api /v1/charges"), "{d}");
        assert!(d.contains("logs: https://trawl.example.com/search?q=service%3A%22payment-service%22&from="), "links stay whole: {d}");
        assert_eq!(m["allowed_mentions"]["parse"], json!([]));
        assert_eq!(build(&fixture::notification(NotificationKind::Resolved))["embeds"][0]["color"], 0x57F287);
    }

    #[test]
    fn data_is_escaped_for_markdown() {
        let m = build(&fixture::hostile(fixture::notification(NotificationKind::Firing)));
        let d = m["embeds"][0]["description"].as_str().unwrap();
        assert!(
            d.contains("\\<script\\>alert('x')\\</script\\> & \\<!channel\\> \\*굵게\\* \\_기울임\\_ \\@everyone \\[link\\](https://evil.example)"),
            "{d}"
        );
    }

    #[test]
    fn block_markers_are_escaped_only_at_the_start_of_a_line() {
        assert_eq!(esc("# 제목\n  - item\n> quote\na-b # c"), "\\# 제목\n  \\- item\n\\> quote\na-b # c");
    }

    #[test]
    fn limits_are_kept_at_character_boundaries() {
        let n = fixture::notification(NotificationKind::Firing);
        let m = message(&n, &Rendered { title: "결제 실패 🔥".repeat(500), text: "결제 실패 🔥 ".repeat(2000) });
        let e = &m["embeds"][0];
        assert!(units(m["content"].as_str().unwrap()) <= MAX_CONTENT_CHARS);
        assert!(units(e["title"].as_str().unwrap()) <= MAX_EMBED_TITLE_CHARS);
        let d = e["description"].as_str().unwrap();
        assert!(units(d) <= MAX_EMBED_DESCRIPTION_CHARS && d.ends_with('…'));
        assert!(d.starts_with("결제 실패 🔥"));
    }

    #[test]
    fn rate_limits_are_retried_after_the_given_delay() {
        let answer = |retry: Option<u64>, body: &str| Answer { status: 429, retry_after: retry.map(Duration::from_secs), body: body.into() };
        let e = outcome(&answer(None, r#"{"message":"You are being rate limited.","retry_after":0.64,"global":false}"#)).unwrap_err();
        assert_eq!(
            e,
            DeliveryError::Retryable { message: "discord answered 429: rate limited".into(), retry_after: Some(Duration::from_millis(640)) }
        );
        let e = outcome(&answer(Some(2), "{}")).unwrap_err();
        assert!(matches!(e, DeliveryError::Retryable { retry_after: Some(d), .. } if d == Duration::from_secs(2)));
        assert_eq!(outcome(&Answer { status: 204, retry_after: None, body: String::new() }), Ok(()));
        assert!(matches!(outcome(&Answer { status: 404, retry_after: None, body: "Unknown Webhook".into() }), Err(DeliveryError::Permanent(_))));
    }
}
