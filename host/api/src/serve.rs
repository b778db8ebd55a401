//! Serving the router: HTTP/1 connections with a deadline on the request
//! head, and the client's address handed to handlers
//! (`ConnectInfo<SocketAddr>`), with graceful shutdown. The deadline on
//! each request is the router's (its edge layer, `observe`), so a request
//! that runs out of time is counted, logged and given its request id like
//! any other.
//!
//! `axum::serve` sets no timer, so hyper's header-read timeout never fires
//! and a client that dribbles a request head keeps its connection forever;
//! this loop sets both.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::RefusalPacing;

/// Deadlines of the HTTP server, and how long it holds a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpTimeouts {
    /// How long a client has to send a whole request head (request line and
    /// headers) from when the server starts reading it, also while an idle
    /// keep-alive connection waits for its next request; past it the
    /// connection is closed.
    pub header_read: Duration,
    /// How long one request may take from its head being read to its
    /// response head (reading the body included); past it the answer is 408
    /// `request-timeout` (the router's: [`crate::AppState::with_request_timeout`]).
    pub request: Duration,
    /// The longest a rate-limited device request is held before its 429
    /// is sent (until its window admits again, at most this; zero: answered
    /// at once). See [`crate::RefusalPacing`].
    pub rate_limit_hold: Duration,
}

impl Default for HttpTimeouts {
    fn default() -> Self {
        Self {
            header_read: Duration::from_secs(10),
            request: Duration::from_secs(30),
            rate_limit_hold: RefusalPacing::default().max_hold(),
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops
/// accepting, lets every open connection finish its request and returns.
/// A client gets `header_read` to send each request head.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    header_read: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let (open_tx, open_rx) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors and the like: wait, don't spin.
                    tracing::warn!(%error, "Accepting a connection failed.");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let app = app.clone();
        let mut stop = stop_rx.clone();
        let open = open_rx.clone();
        tokio::spawn(async move {
            let tower = TowerToHyperService::new(app);
            let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(remote));
                hyper::service::Service::call(&tower, request)
            });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(header_read);
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            let mut connection = std::pin::pin!(connection);
            let ended = tokio::select! {
                result = connection.as_mut() => Some(result),
                _ = stop.wait_for(|stopped| *stopped) => None,
            };
            let result = match ended {
                Some(result) => result,
                None => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = result {
                tracing::debug!(%error, %remote, "Connection ended with an error.");
            }
            drop(open);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(open_rx);
    open_tx.closed().await;
    Ok(())
}

/// The client's address, when the server put it in the request.
pub(crate) fn client_address(extensions: &axum::http::Extensions) -> Option<SocketAddr> {
    extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0)
}
