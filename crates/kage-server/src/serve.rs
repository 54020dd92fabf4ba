//! Serving connections, each bounded in time, so slow or silent clients cannot hold the server.
//!
//! `axum::serve` gives hyper no timer, and without one hyper applies no header-read timeout at all. So the
//! accept loop is ours (HTTP/1.1, as `axum::serve` was with axum's default features), and every connection
//! lives under three clocks ([`Timeouts`]):
//!
//! - **Header read**: hyper's HTTP/1 header-read timeout. Its clock starts whenever the connection waits for a
//!   request (the first one, or the next one on a keep-alive connection) and stops when the request's headers
//!   are complete; at `header_read` the connection is closed. A client sending its headers a byte a second is
//!   cut off, and an idle keep-alive connection is closed after as long.
//! - **Idle**: a connection over which no byte has moved either way for `idle` is closed, for example a client
//!   that stopped reading its answer. Event streams send a comment at least every third of `idle` (see
//!   `api::events`), so a live stream is never idle.
//! - **Request**: a request must have its answer's head within `request` (its body included, however slowly
//!   it is sent); otherwise it is answered 503 `timeout`. An event stream's head is sent at once and its
//!   events after, so a stream is not cut by this clock.
//!
//! Each connection runs on a task of its own; tasks are cheap, so a hundred trickling clients cost a hundred
//! small tasks until their clocks end them, and never delay anyone else. Peer addresses reach handlers as
//! `ConnectInfo<SocketAddr>` (see `client_addr`), as with `axum::serve`. On shutdown no connection is accepted,
//! every open one is asked to finish its request in progress and close (hyper's graceful shutdown), and
//! serving ends when the last has closed.

use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;
use tower::ServiceExt;

use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// From accept, or from an answer, to the next request's last header byte. Default 10 s.
    pub header_read: Duration,
    /// From a request's arrival to its answer's head. Default 30 s.
    pub request: Duration,
    /// No byte read or written for this long closes the connection. Default 60 s; keep it above `request`.
    pub idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self { header_read: Duration::from_secs(10), request: Duration::from_secs(30), idle: Duration::from_secs(60) }
    }
}

/// Middleware: answers 503 `timeout` for a request without an answer within `limit`.
pub async fn request_timeout(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::TimedOut { limit }.into_response(),
    }
}

/// Accepts connections until `shutdown` turns true, then lets the open ones finish and returns.
pub async fn serve(listener: TcpListener, app: Router, timeouts: Timeouts, mut shutdown: watch::Receiver<bool>) {
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, or a connection reset before it was accepted: wait, go on.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped(&mut shutdown) => break,
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve_connection(stream, peer, app.clone(), timeouts, graceful.watcher()));
    }
    drop(listener);
    graceful.shutdown().await;
}

async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stopped| *stopped).await;
}

async fn serve_connection(stream: TcpStream, peer: SocketAddr, app: Router, timeouts: Timeouts, graceful: Watcher) {
    let activity = Arc::new(Activity::new(Instant::now()));
    let io = TokioIo::new(Watched { inner: stream, activity: activity.clone() });
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        app.clone().oneshot(request.map(axum::body::Body::new))
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.header_read)
        .serve_connection(io, service);
    let mut connection = pin!(graceful.watch(connection));
    loop {
        let idle_until = activity.last() + timeouts.idle;
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%peer, %error, "connection ended with an error");
                }
                return;
            }
            // Not idle after all if bytes moved meanwhile: the loop then waits for the new deadline.
            _ = tokio::time::sleep_until(idle_until) => {
                if activity.last() + timeouts.idle <= Instant::now() {
                    tracing::debug!(%peer, "connection idle; closing");
                    return;
                }
            }
        }
    }
}

/// When a connection last moved a byte.
struct Activity {
    since: Instant,
    /// Milliseconds from `since` to the latest read or write that moved bytes.
    last_millis: AtomicU64,
}

impl Activity {
    fn new(since: Instant) -> Self {
        Self { since, last_millis: AtomicU64::new(0) }
    }

    fn touch(&self) {
        let millis = u64::try_from(self.since.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_millis.fetch_max(millis, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.since + Duration::from_millis(self.last_millis.load(Ordering::Relaxed))
    }
}

/// A socket that notes every read or write that moved bytes, for the idle clock.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(poll, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        poll
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, bytes: &[u8]) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, bytes);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        poll
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
