//! Masking cost per record on the benchmark's data: `TRAWL_MASK_INPUT=logs.ndjson cargo test
//! --release -p trawl-privacy --test throughput -- --ignored --nocapture` (logs from
//! `bench/gen_logs.py`). Prints records per second and nanoseconds per record, with every
//! default detector on; docs/privacy.md sets them against the server's ingest cost.

use std::time::Instant;

use trawl_model::{flatten_json, Record};
use trawl_privacy::{Masker, PrivacyConfig};

#[test]
#[ignore = "a measurement: needs TRAWL_MASK_INPUT and a release build"]
fn masking_cost_per_record() {
    let path = std::env::var("TRAWL_MASK_INPUT").expect("TRAWL_MASK_INPUT=<ndjson file>");
    let text = std::fs::read_to_string(path).expect("readable input");
    let mut records: Vec<Record> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| {
            let mut r = Record::new(0);
            if let serde_json::Value::Object(map) = v {
                for (k, v) in map {
                    match (k.as_str(), v) {
                        ("message" | "body" | "msg", serde_json::Value::String(s)) => r.body = s,
                        // Fields of their own at ingest, never scanned.
                        ("timestamp" | "time" | "level" | "rid", _) => {}
                        ("trace_id", serde_json::Value::String(s)) => r.trace_id = s,
                        ("span_id", serde_json::Value::String(s)) => r.span_id = s,
                        ("service", serde_json::Value::String(s)) => r.service = s,
                        ("host", serde_json::Value::String(s)) => r.host = s,
                        (_, value) => {
                            flatten_json(&k, &value, &mut r.attributes);
                        }
                    }
                }
            }
            r
        })
        .collect();
    let masker = Masker::new(&PrivacyConfig::default()).unwrap();
    let started = Instant::now();
    let mut masked = 0usize;
    for r in &mut records {
        if !masker.mask_record(r).is_empty() {
            masked += 1;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{} records in {seconds:.2} s: {:.0} records/s, {:.0} ns a record; {masked} records had findings",
        records.len(),
        records.len() as f64 / seconds,
        seconds * 1e9 / records.len() as f64
    );
}
