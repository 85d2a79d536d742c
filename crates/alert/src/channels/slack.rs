//! Slack, in Block Kit: a header, each alert's evidence in mrkdwn sections, its labels in a
//! context block and link buttons (the alert, its logs, an example trace). Two modes: an
//! incoming webhook (one message per notification), or a bot token with the Web API
//! (`chat.postMessage`), where the firing message's channel and timestamp are kept per group
//! so that the resolved or acknowledged notification updates that message and replies in its
//! thread.
//!
//! Also here, shared with the other chat channels: [`clip_chars`], [`web_url`] and
//! [`redact`].

use serde_json::{json, Value};

use crate::channels::text::Rendered;
use crate::channels::{check_answer, DeliveryContext, DeliveryError};
use crate::contact_point::{ContactPointSpec, SlackSettings, REDACTED};
use crate::evidence::Evidence;
use crate::http::Answer;
use crate::notification::{AlertPayload, Notification, NotificationKind};

const DEFAULT_API_URL: &str = "https://slack.com/api";
const CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// Block Kit limits.
const MAX_BLOCKS: usize = 50;
const MAX_HEADER_CHARS: usize = 150;
const MAX_SECTION_CHARS: usize = 3000;
const MAX_BUTTON_TEXT_CHARS: usize = 75;
const MAX_BUTTON_URL_CHARS: usize = 3000;
/// The message's `text`: shown in push notifications, and where blocks cannot be.
const MAX_FALLBACK_CHARS: usize = 3000;

/// Alerts written out with their evidence; the others get one line each.
const MAX_DETAILED_ALERTS: usize = 5;
const MAX_PATTERNS: usize = 3;
const MAX_SAMPLES: usize = 3;
const MAX_SAMPLE_CHARS: usize = 300;
/// Sections a contact point's own text is split into.
const MAX_TEMPLATE_SECTIONS: usize = 10;

/// Web API errors that retrying cannot fix: the ones Slack documents as settings or
/// permission problems, and messages it will never take.
const PERMANENT_ERRORS: [&str; 16] = [
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "token_expired",
    "missing_scope",
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "restricted_action",
    "invalid_blocks",
    "invalid_arguments",
    "msg_too_long",
    "no_text",
    "too_many_attachments",
    "team_access_not_granted",
];

/// Errors of `chat.update` after which the old message is gone or frozen: post a new one.
const GONE_ERRORS: [&str; 3] = ["message_not_found", "cant_update_message", "edit_window_closed"];

/// Posts `n` by webhook, or with the Web API (updating and replying in the group's thread).
pub async fn deliver(
    s: &SlackSettings,
    cp: &ContactPointSpec,
    n: &Notification,
    r: &Rendered,
    ctx: &DeliveryContext<'_>,
) -> Result<(), DeliveryError> {
    let message = message(s, cp, n, r);
    let token = s.token.as_deref().filter(|t| !t.trim().is_empty());
    let channel = s.channel.as_deref().filter(|c| !c.trim().is_empty());
    match (token, channel, s.webhook_url.as_deref()) {
        (Some(token), Some(channel), _) => {
            let api = Api { base: s.api_url.as_deref().unwrap_or(DEFAULT_API_URL).trim_end_matches('/'), token, ctx };
            deliver_with_token(&api, s, channel, &thread_key(cp, n), n, &message).await
        }
        (_, _, Some(url)) => {
            let body = to_bytes(&webhook_body(&message))?;
            let result = match ctx.http.send(reqwest::Method::POST, url, &[], CONTENT_TYPE, body).await {
                Ok(answer) => check_answer("slack", &answer),
                Err(e) => Err(e.into()),
            };
            result.map_err(|e| redact(e, url))
        }
        _ => Err(DeliveryError::Permanent("slack: give either webhook_url, or token and channel".into())),
    }
}

/// Firing: a new message, its thread kept. Resolved and acknowledged: the kept message
/// updated and a reply in its thread, or a new message when none is kept.
async fn deliver_with_token(
    api: &Api<'_>,
    s: &SlackSettings,
    channel: &str,
    key: &str,
    n: &Notification,
    message: &Message,
) -> Result<(), DeliveryError> {
    let thread = match n.kind {
        NotificationKind::Resolved | NotificationKind::Acknowledged => api.ctx.threads.get(key).as_ref().and_then(Thread::from_value),
        NotificationKind::Firing | NotificationKind::Test => None,
    };
    let Some(thread) = thread else {
        let posted = api.call("chat.postMessage", &post_body(s, channel, message, None)).await?;
        if n.kind == NotificationKind::Firing {
            if let Some(thread) = Thread::from_answer(&posted) {
                api.ctx.threads.put(key, thread.to_value());
            }
        }
        return Ok(());
    };
    match api.call("chat.update", &update_body(&thread, message)).await {
        Ok(_) => {}
        Err(e) if GONE_ERRORS.contains(&e.code.as_str()) => {
            api.call("chat.postMessage", &post_body(s, channel, message, None)).await?;
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    }
    api.call("chat.postMessage", &post_body(s, &thread.channel, &reply(n), Some(&thread.ts))).await?;
    Ok(())
}

/// Where the messages of a group are kept: per contact point and group.
fn thread_key(cp: &ContactPointSpec, n: &Notification) -> String {
    format!("slack:{}:{}", cp.name, n.group_key)
}

/// A posted message: its channel id and timestamp.
#[derive(Debug, Clone, PartialEq)]
struct Thread {
    channel: String,
    ts: String,
}

impl Thread {
    fn from_value(v: &Value) -> Option<Thread> {
        let channel = v.get("channel")?.as_str()?.to_string();
        let ts = v.get("ts")?.as_str()?.to_string();
        (!channel.is_empty() && !ts.is_empty()).then_some(Thread { channel, ts })
    }

    /// From `chat.postMessage`'s answer, which names the channel by id.
    fn from_answer(answer: &Value) -> Option<Thread> {
        Thread::from_value(answer)
    }

    fn to_value(&self) -> Value {
        json!({"channel": self.channel, "ts": self.ts})
    }
}

/// Slack's Web API with a bot token.
struct Api<'a> {
    base: &'a str,
    token: &'a str,
    ctx: &'a DeliveryContext<'a>,
}

/// A failed Web API call: Slack's error code (empty when the failure was not Slack's
/// answer) and what the outbox should do.
#[derive(Debug)]
struct ApiError {
    code: String,
    error: DeliveryError,
}

impl From<ApiError> for DeliveryError {
    fn from(e: ApiError) -> DeliveryError {
        e.error
    }
}

impl Api<'_> {
    async fn call(&self, method: &str, body: &Value) -> Result<Value, ApiError> {
        let body = to_bytes(body).map_err(|error| ApiError { code: String::new(), error })?;
        let headers = [("Authorization".to_string(), format!("Bearer {}", self.token))];
        let url = format!("{}/{method}", self.base);
        let answer = self.ctx.http.send(reqwest::Method::POST, &url, &headers, CONTENT_TYPE, body).await;
        let answer = answer.map_err(|e| ApiError { code: String::new(), error: redact(e.into(), self.token) })?;
        api_result(method, &answer)
    }
}

/// A Web API answer: HTTP 200 with `{"ok": true, …}`, or `{"ok": false, "error": code}`.
fn api_result(method: &str, answer: &Answer) -> Result<Value, ApiError> {
    check_answer(&format!("slack {method}"), answer).map_err(|error| ApiError { code: String::new(), error })?;
    let value: Value = serde_json::from_str(&answer.body).map_err(|_| ApiError {
        code: String::new(),
        error: DeliveryError::Retryable {
            message: format!(
                "slack {method} answered {} with a body that is not JSON: {}",
                answer.status,
                crate::template::clip(answer.body.clone(), 200)
            ),
            retry_after: answer.retry_after,
        },
    })?;
    if value.get("ok").and_then(Value::as_bool) == Some(true) {
        return Ok(value);
    }
    let code = value.get("error").and_then(Value::as_str).unwrap_or("unknown_error").to_string();
    let message = format!("slack {method} failed: {code}");
    let error = if PERMANENT_ERRORS.contains(&code.as_str()) || GONE_ERRORS.contains(&code.as_str()) {
        DeliveryError::Permanent(message)
    } else {
        // `ratelimited` and the rest (`internal_error`, `fatal_error`, `service_unavailable`,
        // and codes Slack adds later).
        DeliveryError::Retryable { message, retry_after: answer.retry_after }
    };
    Err(ApiError { code, error })
}

fn to_bytes(v: &Value) -> Result<Vec<u8>, DeliveryError> {
    serde_json::to_vec(v).map_err(|e| DeliveryError::Permanent(format!("cannot encode the slack message: {e}")))
}

/// A Slack message: the notification text and its blocks.
#[derive(Debug, Clone, PartialEq)]
struct Message {
    text: String,
    blocks: Vec<Value>,
}

fn webhook_body(m: &Message) -> Value {
    json!({"text": m.text, "blocks": m.blocks})
}

fn post_body(s: &SlackSettings, channel: &str, m: &Message, thread_ts: Option<&str>) -> Value {
    let mut body = json!({"channel": channel, "text": m.text, "blocks": m.blocks, "unfurl_links": false, "unfurl_media": false});
    if let Some(ts) = thread_ts {
        body["thread_ts"] = json!(ts);
    }
    if let Some(u) = s.username.as_deref().filter(|u| !u.is_empty()) {
        body["username"] = json!(u);
    }
    if let Some(i) = s.icon_emoji.as_deref().filter(|i| !i.is_empty()) {
        body["icon_emoji"] = json!(i);
    }
    body
}

fn update_body(t: &Thread, m: &Message) -> Value {
    json!({"channel": t.channel, "ts": t.ts, "text": m.text, "blocks": m.blocks})
}

/// The message of a notification. Firing ones start with the contact point's mention.
fn message(s: &SlackSettings, cp: &ContactPointSpec, n: &Notification, r: &Rendered) -> Message {
    let mention = s.mention.as_deref().map(str::trim).filter(|m| !m.is_empty() && n.kind == NotificationKind::Firing);
    let title = r.title.replace(['\n', '\r'], " ");
    let mut blocks = Vec::new();
    // The mention is the contact point's own mrkdwn (`<!here>`), so it is not escaped.
    if let Some(m) = mention {
        blocks.push(section(m.to_string()));
    }
    if !title.trim().is_empty() {
        blocks.push(json!({"type": "header", "text": {"type": "plain_text", "text": clip_chars(&title, MAX_HEADER_CHARS), "emoji": true}}));
    }
    if let (NotificationKind::Acknowledged, Some(by)) = (n.kind, &n.acknowledged_by) {
        blocks.push(context(format!(":eyes: Acknowledged by *{}*", esc(by))));
    }
    if cp.text_template.is_some() {
        blocks.extend(paragraph_chunks(&esc(&r.text), MAX_SECTION_CHARS).into_iter().take(MAX_TEMPLATE_SECTIONS).map(section));
        blocks.extend(n.alerts.first().and_then(|a| buttons(a, 0)));
    } else {
        blocks.extend(alerts_blocks(n, MAX_BLOCKS - blocks.len()));
    }
    blocks.truncate(MAX_BLOCKS);
    let text = match mention {
        Some(m) => format!("{m} {}", esc(&title)),
        None => esc(&title),
    };
    Message { text: clip_mrkdwn(&text, MAX_FALLBACK_CHARS), blocks }
}

/// The short reply in the thread of the updated message.
fn reply(n: &Notification) -> Message {
    let text = match (n.kind, &n.acknowledged_by) {
        (NotificationKind::Acknowledged, Some(by)) => format!(":eyes: Acknowledged by *{}*", esc(by)),
        (NotificationKind::Acknowledged, None) => ":eyes: Acknowledged".to_string(),
        _ => {
            let mut lines = vec![":large_green_circle: *Resolved*".to_string()];
            for a in n.alerts.iter().take(MAX_DETAILED_ALERTS * 2) {
                let at = a.ends_at.as_deref().map(|t| format!(" at {}", esc(t))).unwrap_or_default();
                lines.push(format!("• {}{at}", esc(&summary(a))));
            }
            lines.join("\n")
        }
    };
    let text = clip_mrkdwn(&text, MAX_SECTION_CHARS);
    Message { blocks: vec![section(text.clone())], text }
}

/// The alerts' blocks within `room`: the first ones in full with a divider after each, the
/// rest one line each in a last section.
fn alerts_blocks(n: &Notification, room: usize) -> Vec<Value> {
    let mut out = Vec::new();
    let mut shown = 0;
    for (i, a) in n.alerts.iter().enumerate().take(MAX_DETAILED_ALERTS) {
        let blocks = alert_blocks(a, i);
        // Keep one block for the list of the rest.
        if out.len() + blocks.len() + 1 + 1 > room {
            break;
        }
        out.extend(blocks);
        out.push(json!({"type": "divider"}));
        shown += 1;
    }
    let rest = &n.alerts[shown..];
    if !rest.is_empty() || n.truncated_alerts > 0 {
        let mut lines = vec![format!("*… and {} more*", rest.len() + n.truncated_alerts)];
        for a in rest {
            let icon = if a.status == "firing" { ":red_circle:" } else { ":large_green_circle:" };
            lines.push(format!("{icon} {} · <{}|open>", esc(&summary(a)), esc_url(&a.url)));
        }
        out.push(section(clip_lines(&lines, MAX_SECTION_CHARS)));
    } else if out.last().is_some_and(|b| b["type"] == "divider") {
        out.pop();
    }
    out
}

/// One alert: what and how much, root cause, log patterns, changes, labels, buttons.
fn alert_blocks(a: &AlertPayload, index: usize) -> Vec<Value> {
    let icon = if a.status == "firing" { ":red_circle:" } else { ":large_green_circle:" };
    let mut head = vec![format!("{icon} *{}*", esc(&summary(a)))];
    if let Some(d) = a.annotations.get("description").filter(|d| !d.trim().is_empty()) {
        head.push(esc(d));
    }
    head.push(figure_mrkdwn(a));
    let mut blocks = vec![section(clip_lines(&head, MAX_SECTION_CHARS))];
    if let Some(e) = &a.evidence {
        blocks.extend(cause_section(e));
        blocks.extend(patterns_section(e));
        blocks.extend(changes_section(e));
    }
    let mut labels: Vec<String> = a.labels.iter().map(|(k, v)| format!("{}={}", esc(k), esc(v))).collect();
    labels.push(format!("since {}", esc(&a.starts_at)));
    if let Some(end) = &a.ends_at {
        labels.push(format!("resolved {}", esc(end)));
    }
    blocks.push(context(labels.join(" · ")));
    blocks.extend(buttons(a, index));
    blocks
}

/// `*error_rate*: 41% (threshold 5%)  `▁▂▅█``
fn figure_mrkdwn(a: &AlertPayload) -> String {
    let (metric, rest) = figure_text(a);
    format!("*{}*: {}", esc(&metric), esc(&rest))
}

fn cause_section(e: &Evidence) -> Option<Value> {
    let c = e.root_causes.first()?;
    let mut lines = vec![format!(
        "*Root cause:* `{}` · `{}` — {} of {} failing traces ({}){}",
        code(&c.service),
        code(&c.operation),
        c.traces,
        e.failing_traces,
        crate::format::percent(c.share),
        if c.status.is_empty() || c.status == "steady" { String::new() } else { format!(", {}", esc(&c.status)) }
    )];
    if !c.reason.is_empty() {
        lines.push(format!("> {}", esc(&c.reason.replace('\n', " "))));
    }
    if !c.versions.is_empty() && c.version_specific.is_some() {
        lines.push(format!("only in version {}", esc(&c.versions.join(", "))));
    }
    if !c.example_trace_id.is_empty() {
        lines.push(format!("Example trace: `{}`", code(&c.example_trace_id)));
    }
    for other in e.root_causes.iter().skip(1) {
        lines.push(format!("Also: `{}` · `{}` ({} traces)", code(&other.service), code(&other.operation), other.traces));
    }
    Some(section(clip_lines(&lines, MAX_SECTION_CHARS)))
}

fn patterns_section(e: &Evidence) -> Option<Value> {
    if e.patterns.is_empty() {
        return None;
    }
    let mut lines = vec!["*Log patterns*".to_string()];
    for p in e.patterns.iter().take(MAX_PATTERNS) {
        lines.push(format!("• {}`{}` ×{} · {}", if p.new { ":new: " } else { "" }, code(&p.template), p.count, esc(&p.service)));
        let samples: Vec<String> =
            p.samples.iter().take(MAX_SAMPLES).map(|s| code(&clip_chars(&s.replace(['\n', '\r'], " "), MAX_SAMPLE_CHARS))).collect();
        if !samples.is_empty() {
            lines.push(format!("```{}```", samples.join("\n")));
        }
    }
    Some(section(clip_lines(&lines, MAX_SECTION_CHARS)))
}

fn changes_section(e: &Evidence) -> Option<Value> {
    let mut lines = Vec::new();
    for d in &e.changes.deploys {
        lines.push(format!(":rocket: *Deploy:* {} {} at {}", esc(&d.service), esc(&d.version), trawl_model::format_rfc3339(d.first_seen_ns)));
    }
    for m in &e.changes.moved {
        lines.push(format!(
            ":chart_with_upwards_trend: *Also moved:* {} error rate {} (was {})",
            esc(&m.service),
            crate::format::percent(m.error_rate),
            crate::format::percent(m.baseline_error_rate)
        ));
    }
    (!lines.is_empty()).then(|| section(clip_lines(&lines, MAX_SECTION_CHARS)))
}

/// Link buttons to the alert, its logs and its example trace.
fn buttons(a: &AlertPayload, index: usize) -> Option<Value> {
    let links = a.evidence.as_ref().map(|e| &e.links);
    let candidates = [
        ("Open alert", "alert", Some(a.url.as_str())),
        ("Logs", "logs", links.map(|l| l.search.as_str())),
        ("Example trace", "trace", links.and_then(|l| l.trace.as_deref())),
    ];
    let elements: Vec<Value> = candidates
        .iter()
        .filter_map(|(label, id, url)| {
            let url = web_url(url.unwrap_or_default()).filter(|u| u.chars().count() <= MAX_BUTTON_URL_CHARS)?;
            Some(json!({
                "type": "button",
                "text": {"type": "plain_text", "text": clip_chars(label, MAX_BUTTON_TEXT_CHARS)},
                "url": url,
                "action_id": format!("{id}-{index}"),
            }))
        })
        .collect();
    (!elements.is_empty()).then(|| json!({"type": "actions", "elements": elements}))
}

fn section(text: String) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": clip_mrkdwn(&text, MAX_SECTION_CHARS)}})
}

fn context(text: String) -> Value {
    json!({"type": "context", "elements": [{"type": "mrkdwn", "text": clip_mrkdwn(&text, MAX_SECTION_CHARS)}]})
}

/// The alert's summary annotation, else its rule.
fn summary(a: &AlertPayload) -> String {
    a.annotations.get("summary").filter(|s| !s.trim().is_empty()).cloned().unwrap_or_else(|| a.rule.clone())
}

/// Data made safe for mrkdwn: Slack's three control characters as entities, so data can
/// neither link, mention (`<!channel>`) nor close our markup.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Data for inside backticks: escaped, and its own backticks (which would end the code span)
/// replaced by a look-alike.
fn code(s: &str) -> String {
    esc(s).replace('`', "ˋ")
}

/// A URL inside `<…|…>`: escaped like other data, `|` encoded.
fn esc_url(url: &str) -> String {
    esc(url).replace('|', "%7C")
}

/// Paragraphs (separated by blank lines) gathered into pieces of at most `max` characters; a
/// longer paragraph is cut.
fn paragraph_chunks(text: &str, max: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for paragraph in text.split("\n\n").map(str::trim_end).filter(|p| !p.trim().is_empty()) {
        match out.last_mut() {
            Some(last) if last.encode_utf16().count() + 2 + paragraph.encode_utf16().count() <= max => {
                last.push_str("\n\n");
                last.push_str(paragraph);
            }
            _ => out.push(clip_mrkdwn(paragraph, max)),
        }
    }
    out
}

/// Lines joined, cut to `max` characters.
fn clip_lines(lines: &[String], max: usize) -> String {
    clip_mrkdwn(&lines.join("\n"), max)
}

/// Escaped mrkdwn cut to `max` characters, never inside an entity (`&am…`).
fn clip_mrkdwn(s: &str, max: usize) -> String {
    let mut out = clip_chars(s, max);
    if out.len() == s.len() {
        return out;
    }
    out.pop(); // the ellipsis
    if let Some(amp) = out.rfind('&') {
        if !out[amp..].contains(';') {
            out.truncate(amp);
        }
    }
    out.push('…');
    out
}

/// The figure of an alert as text: its metric, and its value against the threshold or the
/// normal band, with the evidence's sparkline: (`error_rate`, `41% (threshold 5%)  ▁▂▅█`).
pub(super) fn figure_text(a: &AlertPayload) -> (String, String) {
    let figure = a.evidence.as_ref().map(|e| &e.figure);
    let metric = figure.map(|f| f.metric.as_str()).filter(|m| !m.is_empty()).unwrap_or(&a.metric);
    let unit = figure.map(|f| f.unit.as_str()).filter(|u| !u.is_empty()).unwrap_or(&a.unit);
    let value = figure.map(|f| f.value).unwrap_or(a.value);
    let band = figure.and_then(|f| f.band).or(a.band);
    let threshold = figure.and_then(|f| f.threshold).or(a.threshold);
    let mut text = crate::format::figure(value, unit);
    if let Some(b) = band {
        text.push_str(&format!(" (normal {}–{})", crate::format::figure(b.low, unit), crate::format::figure(b.high, unit)));
    } else if let Some(t) = threshold {
        text.push_str(&format!(" (threshold {})", crate::format::figure(t, unit)));
    }
    if let Some(spark) = figure.map(|f| f.sparkline.as_str()).filter(|s| !s.trim().is_empty()) {
        text.push_str("  ");
        text.push_str(spark);
    }
    (if metric.is_empty() { "value".to_string() } else { metric.to_string() }, text)
}

/// `s` cut to at most `max` characters as JavaScript and Java count them (UTF-16 code units,
/// never fewer than Unicode scalar values), at a character boundary, with an ellipsis when
/// cut. The chat services' limits are counted so.
pub(super) fn clip_chars(s: &str, max: usize) -> String {
    if s.encode_utf16().count() <= max {
        return s.to_string();
    }
    let budget = max.saturating_sub(1);
    let mut used = 0;
    let mut out = String::new();
    for c in s.chars() {
        used += c.len_utf16();
        if used > budget {
            break;
        }
        out.push(c);
    }
    if max > 0 {
        out.push('…');
    }
    out
}

/// `url` when it is an absolute http(s) URL: links never carry `javascript:` or the like.
pub(super) fn web_url(url: &str) -> Option<&str> {
    let parsed = reqwest::Url::parse(url).ok()?;
    matches!(parsed.scheme(), "http" | "https").then_some(url)
}

/// `e` without `secret` (a webhook URL, a token in a URL path): transport errors quote the URL
/// they failed on, and delivery errors are stored and shown.
pub(super) fn redact(e: DeliveryError, secret: &str) -> DeliveryError {
    let secret = secret.trim();
    if secret.is_empty() {
        return e;
    }
    let normalized = reqwest::Url::parse(secret).map(|u| u.to_string()).ok();
    let scrub = |m: String| {
        let m = normalized.as_deref().map_or(m.clone(), |n| m.replace(n, REDACTED));
        m.replace(secret, REDACTED)
    };
    match e {
        DeliveryError::Retryable { message, retry_after } => DeliveryError::Retryable { message: scrub(message), retry_after },
        DeliveryError::Permanent(message) => DeliveryError::Permanent(scrub(message)),
    }
}

/// A realistic notification for the channels' tests: a payment-service alert with its
/// evidence.
#[cfg(test)]
pub(super) mod fixture {
    use crate::evidence::{CauseSummary, Changes, Deploy, Evidence, Figure, Links, Moved, PatternSummary};
    use crate::labels::Labels;
    use crate::notification::{AlertPayload, Notification, NotificationKind, SCHEMA_VERSION};

    pub const SUMMARY: &str = "결제 실패율 41%";
    pub const BASE: &str = "https://trawl.example.com";

    pub fn alert(n: usize, firing: bool) -> AlertPayload {
        let service = if n == 0 { "payment-service".to_string() } else { format!("payment-service-{n}") };
        let labels: Labels = [
            ("rule".to_string(), "payment-errors".to_string()),
            ("service".to_string(), service.clone()),
            ("severity".to_string(), "critical".to_string()),
            ("team".to_string(), "결제팀".to_string()),
        ]
        .into();
        let fingerprint = crate::labels::fingerprint(&labels);
        let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736".to_string();
        let evidence = Evidence {
            computed_at_ns: 1_767_225_600_000_000_000,
            window_start_ns: 1_767_225_300_000_000_000,
            window_end_ns: 1_767_225_600_000_000_000,
            figure: Figure {
                metric: "error_rate".into(),
                unit: "ratio".into(),
                value: 0.41,
                threshold: Some(0.05),
                band: None,
                series: vec![Some(0.01), Some(0.01), Some(0.02), Some(0.2), Some(0.41)],
                series_step_ns: 60_000_000_000,
                sparkline: "▁▁▁▄█".into(),
            },
            root_causes: vec![
                CauseSummary {
                    service: "payment-service".into(),
                    operation: "POST third-party-payment-api /v1/charges".into(),
                    error_kind: "timeout".into(),
                    traces: 37,
                    share: 0.82,
                    example_trace_id: trace_id.clone(),
                    reason: "upstream timed out after 3000ms (결제 승인 지연)".into(),
                    status: "new".into(),
                    versions: vec!["1.14.2".into()],
                    version_specific: Some("1.4.2".into()),
                },
                CauseSummary {
                    service: "checkout-service".into(),
                    operation: "GET /cart".into(),
                    error_kind: "http 500".into(),
                    traces: 4,
                    share: 0.09,
                    example_trace_id: "0af7651916cd43dd8448eb211c80319c".into(),
                    reason: String::new(),
                    status: "steady".into(),
                    versions: Vec::new(),
                    version_specific: None,
                },
            ],
            failing_traces: 45,
            patterns: vec![PatternSummary {
                service: "payment-service".into(),
                template: "결제 실패: charge <*> declined by <*>".into(),
                count: 1234,
                new: true,
                samples: vec![
                    "결제 실패: charge ch_**** declined by third-party-payment-api card=****-****-****-4242".into(),
                    "결제 실패: charge ch_**** declined by third-party-payment-api timeout=3000ms".into(),
                    "결제 실패: charge ch_**** declined by third-party-payment-api user=<email>".into(),
                    "결제 실패: charge ch_**** declined by third-party-payment-api (fourth sample)".into(),
                ],
            }],
            changes: Changes {
                deploys: vec![Deploy { service: "payment-service".into(), version: "1.14.2".into(), first_seen_ns: 1_767_225_100_000_000_000 }],
                moved: vec![Moved { service: "checkout-service".into(), error_rate: 0.12, baseline_error_rate: 0.01, requests: 5400 }],
                new_patterns: 1,
            },
            links: Links {
                alert: format!("{BASE}/alerts/{fingerprint}"),
                search: format!("{BASE}/search?q=service%3A%22payment-service%22&from=2026-01-01T00%3A00%3A00Z&to=2026-01-01T00%3A05%3A00Z"),
                trace: Some(format!("{BASE}/trace/{trace_id}")),
                service: Some(format!("{BASE}/services/payment-service")),
                rule: format!("{BASE}/rules/payment-errors"),
            },
            warnings: Vec::new(),
            took_ms: 12.5,
        };
        AlertPayload {
            fingerprint: fingerprint.clone(),
            status: if firing { "firing".into() } else { "resolved".into() },
            rule: "payment-errors".into(),
            labels,
            annotations: [
                ("summary".to_string(), SUMMARY.to_string()),
                ("description".to_string(), format!("{service}의 결제 요청 중 41%가 실패했습니다")),
            ]
            .into(),
            starts_at: "2026-01-01T00:00:00Z".into(),
            ends_at: (!firing).then(|| "2026-01-01T00:30:00Z".to_string()),
            value: 0.41,
            threshold: Some(0.05),
            band: None,
            metric: "error_rate".into(),
            unit: "ratio".into(),
            url: format!("{BASE}/alerts/{fingerprint}"),
            evidence: Some(evidence),
        }
    }

    /// A notification of `count` alerts of the group `payment-errors/payment-service`.
    pub fn notification_of(kind: NotificationKind, count: usize) -> Notification {
        let firing = !matches!(kind, NotificationKind::Resolved);
        let alerts: Vec<AlertPayload> = (0..count).map(|n| alert(n, firing)).collect();
        let first = &alerts[0];
        let common_labels: Labels = if count == 1 {
            first.labels.clone()
        } else {
            first.labels.iter().filter(|(k, _)| k.as_str() != "service").map(|(k, v)| (k.clone(), v.clone())).collect()
        };
        Notification {
            schema_version: SCHEMA_VERSION,
            id: format!("n-{}-1", kind.as_str()),
            kind,
            status: if firing { "firing".into() } else { "resolved".into() },
            receiver: "payments".into(),
            group_key: "{}/{rule=\"payment-errors\"}:{service=\"payment-service\"}".into(),
            group_labels: [("rule".to_string(), "payment-errors".to_string())].into(),
            common_labels,
            common_annotations: if count == 1 { first.annotations.clone() } else { [("summary".to_string(), SUMMARY.to_string())].into() },
            alerts,
            truncated_alerts: 0,
            external_url: BASE.into(),
            sent_at: "2026-01-01T00:05:00Z".into(),
            valid_until: firing.then(|| "2026-01-01T04:05:00Z".to_string()),
            acknowledged_by: (kind == NotificationKind::Acknowledged).then(|| "kim.minji".to_string()),
        }
    }

    pub fn notification(kind: NotificationKind) -> Notification {
        notification_of(kind, 1)
    }

    /// `n` with a first alert whose summary and description carry markup.
    pub fn hostile(mut n: Notification) -> Notification {
        let a = &mut n.alerts[0];
        a.annotations
            .insert("summary".into(), "<script>alert('x')</script> & <!channel> *굵게* _기울임_ @everyone [link](https://evil.example)".into());
        a.annotations.insert("description".into(), "<img src=x onerror=alert(1)> `code` ~strike~ | > quote & \"quoted\"".into());
        n.common_annotations = a.annotations.clone();
        n
    }

    /// Length as the chat services count it.
    pub fn units(s: &str) -> usize {
        s.encode_utf16().count()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use parking_lot::Mutex;
    use serde_json::json;

    use super::fixture::{self, units};
    use super::*;
    use crate::channels::ThreadStore;
    use crate::contact_point::Channel;
    use crate::http::{OutboundClient, OutboundLimits, OutboundPolicy};

    fn cp(s: SlackSettings) -> ContactPointSpec {
        ContactPointSpec { name: "payments".into(), channel: Channel::Slack(s), send_resolved: true, title_template: None, text_template: None }
    }

    fn build(s: &SlackSettings, n: &Notification) -> Message {
        let cp = cp(s.clone());
        message(s, &cp, n, &Rendered::of(&cp, n))
    }

    fn texts(blocks: &[Value]) -> Vec<String> {
        let mut out = Vec::new();
        for b in blocks {
            if let Some(t) = b["text"]["text"].as_str() {
                out.push(t.to_string());
            }
            for e in b["elements"].as_array().into_iter().flatten() {
                if let Some(t) = e["text"].as_str().or(e["text"]["text"].as_str()) {
                    out.push(t.to_string());
                }
            }
        }
        out
    }

    #[test]
    fn firing_message_shows_the_evidence_with_korean_intact() {
        let s = SlackSettings { mention: Some("<!here>".into()), ..Default::default() };
        let m = build(&s, &fixture::notification(NotificationKind::Firing));
        assert_eq!(m.blocks[0]["text"]["text"], "<!here>", "the mention comes first");
        assert_eq!(m.blocks[1]["type"], "header");
        assert!(m.text.starts_with("<!here> [FIRING:1] 결제 실패율 41%"), "{}", m.text);
        let all = texts(&m.blocks).join("\n");
        for expected in [
            "결제 실패율 41%",
            "*error_rate*: 41% (threshold 5.0%)  ▁▁▁▄█",
            "*Root cause:* `payment-service` · `POST third-party-payment-api /v1/charges` — 37 of 45 failing traces (82%), new",
            "Example trace: `4bf92f3577b34da6a3ce929d0e0e4736`",
            "`결제 실패: charge &lt;*&gt; declined by &lt;*&gt;` ×1234",
            "user=&lt;email&gt;",
            "*Deploy:* payment-service 1.14.2",
            "*Also moved:* checkout-service error rate 12% (was 1.0%)",
            "team=결제팀",
        ] {
            assert!(all.contains(expected), "missing {expected:?} in\n{all}");
        }
        assert!(!all.contains("fourth sample"), "at most three samples");
        let buttons: Vec<&Value> = m.blocks.iter().filter(|b| b["type"] == "actions").flat_map(|b| b["elements"].as_array().unwrap()).collect();
        let urls: Vec<&str> = buttons.iter().map(|b| b["url"].as_str().unwrap()).collect();
        assert_eq!(urls.len(), 3, "{urls:?}");
        assert!(urls[1].contains("/search?q=") && urls[2].ends_with("/trace/4bf92f3577b34da6a3ce929d0e0e4736"));
    }

    #[test]
    fn data_is_escaped_for_mrkdwn() {
        let m = build(&SlackSettings::default(), &fixture::hostile(fixture::notification(NotificationKind::Firing)));
        // The header is plain text, shown as written; the rest is mrkdwn.
        assert_eq!(m.blocks[0]["type"], "header");
        let body = webhook_body(&Message { text: m.text.clone(), blocks: m.blocks[1..].to_vec() }).to_string();
        assert!(!body.contains("<script>") && !body.contains("<!channel>") && !body.contains("<img"), "{body}");
        let all = texts(&m.blocks).join("\n");
        assert!(all.contains("&lt;script&gt;alert('x')&lt;/script&gt; &amp; &lt;!channel&gt;"), "{all}");
        assert!(m.blocks[0]["text"]["text"].as_str().unwrap().contains("<script>"));
    }

    #[test]
    fn resolved_and_test_messages_do_not_mention() {
        let s = SlackSettings { mention: Some("<!channel>".into()), ..Default::default() };
        for kind in [NotificationKind::Resolved, NotificationKind::Test, NotificationKind::Acknowledged] {
            let m = build(&s, &fixture::notification(kind));
            assert!(!m.text.contains("<!channel>") && m.blocks[0]["type"] == "header", "{kind:?}");
        }
        let m = build(&s, &fixture::notification(NotificationKind::Resolved));
        assert!(m.blocks[0]["text"]["text"].as_str().unwrap().starts_with("[RESOLVED]"));
        let m = build(&s, &fixture::notification(NotificationKind::Acknowledged));
        assert!(texts(&m.blocks).join("\n").contains("Acknowledged by *kim.minji*"));
    }

    #[test]
    fn thirty_alerts_fit_in_fifty_blocks() {
        let s = SlackSettings { mention: Some("<!here>".into()), ..Default::default() };
        let mut n = fixture::notification_of(NotificationKind::Firing, 30);
        n.truncated_alerts = 12;
        let m = build(&s, &n);
        assert!(m.blocks.len() <= MAX_BLOCKS, "{}", m.blocks.len());
        let last = m.blocks.last().unwrap()["text"]["text"].as_str().unwrap();
        assert!(last.starts_with(&format!("*… and {} more*", 30 - MAX_DETAILED_ALERTS + 12)), "{last}");
        let ids: Vec<&str> = m
            .blocks
            .iter()
            .filter(|b| b["type"] == "actions")
            .flat_map(|b| b["elements"].as_array().unwrap())
            .map(|e| e["action_id"].as_str().unwrap())
            .collect();
        let unique: std::collections::HashSet<&&str> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "action ids are unique in a message");
    }

    #[test]
    fn limits_are_kept_at_character_boundaries() {
        let mut n = fixture::notification(NotificationKind::Firing);
        let long = "결제 실패 ".repeat(1000);
        n.common_annotations.insert("summary".into(), long.clone());
        n.alerts[0].annotations.insert("summary".into(), long.clone());
        n.alerts[0].annotations.insert("description".into(), "&".repeat(5000));
        n.alerts[0].evidence.as_mut().unwrap().patterns[0].samples = vec!["가".repeat(10_000); 3];
        let m = build(&SlackSettings::default(), &n);
        let header = m.blocks[0]["text"]["text"].as_str().unwrap();
        assert!(units(header) <= MAX_HEADER_CHARS && header.ends_with('…') && header.starts_with("[FIRING:1] 결제 실패"), "{header}");
        for b in &m.blocks {
            for t in texts(std::slice::from_ref(b)) {
                assert!(units(&t) <= MAX_SECTION_CHARS, "{}", units(&t));
                let tail = &t[t.rfind('&').unwrap_or(0)..];
                assert!(!tail.starts_with('&') || tail.contains(';'), "cut inside an entity: {tail:?}");
            }
        }
        assert!(units(&m.text) <= MAX_FALLBACK_CHARS);
        assert_eq!(clip_chars("결제 실패", 3), "결제…");
        assert_eq!(clip_chars("🔥🔥", 3), "🔥…", "an emoji is two units");
        assert_eq!(clip_chars("결제", 2), "결제");
    }

    #[test]
    fn a_template_replaces_the_evidence_sections() {
        let mut cp = cp(SlackSettings::default());
        cp.text_template = Some("{{ alerts[0].labels.service }} <b>실패</b>\n\n두 번째".into());
        let n = fixture::notification(NotificationKind::Firing);
        let m = message(&SlackSettings::default(), &cp, &n, &Rendered::of(&cp, &n));
        let all = texts(&m.blocks);
        assert_eq!(all[1], "payment-service &lt;b&gt;실패&lt;/b&gt;\n\n두 번째");
        let chunks = paragraph_chunks(&format!("{}\n\n{}\n\n짧은 문단", "가".repeat(2000), "나".repeat(5000)), MAX_SECTION_CHARS);
        assert_eq!(chunks.len(), 3);
        assert!(chunks.iter().all(|c| units(c) <= MAX_SECTION_CHARS));
        assert!(chunks[1].starts_with("나나") && chunks[1].ends_with('…') && chunks[2] == "짧은 문단");
    }

    #[test]
    fn web_api_errors_are_classified() {
        let answer = |status: u16, body: &str, retry: Option<u64>| Answer {
            status,
            retry_after: retry.map(std::time::Duration::from_secs),
            body: body.into(),
        };
        let ok = api_result("chat.postMessage", &answer(200, r#"{"ok":true,"channel":"C1","ts":"1.2"}"#, None)).unwrap();
        assert_eq!(Thread::from_answer(&ok), Some(Thread { channel: "C1".into(), ts: "1.2".into() }));
        let e = api_result("chat.postMessage", &answer(200, r#"{"ok":false,"error":"ratelimited"}"#, Some(30))).unwrap_err();
        assert_eq!(
            e.error,
            DeliveryError::Retryable {
                message: "slack chat.postMessage failed: ratelimited".into(),
                retry_after: Some(std::time::Duration::from_secs(30))
            }
        );
        for code in ["invalid_auth", "channel_not_found", "not_in_channel", "is_archived", "account_inactive"] {
            let e = api_result("chat.postMessage", &answer(200, &format!(r#"{{"ok":false,"error":"{code}"}}"#), None)).unwrap_err();
            assert!(matches!(e.error, DeliveryError::Permanent(_)), "{code}");
        }
        let e = api_result("chat.postMessage", &answer(200, r#"{"ok":false,"error":"internal_error"}"#, None)).unwrap_err();
        assert!(matches!(e.error, DeliveryError::Retryable { .. }));
        let e = api_result("chat.postMessage", &answer(429, "", Some(7))).unwrap_err();
        assert!(matches!(e.error, DeliveryError::Retryable { retry_after: Some(d), .. } if d.as_secs() == 7));
        let e = api_result("chat.update", &answer(200, r#"{"ok":false,"error":"message_not_found"}"#, None)).unwrap_err();
        assert_eq!(e.code, "message_not_found");
    }

    #[test]
    fn secrets_are_taken_out_of_errors() {
        let url = "https://hooks.slack.com/services/T000/B000/XXXX";
        let e = redact(DeliveryError::Retryable { message: format!("error sending request for url ({url})"), retry_after: None }, url);
        assert_eq!(e.message(), format!("error sending request for url ({REDACTED})"));
    }

    /// Slack message ids in memory.
    #[derive(Default)]
    struct MemoryThreads(Mutex<HashMap<String, Value>>);

    impl ThreadStore for MemoryThreads {
        fn get(&self, key: &str) -> Option<Value> {
            self.0.lock().get(key).cloned()
        }
        fn put(&self, key: &str, value: Value) {
            self.0.lock().insert(key.to_string(), value);
        }
    }

    /// A request the fake Slack received: its path, headers (lowercase names) and JSON body.
    #[derive(Debug, Clone)]
    struct Seen {
        path: String,
        headers: HashMap<String, String>,
        body: Value,
    }

    /// A fake Slack Web API on 127.0.0.1: answers every method with `ok` and a fixed message
    /// id, one request per connection.
    async fn fake_slack() -> (String, Arc<Mutex<Vec<Seen>>>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/api", listener.local_addr().unwrap());
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut data = Vec::new();
                let mut buf = [0u8; 4096];
                let head_end = loop {
                    let n = socket.read(&mut buf).await.unwrap();
                    assert!(n > 0, "connection closed before the request ended");
                    data.extend_from_slice(&buf[..n]);
                    if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                        break at + 4;
                    }
                };
                let head = String::from_utf8(data[..head_end].to_vec()).unwrap();
                let mut lines = head.lines();
                let path = lines.next().unwrap().split(' ').nth(1).unwrap().to_string();
                let headers: HashMap<String, String> =
                    lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string())).collect();
                let length: usize = headers.get("content-length").map_or(0, |l| l.parse().unwrap());
                while data.len() < head_end + length {
                    let n = socket.read(&mut buf).await.unwrap();
                    assert!(n > 0);
                    data.extend_from_slice(&buf[..n]);
                }
                let body = serde_json::from_slice(&data[head_end..head_end + length]).unwrap();
                log.lock().push(Seen { path, headers, body });
                let answer = r#"{"ok":true,"channel":"C024BE91L","ts":"1767225600.000100"}"#;
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                    answer.len()
                );
                socket.write_all(response.as_bytes()).await.unwrap();
                let _ = socket.shutdown().await;
            }
        });
        (base, seen)
    }

    #[tokio::test]
    async fn a_resolved_notification_updates_the_firing_message_and_replies_in_its_thread() {
        let (base, seen) = fake_slack().await;
        let http =
            OutboundClient::new(&OutboundPolicy { allow_private: false, allowed: vec!["127.0.0.1".into()] }, OutboundLimits::default()).unwrap();
        let threads = MemoryThreads::default();
        let ctx = DeliveryContext { http: &http, threads: &threads };
        let s = SlackSettings {
            token: Some("xoxb-test-token".into()),
            channel: Some("#payments".into()),
            api_url: Some(base),
            username: Some("trawl".into()),
            ..Default::default()
        };
        let cp = cp(s.clone());

        let firing = fixture::notification(NotificationKind::Firing);
        deliver(&s, &cp, &firing, &Rendered::of(&cp, &firing), &ctx).await.unwrap();
        let key = thread_key(&cp, &firing);
        assert_eq!(threads.get(&key), Some(json!({"channel": "C024BE91L", "ts": "1767225600.000100"})));

        let resolved = fixture::notification(NotificationKind::Resolved);
        deliver(&s, &cp, &resolved, &Rendered::of(&cp, &resolved), &ctx).await.unwrap();

        let seen = seen.lock().clone();
        let paths: Vec<&str> = seen.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, ["/api/chat.postMessage", "/api/chat.update", "/api/chat.postMessage"]);
        assert!(seen.iter().all(|r| r.headers["authorization"] == "Bearer xoxb-test-token"));
        assert_eq!(seen[0].body["channel"], "#payments");
        assert_eq!(seen[0].body["username"], "trawl");
        assert!(seen[0].body["blocks"].to_string().contains("결제 실패율 41%"));
        assert_eq!(seen[1].body["channel"], "C024BE91L");
        assert_eq!(seen[1].body["ts"], "1767225600.000100");
        assert!(seen[1].body["blocks"][0]["text"]["text"].as_str().unwrap().starts_with("[RESOLVED]"));
        assert_eq!(seen[2].body["channel"], "C024BE91L");
        assert_eq!(seen[2].body["thread_ts"], "1767225600.000100");
        assert!(seen[2].body["text"].as_str().unwrap().contains("Resolved"));
    }

    #[tokio::test]
    async fn without_a_kept_thread_a_resolved_notification_is_a_new_message() {
        let (base, seen) = fake_slack().await;
        let http =
            OutboundClient::new(&OutboundPolicy { allow_private: false, allowed: vec!["127.0.0.1".into()] }, OutboundLimits::default()).unwrap();
        let threads = MemoryThreads::default();
        let ctx = DeliveryContext { http: &http, threads: &threads };
        let s = SlackSettings { token: Some("xoxb-1".into()), channel: Some("C1".into()), api_url: Some(base), ..Default::default() };
        let cp = cp(s.clone());
        let n = fixture::notification(NotificationKind::Resolved);
        deliver(&s, &cp, &n, &Rendered::of(&cp, &n), &ctx).await.unwrap();
        let seen = seen.lock().clone();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].path, "/api/chat.postMessage");
        assert!(seen[0].body.get("thread_ts").is_none());
        assert!(threads.0.lock().is_empty(), "only firing messages are kept");
    }

    #[tokio::test]
    async fn a_private_webhook_url_is_refused() {
        let http = OutboundClient::new(&OutboundPolicy::default(), OutboundLimits::default()).unwrap();
        let threads = MemoryThreads::default();
        let ctx = DeliveryContext { http: &http, threads: &threads };
        let s = SlackSettings { webhook_url: Some("http://169.254.169.254/latest/meta-data".into()), ..Default::default() };
        let cp = cp(s.clone());
        let n = fixture::notification(NotificationKind::Firing);
        let e = deliver(&s, &cp, &n, &Rendered::of(&cp, &n), &ctx).await.unwrap_err();
        assert!(matches!(&e, DeliveryError::Permanent(m) if m.contains("non-public") && !m.contains("meta-data")), "{e:?}");
    }
}
