//! `trawl demo`: the server on the embedded default plus a simulated fleet sending it real
//! OTLP traffic, with a fault injected on a schedule.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use trawl_fleet::{sender, Fleet, FleetConfig, Scenario, Schedule};

use crate::config::{ServerArgs, ServerConfig};

#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Number of simulated services (at least 12).
    #[arg(long, default_value_t = 50)]
    pub services: usize,
    /// The fault: one of `trawl_fleet::Scenario::ALL` by name (payment-timeout, bad-deploy,
    /// db-slow, cascade, slow-dependency, log-only, partition, pool-exhaustion,
    /// latency-regression) or none.
    #[arg(long, default_value = "payment-timeout")]
    pub scenario: String,
    /// Requests per second through the fleet.
    #[arg(long, default_value_t = 50.0)]
    pub rate: f64,
    /// The fault starts this long after the demo (e.g. 30s, 2m).
    #[arg(long, default_value = "30s")]
    pub fault_delay: String,
    /// ...lasts this long...
    #[arg(long, default_value = "3m")]
    pub fault_duration: String,
    /// ...and comes back every this long.
    #[arg(long, default_value = "5m")]
    pub fault_period: String,
    /// Stop after this long (default: run until Ctrl-C).
    #[arg(long)]
    pub stop_after: Option<String>,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Run the clock this many times faster than real time (1 to 100): the fleet's timestamps,
    /// the fault schedule and alert evaluation all follow it, so `--speed 10` lives through ten
    /// minutes in one. Flags of time (`--fault-delay`, `--stop-after`, …) are on this clock.
    /// With `--stop-after` the clock starts in the past and ends on the wall clock's time;
    /// without it, it runs ahead of the wall clock.
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Also send the alerts' notifications to this webhook (JSON, see docs/alerting.md).
    #[arg(long)]
    pub notify_webhook: Option<String>,
    #[command(flatten)]
    pub server: ServerArgs,
}

fn duration(text: &str, what: &str) -> anyhow::Result<Duration> {
    trawl_api::parse_duration_ns(text)
        .filter(|ns| *ns >= 0)
        .map(|ns| Duration::from_nanos(ns as u64))
        .with_context(|| format!("{what} {text:?} is not a duration such as 30s or 5m"))
}

/// The rule set the demo runs (`rules/default.yaml` of the repository).
const DEFAULT_RULES: &str = include_str!("../../../rules/default.yaml");

/// The demo's contact points and policies: the console, and a webhook when asked for.
fn demo_notifications(webhook: Option<&str>) -> String {
    let mut receivers = vec!["console"];
    let mut text = String::from("contact_points:\n  - name: console\n    kind: console\n");
    if let Some(url) = webhook {
        receivers.push("webhook");
        text.push_str(&format!("  - name: webhook\n    kind: webhook\n    url: {}\n", serde_json::to_string(url).unwrap_or_default()));
    }
    text.push_str(&format!(
        "policies:\n  receivers: [{}]\n  group_by: [rule, service]\n  group_wait: 10s\n  group_interval: 1m\n  repeat_interval: 4h\n  inhibit_rules:\n    - source_matchers: [severity=critical]\n      target_matchers: [severity=warning]\n      equal: [service]\n",
        receivers.join(", ")
    ));
    text
}

pub fn run(mut args: DemoArgs) -> anyhow::Result<()> {
    let Some(scenario) = Scenario::parse(&args.scenario) else {
        bail!("unknown scenario {:?}: use one of {}", args.scenario, Scenario::ALL.map(|s| s.name()).join(", "))
    };
    let schedule = Schedule {
        delay: duration(&args.fault_delay, "fault delay")?,
        duration: duration(&args.fault_duration, "fault duration")?,
        period: duration(&args.fault_period, "fault period")?,
    };
    let stop_after = args.stop_after.as_deref().map(|s| duration(s, "stop after")).transpose()?;
    // A fresh data directory unless one is given.
    if args.server.data_dir.is_none() {
        let dir = std::env::temp_dir().join(format!("trawl-demo-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        args.server.data_dir = Some(dir);
    }
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("TRAWL_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    if !(1.0..=100.0).contains(&args.speed) {
        bail!("speed {} is not between 1 and 100", args.speed);
    }
    // With --stop-after the faster clock starts in the past and ends on the wall clock's time,
    // so what it stamps is never in the future (where "the last 15 minutes" would miss it).
    let clock = match stop_after {
        Some(span) if args.speed > 1.0 => {
            let behind = span.as_nanos() as f64 * (1.0 - 1.0 / args.speed);
            trawl_model::ScaledClock::starting_at(trawl_model::now_ns() - behind as i64, args.speed)
        }
        _ => trawl_model::ScaledClock::new(args.speed),
    };
    let mut config = ServerConfig::load(args.server)?;
    // The default rule set, and notifications printed here (and sent to --notify-webhook).
    config.alerting.builtin.push(trawl_alert::files::Source { name: "rules/default.yaml".into(), text: DEFAULT_RULES.into() });
    config.alerting.builtin.push(trawl_alert::files::Source { name: "demo-notifications.yaml".into(), text: demo_notifications(args.notify_webhook.as_deref()) });
    // The webhook asked for on the command line may be on this machine or a private network.
    if let Some(host) = args.notify_webhook.as_deref().and_then(|u| reqwest::Url::parse(u).ok()).and_then(|u| u.host_str().map(str::to_string)) {
        config.alerting.outbound.allowed.push(host.trim_matches(['[', ']']).to_string());
    }
    let data_dir = config.store.data_dir.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread().thread_stack_size(trawl_api::THREAD_STACK_BYTES).enable_all().build().context("cannot start the runtime")?;
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let server = runtime.spawn(crate::server::serve(config, Some(ready_tx), Arc::new(clock)));
    let api = match ready_rx.recv_timeout(Duration::from_secs(60)) {
        Ok(api) => api,
        Err(_) => {
            let outcome = runtime.block_on(server);
            bail!("the server did not start: {:?}", outcome.map(|r| r.err()));
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    let stats = Arc::new(sender::SendStats::default());
    // The demo shows one incident: its steady noise stays under the 5 % that the example
    // alert rules allow (the root-cause tests run the default, a steady 5 %).
    let fleet_config = FleetConfig { services: args.services, seed: args.seed, scenario, steady_failure_rate: 0.02, ..Default::default() };
    let n_services = fleet_config.services.max(12);
    let sender_thread = {
        let (stop, stats, api) = (stop.clone(), stats.clone(), api.clone());
        let rate = args.rate;
        std::thread::Builder::new().name("trawl-fleet".into()).spawn(move || {
            let mut fleet = Fleet::new(fleet_config);
            sender::run(&mut fleet, &api, rate, schedule, &stop, &stats, &clock)
        })?
    };
    let me = std::env::args().next().unwrap_or_else(|| "trawl".into());
    let banner = format!(
        "trawl demo: {n_services} simulated services sending OTLP to {api} ({rate} requests/s)\n\
         alerts: the default rule set (rules/default.yaml); notifications are printed here{speed}\n\
         data directory: {data}\n\
         fault: {scenario} from {delay:?} after start, for {duration:?} every {period:?}\n\n\
         web UI: {api}/\n\
         HTTP API: {api}/api/v1\ntry:\n  \
         {me} why --since 5m --server {api}\n  \
         {me} query 'level:error 결제 실패' --since 5m --server {api}\n  \
         {me} query 'level:error | stats count() by service' --since 5m --server {api}\n  \
         {me} trace $({me} query 'level:error trace_id:* | fields trace_id' --limit 1 --format csv --server {api} | tail -1) --server {api}\n\n\
         Ctrl-C to stop\n",
        rate = args.rate,
        speed = if args.speed > 1.0 { format!("; the clock runs {}x faster", args.speed) } else { String::new() },
        data = data_dir.display(),
        scenario = scenario.name(),
        delay = schedule.delay,
        duration = schedule.duration,
        period = schedule.period,
    );
    // Whoever started the demo may stop reading: the demo goes on.
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(banner.as_bytes());
    let _ = out.flush();
    drop(out);
    let started = std::time::Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(200));
        if server.is_finished() || stop_after.is_some_and(|d| started.elapsed().mul_f64(args.speed) >= d) {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = sender_thread.join();
    if !server.is_finished() {
        // Asked to stop by --stop-after: stop the server as a signal would.
        // SAFETY: raising SIGTERM on our own process is sound; the server's handler catches it.
        #[cfg(unix)]
        unsafe {
            libc::raise(libc::SIGTERM);
        }
    }
    let outcome = runtime.block_on(server).context("server task")?;
    eprintln!(
        "demo stopped: {} requests, {} spans, {} records sent",
        stats.requests.load(Ordering::Relaxed),
        stats.spans.load(Ordering::Relaxed),
        stats.records.load(Ordering::Relaxed)
    );
    outcome
}
