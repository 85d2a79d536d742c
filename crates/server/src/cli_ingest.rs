//! `trawl ingest FILE|-`: streams NDJSON to a server in batches, several requests in flight,
//! retrying 429 and 503 after the server's `Retry-After`, and requests whose connection broke
//! before an answer (at least once: a batch whose answer was lost may be stored twice).

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context};

use crate::output::api_error;

const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;
const MAX_ATTEMPTS: u32 = 30;

fn send(client: &reqwest::blocking::Client, url: &str, body: Vec<u8>) -> anyhow::Result<serde_json::Value> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let result = client.post(url).header("content-type", "application/x-ndjson").body(body.clone()).send();
        let response = match result {
            Ok(r) => r,
            // Also a connection the server closed while the body was still going out: it
            // refuses an overloaded write before reading its body (429 or 503, then closes),
            // so nothing of it was taken.
            Err(e) if attempt < MAX_ATTEMPTS && (e.is_connect() || e.is_timeout() || e.is_request() || e.is_body()) => {
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
            Err(e) => return Err(e).context("cannot send records"),
        };
        let status = response.status();
        if (status.as_u16() == 429 || status.as_u16() == 503) && attempt < MAX_ATTEMPTS {
            let wait = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(1);
            std::thread::sleep(Duration::from_secs(wait.min(60)));
            continue;
        }
        let text = response.text()?;
        if status.is_success() || status.as_u16() == 400 {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                if v.get("accepted").is_some() {
                    return Ok(v);
                }
            }
        }
        return Err(api_error(status, &text));
    }
}

pub fn run(file: &Path, server: &str, batch_size: usize, concurrency: usize) -> anyhow::Result<()> {
    let input: Box<dyn Read> = if file.as_os_str() == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?)
    };
    let url = format!("{}/api/v1/ingest", server.trim_end_matches('/'));
    let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(120)).build()?;
    let accepted = Arc::new(AtomicU64::new(0));
    let rejected = Arc::new(AtomicU64::new(0));
    let first_error: Arc<Mutex<Option<anyhow::Error>>> = Arc::default();
    let progress = indicatif::ProgressBar::new_spinner();
    progress.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {human_pos} records sent  {per_sec}  {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    let (tx, rx) = mpsc::sync_channel::<(Vec<u8>, usize)>(concurrency.max(1));
    let rx = Arc::new(Mutex::new(rx));
    let workers: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let (rx, client, url) = (rx.clone(), client.clone(), url.clone());
            let (accepted, rejected, first_error, progress) = (accepted.clone(), rejected.clone(), first_error.clone(), progress.clone());
            std::thread::spawn(move || loop {
                let Ok((body, n)) = rx.lock().unwrap().recv() else { return };
                match send(&client, &url, body) {
                    Ok(v) => {
                        accepted.fetch_add(v["accepted"].as_u64().unwrap_or(0), Ordering::Relaxed);
                        let n_rejected = v["rejected_count"].as_u64().unwrap_or(0);
                        rejected.fetch_add(n_rejected, Ordering::Relaxed);
                        if let Some(first) = v["rejected"].as_array().and_then(|a| a.first()) {
                            progress.println(format!("rejected in a batch: line {} of it: {}", first["line"], first["reason"].as_str().unwrap_or("")));
                        }
                        progress.inc(n as u64);
                    }
                    Err(e) => {
                        first_error.lock().unwrap().get_or_insert(e);
                    }
                }
            })
        })
        .collect();
    let mut batch = Vec::new();
    let mut n = 0;
    for line in BufReader::new(input).split(b'\n') {
        let line = line.context("cannot read input")?;
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        batch.extend_from_slice(&line);
        batch.push(b'\n');
        n += 1;
        if n >= batch_size || batch.len() >= MAX_BATCH_BYTES {
            if tx.send((std::mem::take(&mut batch), n)).is_err() {
                break;
            }
            n = 0;
        }
        if first_error.lock().unwrap().is_some() {
            break;
        }
    }
    if n > 0 {
        let _ = tx.send((batch, n));
    }
    drop(tx);
    for w in workers {
        let _ = w.join();
    }
    progress.finish_and_clear();
    let (a, r) = (accepted.load(Ordering::Relaxed), rejected.load(Ordering::Relaxed));
    eprintln!("{a} records accepted, {r} rejected");
    if let Some(e) = first_error.lock().unwrap().take() {
        bail!("{e:#}");
    }
    Ok(())
}
