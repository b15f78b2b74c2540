//! `wasp run`: the HTTP sidecar until SIGTERM/SIGINT; `wasp sidecar
//! hash-token`: the hash of a bearer token for `wasp.sidecar`.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;

use wasp::sidecar::{self, AppState};
use wasp::{AuditService, Config};

/// Serves until SIGTERM or SIGINT, then drains; exit 0 when every request
/// in flight finished and the handlers drained within `shutdownDeadline`,
/// 3 otherwise.
pub fn run(config_path: &Path, listen: Option<String>, role: Option<wasp::fleet::Role>) -> anyhow::Result<ExitCode> {
    let mut config = Config::from_file(config_path)?;
    if let Some(role) = role {
        config.fleet.get_or_insert_with(Default::default).role = Some(role);
    }
    let fleet = config.fleet.clone().filter(|f| f.role.is_some_and(|r| r != wasp::fleet::Role::Single));
    if let Some(fleet) = &fleet
        && fleet.role == Some(wasp::fleet::Role::Worker)
    {
        return run_worker(&config, fleet);
    }
    let mut settings = config.sidecar.clone();
    if let Some(listen) = listen {
        settings.listen = listen;
    }
    settings.check_startable()?;
    // TLS files are read before anything starts: a bad file is an error
    // naming it, not a sidecar that cannot answer.
    let tls = settings.tls.as_ref().map(sidecar::tls::acceptor).transpose()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("wasp-sidecar")
        .build()
        .context("starting the async runtime")?;
    let listener = runtime.block_on(sidecar::bind(&settings.listen))?;
    let address = listener.local_addr().context("the listening address")?;
    let service = Arc::new(AuditService::new(config.clone())?);
    // An edge forwards every accepted event to JetStream; its cursor is
    // registered before the first event is accepted.
    let forwarder = fleet.as_ref().map(|fleet| {
        eprintln!("wasp run: edge: forwarding to NATS JetStream {} (stream {})", fleet.server_list(), fleet.stream_name());
        wasp::fleet::edge::Forwarder::start(fleet, &service)
    });
    // An edge is not reloaded (a reload would start its handlers): the
    // configuration is not watched and SIGHUP is only logged.
    let watch_interval = if forwarder.is_some() { Default::default() } else { settings.watch_interval };
    let state = AppState::new(service.clone(), Arc::new(config), settings)?;
    // Hot reload: the configuration and component files are watched, and
    // SIGHUP reloads at once.
    let watcher = Arc::new(wasp::Watcher::start(service.clone(), config_path.to_owned(), watch_interval, |_, report| {
        if report.changed() || !report.ok() {
            eprintln!("wasp run: reload: {}", describe(report));
        }
    }));
    let signal = {
        let _inside = runtime.enter();
        let hangup = sidecar::hangup_signal().context("installing the SIGHUP handler")?;
        let on_hangup = forwarder.is_none().then(|| watcher.clone());
        runtime.spawn(async move {
            let mut hangup = hangup;
            while hangup.recv().await.is_some() {
                match &on_hangup {
                    Some(watcher) => watcher.trigger(),
                    None => eprintln!("wasp run: reload: refused: an edge is not reloaded; restart it to apply a new configuration"),
                }
            }
        });
        sidecar::shutdown_signal().context("installing the SIGTERM/SIGINT handlers")?
    };
    let drained = match tls {
        None => {
            eprintln!("wasp run: listening on http://{address}");
            runtime.block_on(sidecar::serve(listener, state, signal))?
        }
        Some(acceptor) => {
            let listener = {
                let _inside = runtime.enter();
                sidecar::TlsListener::with_handshake_limit(listener, acceptor, state.sidecar.max_connections)
                    .context("starting the TLS listener")?
            };
            eprintln!("wasp run: listening on https://{address}");
            runtime.block_on(sidecar::serve(listener, state, signal))?
        }
    };
    if let Ok(watcher) = Arc::try_unwrap(watcher) {
        watcher.stop();
    }
    eprintln!("wasp run: stopped accepting; shutting down");
    if let Some(forwarder) = forwarder {
        let stats = forwarder.stats.clone();
        let complete = forwarder.stop(std::time::Instant::now() + std::time::Duration::from_secs(10));
        let ordering = std::sync::atomic::Ordering::Relaxed;
        eprintln!(
            "wasp run: edge: {} forwarded, {} duplicates, {} failed attempts{}",
            stats.forwarded.load(ordering),
            stats.duplicates.load(ordering),
            stats.failures.load(ordering),
            if complete { "" } else { "; what was not forwarded stays in the journal" }
        );
    }
    let Some(summary) = drained.summary else {
        eprintln!(
            "wasp run: the handlers did not drain within shutdownDeadline; what they had not delivered stays in the journal \
             (delivered at the next start, unless durability is `memory`)"
        );
        // A handler is still working: do not wait for it on the way out.
        runtime.shutdown_background();
        std::process::exit(i32::from(super::EXIT_INCOMPLETE));
    };
    let mut out = String::new();
    for h in &summary.handlers {
        let state = serde_json::to_value(h.state).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        let _ = writeln!(
            out,
            "wasp run: handler {}: {} received, {} delivered, {} dead-lettered ({state})",
            h.name, h.received, h.delivered, h.dead_lettered
        );
        let _ = writeln!(out, "wasp run: handler {}: {}", h.name, h.fates());
    }
    for t in &summary.tenants {
        let _ = writeln!(out, "wasp run: tenant {}: {} published, {} over quota", t.name, t.published, t.over_quota);
    }
    eprint!("{out}");
    drop(service);
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    if !drained.requests_finished {
        eprintln!("wasp run: some requests were still in flight at shutdownDeadline and were cut off");
        return Ok(ExitCode::from(super::EXIT_INCOMPLETE));
    }
    Ok(ExitCode::SUCCESS)
}

/// One line saying what a reload did.
fn describe(report: &wasp::ReloadReport) -> String {
    if let Some(error) = &report.error {
        return format!("refused: {error}");
    }
    let mut parts = Vec::new();
    for (what, names) in
        [("swapped", &report.swapped), ("restarted", &report.restarted), ("added", &report.added), ("removed", &report.removed)]
    {
        if !names.is_empty() {
            parts.push(format!("{what} {}", names.join(", ")));
        }
    }
    for refused in &report.refused {
        parts.push(format!("refused {}: {}", refused.handler, refused.reason));
    }
    if parts.is_empty() { "nothing changed".into() } else { parts.join("; ") }
}

/// Prints the hash of a token (`token`, or else the first line of stdin),
/// or with `generate` a new token and its hash.
pub fn hash_token(token: Option<String>, generate: bool) -> anyhow::Result<ExitCode> {
    if generate {
        let token = sidecar::generate_token().map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        super::write_stdout(&format!("token: {token}\nhash: {}\n", sidecar::hash_token(&token)))?;
        return Ok(ExitCode::SUCCESS);
    }
    let token = match token {
        Some(token) => token,
        None => {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).context("reading the token from stdin")?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    anyhow::ensure!(!token.is_empty(), "the token is empty");
    super::write_stdout(&format!("{}\n", sidecar::hash_token(&token)))?;
    Ok(ExitCode::SUCCESS)
}

/// `wasp run --role worker`: the handlers until SIGTERM/SIGINT.
fn run_worker(config: &Config, fleet: &wasp::fleet::FleetConfig) -> anyhow::Result<std::process::ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")?;
    let signal = {
        let _inside = runtime.enter();
        sidecar::shutdown_signal().context("installing the SIGTERM/SIGINT handlers")?
    };
    let worker = wasp::fleet::worker::Worker::start(config, fleet)?;
    eprintln!("wasp run: worker: handling events from NATS JetStream {} (stream {})", fleet.server_list(), fleet.stream_name());
    runtime.block_on(signal);
    eprintln!("wasp run: worker: stopping");
    use std::sync::atomic::Ordering::Relaxed;
    let (handled, redelivered) = (worker.handled.clone(), worker.redelivered.clone());
    worker.stop();
    eprintln!("wasp run: worker: {} events handled, {} redelivered", handled.load(Relaxed), redelivered.load(Relaxed));
    Ok(std::process::ExitCode::SUCCESS)
}
