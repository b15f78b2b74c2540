//! The HTTP sidecar (`wasp run`): applications in any language publish
//! audit events over HTTP, query what the `handlerForQueries` file handler
//! kept, run handler actions, and scrape health and Prometheus metrics.
//! `docs/sidecar.md` is the user documentation.
//!
//! | route | who | what |
//! |---|---|---|
//! | `POST /audit/{topic}` (`?_action=create`) | any token | one JSON event → 201 `{"_id", "sequence", "topic"}` |
//! | `POST /audit/{topic}` NDJSON (`?_action=batch`) | any token | one result per line, 200 |
//! | `POST /audit/{topic}?_action=rotate\|flush&handler=NAME` | admin | handler actions |
//! | `GET /audit/{topic}?_queryFilter=…` | admin, top level | CREST query |
//! | `GET /audit/{topic}/{id}` | admin, top level | read one event |
//! | `GET /export/{topic}?_queryFilter=…&format=…` | as the query | an export with proofs, as `wasp export` writes it (see `export`) |
//! | `GET /health`, `GET /health/live` | anyone | readiness, liveness |
//! | `GET /metrics` | admin | Prometheus text |
//! | `GET /console`, `/console/api/…` | the page: anyone; its API: by role | the browser console (see `console`) |
//! | `POST /admin/deploy`, `/admin/promote`, `/admin/rollback`; `GET /admin/versions`, `/admin/shadow` | admin | versioned deploys (see `deploy`) |
//!
//! [`app`] builds the router over an [`AppState`] (testable without a
//! socket); [`serve`] runs it on a listener (`server`: at most
//! `maxConnections` at once, `headerReadTimeout`; `bodyReadTimeout` is
//! `routes::read_body`'s) until the shutdown future resolves, then stops
//! accepting, lets requests in flight finish and the handlers drain the
//! journal, all within `shutdownDeadline`.
//!
//! The service's blocking calls (`flush`, `rotate`, queries, exports,
//! NDJSON batches) run on tokio's blocking pool; a single `publish` (which only
//! validates and appends) runs on the request's task.

pub mod auth;
mod console;
mod deploy;
pub mod errors;
mod export;
pub mod metrics;
mod routes;
mod server;
pub mod tls;

impl SidecarConfig {
    /// Whether the sidecar may start: secure by default, it refuses to
    /// serve without any token unless `auth` is explicitly `none`.
    pub fn check_startable(&self) -> Result<(), SidecarError> {
        if self.auth == AuthMode::Tokens && self.tokens.is_empty() {
            return Err(SidecarError::NoTokens);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::routing::{get, post};
use tokio::net::TcpListener;

pub use crate::config::sidecar::{
    AuthMode, DEFAULT_BODY_READ_TIMEOUT, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_LISTEN, DEFAULT_MAX_BATCH_EVENTS, DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_SHUTDOWN_DEADLINE, DEFAULT_WATCH_INTERVAL, SidecarConfig,
};
pub use auth::{Role, TokenHash, generate_token, hash_token};
pub use errors::CrestError;
pub use metrics::Metrics;
pub use tls::{DEFAULT_MAX_HANDSHAKES, TlsError, TlsFiles, TlsListener};

use crate::config::Config;
use crate::service::AuditService;
use crate::service::Summary;

/// Why the sidecar could not run.
#[derive(Debug, thiserror::Error)]
pub enum SidecarError {
    /// Authentication is on but no token is configured.
    #[error(
        "no token is configured: set `wasp.sidecar.adminToken` and/or `wasp.sidecar.tokens` (their hashes: `wasp sidecar hash-token`), \
         or `\"auth\": \"none\"` to serve without authentication"
    )]
    NoTokens,
    /// The address cannot be listened on.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: String,
        /// Why.
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("serving failed: {0}")]
    Serve(std::io::Error),
    /// TLS could not be set up.
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// What the handlers share: the service, its configuration (queries read
/// `handlerForQueries` from it), the sidecar's settings and its counters.
pub struct AppState {
    /// The audit service.
    pub service: Arc<AuditService>,
    /// Its configuration.
    pub config: Arc<Config>,
    /// The sidecar's settings (`config.sidecar`, maybe with another
    /// `listen`).
    pub sidecar: SidecarConfig,
    /// The sidecar's own counters.
    pub metrics: Metrics,
    /// The live tail of accepted events (the console's).
    tail: console::Tail,
    draining: AtomicBool,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("sidecar", &self.sidecar).field("draining", &self.is_draining()).finish_non_exhaustive()
    }
}

impl AppState {
    /// The state over a running service; refused when no token is
    /// configured and `auth` is not `none` (see
    /// [`SidecarConfig::check_startable`]).
    pub fn new(service: Arc<AuditService>, config: Arc<Config>, sidecar: SidecarConfig) -> Result<Arc<AppState>, SidecarError> {
        sidecar.check_startable()?;
        Ok(Arc::new(AppState {
            service,
            config,
            sidecar,
            metrics: Metrics::default(),
            tail: console::Tail::default(),
            draining: AtomicBool::new(false),
        }))
    }

    /// Whether shutdown has begun (`/health` answers 503 `draining`).
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }
}

/// The router: every route of the sidecar over `state`.
pub fn app(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/audit/{topic}", post(routes::post_topic).get(routes::query))
        .route("/audit/{topic}/{id}", get(routes::read))
        .route("/export/{topic}", get(export::export))
        .route("/health", get(routes::health))
        .route("/health/live", get(routes::live))
        .route("/metrics", get(routes::metrics))
        .route("/admin/deploy", post(deploy::deploy))
        .route("/admin/versions", get(deploy::versions))
        .route("/admin/promote", post(deploy::promote))
        .route("/admin/rollback", post(deploy::rollback))
        .route("/admin/shadow", get(deploy::shadow))
        .merge(console::routes())
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .with_state(state)
}

/// Binds the listener (`host:port`; port 0 picks a free one).
pub async fn bind(address: &str) -> Result<TcpListener, SidecarError> {
    TcpListener::bind(address).await.map_err(|source| SidecarError::Bind { address: address.to_owned(), source })
}

/// How a shutdown went.
#[derive(Debug)]
pub struct Drained {
    /// Every request in flight finished before the deadline.
    pub requests_finished: bool,
    /// The final counters, when the handlers drained the journal before
    /// the deadline (`None`: they did not; what they had not delivered is
    /// still in the journal, redelivered at the next start unless
    /// `durability` is `memory`).
    pub summary: Option<Summary>,
}

/// Serves [`app`] on `listener` until `shutdown` resolves; then stops
/// accepting connections, lets requests in flight finish, and closes the
/// service (publish refuses, the handlers drain the journal and persist
/// their cursors), all within `shutdownDeadline`.
pub async fn serve<L>(
    listener: L,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Drained, SidecarError>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    let (fired, signalled) = tokio::sync::oneshot::channel::<()>();
    let drain_state = state.clone();
    let signal = async move {
        shutdown.await;
        drain_state.draining.store(true, Ordering::Release);
        drain_state.tail.close();
        let _ = fired.send(());
    };
    let limits =
        server::ConnectionLimits { max_connections: state.sidecar.max_connections, header_read_timeout: state.sidecar.header_read_timeout };
    let server = server::run(listener, app(state.clone()), limits, signal);
    let mut server = std::pin::pin!(server);
    let mut finished = false;
    tokio::select! {
        () = &mut server => finished = true,
        _ = signalled => {}
    }
    let deadline = tokio::time::Instant::now() + state.sidecar.shutdown_deadline;
    if !finished {
        finished = tokio::time::timeout_at(deadline, &mut server).await.is_ok();
    }
    let service = state.service.clone();
    let closing = tokio::task::spawn_blocking(move || service.close());
    let summary = match tokio::time::timeout_at(deadline, closing).await {
        Ok(Ok(summary)) => Some(summary),
        _ => None,
    };
    Ok(Drained { requests_finished: finished, summary })
}

/// SIGHUP, for hot reload (installed when called, inside a tokio runtime).
#[cfg(unix)]
pub fn hangup_signal() -> std::io::Result<tokio::signal::unix::Signal> {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
}

/// A future that resolves on SIGTERM or SIGINT (Ctrl-C). The signal
/// handlers are installed when this is called (inside a tokio runtime), not
/// when the future is first polled: a signal arriving in between is not
/// lost, and does not kill the process.
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        })
    }
}
