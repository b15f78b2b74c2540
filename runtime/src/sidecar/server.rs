//! The connection loop of the sidecar: HTTP/1.1 over any
//! [`axum::serve::Listener`] (plain TCP or TLS), with the limits that keep
//! idle and slow clients from holding it:
//!
//! - at most `maxConnections` connections are served at once: the loop
//!   takes a permit before it accepts, so the others wait in the listen
//!   queue (the kernel's, not the process's file descriptors);
//! - a connection that has not sent a complete request head within
//!   `headerReadTimeout` of waiting for one (a new connection, or an idle
//!   keep-alive one) is closed (hyper's header read timeout);
//! - a body that has not arrived within `bodyReadTimeout` is answered 408
//!   (`routes::read_body`), and the connection is then closed.
//!
//! Graceful shutdown: when `signal` resolves, no connection is accepted any
//! more, every open connection finishes its request in flight and closes,
//! and the returned future resolves once all are closed.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::serve::Listener;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::sync::{Semaphore, watch};

/// The limits of [`run`].
#[derive(Debug, Clone, Copy)]
pub(super) struct ConnectionLimits {
    /// Most connections served at once.
    pub max_connections: usize,
    /// Longest wait for a request's head.
    pub header_read_timeout: Duration,
}

/// Serves `router` on `listener` until `signal` resolves and every
/// connection has closed.
pub(super) async fn run<L>(mut listener: L, router: Router, limits: ConnectionLimits, signal: impl Future<Output = ()> + Send + 'static)
where
    L: Listener,
    L::Addr: std::fmt::Debug,
{
    // `stop_tx` closes when the signal fired; `open_rx` clones live as long
    // as connections do.
    let (stop_tx, stop_rx) = watch::channel(());
    tokio::spawn(async move {
        signal.await;
        drop(stop_rx);
    });
    let (open_tx, open_rx) = watch::channel(());
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            () = stop_tx.closed() => break,
        };
        let (io, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stop_tx.closed() => break,
        };
        tracing::trace!(?peer, "connection accepted");
        let service = TowerToHyperService::new(router.clone());
        let (stop_tx, open_rx) = (stop_tx.clone(), open_rx.clone());
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
            let connection = builder.serve_connection(TokioIo::new(io), service);
            let mut connection = std::pin::pin!(connection);
            let mut stopping = std::pin::pin!(stop_tx.closed());
            let mut stopped = false;
            loop {
                tokio::select! {
                    result = connection.as_mut() => {
                        if let Err(e) = result {
                            tracing::debug!(?peer, "connection ended: {e}");
                        }
                        break;
                    }
                    () = &mut stopping, if !stopped => {
                        stopped = true;
                        connection.as_mut().graceful_shutdown();
                    }
                }
            }
            drop((permit, open_rx));
        });
    }
    drop(open_rx);
    drop(listener);
    open_tx.closed().await;
}
