//! The query commands: `trawl query` (alias `search`), `trawl trace`, `trawl why`, `trawl tail`.

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

/// How `trawl query` prints its answer.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum QueryFormat {
    /// Aligned columns; levels coloured on a terminal.
    Table,
    /// The server's whole answer as one JSON document.
    Json,
    /// One JSON object per record or row.
    Ndjson,
    /// Comma-separated values with a header line.
    Csv,
}

/// Columns of records in the table and CSV forms.
const RECORD_COLUMNS: [&str; 6] = ["time", "level", "service", "host", "trace_id", "body"];

/// `trawl query` (alias `search`): runs a query on the server and prints records or a table.
pub fn query(server: &str, query: &str, from: Option<String>, to: Option<String>, limit: usize, format: QueryFormat) -> anyhow::Result<()> {
    let mut body = serde_json::json!({"query": query, "limit": limit});
    if let Some(from) = from {
        body["start"] = from.into();
    }
    if let Some(to) = to {
        body["end"] = to.into();
    }
    let url = format!("{}/api/v1/query", server.trim_end_matches('/'));
    let client = reqwest::blocking::Client::builder().timeout(std::time::Duration::from_secs(120)).build()?;
    let response = client.post(&url).json(&body).send().with_context(|| format!("cannot reach {url}"))?;
    let status = response.status();
    let text = response.text()?;
    if !status.is_success() {
        return Err(api_error(status, &text));
    }
    let answer: serde_json::Value = serde_json::from_str(&text).context("server answered with invalid JSON")?;
    let (columns, rows) = answer_rows(&answer);
    let mut out = std::io::stdout().lock();
    match format {
        QueryFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&answer)?)?,
        QueryFormat::Ndjson => match answer["records"].as_array() {
            Some(records) => {
                for r in records {
                    writeln!(out, "{r}")?;
                }
            }
            None => {
                for row in &rows {
                    let object: serde_json::Map<String, serde_json::Value> = columns.iter().cloned().zip(row.iter().cloned()).collect();
                    writeln!(out, "{}", serde_json::Value::Object(object))?;
                }
            }
        },
        QueryFormat::Csv => {
            writeln!(out, "{}", columns.iter().map(|c| csv_field(c)).collect::<Vec<_>>().join(","))?;
            for row in &rows {
                writeln!(out, "{}", row.iter().map(|v| csv_field(&cell(v))).collect::<Vec<_>>().join(","))?;
            }
        }
        QueryFormat::Table => {
            if answer["kind"] == "records" {
                print_records(&mut out, answer["records"].as_array().map(Vec::as_slice).unwrap_or_default())?;
            } else {
                print_table(&mut out, &columns, &rows)?;
            }
            let stats = &answer["stats"];
            eprintln!(
                "{} {} in {:.1} ms ({} segments scanned, {} skipped){}",
                rows.len(),
                if answer["kind"] == "records" { "records" } else { "rows" },
                answer["took_ms"].as_f64().unwrap_or(0.0),
                stats["segments_scanned"],
                stats["segments_skipped"],
                if answer["truncated"] == true { "; more rows matched than the limit" } else { "" }
            );
        }
    }
    Ok(())
}

/// The answer as columns and rows of JSON values, whether it holds records or a table.
fn answer_rows(answer: &serde_json::Value) -> (Vec<String>, Vec<Vec<serde_json::Value>>) {
    if let Some(records) = answer["records"].as_array() {
        let columns = RECORD_COLUMNS.map(String::from).to_vec();
        let rows = records.iter().map(|r| RECORD_COLUMNS.iter().map(|c| r[*c].clone()).collect()).collect();
        return (columns, rows);
    }
    let columns = answer["columns"].as_array().map_or_else(Vec::new, |cs| cs.iter().map(|c| c["name"].as_str().unwrap_or("").to_string()).collect());
    let rows = answer["rows"].as_array().map_or_else(Vec::new, |rs| rs.iter().map(|r| r.as_array().cloned().unwrap_or_default()).collect());
    (columns, rows)
}

fn cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

fn print_records(out: &mut impl Write, records: &[serde_json::Value]) -> anyhow::Result<()> {
    let color = color();
    let width = records.iter().map(|r| r["service"].as_str().unwrap_or("").chars().count()).max().unwrap_or(7).max(7);
    for r in records {
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
    Ok(())
}

/// Aligned columns (by characters, so Hangul lines up as well as a terminal allows); numbers
/// right-aligned; long cells cut at 80 characters.
fn print_table(out: &mut impl Write, columns: &[String], rows: &[Vec<serde_json::Value>]) -> anyhow::Result<()> {
    const MAX_CELL: usize = 80;
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|v| {
                    let text = one_line(&cell(v));
                    if text.chars().count() > MAX_CELL { text.chars().take(MAX_CELL - 1).chain(['…']).collect() } else { text }
                })
                .collect()
        })
        .collect();
    let widths: Vec<usize> = (0..columns.len())
        .map(|i| cells.iter().map(|r| r.get(i).map_or(0, |c| c.chars().count())).max().unwrap_or(0).max(columns[i].chars().count()))
        .collect();
    let numeric: Vec<bool> = (0..columns.len()).map(|i| rows.iter().all(|r| r.get(i).is_none_or(|v| v.is_number() || v.is_null()))).collect();
    let line = |values: &[String]| -> String {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let w = widths.get(i).copied().unwrap_or(0);
                let pad = w.saturating_sub(v.chars().count());
                if numeric.get(i) == Some(&true) { format!("{}{v}", " ".repeat(pad)) } else { format!("{v}{}", " ".repeat(pad)) }
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let (bold, reset) = if color() { ("\x1b[1m", RESET) } else { ("", "") };
    writeln!(out, "{bold}{}{reset}", line(columns))?;
    for r in &cells {
        writeln!(out, "{}", line(r))?;
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
    let unusual = answer["unusual"].as_bool().unwrap_or(false);
    writeln!(
        out,
        "{bold}{}{reset}",
        if unusual { format!("{red}{}{reset}", answer["summary"].as_str().unwrap_or("")) } else { "nothing unusual".to_string() }
    )?;
    writeln!(
        out,
        "{dim}{} to {} against {}; {} failing traces ({} analysed){reset}",
        answer["start"].as_str().unwrap_or(""),
        answer["end"].as_str().unwrap_or(""),
        if answer["baseline_kind"] == "same_time_last_week" { "the same time last week" } else { "the window before" },
        answer["failing_traces"],
        answer["analysed_traces"],
    )?;
    if causes.is_empty() {
        writeln!(out, "no failing requests and no change in this window")?;
        return Ok(());
    }
    for (rank, c) in causes.iter().enumerate().take(10) {
        let status = match c["status"].as_str().unwrap_or("") {
            "new" => format!("{red}NEW{reset}"),
            "grown" => format!("{red}GROWN{reset}"),
            other => other.to_string(),
        };
        let via = c["via"].as_array().map(|v| v.iter().filter_map(|s| s.as_str()).collect::<Vec<_>>().join(", ")).unwrap_or_default();
        writeln!(
            out,
            "{bold}{}. {} `{}`{reset}  {}  {}  score {:.1}{}",
            rank + 1,
            c["service"].as_str().unwrap_or(""),
            c["operation"].as_str().unwrap_or(""),
            c["change"].as_str().unwrap_or(""),
            status,
            c["score"].as_f64().unwrap_or(0.0),
            if via.is_empty() { String::new() } else { format!("  (as seen from {via})") },
        )?;
        writeln!(out, "   {}: {}  (baseline {})", figures_label(c), figures(&c["window"]), figures(&c["baseline"]))?;
        if let Some(reason) = c["reason"].as_str().filter(|r| !r.is_empty()) {
            writeln!(out, "   {reason}")?;
        }
        if let Some(v) = c["version_specific"].as_str() {
            writeln!(out, "   {red}only in {} {v}{reset} (other versions of the service do not fail this way)", c["service"].as_str().unwrap_or(""))?;
        }
        for p in c["patterns"].as_array().into_iter().flatten().filter(|p| p["changed"].as_bool() == Some(true)).take(3) {
            writeln!(out, "   log: {}  {} lines (baseline {})", p["template"].as_str().unwrap_or(""), p["window"], p["baseline"])?;
        }
        for a in c["explains"].as_array().into_iter().flatten().take(5) {
            writeln!(
                out,
                "   {dim}↑ explains {} `{}` {} {}: {} (baseline {}){reset}",
                a["service"].as_str().unwrap_or(""),
                a["operation"].as_str().unwrap_or(""),
                a["kind"].as_str().unwrap_or(""),
                a["change"].as_str().unwrap_or(""),
                figures(&a["window"]),
                figures(&a["baseline"]),
            )?;
        }
        if let Some(trace) = c["example_trace_id"].as_str().filter(|t| !t.is_empty()) {
            writeln!(out, "   {dim}first seen {}  example: trawl trace {trace}{reset}", c["first_seen"].as_str().unwrap_or(""))?;
        }
    }
    let timeline = answer["timeline"].as_array().cloned().unwrap_or_default();
    if !timeline.is_empty() {
        writeln!(out, "{bold}timeline{reset}")?;
        for e in timeline.iter().take(20) {
            writeln!(
                out,
                "  {}  {:<13} {} {}  {}",
                e["time"].as_str().unwrap_or(""),
                e["kind"].as_str().unwrap_or(""),
                e["service"].as_str().unwrap_or(""),
                e["operation"].as_str().filter(|o| !o.is_empty()).map(|o| format!("`{o}`")).unwrap_or_default(),
                e["detail"].as_str().unwrap_or(""),
            )?;
        }
    }
    Ok(())
}

fn figures_label(cause: &serde_json::Value) -> &'static str {
    match cause["change"].as_str() {
        Some("log_errors") => "ERROR lines",
        Some("failed_calls") => "calls",
        _ => "requests",
    }
}

/// `120 requests, 30 errors (25.0 %), p50 4.1 ms, p95 310 ms` from an API figures object.
fn figures(f: &serde_json::Value) -> String {
    let mut text = format!(
        "{} total, {} errors ({:.1} %)",
        f["requests"].as_u64().unwrap_or(0),
        f["errors"].as_u64().unwrap_or(0),
        f["error_rate"].as_f64().unwrap_or(0.0) * 100.0
    );
    if let (Some(p50), Some(p95)) = (f["p50_ms"].as_f64(), f["p95_ms"].as_f64()) {
        text.push_str(&format!(", p50 {p50:.1} ms, p95 {p95:.1} ms"));
    }
    text
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
