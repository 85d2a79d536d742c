//! The query commands: `trawl search`, `trawl trace`, `trawl why`, `trawl tail`.

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

/// Width of the waterfall bars, in characters.
const BAR_WIDTH: usize = 40;

fn ms(ns: i64) -> String {
    let ms = ns as f64 / 1e6;
    if ms >= 100.0 {
        format!("{ms:.0}ms")
    } else {
        format!("{ms:.1}ms")
    }
}

/// A bar of `BAR_WIDTH` cells showing where `[offset, offset + duration]` falls in `total`.
fn bar(offset: i64, duration: i64, total: i64) -> String {
    let total = total.max(1) as f64;
    let from = ((offset as f64 / total) * BAR_WIDTH as f64).floor().clamp(0.0, (BAR_WIDTH - 1) as f64) as usize;
    let len = ((duration as f64 / total) * BAR_WIDTH as f64).round().max(1.0) as usize;
    let to = (from + len).min(BAR_WIDTH);
    format!("{}{}{}", " ".repeat(from), "█".repeat(to - from), " ".repeat(BAR_WIDTH - to))
}

/// ANSI codes for red, bold, dim and reset, or empty strings when not on a colour terminal.
struct Palette {
    red: &'static str,
    bold: &'static str,
    dim: &'static str,
    reset: &'static str,
}

impl Palette {
    fn new() -> Palette {
        if color() {
            Palette { red: "\x1b[31m", bold: "\x1b[1m", dim: "\x1b[2m", reset: RESET }
        } else {
            Palette { red: "", bold: "", dim: "", reset: "" }
        }
    }
}

/// One record as a line: time, coloured level, service, body.
fn record_line(rec: &serde_json::Value, color: bool) -> String {
    let level = rec["level"].as_str().unwrap_or("");
    let (lc, lr) = if color { (level_color(level), RESET) } else { ("", "") };
    format!(
        "{}  {lc}{level:<5}{lr}  {}  {}",
        rec["time"].as_str().unwrap_or(""),
        rec["service"].as_str().unwrap_or(""),
        one_line(rec["body"].as_str().unwrap_or(""))
    )
}

/// `trawl trace ID`: the waterfall, errors in red, the root cause marked, the records under
/// their spans.
pub fn trace(server: &str, trace_id: &str, format: Format) -> anyhow::Result<()> {
    let answer = get(&format!("{}/api/v1/traces/{}", server.trim_end_matches('/'), trace_id), &[])?;
    let mut out = std::io::stdout().lock();
    if let Format::Json = format {
        writeln!(out, "{answer}")?;
        return Ok(());
    }
    let color = color();
    let Palette { red, bold, dim, reset } = Palette::new();
    let spans = answer["spans"].as_array().cloned().unwrap_or_default();
    let records = answer["records"].as_array().cloned().unwrap_or_default();
    let total = answer["duration_ns"].as_i64().unwrap_or(0);
    writeln!(
        out,
        "{bold}trace {}{reset}  {}  {} spans  {} records  services: {}",
        answer["trace_id"].as_str().unwrap_or(""),
        ms(total),
        answer["span_count"],
        records.len(),
        answer["services"].as_array().map(|s| s.iter().filter_map(|v| v.as_str()).collect::<Vec<_>>().join(", ")).unwrap_or_default()
    )?;
    if let Some(rc) = answer.get("root_cause").filter(|v| !v.is_null()) {
        writeln!(out, "{red}{bold}root cause:{reset}{red} {}{reset}", rc["reason"].as_str().unwrap_or(""))?;
    }
    for w in answer["warnings"].as_array().into_iter().flatten() {
        writeln!(out, "{dim}note: {}{reset}", w.as_str().unwrap_or(""))?;
    }
    let label_width = spans
        .iter()
        .map(|s| s["depth"].as_u64().unwrap_or(0) as usize * 2 + s["service"].as_str().unwrap_or("").chars().count() + s["name"].as_str().unwrap_or("").chars().count() + 3)
        .max()
        .unwrap_or(20)
        .min(70);
    for s in &spans {
        let depth = s["depth"].as_u64().unwrap_or(0) as usize;
        let error = s["error"].as_bool().unwrap_or(false);
        let is_root_cause = s["root_cause"].as_bool().unwrap_or(false);
        let mut label = format!("{:indent$}{} {}", "", s["service"].as_str().unwrap_or(""), s["name"].as_str().unwrap_or(""), indent = depth * 2);
        if label.chars().count() > label_width {
            label = label.chars().take(label_width - 1).collect::<String>() + "…";
        }
        let pad = label_width.saturating_sub(label.chars().count());
        let mut flags = Vec::new();
        if is_root_cause {
            flags.push("◀ ROOT CAUSE".to_string());
        }
        if error {
            flags.push(format!("ERROR {}", s["status_message"].as_str().unwrap_or("")));
        }
        if s["orphan"].as_bool() == Some(true) {
            flags.push("(parent missing)".into());
        }
        if s["clock_skew_ns"].as_i64().unwrap_or(0) != 0 {
            flags.push(format!("(clock skew {})", ms(s["clock_skew_ns"].as_i64().unwrap_or(0))));
        }
        let (c, r) = if error { (red, reset) } else { ("", "") };
        writeln!(
            out,
            "{c}{label}{:pad$} |{}| {:>8} {}{r}",
            "",
            bar(s["offset_ns"].as_i64().unwrap_or(0), s["duration_ns"].as_i64().unwrap_or(0), total),
            ms(s["duration_ns"].as_i64().unwrap_or(0)),
            flags.join(" "),
        )?;
        for ri in s["records"].as_array().into_iter().flatten() {
            let Some(rec) = ri.as_u64().and_then(|i| records.get(i as usize)) else { continue };
            writeln!(out, "{:indent$}  {}", "", record_line(rec, color), indent = depth * 2)?;
        }
    }
    let unattached = answer["unattached_records"].as_array().cloned().unwrap_or_default();
    if !unattached.is_empty() {
        writeln!(out, "records without a span:")?;
        for ri in unattached {
            let Some(rec) = ri.as_u64().and_then(|i| records.get(i as usize)) else { continue };
            writeln!(out, "  {}", record_line(rec, color))?;
        }
    }
    if answer["page"]["more"].as_bool() == Some(true) {
        writeln!(out, "{dim}… {} more spans (use --format json with the API's offset/limit){reset}", answer["span_count"].as_u64().unwrap_or(0) as usize - spans.len())?;
    }
    Ok(())
}

/// `trawl why [QUERY]`: the ranked causes of the failing requests of a window.
pub fn why(server: &str, query: &str, since: &str, format: Format) -> anyhow::Result<()> {
    let params = vec![("query", query.to_string()), ("start", since.to_string())];
    let answer = get(&format!("{}/api/v1/rootcause", server.trim_end_matches('/')), &params)?;
    let mut out = std::io::stdout().lock();
    if let Format::Json = format {
        writeln!(out, "{answer}")?;
        return Ok(());
    }
    let Palette { red, bold, dim, reset } = Palette::new();
    let causes = answer["causes"].as_array().cloned().unwrap_or_default();
    writeln!(
        out,
        "{bold}{} failing traces{reset} from {} to {} ({} analysed; {} in the baseline, {})",
        answer["failing_traces"],
        answer["start"].as_str().unwrap_or(""),
        answer["end"].as_str().unwrap_or(""),
        answer["analysed_traces"],
        answer["baseline_failing_traces"],
        if answer["baseline_kind"] == "same_time_last_week" { "the same time last week" } else { "the window before" },
    )?;
    if causes.is_empty() {
        writeln!(out, "no failing requests in this window")?;
        return Ok(());
    }
    for (rank, c) in causes.iter().enumerate().take(10) {
        let status = c["status"].as_str().unwrap_or("");
        let status = match status {
            "new" => format!("{red}NEW{reset}"),
            "grown" => format!("{red}GROWN{reset} (was {})", c["baseline_traces"]),
            other => other.to_string(),
        };
        writeln!(
            out,
            "{bold}{}. {} `{}`{reset}  {}  {:.0} % of failing traces ({}), {}",
            rank + 1,
            c["service"].as_str().unwrap_or(""),
            c["operation"].as_str().unwrap_or(""),
            c["error_kind"].as_str().unwrap_or(""),
            c["share"].as_f64().unwrap_or(0.0) * 100.0,
            c["traces"],
            status
        )?;
        writeln!(out, "   {}", c["reason"].as_str().unwrap_or(""))?;
        if let Some(v) = c["version_specific"].as_str() {
            writeln!(out, "   {red}only in {} {v}{reset} (other versions of the service do not fail this way)", c["service"].as_str().unwrap_or(""))?;
        }
        writeln!(
            out,
            "   {dim}first seen {}  example: trawl trace {}{reset}",
            c["first_seen"].as_str().unwrap_or(""),
            c["example_trace_id"].as_str().unwrap_or("")
        )?;
    }
    Ok(())
}

/// `trawl tail [QUERY]`: follows new matching records as they arrive (Server-Sent Events).
pub fn tail(server: &str, query: &str, format: Format) -> anyhow::Result<()> {
    use std::io::BufRead;
    let client = reqwest::blocking::Client::builder().timeout(None).build()?;
    let url = format!("{}/api/v1/tail", server.trim_end_matches('/'));
    let response = client
        .get(&url)
        .query(&[("query", query)])
        .header("accept", "text/event-stream")
        .send()
        .with_context(|| format!("cannot reach {url}"))?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().unwrap_or_default();
        return Err(api_error(status, &body));
    }
    let color = color();
    let mut out = std::io::stdout();
    let mut event = String::new();
    for line in std::io::BufReader::new(response).lines() {
        let line = line.context("the server closed the stream")?;
        if let Some(name) = line.strip_prefix("event:") {
            event = name.trim().to_string();
        } else if let Some(data) = line.strip_prefix("data:") {
            let data = data.trim_start();
            if event == "error" {
                anyhow::bail!("{data}");
            }
            match format {
                Format::Json => writeln!(out, "{data}")?,
                Format::Table => {
                    let record: serde_json::Value = serde_json::from_str(data).unwrap_or_default();
                    writeln!(out, "{}", record_line(&record, color))?;
                }
            }
            out.flush()?;
        } else if line.is_empty() {
            event.clear();
        }
    }
    Ok(())
}
