//! Contact points: where notifications go (a Slack channel, an e-mail list, a PagerDuty
//! service, a webhook, an Alertmanager, …), with each channel's settings. Secrets may be
//! written as `${ENV_VAR}` in files and are never shown back by the API.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Shown instead of a secret by the API; sent back unchanged, it keeps the stored secret.
pub const REDACTED: &str = "<redacted>";

fn yes() -> bool {
    true
}

/// Unknown settings are refused by the channel's own settings (every channel denies them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactPointSpec {
    pub name: String,
    #[serde(flatten)]
    pub channel: Channel,
    /// Also notify when the alerts of a notification resolve (default true).
    #[serde(default = "yes")]
    pub send_resolved: bool,
    /// Templates replacing the default title and text (Jinja, over the notification).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title_template: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_template: Option<String>,
}

/// A channel and its settings, tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Channel {
    Slack(SlackSettings),
    Email(EmailSettings),
    Pagerduty(PagerDutySettings),
    Webhook(WebhookSettings),
    Alertmanager(AlertmanagerSettings),
    Teams(TeamsSettings),
    Discord(DiscordSettings),
    Telegram(TelegramSettings),
    Opsgenie(OpsgenieSettings),
    /// Prints each notification on the server's standard output (the demo uses it).
    Console(ConsoleSettings),
}

impl Channel {
    pub fn kind(&self) -> &'static str {
        match self {
            Channel::Slack(_) => "slack",
            Channel::Email(_) => "email",
            Channel::Pagerduty(_) => "pagerduty",
            Channel::Webhook(_) => "webhook",
            Channel::Alertmanager(_) => "alertmanager",
            Channel::Teams(_) => "teams",
            Channel::Discord(_) => "discord",
            Channel::Telegram(_) => "telegram",
            Channel::Opsgenie(_) => "opsgenie",
            Channel::Console(_) => "console",
        }
    }

    pub const KINDS: [&'static str; 10] =
        ["slack", "email", "pagerduty", "webhook", "alertmanager", "teams", "discord", "telegram", "opsgenie", "console"];
}

/// Slack: an incoming-webhook URL, or a bot token with `chat.postMessage` (then a resolved
/// message updates the firing one and replies in its thread).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SlackSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Needed with a token: `#payments` or a channel id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Slack's Web API base (default `https://slack.com/api`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon_emoji: Option<String>,
    /// Put first in firing messages, e.g. `<!here>` or `<@U024BE7LH>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mention: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, which must succeed (default).
    #[default]
    Starttls,
    /// STARTTLS when the server offers it, else plain (only for servers on a trusted network).
    Opportunistic,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption (a local relay).
    None,
}

/// E-mail over SMTP, multipart text and HTML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct EmailSettings {
    pub to: Vec<String>,
    pub from: String,
    pub smtp_host: String,
    /// Default 587 (465 with `tls: tls`, 25 with `tls: none`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_port: Option<u16>,
    #[serde(default)]
    pub tls: SmtpTls,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// PagerDuty Events API v2: trigger, acknowledge and resolve with a stable `dedup_key`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PagerDutySettings {
    pub routing_key: String,
    /// Default `https://events.pagerduty.com/v2/enqueue`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// A JSON POST of the notification (schema in docs/alerting.md), signed with HMAC-SHA256 when
/// a secret is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

/// Posts to an existing Prometheus Alertmanager (`POST /api/v2/alerts`), so its routing stays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagerSettings {
    /// Base URL, e.g. `http://alertmanager:9093`.
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// Microsoft Teams: an Office 365 connector's incoming-webhook URL, posted a MessageCard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TeamsSettings {
    pub webhook_url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DiscordSettings {
    pub webhook_url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TelegramSettings {
    pub bot_token: String,
    pub chat_id: String,
    /// Default `https://api.telegram.org`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct OpsgenieSettings {
    pub api_key: String,
    /// Default `https://api.opsgenie.com` (`https://api.eu.opsgenie.com` in the EU).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ConsoleSettings {}

impl ContactPointSpec {
    /// Every problem of the settings.
    pub fn check(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.name.trim().is_empty() || self.name.chars().any(|c| c.is_control() || c == '/') || self.name.len() > 200 {
            problems.push("name: 1 to 200 characters, no control characters or slashes".to_string());
        }
        fn check_url(problems: &mut Vec<String>, field: &str, value: &str) {
            if let Err(e) = reqwest::Url::parse(value).map_err(|e| e.to_string()).and_then(|u| {
                if matches!(u.scheme(), "http" | "https") {
                    Ok(())
                } else {
                    Err(format!("scheme {} is not http or https", u.scheme()))
                }
            }) {
                problems.push(format!("{field}: {e}"));
            }
        }
        match &self.channel {
            Channel::Slack(s) => {
                match (&s.webhook_url, &s.token) {
                    (Some(u), None) => check_url(&mut problems, "webhook_url", u),
                    (None, Some(_)) if s.channel.as_deref().is_none_or(|c| c.trim().is_empty()) => {
                        problems.push("channel: needed with a bot token".to_string())
                    }
                    (None, Some(_)) => {}
                    _ => problems.push("slack: give either webhook_url or token (with channel)".to_string()),
                }
                if let Some(api) = &s.api_url {
                    check_url(&mut problems, "api_url", api);
                }
            }
            Channel::Email(e) => {
                if e.to.is_empty() || e.to.iter().any(|a| !a.contains('@')) {
                    problems.push("to: one or more e-mail addresses".to_string());
                }
                if !e.from.contains('@') {
                    problems.push("from: an e-mail address".to_string());
                }
                if e.smtp_host.trim().is_empty() {
                    problems.push("smtp_host: needed".to_string());
                }
                if e.username.is_some() != e.password.is_some() {
                    problems.push("username and password: give both or neither".to_string());
                }
            }
            Channel::Pagerduty(p) => {
                if p.routing_key.trim().is_empty() {
                    problems.push("routing_key: needed (the integration key of a PagerDuty service)".to_string());
                }
                if let Some(u) = &p.url {
                    check_url(&mut problems, "url", u);
                }
            }
            Channel::Webhook(w) => {
                check_url(&mut problems, "url", &w.url);
                for k in w.headers.keys() {
                    if reqwest::header::HeaderName::from_bytes(k.as_bytes()).is_err() {
                        problems.push(format!("headers: {k:?} is not a header name"));
                    }
                }
            }
            Channel::Alertmanager(a) => check_url(&mut problems, "url", &a.url),
            Channel::Teams(t) => check_url(&mut problems, "webhook_url", &t.webhook_url),
            Channel::Discord(d) => check_url(&mut problems, "webhook_url", &d.webhook_url),
            Channel::Telegram(t) => {
                if t.bot_token.trim().is_empty() || t.chat_id.trim().is_empty() {
                    problems.push("bot_token and chat_id: needed".to_string());
                }
                if let Some(u) = &t.api_url {
                    check_url(&mut problems, "api_url", u);
                }
            }
            Channel::Opsgenie(o) => {
                if o.api_key.trim().is_empty() {
                    problems.push("api_key: needed".to_string());
                }
                if let Some(u) = &o.api_url {
                    check_url(&mut problems, "api_url", u);
                }
            }
            Channel::Console(_) => {}
        }
        for (field, t) in [("title_template", &self.title_template), ("text_template", &self.text_template)] {
            if let Some(t) = t {
                if let Err(e) = crate::template::check(t) {
                    problems.push(format!("{field}: {e}"));
                }
            }
        }
        problems
    }

    /// The secrets of the settings, by field name (a header's by `headers.<name>`).
    fn secrets_mut(&mut self) -> Vec<(String, &mut String)> {
        let mut out: Vec<(String, &mut String)> = Vec::new();
        match &mut self.channel {
            Channel::Slack(s) => {
                out.extend(s.webhook_url.as_mut().map(|v| ("webhook_url".to_string(), v)));
                out.extend(s.token.as_mut().map(|v| ("token".to_string(), v)));
            }
            Channel::Email(e) => out.extend(e.password.as_mut().map(|v| ("password".to_string(), v))),
            Channel::Pagerduty(p) => out.push(("routing_key".into(), &mut p.routing_key)),
            Channel::Webhook(w) => {
                out.extend(w.secret.as_mut().map(|v| ("secret".to_string(), v)));
                for (k, v) in w.headers.iter_mut() {
                    if is_secret_header(k) {
                        out.push((format!("headers.{}", k.to_ascii_lowercase()), v));
                    }
                }
            }
            Channel::Alertmanager(a) => out.extend(a.password.as_mut().map(|v| ("password".to_string(), v))),
            Channel::Teams(t) => out.push(("webhook_url".into(), &mut t.webhook_url)),
            Channel::Discord(d) => out.push(("webhook_url".into(), &mut d.webhook_url)),
            Channel::Telegram(t) => out.push(("bot_token".into(), &mut t.bot_token)),
            Channel::Opsgenie(o) => out.push(("api_key".into(), &mut o.api_key)),
            Channel::Console(_) => {}
        }
        out
    }

    /// Where the settings send to, besides the secrets themselves: a secret is only kept for the
    /// same destination.
    fn destination(&self) -> String {
        match &self.channel {
            Channel::Slack(s) => format!("{:?}{:?}", s.api_url, s.channel),
            Channel::Email(e) => format!("{}:{:?}:{:?}", e.smtp_host, e.smtp_port, e.username),
            Channel::Pagerduty(p) => format!("{:?}", p.url),
            Channel::Webhook(w) => w.url.clone(),
            Channel::Alertmanager(a) => format!("{}{:?}", a.url, a.username),
            Channel::Telegram(t) => format!("{:?}{}", t.api_url, t.chat_id),
            Channel::Opsgenie(o) => format!("{:?}", o.api_url),
            Channel::Teams(_) | Channel::Discord(_) | Channel::Console(_) => String::new(),
        }
    }

    /// The spec with every secret replaced by [`REDACTED`], and credentials or query strings in
    /// URLs hidden, for the API.
    pub fn redacted(&self) -> ContactPointSpec {
        let mut copy = self.clone();
        for (_, s) in copy.secrets_mut() {
            *s = REDACTED.to_string();
        }
        match &mut copy.channel {
            Channel::Webhook(w) => w.url = redact_url(&w.url),
            Channel::Alertmanager(a) => a.url = redact_url(&a.url),
            _ => {}
        }
        copy
    }

    /// Secrets sent back as [`REDACTED`] (and URLs sent back as shown) take their value in
    /// `previous`, field by field; sending a secret back hidden to a new destination is refused
    /// (it would send the stored secret somewhere else).
    pub fn keep_secrets_of(&mut self, previous: &ContactPointSpec) -> Result<(), String> {
        if std::mem::discriminant(&self.channel) != std::mem::discriminant(&previous.channel) {
            return match self.clone().secrets_mut().iter().any(|(_, v)| v.as_str() == REDACTED) {
                true => Err("the kind changed: give the secrets again".into()),
                false => Ok(()),
            };
        }
        match (&mut self.channel, &previous.channel) {
            (Channel::Webhook(w), Channel::Webhook(old)) if w.url == redact_url(&old.url) => w.url = old.url.clone(),
            (Channel::Alertmanager(a), Channel::Alertmanager(old)) if a.url == redact_url(&old.url) => a.url = old.url.clone(),
            _ => {}
        }
        let same_destination = self.destination() == previous.destination();
        let mut old = previous.clone();
        let old_secrets: Vec<(String, String)> = old.secrets_mut().into_iter().map(|(k, v)| (k, v.clone())).collect();
        for (name, value) in self.secrets_mut() {
            if value.as_str() != REDACTED {
                continue;
            }
            if !same_destination {
                return Err(format!("{name}: the destination changed, so give the secret again instead of {REDACTED}"));
            }
            match old_secrets.iter().find(|(k, _)| *k == name) {
                Some((_, v)) => *value = v.clone(),
                None => return Err(format!("{name}: there is no stored secret to keep")),
            }
        }
        Ok(())
    }

    /// `${NAME}` in any string setting replaced by the environment variable `NAME`; a missing
    /// variable is a problem.
    pub fn expand_env(&mut self) -> Result<(), String> {
        let mut value = serde_json::to_value(&*self).map_err(|e| e.to_string())?;
        expand_in(&mut value)?;
        *self = serde_json::from_value(value).map_err(|e| e.to_string())?;
        Ok(())
    }
}

/// A URL with its user information and query hidden (they often hold credentials).
fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let hidden = !u.username().is_empty() || u.password().is_some() || u.query().is_some();
            if !hidden {
                return url.to_string();
            }
            let _ = u.set_username("");
            let _ = u.set_password(None);
            if u.query().is_some() {
                u.set_query(Some(REDACTED));
            }
            u.to_string()
        }
        Err(_) => url.to_string(),
    }
}

fn is_secret_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n == "authorization" || n.contains("token") || n.contains("key") || n.contains("secret")
}

fn expand_in(value: &mut serde_json::Value) -> Result<(), String> {
    match value {
        serde_json::Value::String(s) if s.contains("${") => {
            let mut out = String::new();
            let mut rest = s.as_str();
            while let Some(at) = rest.find("${") {
                out.push_str(&rest[..at]);
                let Some(end) = rest[at..].find('}') else { return Err(format!("unclosed ${{ in {s:?}")) };
                let name = &rest[at + 2..at + end];
                let v = std::env::var(name).map_err(|_| format!("environment variable {name} is not set"))?;
                out.push_str(&v);
                rest = &rest[at + end + 1..];
            }
            out.push_str(rest);
            *s = out;
        }
        serde_json::Value::Object(map) => {
            for v in map.values_mut() {
                expand_in(v)?;
            }
        }
        serde_json::Value::Array(items) => {
            for v in items {
                expand_in(v)?;
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_channel_and_refuses_unknown_settings() {
        let cp: ContactPointSpec = serde_yaml_ng::from_str("name: ops\nkind: slack\nwebhook_url: https://hooks.slack.com/services/T/B/X\n").unwrap();
        assert!(cp.check().is_empty());
        assert!(cp.send_resolved);
        let cp: ContactPointSpec =
            serde_yaml_ng::from_str("name: mail\nkind: email\nto: [oncall@example.com]\nfrom: trawl@example.com\nsmtp_host: smtp.example.com\n").unwrap();
        assert!(cp.check().is_empty());
        assert!(serde_yaml_ng::from_str::<ContactPointSpec>("name: x\nkind: webhook\nurl: http://a\nsecrt: y\n").is_err());
        assert!(serde_yaml_ng::from_str::<ContactPointSpec>("name: x\nkind: pigeon\n").is_err());
        let cp: ContactPointSpec = serde_yaml_ng::from_str("name: x\nkind: webhook\nurl: ftp://a\n").unwrap();
        assert_eq!(cp.check().len(), 1);
        let cp: ContactPointSpec = serde_yaml_ng::from_str("name: x\nkind: slack\ntoken: xoxb-1\n").unwrap();
        assert!(cp.check()[0].contains("channel"));
    }

    #[test]
    fn secrets_are_redacted_and_kept_on_update() {
        let cp: ContactPointSpec = serde_yaml_ng::from_str(
            "name: hook\nkind: webhook\nurl: http://127.0.0.1:1/x\nsecret: s3cret\nheaders: {Authorization: Bearer abc, X-Team: payments}\n",
        )
        .unwrap();
        let shown = cp.redacted();
        let Channel::Webhook(w) = &shown.channel else { panic!() };
        assert_eq!(w.secret.as_deref(), Some(REDACTED));
        assert_eq!(w.headers["Authorization"], REDACTED);
        assert_eq!(w.headers["X-Team"], "payments");
        let mut update = shown.clone();
        update.keep_secrets_of(&cp).unwrap();
        assert_eq!(update, cp);
        // A secret sent back hidden to another destination is refused; matched by name, never
        // by position.
        let mut moved = shown.clone();
        let Channel::Webhook(w) = &mut moved.channel else { panic!() };
        w.url = "https://elsewhere.example.com/x".into();
        assert!(moved.keep_secrets_of(&cp).is_err());
        let mut fewer = shown.clone();
        let Channel::Webhook(w) = &mut fewer.channel else { panic!() };
        w.secret = None;
        fewer.keep_secrets_of(&cp).unwrap();
        let Channel::Webhook(w) = &fewer.channel else { panic!() };
        assert_eq!(w.headers["Authorization"], "Bearer abc");
        let with_query: ContactPointSpec = serde_yaml_ng::from_str("name: h\nkind: webhook\nurl: https://u:p@hooks.example.com/x?token=abc\n").unwrap();
        let Channel::Webhook(w) = &with_query.redacted().channel else { panic!() };
        assert!(!w.url.contains("abc") && !w.url.contains("u:p"), "{}", w.url);
    }

    #[test]
    fn environment_variables_fill_settings() {
        std::env::set_var("TRAWL_TEST_PD_KEY", "R0UTING");
        let mut cp: ContactPointSpec = serde_yaml_ng::from_str("name: pd\nkind: pagerduty\nrouting_key: ${TRAWL_TEST_PD_KEY}\n").unwrap();
        cp.expand_env().unwrap();
        let Channel::Pagerduty(p) = &cp.channel else { panic!() };
        assert_eq!(p.routing_key, "R0UTING");
        let mut cp: ContactPointSpec = serde_yaml_ng::from_str("name: pd\nkind: pagerduty\nrouting_key: ${TRAWL_TEST_UNSET_VAR}\n").unwrap();
        assert!(cp.expand_env().is_err());
    }
}
