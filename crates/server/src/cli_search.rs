//! `trawl search` and `trawl trace`.

use std::io::Write;

use anyhow::Context;

use crate::output::{api_error, color, level_color, one_line, Format, RESET};

fn get(url: &str, params: &[(&str, String)]) -> anyhow::Result<serde_json::Value> {
    let client = reqwest::blocking::Client::builder().timeout(std::time::Duration::from_secs(60)).build()?;
    let response = client.get(url).query(params).send().with_context(|| format!("cannot reach {url}"))?;
    let status = response.status();
    let body = response.text()?;
    if !status.is_success() {
        return Err(api_error(status, &body));
    }
    serde_json::from_str(&body).context("server answered with invalid JSON")
}

pub fn search(server: &str, query: &str, from: Option<String>, to: Option<String>, limit: usize, format: Format) -> anyhow::Result<()> {
    let mut params = vec![("query", query.to_string()), ("limit", limit.to_string())];
    if let Some(from) = from {
        params.push(("start", from));
    }
    if let Some(to) = to {
        params.push(("end", to));
    }
    let answer = get(&format!("{}/api/v1/search", server.trim_end_matches('/')), &params)?;
    let records = answer["records"].as_array().cloned().unwrap_or_default();
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => {
            for r in &records {
                writeln!(out, "{r}")?;
            }
        }
        Format::Table => {
            let color = color();
            let width = records.iter().map(|r| r["service"].as_str().unwrap_or("").chars().count()).max().unwrap_or(7).max(7);
            for r in &records {
                let level = r["level"].as_str().unwrap_or("");
                let (c, reset) = if color { (level_color(level), RESET) } else { ("", "") };
                writeln!(
                    out,
                    "{}  {c}{level:<5}{reset}  {:<width$}  {}",
                    r["time"].as_str().unwrap_or(""),
                    r["service"].as_str().unwrap_or(""),
                    one_line(r["body"].as_str().unwrap_or("")),
                )?;
            }
            let stats = &answer["stats"];
            eprintln!(
                "{} records in {:.1} ms ({} segments scanned, {} skipped)",
                records.len(),
                answer["took_ms"].as_f64().unwrap_or(0.0),
                stats["segments_scanned"],
                stats["segments_skipped"]
            );
        }
    }
    Ok(())
}

pub fn trace(server: &str, trace_id: &str, format: Format) -> anyhow::Result<()> {
    let answer = get(&format!("{}/api/v1/traces/{}", server.trim_end_matches('/'), trace_id), &[])?;
    let mut out = std::io::stdout().lock();
    if let Format::Json = format {
        writeln!(out, "{answer}")?;
        return Ok(());
    }
    let color = color();
    let spans = answer["spans"].as_array().cloned().unwrap_or_default();
    let records = answer["records"].as_array().cloned().unwrap_or_default();
    writeln!(
        out,
        "trace {}  {} spans, {} records, services: {}",
        answer["trace_id"].as_str().unwrap_or(""),
        spans.len(),
        records.len(),
        answer["services"].as_array().map(|s| s.iter().filter_map(|v| v.as_str()).collect::<Vec<_>>().join(", ")).unwrap_or_default()
    )?;
    // Indented span tree: children under their parent, roots (and orphans) at the top.
    let ids: std::collections::HashSet<&str> = spans.iter().filter_map(|s| s["span_id"].as_str()).collect();
    let mut children: std::collections::HashMap<&str, Vec<&serde_json::Value>> = Default::default();
    let mut roots = Vec::new();
    for s in &spans {
        let parent = s["parent_span_id"].as_str().unwrap_or("");
        if parent.is_empty() || !ids.contains(parent) {
            roots.push(s);
        } else {
            children.entry(parent).or_default().push(s);
        }
    }
    let mut stack: Vec<(&serde_json::Value, usize)> = roots.into_iter().rev().map(|s| (s, 0)).collect();
    let mut seen = std::collections::HashSet::new();
    while let Some((s, depth)) = stack.pop() {
        let id = s["span_id"].as_str().unwrap_or("");
        if !seen.insert(id) {
            continue;
        }
        let error = s["status_code"].as_str() == Some("ERROR");
        let (c, reset) = if color && error { ("\x1b[31m", RESET) } else { ("", "") };
        let ms = s["duration_ns"].as_i64().unwrap_or(0) as f64 / 1e6;
        writeln!(
            out,
            "{c}{:indent$}{} {}  {:.1} ms{}{reset}",
            "",
            s["service"].as_str().unwrap_or(""),
            s["name"].as_str().unwrap_or(""),
            ms,
            if error { format!("  ERROR {}", s["status_message"].as_str().unwrap_or("")) } else { String::new() },
            indent = depth * 2
        )?;
        if let Some(kids) = children.get(id) {
            stack.extend(kids.iter().rev().map(|k| (*k, depth + 1)));
        }
    }
    if !records.is_empty() {
        writeln!(out, "records:")?;
        for r in &records {
            let level = r["level"].as_str().unwrap_or("");
            let (c, reset) = if color { (level_color(level), RESET) } else { ("", "") };
            writeln!(
                out,
                "  {}  {c}{level:<5}{reset}  {}  {}",
                r["time"].as_str().unwrap_or(""),
                r["service"].as_str().unwrap_or(""),
                one_line(r["body"].as_str().unwrap_or(""))
            )?;
        }
    }
    Ok(())
}
