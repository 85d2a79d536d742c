//! Sends the fleet's traffic to a server over OTLP/HTTP (protobuf), as SDKs do: batches every
//! 200 ms, retrying 429/503 after `Retry-After`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use prost::Message;

use crate::fleet::Fleet;
use crate::otlp::{logs_request, traces_request};
use crate::scenario::Schedule;

/// Counters of what was sent, readable while the sender runs.
#[derive(Default)]
pub struct SendStats {
    pub requests: AtomicU64,
    pub spans: AtomicU64,
    pub records: AtomicU64,
    pub failed_posts: AtomicU64,
}

fn post(client: &reqwest::blocking::Client, url: &str, body: Vec<u8>, stop: &AtomicBool) -> bool {
    for _ in 0..10 {
        match client.post(url).header("content-type", "application/x-protobuf").body(body.clone()).send() {
            Ok(r) if r.status().is_success() => return true,
            Ok(r) if r.status().as_u16() == 429 || r.status().as_u16() == 503 => {
                let wait = r.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).unwrap_or(1u64);
                std::thread::sleep(Duration::from_secs(wait.min(10)));
            }
            Ok(_) => return false,
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
        if stop.load(Ordering::Relaxed) {
            return false;
        }
    }
    false
}

/// Sends `rate` requests per second of `clock` to `endpoint` (an OTLP/HTTP base URL such as
/// `http://127.0.0.1:4318`) until `stop` is set, stamped with the clock's time. The fault is on
/// when `schedule` says so, counted on the clock from the start of this call. With a clock
/// faster than real time, an hour of traffic passes in minutes.
pub fn run(fleet: &mut Fleet, endpoint: &str, rate: f64, schedule: Schedule, stop: &AtomicBool, stats: &SendStats, clock: &dyn trawl_model::Clock) {
    let client = match reqwest::blocking::Client::builder().timeout(Duration::from_secs(30)).build() {
        Ok(c) => c,
        Err(_) => return,
    };
    let base = endpoint.trim_end_matches('/');
    let (traces_url, logs_url) = (format!("{base}/v1/traces"), format!("{base}/v1/logs"));
    let started = clock.now_ns();
    let tick = Duration::from_millis(200);
    // The same tick on the clock.
    let clock_tick_ns = (tick.as_nanos() as f64 * clock.speed()) as i64;
    let mut owed = 0.0;
    while !stop.load(Ordering::Relaxed) {
        let tick_start = Instant::now();
        owed += rate * clock_tick_ns as f64 / 1e9;
        let n = owed.floor() as usize;
        owed -= n as f64;
        let now = clock.now_ns();
        let fault = schedule.active(Duration::from_nanos((now - started).max(0) as u64));
        let mut spans = Vec::new();
        let mut records = Vec::new();
        for i in 0..n {
            // Spread the requests over the tick that just passed.
            let start = now - clock_tick_ns + (i as i64 * clock_tick_ns / n.max(1) as i64);
            let (s, r) = fleet.request(start, fault);
            spans.extend(s);
            records.extend(r);
        }
        if n > 0 {
            stats.requests.fetch_add(n as u64, Ordering::Relaxed);
            let ok_traces = post(&client, &traces_url, traces_request(&spans).encode_to_vec(), stop);
            let ok_logs = post(&client, &logs_url, logs_request(&records).encode_to_vec(), stop);
            if ok_traces {
                stats.spans.fetch_add(spans.len() as u64, Ordering::Relaxed);
            }
            if ok_logs {
                stats.records.fetch_add(records.len() as u64, Ordering::Relaxed);
            }
            if !ok_traces || !ok_logs {
                stats.failed_posts.fetch_add(1, Ordering::Relaxed);
            }
        }
        if let Some(rest) = tick.checked_sub(tick_start.elapsed()) {
            std::thread::sleep(rest);
        }
    }
}
