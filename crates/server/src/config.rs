//! Server configuration: defaults, then `trawl.toml`, then `TRAWL_*` environment variables,
//! then flags (clap reads the environment and the flags; the file fills what they leave).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use serde::Deserialize;
use trawl_storage::{Durability, StoreConfig};

#[derive(clap::Args, Debug, Default)]
pub struct ServerArgs {
    /// Configuration file (default: ./trawl.toml when it exists).
    #[arg(long, env = "TRAWL_CONFIG")]
    pub config: Option<PathBuf>,
    /// Main HTTP address: API, UI, OTLP/HTTP under /v1 (default 127.0.0.1:7070).
    #[arg(long, env = "TRAWL_LISTEN")]
    pub listen: Option<String>,
    /// Data directory (default ./trawl-data).
    #[arg(long, env = "TRAWL_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// OTLP/HTTP address, or `off` (default 127.0.0.1:4318).
    #[arg(long, env = "TRAWL_OTLP_HTTP_LISTEN")]
    pub otlp_http_listen: Option<String>,
    /// OTLP/gRPC address, or `off` (default 127.0.0.1:4317).
    #[arg(long, env = "TRAWL_OTLP_GRPC_LISTEN")]
    pub otlp_grpc_listen: Option<String>,
    /// `durable` (ack after fsync, default) or `buffered` (ack before fsync).
    #[arg(long, env = "TRAWL_DURABILITY")]
    pub durability: Option<String>,
    /// Seconds after which the in-memory buffer is flushed into a segment (default 30).
    #[arg(long, env = "TRAWL_FLUSH_SECONDS")]
    pub flush_seconds: Option<u64>,
    /// Largest request body in bytes (default 16 MiB).
    #[arg(long, env = "TRAWL_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Dedicated Elasticsearch address (`_bulk` and `/` always Elasticsearch), `on` for
    /// 127.0.0.1:9200, or `off` (default; `_bulk` is on the main port anyway).
    #[arg(long, env = "TRAWL_ES_LISTEN")]
    pub es_listen: Option<String>,
    /// Syslog address, UDP and TCP (RFC 5424 and RFC 3164), `on` for 127.0.0.1:5514, or `off`
    /// (default).
    #[arg(long, env = "TRAWL_SYSLOG_LISTEN")]
    pub syslog_listen: Option<String>,
    /// Longest a query may run, e.g. `30s` (default 30s).
    #[arg(long, env = "TRAWL_QUERY_TIMEOUT")]
    pub query_timeout: Option<String>,
    /// Memory one query may hold in groups, distinct values and sort rows, bytes (default 512 MiB).
    #[arg(long, env = "TRAWL_QUERY_MEMORY_BYTES")]
    pub query_memory_bytes: Option<usize>,
    /// Longest query text in bytes (default 64 KiB); longer ones are answered 413.
    #[arg(long, env = "TRAWL_MAX_QUERY_BYTES")]
    pub max_query_bytes: Option<usize>,
    /// Memory cap of the whole process in bytes (default half of the machine's memory, or of
    /// the container's limit): queries and writes are refused with 503 before it is reached.
    #[arg(long, env = "TRAWL_MAX_MEMORY")]
    pub max_memory: Option<usize>,
    /// Free space the data disk keeps, bytes: writes are refused with 503 below it (default the
    /// smaller of 1 GiB and 2 % of the disk).
    #[arg(long, env = "TRAWL_MIN_FREE_DISK_BYTES")]
    pub min_free_disk_bytes: Option<u64>,
    /// Queries running at once (default 4); up to 16 times as many wait, more get 503.
    #[arg(long, env = "TRAWL_MAX_CONCURRENT_QUERIES")]
    pub max_concurrent_queries: Option<usize>,
    /// Sentry public keys accepted, comma-separated (default: any key).
    #[arg(long, env = "TRAWL_SENTRY_KEYS", value_delimiter = ',')]
    pub sentry_keys: Option<Vec<String>>,
    /// Directory of alert rule files (`*.yaml`, `*.toml`, `*.json`): rules, contact points and
    /// policies, read at start and on SIGHUP or `trawl rules reload`.
    #[arg(long, env = "TRAWL_RULES_DIR")]
    pub rules_dir: Option<PathBuf>,
    /// The UI's address as people reach it, for links in notifications (default: the listen
    /// address).
    #[arg(long, env = "TRAWL_PUBLIC_URL")]
    pub public_url: Option<String>,
}

/// `[alerting]` of trawl.toml.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertingFile {
    rules_dir: Option<PathBuf>,
    public_url: Option<String>,
    /// Threads evaluating rules (default 2).
    workers: Option<usize>,
    /// Longest one evaluation may run (default 30s).
    evaluation_timeout: Option<String>,
    /// Memory one evaluation's query may hold (default 256 MiB).
    evaluation_memory_bytes: Option<usize>,
    /// Most alerts one rule may hold (default 1000).
    max_alerts_per_rule: Option<usize>,
    /// Let notifications reach loopback and private networks (default false).
    allow_private_networks: Option<bool>,
    /// Hosts and networks notifications may reach even though they are not public.
    allowed_hosts: Option<Vec<String>>,
    /// Delivery attempts before a notification is given up (default 10).
    max_attempts: Option<u32>,
    /// Timeout of one outbound request (default 10s).
    notification_timeout: Option<String>,
    /// How long alert history and sent notifications are kept (default 14d).
    history: Option<String>,
}

/// The `trawl.toml` file; every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    otlp_http_listen: Option<String>,
    otlp_grpc_listen: Option<String>,
    durability: Option<String>,
    flush_seconds: Option<u64>,
    flush_max_items: Option<usize>,
    max_body_bytes: Option<usize>,
    max_decompressed_bytes: Option<usize>,
    es_listen: Option<String>,
    syslog_listen: Option<String>,
    sentry_keys: Option<Vec<String>>,
    query_timeout: Option<String>,
    query_memory_bytes: Option<usize>,
    max_concurrent_queries: Option<usize>,
    /// Write requests waiting for the writer thread; more are refused (429).
    max_queued_writes: Option<usize>,
    /// Bytes of frozen buffers waiting for a flush; past this, writes are refused (429).
    max_pending_flush_bytes: Option<usize>,
    /// Bytes of write requests waiting for the writer thread; past this, writes are refused (429).
    max_queued_bytes: Option<usize>,
    max_query_bytes: Option<usize>,
    max_memory: Option<usize>,
    min_free_disk_bytes: Option<u64>,
    row_group_rows: Option<usize>,
    #[serde(default)]
    alerting: AlertingFile,
    /// Masking of sensitive data at ingest (docs/privacy.md).
    #[serde(default)]
    privacy: trawl_privacy::PrivacyConfig,
}

#[derive(Debug)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub otlp_http_listen: Option<SocketAddr>,
    pub otlp_grpc_listen: Option<SocketAddr>,
    pub store: StoreConfig,
    pub limits: trawl_api::Limits,
    pub es_listen: Option<SocketAddr>,
    pub syslog_listen: Option<SocketAddr>,
    pub compat: trawl_api::CompatConfig,
    pub alerting: trawl_alert::AlertConfig,
    /// The process's memory cap, bytes.
    pub max_memory: usize,
    /// The `[privacy]` rules, compiled (a bad one stops the start with its reason).
    pub privacy: trawl_privacy::Rules,
    /// The file these settings came from, read again for a reload of the privacy rules.
    pub file: Option<PathBuf>,
}

/// Half of the memory the process may use: the machine's, or the container's limit when lower.
pub fn default_max_memory() -> usize {
    let machine = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
            line.split_whitespace().nth(1)?.parse::<usize>().ok().map(|kib| kib * 1024)
        })
        .unwrap_or(8 << 30);
    let container = std::fs::read_to_string("/sys/fs/cgroup/memory.max").ok().and_then(|t| t.trim().parse::<usize>().ok());
    container.map_or(machine, |c| c.min(machine)) / 2
}

fn duration_setting(text: Option<String>, what: &str) -> anyhow::Result<Option<trawl_alert::Dur>> {
    text.map(|t| trawl_alert::Dur::parse(&t).with_context(|| format!("{what} {t:?} is not a duration such as 30s or 14d"))).transpose()
}

/// `public_url` stays empty when not set: the server fills it with the address it listens on.
fn alert_config(rules_dir: Option<PathBuf>, public_url: Option<String>, file: AlertingFile) -> anyhow::Result<trawl_alert::AlertConfig> {
    let mut c = trawl_alert::AlertConfig { rules_dir: rules_dir.or(file.rules_dir), ..Default::default() };
    c.public_url = public_url.or(file.public_url).unwrap_or_default().trim_end_matches('/').to_string();
    if let Some(n) = file.workers {
        c.workers = n.clamp(1, 64);
    }
    if let Some(d) = duration_setting(file.evaluation_timeout, "alerting.evaluation_timeout")? {
        c.limits.timeout = d.as_std();
    }
    if let Some(n) = file.evaluation_memory_bytes {
        c.limits.memory_bytes = n;
    }
    if let Some(n) = file.max_alerts_per_rule {
        c.limits.max_groups = n.max(1);
    }
    c.outbound.allow_private = file.allow_private_networks.unwrap_or(false);
    c.outbound.allowed = file.allowed_hosts.unwrap_or_default();
    if let Some(n) = file.max_attempts {
        c.max_attempts = n.max(1);
    }
    if let Some(d) = duration_setting(file.notification_timeout, "alerting.notification_timeout")? {
        c.outbound_limits.timeout = d.as_std();
    }
    if let Some(d) = duration_setting(file.history, "alerting.history")? {
        c.history = d;
    }
    Ok(c)
}

/// An optional listener setting: missing means `off`, `on` means the protocol's usual address.
fn on_means(value: Option<String>, default: &str) -> String {
    match value {
        Some(v) if v.trim().eq_ignore_ascii_case("on") => default.to_string(),
        Some(v) => v,
        None => "off".to_string(),
    }
}

fn address(value: &str, what: &str) -> anyhow::Result<Option<SocketAddr>> {
    if value.eq_ignore_ascii_case("off") || value.is_empty() {
        return Ok(None);
    }
    value.parse().map(Some).with_context(|| format!("{what} {value:?} is not an address like 127.0.0.1:7070 or `off`"))
}

/// The configuration file: `path`, else `trawl.toml` where there is one.
fn config_file(path: Option<&std::path::Path>) -> Option<PathBuf> {
    match path {
        Some(path) => Some(path.to_path_buf()),
        None => Some(PathBuf::from("trawl.toml")).filter(|p| p.exists()),
    }
}

/// `trawl.toml` (or `path`): the file's settings, or the defaults when there is none.
fn read_file(path: Option<&std::path::Path>) -> anyhow::Result<FileConfig> {
    Ok(match config_file(path) {
        Some(path) => {
            let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
            toml::from_str(&text).with_context(|| format!("invalid configuration in {}", path.display()))?
        }
        None => FileConfig::default(),
    })
}

/// The `[privacy]` section of the configuration file, for `trawl mask`.
pub fn privacy_config(path: Option<&std::path::Path>) -> anyhow::Result<trawl_privacy::PrivacyConfig> {
    Ok(read_file(path)?.privacy)
}

impl ServerConfig {
    pub fn load(args: ServerArgs) -> anyhow::Result<ServerConfig> {
        let file = read_file(args.config.as_deref())?;
        let listen = args.listen.or(file.listen).unwrap_or_else(|| "127.0.0.1:7070".into());
        let Some(listen) = address(&listen, "listen")? else { bail!("the main listener cannot be switched off") };
        let otlp_http = args.otlp_http_listen.or(file.otlp_http_listen).unwrap_or_else(|| "127.0.0.1:4318".into());
        let otlp_grpc = args.otlp_grpc_listen.or(file.otlp_grpc_listen).unwrap_or_else(|| "127.0.0.1:4317".into());
        let mut store = StoreConfig::new(args.data_dir.or(file.data_dir).unwrap_or_else(|| PathBuf::from("trawl-data")));
        store.durability = match args.durability.or(file.durability).as_deref().unwrap_or("durable") {
            "durable" => Durability::Durable,
            "buffered" => Durability::Buffered,
            other => bail!("durability {other:?} is not `durable` or `buffered`"),
        };
        if let Some(s) = args.flush_seconds.or(file.flush_seconds) {
            store.flush_max_age = Duration::from_secs(s.max(1));
        }
        if let Some(n) = file.flush_max_items {
            store.flush_max_items = n.max(1);
        }
        if let Some(n) = file.max_queued_writes {
            store.max_queued_writes = n.max(1);
        }
        if let Some(n) = file.max_pending_flush_bytes {
            store.max_pending_flush_bytes = n;
        }
        if let Some(n) = file.max_queued_bytes {
            store.max_queued_bytes = n.max(1);
        }
        store.min_free_disk_bytes = args.min_free_disk_bytes.or(file.min_free_disk_bytes);
        if let Some(n) = file.row_group_rows {
            store.row_group_rows = n.max(1);
        }
        let mut limits = trawl_api::Limits::default();
        if let Some(n) = args.max_body_bytes.or(file.max_body_bytes) {
            limits.max_body_bytes = n;
        }
        if let Some(n) = file.max_decompressed_bytes {
            limits.max_decompressed_bytes = n;
        }
        if let Some(t) = args.query_timeout.or(file.query_timeout) {
            let ns = trawl_model::parse_duration_ns(&t).with_context(|| format!("query-timeout {t:?} is not a duration such as 30s"))?;
            limits.query_timeout = Duration::from_nanos(ns.max(1) as u64);
        }
        if let Some(n) = args.query_memory_bytes.or(file.query_memory_bytes) {
            limits.query_memory_bytes = n;
        }
        if let Some(n) = args.max_query_bytes.or(file.max_query_bytes) {
            limits.max_query_bytes = n.max(1);
        }
        let max_memory = args.max_memory.or(file.max_memory).unwrap_or_else(default_max_memory).max(64 << 20);
        if let Some(n) = args.max_concurrent_queries.or(file.max_concurrent_queries) {
            limits.max_concurrent_queries = n.max(1);
            limits.max_queued_queries = 16 * n.max(1);
        }
        let alerting = alert_config(args.rules_dir, args.public_url, file.alerting)?;
        let privacy = trawl_privacy::Rules::new(&file.privacy)?;
        Ok(ServerConfig {
            file: config_file(args.config.as_deref()),
            alerting,
            max_memory,
            privacy,
            listen,
            otlp_http_listen: address(&otlp_http, "otlp-http-listen")?,
            otlp_grpc_listen: address(&otlp_grpc, "otlp-grpc-listen")?,
            store,
            limits,
            es_listen: address(&on_means(args.es_listen.or(file.es_listen), "127.0.0.1:9200"), "es-listen")?,
            syslog_listen: address(&on_means(args.syslog_listen.or(file.syslog_listen), "127.0.0.1:5514"), "syslog-listen")?,
            compat: trawl_api::CompatConfig {
                sentry_keys: args
                    .sentry_keys
                    .or(file.sentry_keys)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|k| k.trim().to_string())
                    .filter(|k| !k.is_empty())
                    .collect(),
            },
        })
    }
}
