//! Delivery of a notification to a contact point, in its channel's format. Each channel has
//! its own file; they share the guarded HTTP client ([`crate::http::OutboundClient`]) and tell
//! the outbox whether a failure is worth retrying.

mod alertmanager;
mod console;
mod discord;
mod email;
mod opsgenie;
mod pagerduty;
mod slack;
mod teams;
mod telegram;
pub mod text;
mod webhook;

use std::time::Duration;

use crate::contact_point::{Channel, ContactPointSpec};
use crate::http::{Answer, OutboundClient, SendError};
use crate::notification::Notification;

pub use webhook::{sign, SIGNATURE_HEADER, TIMESTAMP_HEADER};

/// Where a channel keeps what it needs across the notifications of one group (a Slack
/// message's channel and timestamp, to update it and reply in its thread).
pub trait ThreadStore: Send + Sync {
    fn get(&self, key: &str) -> Option<serde_json::Value>;
    fn put(&self, key: &str, value: serde_json::Value);
}

pub struct DeliveryContext<'a> {
    pub http: &'a OutboundClient,
    pub threads: &'a dyn ThreadStore,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryError {
    /// Try again later (after `retry_after` when the receiver said so).
    Retryable { message: String, retry_after: Option<Duration> },
    /// Retrying cannot help (bad settings, a refused destination, a 4xx answer).
    Permanent(String),
}

impl DeliveryError {
    pub fn message(&self) -> &str {
        match self {
            DeliveryError::Retryable { message, .. } | DeliveryError::Permanent(message) => message,
        }
    }
}

impl From<SendError> for DeliveryError {
    fn from(e: SendError) -> DeliveryError {
        match e {
            SendError::Refused(m) => DeliveryError::Permanent(m),
            SendError::Network(m) => DeliveryError::Retryable { message: m, retry_after: None },
        }
    }
}

/// The outcome of an HTTP answer as most receivers mean it: 2xx delivered; 429, 408 and 5xx
/// retryable (honouring `Retry-After`); other 4xx permanent.
pub fn check_answer(receiver: &str, answer: &Answer) -> Result<(), DeliveryError> {
    let snippet = |b: &str| crate::template::clip(b.trim().replace('\n', " "), 300);
    match answer.status {
        200..=299 => Ok(()),
        429 | 408 | 500..=599 => Err(DeliveryError::Retryable {
            message: format!("{receiver} answered {}: {}", answer.status, snippet(&answer.body)),
            retry_after: answer.retry_after,
        }),
        s => Err(DeliveryError::Permanent(format!("{receiver} answered {s}: {}", snippet(&answer.body)))),
    }
}

/// Delivers `n` to `cp`.
pub async fn deliver(cp: &ContactPointSpec, n: &Notification, ctx: &DeliveryContext<'_>) -> Result<(), DeliveryError> {
    if n.is_resolved() && !cp.send_resolved && n.kind != crate::notification::NotificationKind::Test {
        return Ok(());
    }
    let rendered = text::Rendered::of(cp, n);
    match &cp.channel {
        Channel::Webhook(s) => webhook::deliver(s, n, ctx).await,
        Channel::Console(_) => console::deliver(&rendered),
        Channel::Slack(s) => slack::deliver(s, cp, n, &rendered, ctx).await,
        Channel::Email(s) => email::deliver(s, n, &rendered, ctx).await,
        Channel::Pagerduty(s) => pagerduty::deliver(s, n, &rendered, ctx).await,
        Channel::Alertmanager(s) => alertmanager::deliver(s, n, ctx).await,
        Channel::Teams(s) => teams::deliver(s, n, &rendered, ctx).await,
        Channel::Discord(s) => discord::deliver(s, n, &rendered, ctx).await,
        Channel::Telegram(s) => telegram::deliver(s, n, &rendered, ctx).await,
        Channel::Opsgenie(s) => opsgenie::deliver(s, n, &rendered, ctx).await,
    }
}
