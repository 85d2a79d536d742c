//! The alerting commands: `trawl alerts`, `trawl rules list|check|reload`,
//! `trawl silence add|list|expire`. All but `rules check` talk to a server's API; `rules check`
//! validates files offline, with the server's own checks.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::output::{api_error, Format};

#[derive(clap::Subcommand, Debug)]
pub enum RulesCommand {
    /// Every rule with its kind, source, health and alerts.
    List {
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        #[arg(long, env = "TRAWL_SERVER", default_value = "http://127.0.0.1:7070")]
        server: String,
    },
    /// Validate rule files offline (rules, contact points, policies); every problem is printed
    /// with its file and line, and the exit code is 1 when there is one.
    Check {
        /// Files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Make the server read its rule files again (as SIGHUP does). Files with problems are
    /// refused as a whole and the previous rules stay.
    Reload {
        #[arg(long, env = "TRAWL_SERVER", default_value = "http://127.0.0.1:7070")]
        server: String,
    },
}

#[derive(clap::Subcommand, Debug)]
pub enum SilenceCommand {
    /// Silence the alerts matching every matcher (`service=payment-service`,
    /// `severity=~"warn|info"`) for a while.
    Add {
        #[arg(required = true)]
        matchers: Vec<String>,
        /// How long, e.g. 2h.
        #[arg(long, default_value = "2h")]
        duration: String,
        /// Who sets it (default: $USER).
        #[arg(long)]
        author: Option<String>,
        #[arg(long, default_value = "")]
        comment: String,
        #[arg(long, env = "TRAWL_SERVER", default_value = "http://127.0.0.1:7070")]
        server: String,
    },
    /// Silences, newest first.
    List {
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        #[arg(long, env = "TRAWL_SERVER", default_value = "http://127.0.0.1:7070")]
        server: String,
    },
    /// End a silence now.
    Expire {
        id: String,
        #[arg(long, env = "TRAWL_SERVER", default_value = "http://127.0.0.1:7070")]
        server: String,
    },
}

fn client() -> anyhow::Result<reqwest::blocking::Client> {
    Ok(reqwest::blocking::Client::builder().timeout(std::time::Duration::from_secs(60)).build()?)
}

fn answer(response: reqwest::blocking::Response) -> anyhow::Result<serde_json::Value> {
    let status = response.status();
    let body = response.text()?;
    if !status.is_success() {
        return Err(api_error(status, &body));
    }
    if body.trim().is_empty() {
        return Ok(serde_json::Value::Null);
    }
    serde_json::from_str(&body).context("server answered with invalid JSON")
}

fn url(server: &str, path: &str) -> String {
    format!("{}{path}", server.trim_end_matches('/'))
}

fn text<'a>(v: &'a serde_json::Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or("")
}

/// `trawl alerts`: firing and pending alerts (or every state with `--all`).
pub fn alerts(server: &str, all: bool, format: Format) -> anyhow::Result<()> {
    let state = if all { "" } else { "firing,pending" };
    let a = answer(client()?.get(url(server, "/api/v1/alerts")).query(&[("state", state)]).send().with_context(|| format!("cannot reach {server}"))?)?;
    let mut out = std::io::stdout().lock();
    if let Format::Json = format {
        writeln!(out, "{a}")?;
        return Ok(());
    }
    let alerts = a["alerts"].as_array().cloned().unwrap_or_default();
    if alerts.is_empty() {
        writeln!(out, "no {} alerts", if all { "" } else { "firing or pending" })?;
        return Ok(());
    }
    for alert in &alerts {
        let state = text(alert, "state").to_uppercase();
        let since = alert["fired_at"].as_str().or(alert["active_since"].as_str()).unwrap_or("");
        let mut notes = Vec::new();
        if alert["silenced_by"].as_array().is_some_and(|s| !s.is_empty()) {
            notes.push("silenced".to_string());
        }
        if let Some(i) = alert["inhibited_by"].as_str() {
            notes.push(format!("inhibited: {i}"));
        }
        if let Some(by) = alert["ack"]["by"].as_str() {
            notes.push(format!("acknowledged by {by}"));
        }
        let notes = if notes.is_empty() { String::new() } else { format!("  [{}]", notes.join("; ")) };
        writeln!(out, "{state:<9} {since}  {}{notes}", alert["annotations"]["summary"].as_str().unwrap_or(text(alert, "rule")))?;
        let labels: Vec<String> = alert["labels"].as_object().map(|m| m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect()).unwrap_or_default();
        writeln!(out, "          {}", labels.join(" "))?;
        if let Some(c) = alert["evidence"]["root_causes"].as_array().and_then(|c| c.first()) {
            writeln!(out, "          root cause: {} · {} ({})", text(c, "service"), text(c, "operation"), text(c, "reason"))?;
        }
        writeln!(out, "          {}", text(alert, "url"))?;
    }
    Ok(())
}

pub fn rules(command: RulesCommand) -> anyhow::Result<ExitCode> {
    match command {
        RulesCommand::List { format, server } => {
            let a = answer(client()?.get(url(&server, "/api/v1/rules")).send().with_context(|| format!("cannot reach {server}"))?)?;
            let mut out = std::io::stdout().lock();
            if let Format::Json = format {
                writeln!(out, "{a}")?;
                return Ok(ExitCode::SUCCESS);
            }
            for r in a["rules"].as_array().cloned().unwrap_or_default() {
                let h = &r["health"];
                let health = match h["last_error"].as_str() {
                    Some(e) => format!("error: {e}"),
                    None if h["evaluations"].as_u64().unwrap_or(0) == 0 => "not evaluated yet".to_string(),
                    None => format!("ok, {:.0} ms", h["last_duration_ms"].as_f64().unwrap_or(0.0)),
                };
                let enabled = if r["enabled"] == serde_json::Value::Bool(false) { " (disabled)" } else { "" };
                writeln!(
                    out,
                    "{:<32} {:<9} firing {:<3} pending {:<3} {health}{enabled}  [{} v{}]",
                    text(&r, "name"),
                    text(&r, "kind"),
                    r["firing"],
                    r["pending"],
                    text(&r, "source"),
                    r["version"]
                )?;
            }
            for p in a["file_problems"].as_array().cloned().unwrap_or_default() {
                writeln!(out, "refused file: {}:{} {}", text(&p, "file"), p["line"], text(&p, "message"))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::Check { paths } => {
            let mut sources = Vec::new();
            let mut problems = Vec::new();
            for path in &paths {
                if path.is_dir() {
                    match trawl_alert::files::read_dir(path) {
                        Ok(s) => sources.extend(s),
                        Err(p) => problems.extend(p),
                    }
                } else {
                    match trawl_alert::files::read_file(path) {
                        Ok(s) => sources.push(s),
                        Err(p) => problems.push(p),
                    }
                }
            }
            let loaded = trawl_alert::files::load(&sources);
            let mut err = std::io::stderr().lock();
            match loaded {
                Ok(l) if problems.is_empty() => {
                    let names: Vec<String> = l.contact_points.iter().map(|(c, _)| c.name.clone()).collect();
                    if let Some((p, file)) = &l.policies {
                        for problem in p.check(&names) {
                            problems.push(trawl_alert::files::FileProblem { file: file.clone(), line: None, message: format!("policies: {problem}") });
                        }
                    }
                    if problems.is_empty() {
                        let plural = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
                        println!(
                            "{}: {}, {}{} — ok",
                            plural(sources.len(), "file", "files"),
                            plural(l.rules.len(), "rule", "rules"),
                            plural(l.contact_points.len(), "contact point", "contact points"),
                            if l.policies.is_some() { ", policies" } else { "" }
                        );
                        return Ok(ExitCode::SUCCESS);
                    }
                }
                Ok(_) => {}
                Err(p) => problems.extend(p),
            }
            for p in &problems {
                writeln!(err, "{p}")?;
            }
            writeln!(err, "{} {}: the files would be refused", problems.len(), if problems.len() == 1 { "problem" } else { "problems" })?;
            Ok(ExitCode::FAILURE)
        }
        RulesCommand::Reload { server } => {
            let a = answer(client()?.post(url(&server, "/api/v1/rules/reload")).send().with_context(|| format!("cannot reach {server}"))?)?;
            println!("reloaded {} files: {} rules, changed: {}", a["files"], a["rules"], a["changed_rules"]);
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub fn silence(command: SilenceCommand) -> anyhow::Result<()> {
    match command {
        SilenceCommand::Add { matchers, duration, author, comment, server } => {
            let author = author.or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "cli".into());
            let body = serde_json::json!({"matchers": matchers, "duration": duration, "created_by": author, "comment": comment});
            let a = answer(client()?.post(url(&server, "/api/v1/silences")).json(&body).send().with_context(|| format!("cannot reach {server}"))?)?;
            println!("{}", text(&a, "id"));
            eprintln!("silenced until {}: {}", text(&a, "ends_at"), a["matchers"]);
            Ok(())
        }
        SilenceCommand::List { format, server } => {
            let a = answer(client()?.get(url(&server, "/api/v1/silences")).send().with_context(|| format!("cannot reach {server}"))?)?;
            let mut out = std::io::stdout().lock();
            if let Format::Json = format {
                writeln!(out, "{a}")?;
                return Ok(());
            }
            for s in a["silences"].as_array().cloned().unwrap_or_default() {
                writeln!(
                    out,
                    "{}  {:<8} until {}  {}  by {}: {}",
                    text(&s, "id"),
                    text(&s, "status"),
                    text(&s, "ends_at"),
                    s["matchers"].as_array().map(|m| m.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join(" ")).unwrap_or_default(),
                    text(&s, "created_by"),
                    text(&s, "comment")
                )?;
            }
            Ok(())
        }
        SilenceCommand::Expire { id, server } => {
            let a = answer(client()?.delete(url(&server, &format!("/api/v1/silences/{id}"))).send().with_context(|| format!("cannot reach {server}"))?)?;
            println!("expired {} at {}", text(&a, "id"), text(&a, "ends_at"));
            Ok(())
        }
    }
}
