//! `trawl mask`: the `[privacy]` rules of a configuration file applied to NDJSON lines offline,
//! to try a rule before deploying it. Each line is read as `/api/v1/ingest` reads it, masked as
//! ingest masks it (by the override of its service and environment, if one applies), and
//! written out; a summary of the findings goes to stderr.

use std::io::{BufRead, Write};
use std::path::Path;

use trawl_privacy::{Findings, Rules};

pub fn run(config: Option<&Path>) -> anyhow::Result<()> {
    let rules = Rules::new(&crate::config::privacy_config(config)?)?;
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut total = Findings::default();
    for line in stdin.lock().lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let batch = trawl_ingest::decode_ndjson(line.as_bytes(), trawl_model::now_ns());
        if let Some(rejection) = batch.rejected.first() {
            writeln!(out, "{}", serde_json::json!({"error": rejection.reason, "line": line}))?;
            continue;
        }
        for mut record in batch.records {
            for (name, n) in rules.mask_record(&mut record).0 {
                *total.0.entry(name).or_default() += n;
            }
            let json = serde_json::json!({
                "time": trawl_model::format_rfc3339(record.time_ns),
                "service": record.service,
                "level": record.level.as_str(),
                "body": record.body,
                "attributes": trawl_model::attributes_to_json(&record.attributes),
                "resource": trawl_model::attributes_to_json(&record.resource),
            });
            writeln!(out, "{json}")?;
        }
    }
    out.flush()?;
    eprintln!("masked: {}", if total.is_empty() { "nothing".to_string() } else { total.summary() });
    Ok(())
}
