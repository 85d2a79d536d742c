//! The syslog listener: RFC 5424 and RFC 3164 messages over UDP and TCP on one address
//! (`--syslog-listen`). Parsing is `trawl_ingest::syslog`'s; TCP streams are cut by one
//! [`SyslogFramer`] per connection (octet counting or line ends, RFC 6587).
//!
//! Messages from every socket go through one bounded queue to one writer task, which groups
//! them (up to [`BATCH_MAX_RECORDS`] messages or [`BATCH_MAX_WAIT`], whichever comes first)
//! into one store write, so one fsync covers many messages.
//!
//! Backpressure: when the store refuses a write (behind, or the disk is full), the writer keeps
//! the batch and retries it; the queue fills up, and then
//! - a TCP connection stops reading its socket: the sender's socket buffer fills and it blocks
//!   or buffers, as syslog over TCP expects; nothing is lost;
//! - a UDP datagram cannot be pushed back: it is dropped and counted in
//!   `trawl_rejected_total{protocol="syslog",reason="dropped_overload"}`.
//!
//! Connections are bounded ([`SyslogOptions::max_connections`]; one more is accepted and
//! closed at once, counted as `too_many_connections`), and a connection that sends nothing for
//! [`SyslogOptions::idle_timeout`] is closed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, watch, Semaphore};
use trawl_ingest::{parse_syslog, parse_syslog_frame, Batch, SyslogFramer, DEFAULT_MAX_SYSLOG_MESSAGE_BYTES};
use trawl_model::{now_ns, Record};

use crate::ingest::write_batch;
use crate::{ApiError, AppState};

/// The `protocol` label of the listener's counters.
pub const PROTOCOL: &str = "syslog";

/// A batch is written once it holds this many messages...
pub const BATCH_MAX_RECORDS: usize = 1000;
/// ...or once its first message has waited this long.
pub const BATCH_MAX_WAIT: Duration = Duration::from_millis(50);

/// Messages parsed and waiting for the writer; past this, TCP stops reading and UDP drops.
const QUEUE_RECORDS: usize = 8192;

/// The largest UDP datagram read whole (the largest a UDP/IPv4 datagram can be).
const MAX_DATAGRAM_BYTES: usize = 65_535;

/// How long the writer waits before retrying a refused write.
const RETRY_WAIT: Duration = Duration::from_millis(250);

/// Limits of the listener.
#[derive(Debug, Clone)]
pub struct SyslogOptions {
    /// TCP connections served at once.
    pub max_connections: usize,
    /// A TCP connection that sends nothing for this long is closed.
    pub idle_timeout: Duration,
}

impl Default for SyslogOptions {
    fn default() -> SyslogOptions {
        SyslogOptions { max_connections: 1024, idle_timeout: Duration::from_secs(300) }
    }
}

/// Binds TCP and UDP on one address. With port 0, the port the system gives TCP is taken for
/// UDP too (tried a few times, in case that UDP port is in use).
pub async fn bind_syslog(addr: SocketAddr) -> std::io::Result<(TcpListener, UdpSocket)> {
    let mut last_error = None;
    for _ in 0..if addr.port() == 0 { 16 } else { 1 } {
        let tcp = TcpListener::bind(addr).await?;
        match UdpSocket::bind(tcp.local_addr()?).await {
            Ok(udp) => return Ok((tcp, udp)),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.unwrap_or_else(|| std::io::Error::other("cannot bind syslog udp")))
}

/// Serves syslog on the bound sockets until `stop` turns true, then writes what was received
/// and returns.
pub async fn serve_syslog(
    state: AppState,
    tcp: TcpListener,
    udp: UdpSocket,
    options: SyslogOptions,
    stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let (tx, rx) = mpsc::channel::<Record>(QUEUE_RECORDS);
    let writer = tokio::spawn(write_loop(state.clone(), rx, stop.clone()));
    let udp_task = tokio::spawn(udp_loop(state.clone(), udp, tx.clone(), stop.clone()));
    let accept_result = accept_loop(state, tcp, tx, options, stop).await;
    let _ = udp_task.await;
    // The writer ends once every sender (the UDP task, the connections) is gone.
    let _ = writer.await;
    accept_result
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

async fn accept_loop(
    state: AppState,
    listener: TcpListener,
    tx: mpsc::Sender<Record>,
    options: SyslogOptions,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(options.max_connections.max(1)));
    loop {
        let (stream, peer) = tokio::select! {
            _ = stopped(&mut stop) => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(error = %e, "syslog accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            state.metrics.add_rejected(PROTOCOL, "too_many_connections", 1);
            drop(stream);
            continue;
        };
        let (state, tx, stop, idle) = (state.clone(), tx.clone(), stop.clone(), options.idle_timeout);
        tokio::spawn(async move {
            read_connection(state, stream, peer, tx, idle, stop).await;
            drop(permit);
        });
    }
}

/// Reads one TCP connection until it closes, idles out or the server stops. Sending into the
/// full queue waits, and so does reading: that is the backpressure.
async fn read_connection(
    state: AppState,
    mut stream: TcpStream,
    peer: SocketAddr,
    tx: mpsc::Sender<Record>,
    idle_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let peer_host = peer.ip().to_string();
    let mut framer = SyslogFramer::new(DEFAULT_MAX_SYSLOG_MESSAGE_BYTES);
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = tokio::select! {
            _ = stopped(&mut stop) => break,
            read = tokio::time::timeout(idle_timeout, stream.read(&mut buffer)) => read,
        };
        let n = match read {
            Err(_) => {
                tracing::debug!(peer = %peer, "closing idle syslog connection");
                break;
            }
            Ok(Err(_)) | Ok(Ok(0)) => break,
            Ok(Ok(n)) => n,
        };
        state.metrics.add_bytes(PROTOCOL, n);
        for frame in framer.push(&buffer[..n]) {
            let record = parse_syslog_frame(&frame, now_ns(), Some(&peer_host));
            if tx.send(record).await.is_err() {
                return;
            }
        }
    }
    if let Some(frame) = framer.finish() {
        let _ = tx.send(parse_syslog_frame(&frame, now_ns(), Some(&peer_host))).await;
    }
}

/// Reads datagrams, one message each. A full queue drops the message (counted): UDP has no
/// way to slow the sender down.
async fn udp_loop(state: AppState, socket: UdpSocket, tx: mpsc::Sender<Record>, mut stop: watch::Receiver<bool>) {
    let mut buffer = vec![0u8; MAX_DATAGRAM_BYTES];
    loop {
        let (n, peer) = tokio::select! {
            _ = stopped(&mut stop) => return,
            received = socket.recv_from(&mut buffer) => match received {
                Ok(r) => r,
                Err(e) => {
                    tracing::debug!(error = %e, "syslog udp receive failed");
                    continue;
                }
            },
        };
        state.metrics.add_bytes(PROTOCOL, n);
        let record = parse_syslog(&buffer[..n], now_ns(), Some(&peer.ip().to_string()));
        match tx.try_send(record) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => state.metrics.add_rejected(PROTOCOL, "dropped_overload", 1),
            Err(mpsc::error::TrySendError::Closed(_)) => return,
        }
    }
}

/// Group commit: collects messages for up to [`BATCH_MAX_WAIT`] or [`BATCH_MAX_RECORDS`],
/// then writes them in one store write, retrying while the store refuses.
async fn write_loop(state: AppState, mut rx: mpsc::Receiver<Record>, stop: watch::Receiver<bool>) {
    while let Some(first) = rx.recv().await {
        let mut records = Vec::with_capacity(BATCH_MAX_RECORDS);
        records.push(first);
        let deadline = tokio::time::Instant::now() + BATCH_MAX_WAIT;
        while records.len() < BATCH_MAX_RECORDS {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(record)) => records.push(record),
                Ok(None) | Err(_) => break,
            }
        }
        write_with_retry(&state, records, &stop).await;
    }
}

async fn write_with_retry(state: &AppState, records: Vec<Record>, stop: &watch::Receiver<bool>) {
    let n = records.len();
    let mut attempts_while_stopping = 0;
    loop {
        let batch = Batch { records: records.clone(), ..Batch::default() };
        match write_batch(state, batch).await {
            Ok(()) => {
                state.metrics.add_accepted(PROTOCOL, n);
                return;
            }
            Err(e @ (ApiError::Overloaded(_) | ApiError::Unavailable(_))) => {
                if *stop.borrow() {
                    attempts_while_stopping += 1;
                    if attempts_while_stopping >= 8 {
                        tracing::warn!(records = n, reason = %e.reason(), "dropping syslog messages at shutdown");
                        state.metrics.add_rejected(PROTOCOL, e.code(), n);
                        return;
                    }
                }
                tracing::debug!(records = n, reason = %e.reason(), "syslog write refused; retrying");
                tokio::time::sleep(RETRY_WAIT).await;
            }
            Err(e) => {
                tracing::error!(records = n, reason = %e.reason(), "syslog write failed");
                state.metrics.add_rejected(PROTOCOL, e.code(), n);
                return;
            }
        }
    }
}
