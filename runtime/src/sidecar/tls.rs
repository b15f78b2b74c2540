//! TLS for the sidecar (rustls with the `ring` provider): the certificate
//! chain and private key come from PEM files (`wasp.sidecar.tls`), read at
//! start; a listener completes each TLS handshake on its own task, so a
//! slow or broken client never holds up the others, and hands finished
//! connections to axum.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::server::TlsStream;

/// A handshake that takes longer is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshakes at once of [`TlsListener::new`] (the default
/// `maxConnections`).
pub const DEFAULT_MAX_HANDSHAKES: usize = crate::config::sidecar::DEFAULT_MAX_CONNECTIONS;

pub use crate::config::sidecar::TlsFiles;

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or holds no usable PEM item.
    #[error("wasp.sidecar.tls.{field}: {path}: {message}")]
    File {
        /// `certFile` or `keyFile`.
        field: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// rustls refused the certificate and key (e.g. they do not match).
    #[error("wasp.sidecar.tls: the certificate ({cert}) and key ({key}) cannot be used together: {message}")]
    Config {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        message: String,
    },
}

fn file_error(field: &'static str, path: &Path, message: impl std::fmt::Display) -> TlsError {
    TlsError::File { field, path: path.to_owned(), message: message.to_string() }
}

/// Reads the files and builds the acceptor (HTTP/1.1 over TLS 1.2/1.3).
pub fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, TlsError> {
    let read = |field, path: &Path| std::fs::read(path).map_err(|e| file_error(field, path, e));
    let cert_pem = read("certFile", &files.cert_file)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| file_error("certFile", &files.cert_file, format!("not a PEM certificate chain: {e}")))?;
    if certs.is_empty() {
        return Err(file_error("certFile", &files.cert_file, "no CERTIFICATE in the file (expected PEM)"));
    }
    let key_pem = read("keyFile", &files.key_file)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| file_error("keyFile", &files.key_file, format!("no usable PEM private key (PKCS#8, PKCS#1 or SEC1): {e}")))?;
    let config_error =
        |e: rustls::Error| TlsError::Config { cert: files.cert_file.clone(), key: files.key_file.clone(), message: e.to_string() };
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(config_error)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(config_error)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// A listener of TLS connections for [`axum::serve()`].
pub struct TlsListener {
    local: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
}

impl std::fmt::Debug for TlsListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsListener").field("local", &self.local).finish_non_exhaustive()
    }
}

impl TlsListener {
    /// Accepts on `tcp` (call inside a tokio runtime); the accepting task
    /// stops when the listener is dropped. At most
    /// [`DEFAULT_MAX_HANDSHAKES`] handshakes run at once.
    pub fn new(tcp: TcpListener, acceptor: TlsAcceptor) -> std::io::Result<TlsListener> {
        Self::with_handshake_limit(tcp, acceptor, DEFAULT_MAX_HANDSHAKES)
    }

    /// Like [`new`](Self::new), with at most `max_handshakes` handshakes
    /// at once: the others wait in the listen queue, so that clients that
    /// never finish theirs cannot use up the process's file descriptors
    /// (`wasp run` passes `maxConnections`).
    pub fn with_handshake_limit(tcp: TcpListener, acceptor: TlsAcceptor, max_handshakes: usize) -> std::io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        let handshakes = Arc::new(tokio::sync::Semaphore::new(max_handshakes.max(1)));
        tokio::spawn(async move {
            loop {
                let permit = tokio::select! {
                    permit = handshakes.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
                    () = tx.closed() => return,
                };
                let accepted = tokio::select! {
                    accepted = tcp.accept() => accepted,
                    () = tx.closed() => return,
                };
                let (stream, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        // Out of file descriptors and the like: wait a moment.
                        tracing::warn!("accepting a connection failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await;
                    drop(permit);
                    match handshake {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, "TLS handshake failed: {e}"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener { local, ready })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accepting task only ends when this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests;
