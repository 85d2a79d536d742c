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
    /// The fault: payment-timeout, bad-deploy, db-slow, cascade or none.
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
    #[command(flatten)]
    pub server: ServerArgs,
}

fn duration(text: &str, what: &str) -> anyhow::Result<Duration> {
    trawl_api::parse_duration_ns(text)
        .filter(|ns| *ns >= 0)
        .map(|ns| Duration::from_nanos(ns as u64))
        .with_context(|| format!("{what} {text:?} is not a duration such as 30s or 5m"))
}

pub fn run(mut args: DemoArgs) -> anyhow::Result<()> {
    let Some(scenario) = Scenario::parse(&args.scenario) else {
        bail!("unknown scenario {:?}: use payment-timeout, bad-deploy, db-slow, cascade or none", args.scenario)
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
    let config = ServerConfig::load(args.server)?;
    let data_dir = config.store.data_dir.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the runtime")?;
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let server = runtime.spawn(crate::server::serve(config, Some(ready_tx)));
    let api = match ready_rx.recv_timeout(Duration::from_secs(60)) {
        Ok(api) => api,
        Err(_) => {
            let outcome = runtime.block_on(server);
            bail!("the server did not start: {:?}", outcome.map(|r| r.err()));
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    let stats = Arc::new(sender::SendStats::default());
    let fleet_config = FleetConfig { services: args.services, seed: args.seed, scenario, ..Default::default() };
    let n_services = fleet_config.services.max(12);
    let sender_thread = {
        let (stop, stats, api) = (stop.clone(), stats.clone(), api.clone());
        let rate = args.rate;
        std::thread::Builder::new().name("trawl-fleet".into()).spawn(move || {
            let mut fleet = Fleet::new(fleet_config);
            sender::run(&mut fleet, &api, rate, schedule, &stop, &stats)
        })?
    };
    let me = std::env::args().next().unwrap_or_else(|| "trawl".into());
    let banner = format!(
        "trawl demo: {n_services} simulated services sending OTLP to {api} ({rate} requests/s)\n\
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
        if server.is_finished() || stop_after.is_some_and(|d| started.elapsed() >= d) {
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
