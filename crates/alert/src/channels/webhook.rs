//! The generic webhook: the notification as JSON (schema in docs/alerting.md), signed like
//! Slack's and Stripe's requests: `X-Trawl-Timestamp` (Unix seconds) and
//! `X-Trawl-Signature: v1=<hex of HMAC-SHA256(secret, "<timestamp>.<body>")>`. A receiver
//! recomputes the signature, compares in constant time, and refuses old timestamps.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::channels::{check_answer, DeliveryContext, DeliveryError};
use crate::contact_point::WebhookSettings;
use crate::notification::Notification;

pub const TIMESTAMP_HEADER: &str = "X-Trawl-Timestamp";
pub const SIGNATURE_HEADER: &str = "X-Trawl-Signature";
/// Also sent: the notification's id, for receivers that deduplicate on a header.
pub const ID_HEADER: &str = "X-Trawl-Notification-Id";

/// `v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

pub async fn deliver(s: &WebhookSettings, n: &Notification, ctx: &DeliveryContext<'_>) -> Result<(), DeliveryError> {
    let body = serde_json::to_vec(n).map_err(|e| DeliveryError::Permanent(format!("cannot encode the notification: {e}")))?;
    let mut headers: Vec<(String, String)> = s.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    headers.push((ID_HEADER.into(), n.id.clone()));
    if let Some(secret) = s.secret.as_deref().filter(|s| !s.is_empty()) {
        let timestamp = trawl_model::now_ns() / 1_000_000_000;
        headers.push((TIMESTAMP_HEADER.into(), timestamp.to_string()));
        headers.push((SIGNATURE_HEADER.into(), sign(secret, timestamp, &body)));
    }
    let answer = ctx.http.send(reqwest::Method::POST, &s.url, &headers, "application/json", body).await?;
    check_answer("the webhook", &answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_an_independently_computed_hmac() {
        // Python: hmac.new(b"key", b"1700000000.{}", hashlib.sha256).hexdigest()
        assert_eq!(sign("key", 1_700_000_000, b"{}"), "v1=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae");
    }
}
