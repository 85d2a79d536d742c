//! The `trawl` binary: the server and the command-line client.

mod cli_alerts;
mod cli_ingest;
mod cli_mask;
mod cli_patterns;
mod cli_search;
mod config;
mod demo;
mod output;
mod server;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "trawl", version, about = "Logs and traces of every service in one place, searchable in a second")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server: ingest endpoints, storage, search API.
    Server(config::ServerArgs),
    /// Run the server with a simulated fleet of services sending it traffic and a fault.
    Demo(demo::DemoArgs),
    /// Send NDJSON records (one JSON object per line) from a file or `-` (stdin) to a server.
    Ingest {
        /// File to read, or `-` for standard input.
        file: PathBuf,
        #[arg(long, env = "TRAWL_SERVER", default_value = "http://127.0.0.1:7070")]
        server: String,
        /// Records per request.
        #[arg(long, default_value_t = 5000)]
        batch_size: usize,
        /// Requests in flight at once.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
    },
    /// Run a query: records newest first, or the table its pipes make (`| stats`, `| top`...).
    #[command(alias = "search")]
    Query {
        /// The query, e.g. `service:payment level:error "결제 실패"` or `level:error | stats count() by service`.
        #[arg(default_value = "")]
        query: String,
        /// Only records newer than this (e.g. 15m, 1h, 7d).
        #[arg(long)]
        since: Option<String>,
        /// Start of the range (RFC 3339, epoch, or a duration ago).
        #[arg(long)]
        from: Option<String>,
        /// End of the range.
        #[arg(long)]
        to: Option<String>,
        /// Most records or rows to print.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[arg(long, value_enum, default_value = "table")]
        format: cli_search::QueryFormat,
        #[arg(long, env = "TRAWL_SERVER", default_value = "http://127.0.0.1:7070")]
        server: String,
    },
    /// Follow new records matching a query as they arrive.
    Tail {
        #[arg(default_value = "")]
        query: String,
        #[arg(long, value_enum, default_value = "table")]
        format: output::Format,
        #[arg(long, env = "TRAWL_SERVER", default_value = "http://127.0.0.1:7070")]
        server: String,
    },
    /// Name the services and operations that broke the failing requests of a window.
    Why {
        /// Only traces of records matching this query (default: every trace with an error).
        #[arg(default_value = "")]
        query: String,
        #[arg(long, default_value = "15m")]
        since: String,
        #[arg(long, value_enum, default_value = "table")]
        format: output::Format,
        #[arg(long, env = "TRAWL_SERVER", default_value = "http://127.0.0.1:7070")]
        server: String,
    },
    /// Mine log patterns: `<pattern_id>\t<template>` for every line of a file or `-` (stdin).
    Patterns {
        /// File to read, one message per line, or `-` for standard input.
        #[arg(default_value = "-")]
        file: PathBuf,
        /// Print the patterns with their counts, largest first (`<count>\t<pattern_id>\t<template>`).
        #[arg(long)]
        summary: bool,
        /// Print every line's final pattern once the input is read (merges resolved).
        #[arg(long, conflicts_with = "summary")]
        r#final: bool,
        /// Most patterns held at once; the least recently seen are evicted past it.
        #[arg(long, default_value_t = 10_000)]
        max_patterns: usize,
    },
    /// Firing and pending alerts, with their root cause and link.
    Alerts {
        /// Also resolved alerts.
        #[arg(long)]
        all: bool,
        #[arg(long, value_enum, default_value = "table")]
        format: output::Format,
        #[arg(long, env = "TRAWL_SERVER", default_value = "http://127.0.0.1:7070")]
        server: String,
    },
    /// Alert rules: list them, check rule files offline, reload the server's files.
    #[command(subcommand)]
    Rules(cli_alerts::RulesCommand),
    /// Silences: add, list, expire.
    #[command(subcommand)]
    Silence(cli_alerts::SilenceCommand),
    /// Apply the `[privacy]` masking rules of a configuration file to NDJSON lines from stdin.
    Mask {
        /// Configuration file (default: ./trawl.toml when it exists, else the default rules).
        #[arg(long)]
        config: Option<std::path::PathBuf>,
    },
    /// Show a trace as a waterfall, with its root cause and records, across services.
    Trace {
        trace_id: String,
        #[arg(long, value_enum, default_value = "table")]
        format: output::Format,
        #[arg(long, env = "TRAWL_SERVER", default_value = "http://127.0.0.1:7070")]
        server: String,
    },
}

/// Every allocation is counted: the memory cap (`max_memory`) and `/metrics` read the count.
#[global_allocator]
static ALLOCATOR: trawl_model::memory::CountingAllocator = trawl_model::memory::CountingAllocator;

fn main() -> ExitCode {
    trawl_model::memory::mark_installed();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Server(args) => server::run(args),
        Command::Demo(args) => demo::run(args),
        other => {
            // Not for `ingest`: it writes bodies to sockets, where a default SIGPIPE would kill
            // it when the server closes a connection mid-body (an overloaded server does).
            if !matches!(other, Command::Ingest { .. }) {
                output::quiet_broken_pipe();
            }
            match other {
                Command::Ingest { file, server, batch_size, concurrency } => {
                    cli_ingest::run(&file, &server, batch_size, concurrency)
                }
                Command::Query { query, since, from, to, limit, format, server } => {
                    cli_search::query(&server, &query, since.or(from), to, limit, format)
                }
                Command::Patterns { file, summary, r#final, max_patterns } => {
                    let mode = match (summary, r#final) {
                        (true, _) => cli_patterns::Mode::Summary,
                        (false, true) => cli_patterns::Mode::Final,
                        (false, false) => cli_patterns::Mode::Lines,
                    };
                    cli_patterns::run(&file, mode, max_patterns)
                }
                Command::Trace { trace_id, format, server } => cli_search::trace(&server, &trace_id, format),
                Command::Why { query, since, format, server } => cli_search::why(&server, &query, &since, format),
                Command::Tail { query, format, server } => cli_search::tail(&server, &query, format),
                Command::Alerts { all, format, server } => cli_alerts::alerts(&server, all, format),
                Command::Rules(command) => match cli_alerts::rules(command) {
                    Ok(code) if code == ExitCode::SUCCESS => Ok(()),
                    Ok(code) => return code,
                    Err(e) => Err(e),
                },
                Command::Silence(command) => cli_alerts::silence(command),
                Command::Mask { config } => cli_mask::run(config.as_deref()),
                Command::Server(_) | Command::Demo(_) => unreachable!("handled above"),
            }
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
