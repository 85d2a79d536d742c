use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use trawl_api::AppState;
use trawl_storage::Store;

use crate::config::{ServerArgs, ServerConfig};

pub fn run(args: ServerArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("TRAWL_LOG").unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let config = ServerConfig::load(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().thread_stack_size(trawl_api::THREAD_STACK_BYTES).enable_all().build().context("cannot start the runtime")?;
    runtime.block_on(serve(config, None, Arc::new(trawl_model::SystemClock)))
}

/// Binds every listener, serves until SIGINT or SIGTERM, then flushes and stops the store.
/// `ready`, when given, receives the main API's URL once every listener is bound. `clock` is
/// the time of alert evaluation (the demo runs a faster one).
pub async fn serve(config: ServerConfig, ready: Option<std::sync::mpsc::Sender<String>>, clock: Arc<dyn trawl_model::Clock>) -> anyhow::Result<()> {
    trawl_model::memory::set_cap(config.max_memory);
    let data_dir = config.store.data_dir.clone();
    let store = Arc::new(
        tokio::task::spawn_blocking(move || Store::open(config.store))
            .await?
            .with_context(|| format!("cannot open the data directory {}", data_dir.display()))?,
    );
    let main = TcpListener::bind(config.listen).await.with_context(|| format!("cannot listen on {}", config.listen))?;
    let api_url = format!("http://{}", main.local_addr()?);
    let alerting = {
        let (store, mut alert_config) = (store.clone(), config.alerting.clone());
        // Links in notifications: the configured public address, else where the API listens.
        if alert_config.public_url.is_empty() {
            let addr = main.local_addr()?;
            let host = if addr.ip().is_unspecified() { "127.0.0.1".to_string() } else { addr.ip().to_string() };
            alert_config.public_url = format!("http://{host}:{}", addr.port());
        }
        tokio::task::spawn_blocking(move || trawl_alert::Alerting::open(store, clock, alert_config))
            .await?
            .map_err(|e| anyhow::anyhow!("cannot start alerting: {e}"))?
    };
    for problem in alerting.file_problems() {
        eprintln!("trawl: rule file refused: {problem}");
    }
    alerting.start().map_err(|e| anyhow::anyhow!(e))?;
    let privacy = {
        let source: Option<trawl_api::PrivacySource> = config.file.clone().map(|file| {
            Arc::new(move || crate::config::privacy_config(Some(&file)).map_err(|e| format!("{e:#}"))) as trawl_api::PrivacySource
        });
        trawl_api::PrivacyRules::new(config.privacy, source)
    };
    let state = AppState::new(store.clone(), config.limits.clone())
        .with_compat(config.compat.clone())
        .with_alerting(alerting.clone())
        .with_privacy(privacy.clone());
    let mut addresses = vec![format!("api={api_url}")];
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let mut tasks = tokio::task::JoinSet::new();
    {
        let app = trawl_api::router(state.clone());
        let rx = stop_rx.clone();
        tasks.spawn(async move { axum::serve(main, app).with_graceful_shutdown(stopped(rx)).await.context("api listener") });
    }
    if let Some(addr) = config.otlp_http_listen {
        let listener = TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr} for OTLP/HTTP"))?;
        addresses.push(format!("otlp-http=http://{}", listener.local_addr()?));
        let app = trawl_api::otlp_http_only_router(state.clone());
        let rx = stop_rx.clone();
        tasks.spawn(async move { axum::serve(listener, app).with_graceful_shutdown(stopped(rx)).await.context("otlp http listener") });
    }
    if let Some(addr) = config.otlp_grpc_listen {
        let listener = TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr} for OTLP/gRPC"))?;
        addresses.push(format!("otlp-grpc={}", listener.local_addr()?));
        let routes = trawl_api::grpc_routes(state.clone());
        let rx = stop_rx.clone();
        tasks.spawn(async move {
            tonic::transport::Server::builder()
                .add_routes(routes)
                .serve_with_incoming_shutdown(tokio_stream::wrappers::TcpListenerStream::new(listener), stopped(rx))
                .await
                .context("otlp grpc listener")
        });
    }
    if let Some(addr) = config.es_listen {
        let listener = TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr} for Elasticsearch"))?;
        addresses.push(format!("es=http://{}", listener.local_addr()?));
        let app = trawl_api::es_only_router(state.clone());
        let rx = stop_rx.clone();
        tasks.spawn(async move { axum::serve(listener, app).with_graceful_shutdown(stopped(rx)).await.context("elasticsearch listener") });
    }
    if let Some(addr) = config.syslog_listen {
        let (tcp, udp) = trawl_api::bind_syslog(addr).await.with_context(|| format!("cannot listen on {addr} for syslog (udp and tcp)"))?;
        addresses.push(format!("syslog={}", tcp.local_addr()?));
        let (state, rx) = (state.clone(), stop_rx.clone());
        tasks.spawn(async move {
            trawl_api::serve_syslog(state, tcp, udp, trawl_api::SyslogOptions::default(), rx).await.context("syslog listener")
        });
    }
    // Tests and scripts read this line to find the ports. A closed stdout must not stop the
    // server, so the write's outcome is ignored.
    {
        use std::io::Write;
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "trawl listening {}", addresses.join(" "));
        let _ = stdout.flush();
    }
    tracing::info!(data_dir = %store.config().data_dir.display(), "trawl started");
    if let Some(ready) = ready {
        let _ = ready.send(api_url);
    }

    #[cfg(unix)]
    {
        let config_file_known = config.file.is_some();
        // SIGHUP reads the rule files again, as `trawl rules reload` does, and the privacy
        // rules of the configuration file.
        let alerting = alerting.clone();
        if let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            tokio::spawn(async move {
                while hup.recv().await.is_some() {
                    if config_file_known {
                        let p = privacy.clone();
                        match tokio::task::spawn_blocking(move || p.reload()).await {
                            Ok(Ok((rules, _))) => tracing::info!(enabled = rules.enabled(), overrides = rules.override_count(), "privacy rules reloaded"),
                            Ok(Err(e)) => tracing::error!(error = %e, "privacy rules refused; the previous rules stay"),
                            Err(e) => tracing::error!(error = %e, "reload task failed"),
                        }
                    }
                    let a = alerting.clone();
                    match tokio::task::spawn_blocking(move || a.reload()).await {
                        Ok(Ok(report)) => tracing::info!(rules = report.rules, changed = report.changed_rules.len(), "rule files reloaded"),
                        Ok(Err(e)) => tracing::error!(error = %e, "rule files refused; the previous rules stay"),
                        Err(e) => tracing::error!(error = %e, "reload task failed"),
                    }
                }
            });
        }
    }
    let outcome = tokio::select! {
        _ = shutdown_signal() => Ok(()),
        Some(result) = tasks.join_next() => result.context("listener task").and_then(|r| r),
    };
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), async { while tasks.join_next().await.is_some() {} }).await;
    {
        let a = alerting.clone();
        tokio::task::spawn_blocking(move || a.shutdown()).await?;
    }
    let s = store.clone();
    tokio::task::spawn_blocking(move || s.shutdown(Duration::from_secs(30))).await?;
    outcome
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
