//! E-mail over SMTP (lettre): a multipart/alternative message, the plain text and an HTML
//! version with a table of evidence per alert (no external resources, no scripts). The SMTP
//! host is resolved through the outbound guard and the connection goes to the address it
//! permitted, so a name cannot be re-resolved to a private address between the check and the
//! connection; TLS still verifies the certificate against the host name.

use std::net::SocketAddr;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::channels::text::{default_text, Rendered};
use crate::channels::{DeliveryContext, DeliveryError};
use crate::contact_point::{EmailSettings, SmtpTls};
use crate::evidence::Evidence;
use crate::notification::{AlertPayload, Notification, NotificationKind};

/// Alerts given a table in the HTML version; the rest are counted.
const MAX_ALERTS_IN_HTML: usize = 20;
const MAX_SAMPLE_CHARS: usize = 500;

/// Inline styles of the alert tables (mail clients drop style sheets).
const TABLE_STYLE: &str = "border-collapse:collapse;margin:0 0 20px;width:100%;max-width:900px";
const HEAD_STYLE: &str = "text-align:left;padding:6px 8px;background:#edf2f7;border:1px solid #cbd5e0";
const NAME_STYLE: &str = "vertical-align:top;padding:4px 8px;border:1px solid #e2e8f0;color:#4a5568;white-space:nowrap";
const VALUE_STYLE: &str = "padding:4px 8px;border:1px solid #e2e8f0";

/// Sends `n` as one message to every recipient.
pub async fn deliver(s: &EmailSettings, n: &Notification, r: &Rendered, ctx: &DeliveryContext<'_>) -> Result<(), DeliveryError> {
    let message = message(s, n, r)?;
    let host = s.smtp_host.trim();
    let port = port(s);
    let addrs = ctx.http.guard().resolve(host, port).await.map_err(|e| {
        // A refused or address-less host stays so; a failed lookup may pass.
        if e.starts_with("cannot resolve") {
            DeliveryError::Retryable { message: format!("smtp: {e}"), retry_after: None }
        } else {
            DeliveryError::Permanent(format!("smtp: {e}"))
        }
    })?;
    let addr = addrs.first().ok_or_else(|| DeliveryError::Permanent(format!("smtp: {host} resolves to no address")))?;
    let transport = transport(s, host, addr, ctx.http.limits.timeout)?;
    transport.send(message).await.map(|_| ()).map_err(smtp_error)
}

/// The port: given, or the usual one for the TLS mode.
fn port(s: &EmailSettings) -> u16 {
    s.smtp_port.unwrap_or(match s.tls {
        SmtpTls::Starttls | SmtpTls::Opportunistic => 587,
        SmtpTls::Tls => 465,
        SmtpTls::None => 25,
    })
}

/// A transport to `addr` (a permitted address of `host`), checking certificates for `host`.
fn transport(
    s: &EmailSettings,
    host: &str,
    addr: &SocketAddr,
    timeout: std::time::Duration,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, DeliveryError> {
    let tls_parameters = || TlsParameters::new(host.to_string()).map_err(|e| DeliveryError::Permanent(format!("smtp: TLS settings for {host}: {e}")));
    let tls = match s.tls {
        SmtpTls::Starttls => Tls::Required(tls_parameters()?),
        SmtpTls::Opportunistic => Tls::Opportunistic(tls_parameters()?),
        SmtpTls::Tls => Tls::Wrapper(tls_parameters()?),
        SmtpTls::None => Tls::None,
    };
    let mut builder =
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(addr.ip().to_string()).port(addr.port()).tls(tls).timeout(Some(timeout));
    if let (Some(user), Some(password)) = (&s.username, &s.password) {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    Ok(builder.build())
}

/// 4xx replies and connection, TLS or I/O trouble may pass; 5xx replies and messages lettre
/// refuses to send will not.
fn smtp_error(e: lettre::transport::smtp::Error) -> DeliveryError {
    let message = format!("smtp: {e}");
    if e.is_permanent() || e.is_client() {
        DeliveryError::Permanent(message)
    } else {
        DeliveryError::Retryable { message, retry_after: None }
    }
}

/// The message: From, To, Subject, a Message-ID from the notification's id (the same on
/// every retry), a References header shared by the group (mail clients thread on it), and
/// the text and HTML versions.
fn message(s: &EmailSettings, n: &Notification, r: &Rendered) -> Result<Message, DeliveryError> {
    let mailbox = |field: &str, a: &str| a.trim().parse::<Mailbox>().map_err(|e| DeliveryError::Permanent(format!("smtp: {field} {a:?}: {e}")));
    let from = mailbox("from", &s.from)?;
    let domain = from.email.domain().to_string();
    let mut builder = Message::builder()
        .from(from)
        .subject(one_line(&r.title))
        .message_id(Some(message_id(&n.id, &domain)))
        .references(group_reference(&n.group_key, &domain))
        .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("Auto-Submitted"), "auto-generated".to_string()));
    if s.to.is_empty() {
        return Err(DeliveryError::Permanent("smtp: no recipients".into()));
    }
    for to in &s.to {
        builder = builder.to(mailbox("to", to)?);
    }
    builder
        .multipart(MultiPart::alternative_plain_html(r.text.clone(), html(n, r)))
        .map_err(|e| DeliveryError::Permanent(format!("smtp: cannot build the message: {e}")))
}

/// `<trawl.{id}@{domain}>`, with the id's characters outside `[A-Za-z0-9._-]` as `-`.
fn message_id(id: &str, domain: &str) -> String {
    let id: String = id.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '-' }).collect();
    format!("<trawl.{id}@{domain}>")
}

/// One id per group, which every message of the group refers to.
fn group_reference(group_key: &str, domain: &str) -> String {
    format!("<trawl.group.{:016x}@{domain}>", xxhash_rust::xxh3::xxh3_64(group_key.as_bytes()))
}

fn one_line(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// The HTML version: the title, the contact point's own text when it has one, then a table
/// per alert. Inline styles only.
fn html(n: &Notification, r: &Rendered) -> String {
    let color = match (n.kind, n.is_resolved()) {
        (NotificationKind::Acknowledged, _) => "#b7791f",
        (NotificationKind::Test, _) => "#2b6cb0",
        (_, true) => "#2f855a",
        (_, false) => "#c53030",
    };
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>");
    out.push_str(&esc(&r.title));
    out.push_str(
        "</title></head>\n<body style=\"font-family:-apple-system,'Segoe UI',Roboto,'Malgun Gothic',sans-serif;font-size:14px;color:#1a202c\">\n",
    );
    out.push_str(&format!("<h2 style=\"color:{color};margin:0 0 12px\">{}</h2>\n", esc(&r.title)));
    if let Some(by) = n.acknowledged_by.as_deref().filter(|_| n.kind == NotificationKind::Acknowledged) {
        out.push_str(&format!("<p>Acknowledged by <b>{}</b></p>\n", esc(by)));
    }
    if r.text != default_text(n) {
        out.push_str(&format!("<div style=\"white-space:pre-wrap;margin:0 0 16px\">{}</div>\n", esc(&r.text)));
    }
    for a in n.alerts.iter().take(MAX_ALERTS_IN_HTML) {
        out.push_str(&alert_table(a));
    }
    let more = n.alerts.len().saturating_sub(MAX_ALERTS_IN_HTML) + n.truncated_alerts;
    if more > 0 {
        out.push_str(&format!("<p>… and {more} more</p>\n"));
    }
    if let Some(url) = super::slack::web_url(&n.external_url) {
        out.push_str(&format!("<p style=\"color:#718096;font-size:12px\">Sent by <a href=\"{}\">trawl</a></p>\n", esc(url)));
    }
    out.push_str("</body></html>\n");
    out
}

/// One alert as a two-column table: what, how much, why, and links.
fn alert_table(a: &AlertPayload) -> String {
    let mut rows: Vec<(&str, String)> = Vec::new();
    let summary = a.annotations.get("summary").cloned().unwrap_or_else(|| a.rule.clone());
    rows.push(("Status", esc(&a.status.to_uppercase())));
    if let Some(d) = a.annotations.get("description") {
        rows.push(("Description", esc(d)));
    }
    let (metric, figure) = super::slack::figure_text(a);
    rows.push(("Figure", format!("{}: <b>{}</b>", esc(&metric), esc(&figure))));
    let labels: Vec<String> = a.labels.iter().map(|(k, v)| format!("<code>{}={}</code>", esc(k), esc(v))).collect();
    rows.push(("Labels", labels.join(" ")));
    let mut times = format!("since {}", esc(&a.starts_at));
    if let Some(end) = &a.ends_at {
        times.push_str(&format!(", resolved {}", esc(end)));
    }
    rows.push(("Time", times));
    if let Some(e) = &a.evidence {
        rows.extend(evidence_rows(e));
    }
    rows.push(("Links", links(a)));
    let mut out = format!("<table style=\"{TABLE_STYLE}\">\n<tr><th colspan=\"2\" style=\"{HEAD_STYLE}\">{}</th></tr>\n", esc(&summary));
    for (name, value) in rows {
        out.push_str(&format!("<tr><td style=\"{NAME_STYLE}\">{name}</td><td style=\"{VALUE_STYLE}\">{value}</td></tr>\n"));
    }
    out.push_str("</table>\n");
    out
}

fn evidence_rows(e: &Evidence) -> Vec<(&'static str, String)> {
    let mut rows = Vec::new();
    if let Some(c) = e.root_causes.first() {
        let mut cell = format!(
            "<b>{} · {}</b> — {} of {} failing traces ({})",
            esc(&c.service),
            esc(&c.operation),
            c.traces,
            e.failing_traces,
            crate::format::percent(c.share)
        );
        if !c.reason.is_empty() {
            cell.push_str(&format!("<br>{}", esc(&c.reason)));
        }
        if !c.example_trace_id.is_empty() {
            let id = format!("<code>{}</code>", esc(&c.example_trace_id));
            match e.links.trace.as_deref().and_then(super::slack::web_url) {
                Some(url) => cell.push_str(&format!("<br>example trace: <a href=\"{}\">{id}</a>", esc(url))),
                None => cell.push_str(&format!("<br>example trace: {id}")),
            }
        }
        for other in e.root_causes.iter().skip(1) {
            cell.push_str(&format!("<br>also: {} · {} ({} traces)", esc(&other.service), esc(&other.operation), other.traces));
        }
        rows.push(("Root cause", cell));
    }
    if !e.patterns.is_empty() {
        let mut cell = String::new();
        for p in &e.patterns {
            cell.push_str(&format!(
                "<div>{}<code>{}</code> ×{} [{}]</div>",
                if p.new { "<b>NEW</b> " } else { "" },
                esc(&p.template),
                p.count,
                esc(&p.service)
            ));
            if !p.samples.is_empty() {
                let samples: Vec<String> =
                    p.samples.iter().take(3).map(|s| esc(&crate::template::clip(s.replace('\n', " "), MAX_SAMPLE_CHARS))).collect();
                cell.push_str(&format!(
                    "<pre style=\"margin:2px 0 8px;padding:4px;background:#f7fafc;white-space:pre-wrap;font-size:12px\">{}</pre>",
                    samples.join("\n")
                ));
            }
        }
        rows.push(("Log patterns", cell));
    }
    if !e.changes.deploys.is_empty() {
        let cells: Vec<String> = e
            .changes
            .deploys
            .iter()
            .map(|d| format!("{} {} at {}", esc(&d.service), esc(&d.version), trawl_model::format_rfc3339(d.first_seen_ns)))
            .collect();
        rows.push(("Deploys", cells.join("<br>")));
    }
    if !e.changes.moved.is_empty() {
        let cells: Vec<String> = e
            .changes
            .moved
            .iter()
            .map(|m| {
                format!(
                    "{} error rate {} (was {})",
                    esc(&m.service),
                    crate::format::percent(m.error_rate),
                    crate::format::percent(m.baseline_error_rate)
                )
            })
            .collect();
        rows.push(("Also moved", cells.join("<br>")));
    }
    rows
}

/// The alert, its logs and its example trace, as links (http and https only).
fn links(a: &AlertPayload) -> String {
    let evidence = a.evidence.as_ref().map(|e| &e.links);
    let candidates = [
        ("alert", Some(a.url.as_str())),
        ("logs", evidence.map(|l| l.search.as_str())),
        ("example trace", evidence.and_then(|l| l.trace.as_deref())),
    ];
    let links: Vec<String> = candidates
        .iter()
        .filter_map(|(label, url)| super::slack::web_url(url.unwrap_or_default()).map(|u| format!("<a href=\"{}\">{label}</a>", esc(u))))
        .collect();
    links.join(" · ")
}

/// Text for HTML content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
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

    fn settings() -> EmailSettings {
        EmailSettings {
            to: vec!["oncall@example.com".into(), "결제팀 <payments@example.com>".into()],
            from: "trawl <alerts@trawl.example.com>".into(),
            smtp_host: "smtp.example.com".into(),
            ..Default::default()
        }
    }

    fn rendered(n: &Notification) -> Rendered {
        Rendered { title: n.title(), text: default_text(n) }
    }

    /// The message as sent.
    fn formatted(n: &Notification) -> String {
        String::from_utf8(message(&settings(), n, &rendered(n)).unwrap().formatted()).unwrap()
    }

    #[test]
    fn the_html_version_carries_the_evidence_with_korean_intact() {
        let n = fixture::notification(NotificationKind::Firing);
        let html = html(&n, &rendered(&n));
        for expected in [
            "결제 실패율 41%",
            "error_rate: <b>41% (threshold 5.0%)  ▁▁▁▄█</b>",
            "<b>payment-service · POST third-party-payment-api /v1/charges</b> — 37 of 45 failing traces (82%)",
            "<code>결제 실패: charge &lt;*&gt; declined by &lt;*&gt;</code> ×1234",
            "user=&lt;email&gt;",
            "<a href=\"https://trawl.example.com/search?q=service%3A%22payment-service%22&amp;from=",
            "payment-service 1.14.2 at ",
            "checkout-service error rate 12% (was 1.0%)",
        ] {
            assert!(html.contains(expected), "missing {expected:?} in\n{html}");
        }
        assert!(!html.contains("fourth sample"));
        assert!(!html.contains("<script") && !html.contains("<img") && !html.contains("src="), "no scripts and no external resources");
    }

    #[test]
    fn data_is_escaped_in_html() {
        let n = fixture::hostile(fixture::notification(NotificationKind::Firing));
        let html = html(&n, &rendered(&n));
        assert!(!html.contains("<script>") && !html.contains("<img"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp;"));
        assert!(html.contains("&quot;quoted&quot;"));
        let mut n = fixture::notification(NotificationKind::Firing);
        n.alerts[0].url = "javascript:alert(1)".into();
        assert!(!html_of(&n).contains("javascript:"), "links are http or https only");
    }

    fn html_of(n: &Notification) -> String {
        html(n, &rendered(n))
    }

    #[test]
    fn a_template_text_comes_first_in_the_html() {
        let n = fixture::notification(NotificationKind::Firing);
        let r = Rendered { title: "결제 <경보>".into(), text: "사용자 정의 & 본문".into() };
        let html = html(&n, &r);
        assert!(html.contains("<title>결제 &lt;경보&gt;</title>") && html.contains("사용자 정의 &amp; 본문"), "{html}");
    }

    #[test]
    fn the_message_has_its_headers_and_both_versions() {
        let n = fixture::notification(NotificationKind::Resolved);
        let text = formatted(&n);
        assert!(text.contains("Message-ID: <trawl.n-resolved-1@trawl.example.com>"), "{text}");
        assert!(text.contains("References: <trawl.group."), "{text}");
        assert!(text.contains("Auto-Submitted: auto-generated"));
        assert!(text.contains("multipart/alternative"));
        assert!(text.contains("text/plain; charset=utf-8") && text.contains("text/html; charset=utf-8"));
        // Korean in headers as RFC 2047 encoded words (base64 of "결제 실패율" and "결제팀"),
        // and in the text part as quoted-printable UTF-8 ("결제" is EA B2 B0 EC A0 9C).
        assert!(text.contains("Subject: [RESOLVED] =?utf-8?b?6rKw7KCcIOyLpO2MqOycqA==?= 41%\r\n"), "{text}");
        assert!(text.contains("To: oncall@example.com, =?utf-8?b?6rKw7KCc7YyA?= <payments@example.com>"), "{text}");
        assert!(text.contains("=EA=B2=B0=EC=A0=9C =EC=8B=A4=ED=8C=A8=EC=9C=A8 41%"), "{text}");
        let firing = fixture::notification(NotificationKind::Firing);
        let a = group_reference(&firing.group_key, "x");
        assert_eq!(a, group_reference(&n.group_key, "x"), "one reference per group");
        assert_eq!(message_id("id <1>@x", "d"), "<trawl.id--1--x@d>");
        assert_eq!(one_line("a\r\nb"), "a  b");
    }

    #[test]
    fn bad_addresses_are_permanent() {
        let n = fixture::notification(NotificationKind::Firing);
        let mut s = settings();
        s.to.push("not an address".into());
        assert!(matches!(message(&s, &n, &rendered(&n)), Err(DeliveryError::Permanent(_))));
    }

    #[test]
    fn ports_follow_the_tls_mode() {
        let mut s = settings();
        assert_eq!(port(&s), 587);
        s.tls = SmtpTls::Tls;
        assert_eq!(port(&s), 465);
        s.tls = SmtpTls::None;
        assert_eq!(port(&s), 25);
        s.tls = SmtpTls::Opportunistic;
        assert_eq!(port(&s), 587);
        s.smtp_port = Some(2525);
        assert_eq!(port(&s), 2525);
    }

    struct NoThreads;
    impl ThreadStore for NoThreads {
        fn get(&self, _: &str) -> Option<serde_json::Value> {
            None
        }
        fn put(&self, _: &str, _: serde_json::Value) {}
    }

    #[tokio::test]
    async fn a_private_smtp_host_is_refused() {
        let http = OutboundClient::new(&OutboundPolicy::default(), OutboundLimits::default()).unwrap();
        let ctx = DeliveryContext { http: &http, threads: &NoThreads };
        let mut s = settings();
        s.smtp_host = "10.0.0.25".into();
        let n = fixture::notification(NotificationKind::Firing);
        let e = deliver(&s, &n, &rendered(&n), &ctx).await.unwrap_err();
        assert!(matches!(&e, DeliveryError::Permanent(m) if m.contains("non-public")), "{e:?}");
    }

    /// A fake SMTP server on 127.0.0.1 that answers RCPT with `rcpt_reply` and keeps the
    /// DATA it receives.
    async fn fake_smtp(rcpt_reply: &'static str) -> (u16, tokio::sync::oneshot::Receiver<String>) {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            let (read, mut write) = socket.into_split();
            let mut lines = BufReader::new(read).lines();
            write.write_all(b"220 fake ESMTP\r\n").await.unwrap();
            let mut data = String::new();
            let mut in_data = false;
            while let Ok(Some(line)) = lines.next_line().await {
                if in_data {
                    if line == "." {
                        in_data = false;
                        write.write_all(b"250 2.0.0 queued\r\n").await.unwrap();
                    } else {
                        data.push_str(&line);
                        data.push('\n');
                    }
                    continue;
                }
                let verb = line.split(' ').next().unwrap_or_default().to_ascii_uppercase();
                let reply: &str = match verb.as_str() {
                    "EHLO" => "250-fake\r\n250 8BITMIME\r\n",
                    "MAIL" => "250 2.1.0 ok\r\n",
                    "RCPT" => rcpt_reply,
                    "DATA" => {
                        in_data = true;
                        "354 go ahead\r\n"
                    }
                    "QUIT" => {
                        write.write_all(b"221 bye\r\n").await.unwrap();
                        break;
                    }
                    _ => "250 ok\r\n",
                };
                write.write_all(reply.as_bytes()).await.unwrap();
            }
            let _ = tx.send(data);
        });
        (port, rx)
    }

    fn local(port: u16) -> EmailSettings {
        EmailSettings { smtp_host: "127.0.0.1".into(), smtp_port: Some(port), tls: SmtpTls::None, ..settings() }
    }

    #[tokio::test]
    async fn a_message_reaches_an_allowed_smtp_server() {
        let (port, received) = fake_smtp("250 2.1.5 ok\r\n").await;
        let http =
            OutboundClient::new(&OutboundPolicy { allow_private: false, allowed: vec!["127.0.0.1".into()] }, OutboundLimits::default()).unwrap();
        let ctx = DeliveryContext { http: &http, threads: &NoThreads };
        let n = fixture::notification(NotificationKind::Firing);
        deliver(&local(port), &n, &rendered(&n), &ctx).await.unwrap();
        let data = received.await.unwrap();
        assert!(data.contains("Message-ID: <trawl.n-firing-1@trawl.example.com>"), "{data}");
        assert!(data.contains("multipart/alternative"));
    }

    #[tokio::test]
    async fn smtp_replies_decide_whether_to_retry() {
        let http =
            OutboundClient::new(&OutboundPolicy { allow_private: false, allowed: vec!["127.0.0.1".into()] }, OutboundLimits::default()).unwrap();
        let ctx = DeliveryContext { http: &http, threads: &NoThreads };
        let n = fixture::notification(NotificationKind::Firing);
        let (port, _) = fake_smtp("451 4.3.0 try again later\r\n").await;
        let e = deliver(&local(port), &n, &rendered(&n), &ctx).await.unwrap_err();
        assert!(matches!(e, DeliveryError::Retryable { .. }), "{e:?}");
        let (port, _) = fake_smtp("550 5.1.1 no such user\r\n").await;
        let e = deliver(&local(port), &n, &rendered(&n), &ctx).await.unwrap_err();
        assert!(matches!(e, DeliveryError::Permanent(_)), "{e:?}");
    }
}
