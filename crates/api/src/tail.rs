//! `GET /api/v1/tail?query=...`: new matching records as they are acknowledged, over WebSocket
//! (when the request asks for an upgrade) or Server-Sent Events.
//!
//! Each subscriber gets a bounded queue of acknowledged chunks, filled on the writer thread
//! without blocking it. A consumer that falls behind by more than the queue is dropped with a
//! clear reason (a WebSocket close frame, or a final SSE `error` event): memory never grows
//! without bound for a slow reader.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::SinkExt;
use serde::Deserialize;
use tokio::sync::mpsc;
use trawl_query::{record_matches, Query};
use trawl_storage::Chunk;

use crate::query::record_json;
use crate::{ApiError, AppState};

/// Chunks (acknowledged write requests) a subscriber may have waiting before it is dropped.
const QUEUE_CHUNKS: usize = 1024;

#[derive(Debug, Deserialize)]
pub struct TailParams {
    #[serde(default)]
    pub query: String,
}

struct Subscription {
    rx: mpsc::Receiver<Arc<Chunk>>,
    lagged: Arc<AtomicBool>,
}

fn subscribe(state: &AppState) -> Subscription {
    let (tx, rx) = mpsc::channel::<Arc<Chunk>>(QUEUE_CHUNKS);
    let lagged = Arc::new(AtomicBool::new(false));
    let flag = lagged.clone();
    state.store.subscribe(Box::new(move |chunk| match tx.try_send(chunk.clone()) {
        Ok(()) => true,
        Err(mpsc::error::TrySendError::Full(_)) => {
            flag.store(true, Ordering::SeqCst);
            false
        }
        Err(mpsc::error::TrySendError::Closed(_)) => false,
    }));
    Subscription { rx, lagged }
}

fn lag_reason() -> String {
    format!("slow consumer: more than {QUEUE_CHUNKS} batches of records waited to be sent; reconnect to resume")
}

/// Matching records of a chunk as JSON texts.
fn matching(query: &Query, chunk: &Chunk) -> Vec<String> {
    chunk.records.iter().filter(|r| record_matches(query, r)).map(|r| record_json(r).to_string()).collect()
}

pub async fn tail(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    let (mut parts, _body) = request.into_parts();
    let params: TailParams = serde_urlencoded_query(parts.uri.query().unwrap_or(""))?;
    crate::query::admit_query(&state, &params.query)?;
    let query = trawl_query::parse(&params.query)?;
    let wants_websocket = parts
        .headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if wants_websocket {
        let upgrade = WebSocketUpgrade::from_request_parts(&mut parts, &state)
            .await
            .map_err(|e| ApiError::bad_request("invalid_websocket", e.body_text()))?;
        let subscription = subscribe(&state);
        return Ok(upgrade.on_upgrade(move |socket| websocket(socket, query, subscription)));
    }
    let Subscription { mut rx, lagged } = subscribe(&state);
    let stream = async_stream(move |yield_event: mpsc::Sender<Result<Event, Infallible>>| async move {
        loop {
            match rx.recv().await {
                Some(chunk) => {
                    for record in matching(&query, &chunk) {
                        if yield_event.send(Ok(Event::default().event("record").data(record))).await.is_err() {
                            return;
                        }
                    }
                }
                None => {
                    if lagged.load(Ordering::SeqCst) {
                        let _ = yield_event.send(Ok(Event::default().event("error").data(lag_reason()))).await;
                    }
                    return;
                }
            }
        }
    });
    let mut response = Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response();
    // SSE is UTF-8 by definition; saying so keeps generic HTTP clients from guessing Latin-1.
    response.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("text/event-stream; charset=utf-8"));
    Ok(response)
}

async fn websocket(mut socket: WebSocket, query: Query, Subscription { mut rx, lagged }: Subscription) {
    loop {
        tokio::select! {
            chunk = rx.recv() => match chunk {
                Some(chunk) => {
                    for record in matching(&query, &chunk) {
                        if socket.send(Message::Text(record.into())).await.is_err() {
                            return;
                        }
                    }
                }
                None => {
                    let reason = if lagged.load(Ordering::SeqCst) { lag_reason() } else { "server is shutting down".to_string() };
                    // 1008: policy violation (too slow); 1001: going away.
                    let code = if lagged.load(Ordering::SeqCst) { 1008 } else { 1001 };
                    let _ = socket.send(Message::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
                    let _ = socket.close().await;
                    return;
                }
            },
            incoming = socket.recv() => match incoming {
                // The client went away, or said goodbye.
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

/// A stream fed by a producer task through a small channel (back-pressured by the client).
fn async_stream<F, Fut>(producer: F) -> tokio_stream::wrappers::ReceiverStream<Result<Event, Infallible>>
where
    F: FnOnce(mpsc::Sender<Result<Event, Infallible>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(producer(tx));
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

fn serde_urlencoded_query(query: &str) -> Result<TailParams, ApiError> {
    let parsed = axum::extract::Query::<TailParams>::try_from_uri(&format!("/?{query}").parse().map_err(|_| {
        ApiError::bad_request("invalid_parameters", "unreadable query string")
    })?)
    .map_err(|e| ApiError::bad_request("invalid_parameters", e.body_text()))?;
    Ok(parsed.0)
}
