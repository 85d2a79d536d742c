//! Terminal output helpers shared by the client commands.

use std::io::IsTerminal;

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// A closed pipe (`trawl search ... | head`) ends the process quietly instead of panicking.
pub fn quiet_broken_pipe() {
    #[cfg(unix)]
    // SAFETY: restoring the default SIGPIPE action before any thread starts is sound.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

pub fn color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// ANSI colour of a level name.
pub fn level_color(level: &str) -> &'static str {
    match level {
        "FATAL" | "ERROR" => "\x1b[31m",
        "WARN" => "\x1b[33m",
        "DEBUG" | "TRACE" => "\x1b[2m",
        _ => "\x1b[32m",
    }
}

pub const RESET: &str = "\x1b[0m";

/// One line of text: newlines shown as `⏎` so a record stays on its row.
pub fn one_line(text: &str) -> String {
    text.replace("\r\n", " ⏎ ").replace('\n', " ⏎ ")
}

/// Parses an error answer of the API into a readable message.
pub fn api_error(status: reqwest::StatusCode, body: &str) -> anyhow::Error {
    let reason = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"]["reason"].as_str().map(str::to_string))
        .unwrap_or_else(|| body.trim().to_string());
    anyhow::anyhow!("server answered {status}: {reason}")
}
