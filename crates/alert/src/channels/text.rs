//! The title and plain text of a notification, shared by the channels that show text: the
//! default wording, or the contact point's own templates.

use crate::contact_point::ContactPointSpec;
use crate::evidence;
use crate::notification::Notification;

/// A notification as a title and lines of text.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub title: String,
    pub text: String,
}

/// Most alerts written out in full in a text message.
const MAX_ALERTS_IN_TEXT: usize = 10;

impl Rendered {
    pub fn of(cp: &ContactPointSpec, n: &Notification) -> Rendered {
        let context = serde_json::to_value(n).unwrap_or_default();
        let title = match &cp.title_template {
            Some(t) => crate::template::render(t, &context),
            None => n.title(),
        };
        let text = match &cp.text_template {
            Some(t) => crate::template::render(t, &context),
            None => default_text(n),
        };
        Rendered { title, text }
    }
}

/// Each alert: its summary, labels, figure, evidence lines and links.
pub fn default_text(n: &Notification) -> String {
    let mut out = Vec::new();
    for a in n.alerts.iter().take(MAX_ALERTS_IN_TEXT) {
        let summary = a.annotations.get("summary").cloned().unwrap_or_else(|| a.rule.clone());
        out.push(format!("{} {}", if a.status == "firing" { "●" } else { "○" }, summary));
        if let Some(d) = a.annotations.get("description") {
            out.push(format!("  {d}"));
        }
        let labels: Vec<String> = a.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.push(format!("  labels: {}", labels.join(", ")));
        match &a.evidence {
            Some(e) => out.extend(evidence::text_lines(e).into_iter().map(|l| format!("  {l}"))),
            None => out.push(format!("  {}: {}", if a.metric.is_empty() { "value" } else { &a.metric }, crate::format::figure(a.value, &a.unit))),
        }
        out.push(format!("  alert: {}", a.url));
        if let Some(e) = &a.evidence {
            out.push(format!("  logs: {}", e.links.search));
            if let Some(t) = &e.links.trace {
                out.push(format!("  trace: {t}"));
            }
        }
    }
    if n.alerts.len() > MAX_ALERTS_IN_TEXT || n.truncated_alerts > 0 {
        out.push(format!("… and {} more", n.alerts.len().saturating_sub(MAX_ALERTS_IN_TEXT) + n.truncated_alerts));
    }
    out.join("\n")
}
