//! Delivery of the outbox: notifications stored by the dispatcher are sent by this task, each
//! on its own (a receiver that is down never holds up another), retried with exponential
//! backoff and jitter (or after the receiver's `Retry-After`), and marked failed after the last
//! attempt. A notification is marked delivered only after its receiver accepted it, so a crash
//! in between sends it again after a restart, with the same id for the receiver to
//! deduplicate.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use trawl_storage::{OutboxRow, Store};

use crate::channels::{self, DeliveryContext, DeliveryError, ThreadStore};
use crate::engine::{Alerting, API_SOURCE, THREAD};
use crate::notification::Notification;

/// Longest wait between attempts, and the longest `Retry-After` honoured.
const MAX_BACKOFF: Duration = Duration::from_secs(600);
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);
/// Notifications started per round, and the longest one delivery may take in all.
const BATCH: usize = 64;
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(60);

/// Slack message ids and the like, kept in the metastore.
pub(crate) struct Threads {
    pub store: Arc<Store>,
}

impl ThreadStore for Threads {
    fn get(&self, key: &str) -> Option<serde_json::Value> {
        let row = self.store.with_alert_tables(|t| t.object(THREAD, key)).ok().flatten()?;
        serde_json::from_str(&row.body).ok()
    }
    fn put(&self, key: &str, value: serde_json::Value) {
        if let Err(e) = self.store.with_alert_tables(|t| t.put_object(THREAD, key, API_SOURCE, &value.to_string())) {
            tracing::warn!(error = %e, "cannot keep a message thread id");
        }
    }
}

/// Exponential backoff from 2 s, doubled per attempt, up to 10 minutes, times 0.5–1.5.
pub fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_secs(2).saturating_mul(1u32 << attempt.min(16)).min(MAX_BACKOFF);
    base.mul_f64(0.5 + rand::random::<f64>())
}

pub(crate) async fn run(alerting: Arc<Alerting>) {
    let in_flight: Arc<Mutex<HashSet<String>>> = Arc::default();
    while !alerting.is_shutting_down() {
        let store = alerting.store.clone();
        let now = trawl_model::now_ns();
        // Due rows, leased for the longest a delivery may take (then due again: a crash or a
        // hung delivery is retried, never lost).
        let lease_until = now + (DELIVERY_TIMEOUT + Duration::from_secs(5)).as_nanos() as i64;
        let taken = in_flight.lock().clone();
        let due = tokio::task::spawn_blocking(move || {
            store.with_alert_tables(|t| {
                let rows: Vec<OutboxRow> = t.due_outbox(now, BATCH)?.into_iter().filter(|r| !taken.contains(&r.id)).collect();
                t.lease_outbox(&rows.iter().map(|r| r.id.clone()).collect::<Vec<_>>(), lease_until)?;
                Ok(rows)
            })
        })
        .await;
        match due {
            Ok(Ok(rows)) => {
                for row in rows {
                    if !in_flight.lock().insert(row.id.clone()) {
                        continue;
                    }
                    let (alerting, in_flight) = (alerting.clone(), in_flight.clone());
                    tokio::spawn(async move {
                        let id = row.id.clone();
                        deliver_one(&alerting, row).await;
                        in_flight.lock().remove(&id);
                        alerting.outbox_wake.notify_one();
                    });
                }
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot read the notification outbox"),
            Err(e) => tracing::warn!(error = %e, "outbox read task failed"),
        }
        tokio::select! {
            _ = alerting.outbox_wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

async fn deliver_one(alerting: &Arc<Alerting>, row: OutboxRow) {
    let spec = alerting.state.lock().contact_points.get(&row.contact_point).map(|c| c.spec.clone());
    let attempt = row.attempts + 1;
    let (state, next, error, channel) = match (spec, serde_json::from_str::<Notification>(&row.body)) {
        (None, _) => ("failed", 0, format!("no contact point named {:?} any more", row.contact_point), "unknown".to_string()),
        (Some(_), Err(e)) => ("failed", 0, format!("the stored notification is damaged: {e}"), "unknown".to_string()),
        (Some(spec), Ok(n)) => {
            let threads = Threads { store: alerting.store.clone() };
            let ctx = DeliveryContext { http: &alerting.http, threads: &threads };
            let channel = spec.channel.kind().to_string();
            let result = match tokio::time::timeout(DELIVERY_TIMEOUT, channels::deliver(&spec, &n, &ctx)).await {
                Ok(r) => r,
                Err(_) => Err(DeliveryError::Retryable { message: format!("no answer within {}s", DELIVERY_TIMEOUT.as_secs()), retry_after: None }),
            };
            match result {
                Ok(()) => {
                    alerting.metrics.notification(&channel, true);
                    ("delivered", 0, String::new(), channel)
                }
                Err(DeliveryError::Permanent(m)) => {
                    alerting.metrics.notification(&channel, false);
                    ("failed", 0, m, channel)
                }
                Err(DeliveryError::Retryable { message, retry_after }) => {
                    if attempt >= i64::from(alerting.config.max_attempts) {
                        alerting.metrics.notification(&channel, false);
                        ("failed", 0, format!("gave up after {attempt} attempts: {message}"), channel)
                    } else {
                        alerting.metrics.attempt_failed(&channel);
                        let wait = retry_after.map(|r| r.min(MAX_RETRY_AFTER)).unwrap_or_else(|| backoff(attempt as u32 - 1));
                        ("pending", trawl_model::now_ns() + wait.as_nanos() as i64, message, channel)
                    }
                }
            }
        }
    };
    if state != "delivered" {
        tracing::warn!(notification = %row.id, contact_point = %row.contact_point, channel = %channel, attempt, error = %error, "notification not delivered");
    }
    let store = alerting.store.clone();
    let id = row.id.clone();
    let outcome = tokio::task::spawn_blocking(move || store.with_alert_tables(|t| t.update_outbox(&id, state, attempt, next, &error))).await;
    if !matches!(outcome, Ok(Ok(()))) {
        tracing::error!(notification = %row.id, "cannot record a delivery; it may be sent again");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        for _ in 0..50 {
            let first = backoff(0);
            assert!(first >= Duration::from_secs(1) && first <= Duration::from_secs(3), "{first:?}");
            let late = backoff(30);
            assert!(late >= Duration::from_secs(300) && late <= Duration::from_secs(900), "{late:?}");
        }
    }
}
