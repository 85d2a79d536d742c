//! Telegram through a bot: `sendMessage` with HTML formatting, the title in bold and the
//! notification text below, without link previews. The bot token is part of the URL, so it is
//! taken out of every error.

use std::time::Duration;

use serde_json::{json, Value};

use crate::channels::text::Rendered;
use crate::channels::{DeliveryContext, DeliveryError};
use crate::contact_point::TelegramSettings;
use crate::http::Answer;
use crate::notification::{Notification, NotificationKind};

const DEFAULT_API_URL: &str = "https://api.telegram.org";
/// Telegram's limit, counted on the text once its HTML is parsed (UTF-16 code units).
const MAX_TEXT_CHARS: usize = 4096;
const MAX_TITLE_CHARS: usize = 512;

/// Sends the message of `n` to the chat.
pub async fn deliver(s: &TelegramSettings, n: &Notification, r: &Rendered, ctx: &DeliveryContext<'_>) -> Result<(), DeliveryError> {
    let body = serde_json::to_vec(&message(s, n, r)).map_err(|e| DeliveryError::Permanent(format!("cannot encode the telegram message: {e}")))?;
    let url = format!("{}/bot{}/sendMessage", s.api_url.as_deref().unwrap_or(DEFAULT_API_URL).trim_end_matches('/'), s.bot_token.trim());
    let result = match ctx.http.send(reqwest::Method::POST, &url, &[], "application/json", body).await {
        Ok(answer) => outcome(&answer),
        Err(e) => Err(e.into()),
    };
    result.map_err(|e| super::slack::redact(e, s.bot_token.trim()))
}

/// `{"ok": true}`, or `{"ok": false, "error_code", "description", "parameters": {"retry_after"}}`.
/// 429 waits as told; 400, 401, 403 and 404 (bad chat, bad token, bot blocked) are permanent;
/// the rest may pass.
fn outcome(answer: &Answer) -> Result<(), DeliveryError> {
    let value: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
    if (200..300).contains(&answer.status) && value.get("ok").and_then(Value::as_bool) != Some(false) {
        return Ok(());
    }
    let code = value.get("error_code").and_then(Value::as_u64).map_or(answer.status, |c| c as u16);
    let description = value.get("description").and_then(Value::as_str).unwrap_or("no description");
    let mut message = format!("telegram answered {code}: {}", crate::template::clip(description.to_string(), 300));
    if let Some(chat) = value.pointer("/parameters/migrate_to_chat_id") {
        message.push_str(&format!(" (the group is now chat {chat})"));
    }
    match code {
        400 | 401 | 403 | 404 => Err(DeliveryError::Permanent(message)),
        _ => {
            let retry_after = value.pointer("/parameters/retry_after").and_then(Value::as_u64).map(Duration::from_secs).or(answer.retry_after);
            Err(DeliveryError::Retryable { message, retry_after })
        }
    }
}

fn message(s: &TelegramSettings, n: &Notification, r: &Rendered) -> Value {
    json!({
        "chat_id": s.chat_id.trim(),
        "text": text(n, r),
        "parse_mode": "HTML",
        "disable_web_page_preview": true,
    })
}

/// `<b>title</b>`, then the text: both cut as written (so the parsed text keeps within the
/// limit and no entity is cut), then escaped.
fn text(n: &Notification, r: &Rendered) -> String {
    let icon = match n.kind {
        NotificationKind::Acknowledged => "👀 ",
        NotificationKind::Test => "",
        _ if n.is_resolved() => "✅ ",
        _ => "🔥 ",
    };
    let title = super::slack::clip_chars(&format!("{icon}{}", r.title.replace(['\n', '\r'], " ")), MAX_TITLE_CHARS);
    let mut body = String::new();
    if let Some(by) = n.acknowledged_by.as_deref().filter(|_| n.kind == NotificationKind::Acknowledged) {
        body.push_str(&format!("Acknowledged by {by}\n"));
    }
    body.push_str(&r.text);
    // The title, two line breaks, the body.
    let room = MAX_TEXT_CHARS - title.encode_utf16().count() - 2;
    let body = super::slack::clip_chars(&body, room);
    format!("<b>{}</b>\n\n{}", esc(&title), esc(&body))
}

/// Telegram's HTML needs exactly these three escaped.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::super::slack::fixture::{self, units};
    use super::*;
    use crate::channels::text::default_text;

    fn settings() -> TelegramSettings {
        TelegramSettings { bot_token: "123456:ABC-DEF".into(), chat_id: "-1001234567890".into(), api_url: None }
    }

    fn build(n: &Notification) -> Value {
        message(&settings(), n, &Rendered { title: n.title(), text: default_text(n) })
    }

    /// The text as Telegram shows it: tags removed, entities decoded.
    fn shown(html: &str) -> String {
        html.replace("<b>", "").replace("</b>", "").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    }

    #[test]
    fn the_message_is_html_with_korean_intact() {
        let m = build(&fixture::notification(NotificationKind::Firing));
        assert_eq!(m["chat_id"], "-1001234567890");
        assert_eq!(m["parse_mode"], "HTML");
        assert_eq!(m["disable_web_page_preview"], true);
        let t = m["text"].as_str().unwrap();
        assert!(t.starts_with("<b>🔥 [FIRING:1] 결제 실패율 41%</b>\n\n● 결제 실패율 41%"), "{t}");
        assert!(t.contains("결제 실패: charge &lt;*&gt; declined by &lt;*&gt;"), "{t}");
        assert!(t.contains("&amp;from="), "{t}");
        assert!(build(&fixture::notification(NotificationKind::Resolved))["text"].as_str().unwrap().starts_with("<b>✅ [RESOLVED]"));
    }

    #[test]
    fn data_is_escaped() {
        let m = build(&fixture::hostile(fixture::notification(NotificationKind::Firing)));
        let t = m["text"].as_str().unwrap();
        assert!(!t.contains("<script>") && !t.contains("<img") && !t.contains("<!channel>"), "{t}");
        assert!(t.contains("&lt;script&gt;alert('x')&lt;/script&gt; &amp; &lt;!channel&gt;"));
        assert_eq!(t.matches('<').count(), 2, "only our own <b></b>");
    }

    #[test]
    fn the_text_keeps_within_the_limit_without_cutting_an_entity() {
        let n = fixture::notification(NotificationKind::Firing);
        let m = message(&settings(), &n, &Rendered { title: "결제 <실패>".repeat(100), text: "결제 & 실패 <x> 🔥\n".repeat(2000) });
        let t = m["text"].as_str().unwrap();
        assert!(units(&shown(t)) <= MAX_TEXT_CHARS, "{}", units(&shown(t)));
        assert!(t.ends_with('…'));
        let tail = &t[t.rfind('&').unwrap()..];
        assert!(tail.starts_with("&amp;") || tail.starts_with("&lt;") || tail.starts_with("&gt;"), "{tail}");
    }

    #[test]
    fn answers_are_classified() {
        let answer = |status: u16, body: &str| Answer { status, retry_after: None, body: body.into() };
        assert_eq!(outcome(&answer(200, r#"{"ok":true,"result":{"message_id":1}}"#)), Ok(()));
        let e = outcome(&answer(
            429,
            r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 35","parameters":{"retry_after":35}}"#,
        ))
        .unwrap_err();
        assert!(matches!(e, DeliveryError::Retryable { retry_after: Some(d), .. } if d == Duration::from_secs(35)));
        for code in [400, 401, 403] {
            let e =
                outcome(&answer(code, &format!(r#"{{"ok":false,"error_code":{code},"description":"Bad Request: chat not found"}}"#))).unwrap_err();
            assert!(matches!(e, DeliveryError::Permanent(ref m) if m.contains("chat not found")), "{code}");
        }
        let e = outcome(&answer(400, r#"{"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded to a supergroup chat","parameters":{"migrate_to_chat_id":-1001234}}"#)).unwrap_err();
        assert!(e.message().contains("-1001234"));
        assert!(matches!(outcome(&answer(502, "<html>Bad Gateway</html>")), Err(DeliveryError::Retryable { .. })));
    }

    #[test]
    fn the_token_is_taken_out_of_errors() {
        let e = DeliveryError::Retryable {
            message: "error sending request for url (https://api.telegram.org/bot123456:ABC-DEF/sendMessage)".into(),
            retry_after: None,
        };
        let e = super::super::slack::redact(e, "123456:ABC-DEF");
        assert!(!e.message().contains("ABC-DEF"), "{}", e.message());
    }
}
