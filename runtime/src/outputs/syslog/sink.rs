//! Sends formatted messages to the daemon, framing them for the transport,
//! and reconnects after any error (the handler retries the batch).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};
use std::sync::Arc;

use tokio_rustls::rustls;

use super::config::{Protocol, SyslogTarget};
use crate::outputs::Sink;

enum Connection {
    Udp(UdpSocket),
    Tcp(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

/// A syslog output.
pub struct SyslogSink {
    target: SyslogTarget,
    tls: Option<Arc<rustls::ClientConfig>>,
    connection: Option<Connection>,
    /// Messages written since the last flush.
    pending: Vec<Vec<u8>>,
}

impl std::fmt::Debug for SyslogSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyslogSink").field("target", &self.target).field("pending", &self.pending.len()).finish_non_exhaustive()
    }
}

impl SyslogSink {
    /// An output to `target`; nothing is connected until the first flush.
    /// TLS files are read now: an unreadable CA or key is an error here.
    pub fn new(target: SyslogTarget) -> std::io::Result<SyslogSink> {
        let tls = match target.protocol {
            Protocol::Tls => Some(tls_config(&target)?),
            _ => None,
        };
        Ok(SyslogSink { target, tls, connection: None, pending: Vec::new() })
    }

    fn connect(&self) -> std::io::Result<Connection> {
        let addresses: Vec<_> = (self.target.host.as_str(), self.target.port)
            .to_socket_addrs()
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot resolve {}: {e}", self.target.host)))?
            .collect();
        let mut last = std::io::Error::other(format!("{} resolves to no address", self.target.host));
        for address in addresses {
            let connected = match self.target.protocol {
                Protocol::Udp => UdpSocket::bind(if address.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" })
                    .and_then(|s| s.connect(address).map(|()| Connection::Udp(s))),
                Protocol::Tcp | Protocol::Tls => TcpStream::connect_timeout(&address, self.target.connect_timeout).and_then(|s| {
                    s.set_write_timeout(Some(self.target.write_timeout))?;
                    s.set_nodelay(true)?;
                    match &self.tls {
                        None => Ok(Connection::Tcp(s)),
                        Some(config) => {
                            let name = self.target.tls.server_name.clone().unwrap_or_else(|| self.target.host.clone());
                            let name = rustls_pki_types::ServerName::try_from(name)
                                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
                            let conn = rustls::ClientConnection::new(config.clone(), name).map_err(std::io::Error::other)?;
                            let mut stream = rustls::StreamOwned::new(conn, s);
                            stream.conn.complete_io(&mut stream.sock)?;
                            Ok(Connection::Tls(Box::new(stream)))
                        }
                    }
                }),
            };
            match connected {
                Ok(c) => return Ok(c),
                Err(e) => last = std::io::Error::new(e.kind(), format!("{}: {e}", self.target.location())),
            }
        }
        Err(last)
    }

    /// Whether a stream connection was closed by the daemon since the last
    /// batch (it then gets a new one before anything is written).
    fn closed_by_peer(connection: &mut Connection) -> bool {
        let stream = match connection {
            Connection::Udp(_) => return false,
            Connection::Tcp(s) => s,
            Connection::Tls(s) => &mut s.sock,
        };
        if stream.set_nonblocking(true).is_err() {
            return true;
        }
        let mut byte = [0u8; 1];
        let closed = match stream.peek(&mut byte) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
        };
        closed || stream.set_nonblocking(false).is_err()
    }

    fn send(&mut self) -> std::io::Result<()> {
        if let Some(connection) = &mut self.connection
            && Self::closed_by_peer(connection)
        {
            tracing::info!(output = %self.target.location(), "the syslog daemon closed the connection; reconnecting");
            self.connection = None;
        }
        if self.connection.is_none() {
            self.connection = Some(self.connect()?);
        }
        let connection = self.connection.as_mut().expect("just connected");
        match connection {
            Connection::Udp(socket) => {
                for message in &self.pending {
                    socket.send(message)?;
                }
                Ok(())
            }
            Connection::Tcp(stream) => {
                stream.write_all(&frames(&self.pending))?;
                stream.flush()
            }
            Connection::Tls(stream) => {
                stream.write_all(&frames(&self.pending))?;
                stream.flush()?;
                // Drain a close_notify or alert the daemon may have sent.
                let _ = stream.conn.process_new_packets();
                let mut sink = [0u8; 0];
                let _ = stream.conn.reader().read(&mut sink);
                Ok(())
            }
        }
    }
}

/// Octet-counted frames (`MSG-LEN SP SYSLOG-MSG`) of `messages`.
fn frames(messages: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(messages.iter().map(|m| m.len() + 8).sum());
    for message in messages {
        out.extend_from_slice(message.len().to_string().as_bytes());
        out.push(b' ');
        out.extend_from_slice(message);
    }
    out
}

impl Sink for SyslogSink {
    fn write(&mut self, record: &[u8]) -> std::io::Result<()> {
        let record = record.strip_suffix(b"\n").unwrap_or(record);
        self.pending.push(record.to_vec());
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        match self.send() {
            Ok(()) => {
                self.pending.clear();
                Ok(())
            }
            Err(e) => {
                // A broken connection is not used again.
                self.connection = None;
                Err(e)
            }
        }
    }

    fn location(&self) -> String {
        self.target.location()
    }

    fn rollback(&mut self) -> std::io::Result<()> {
        self.pending.clear();
        Ok(())
    }

    fn retryable(&self, _error: &std::io::Error) -> bool {
        true
    }
}

/// The TLS client configuration of `target`: its CA file as the only root,
/// and its client certificate when given.
fn tls_config(target: &SyslogTarget) -> std::io::Result<Arc<rustls::ClientConfig>> {
    let invalid = |m: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, m);
    let read_pem = |path: &std::path::Path| std::fs::read(path).map_err(|e| invalid(format!("{}: {e}", path.display())));
    let ca = target.tls.ca_file.as_ref().ok_or_else(|| invalid("a TLS syslog connection needs `tls.caFile`".into()))?;
    let mut roots = rustls::RootCertStore::empty();
    let pem = read_pem(ca)?;
    let certs: Vec<_> = rustls_pki_types::pem::PemObject::pem_slice_iter(&pem)
        .collect::<Result<Vec<rustls_pki_types::CertificateDer<'static>>, _>>()
        .map_err(|e| invalid(format!("{}: not a PEM certificate file: {e}", ca.display())))?;
    if certs.is_empty() {
        return Err(invalid(format!("{}: no CERTIFICATE in the file", ca.display())));
    }
    for cert in certs {
        roots.add(cert).map_err(|e| invalid(format!("{}: {e}", ca.display())))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?
        .with_root_certificates(roots);
    let config = match (&target.tls.cert_file, &target.tls.key_file) {
        (Some(cert), Some(key)) => {
            let chain = rustls_pki_types::pem::PemObject::pem_slice_iter(&read_pem(cert)?)
                .collect::<Result<Vec<rustls_pki_types::CertificateDer<'static>>, _>>()
                .map_err(|e| invalid(format!("{}: {e}", cert.display())))?;
            let key = <rustls_pki_types::PrivateKeyDer<'static> as rustls_pki_types::pem::PemObject>::from_pem_slice(&read_pem(key)?)
                .map_err(|e| invalid(format!("{}: {e}", key.display())))?;
            builder.with_client_auth_cert(chain, key).map_err(|e| invalid(e.to_string()))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err(invalid("`tls.certFile` and `tls.keyFile` go together".into())),
    };
    Ok(Arc::new(config))
}

/// A WASM handler's `syslog` output: each record becomes the MSG of an
/// RFC 5424 message with the output's facility, severity, APP-NAME and
/// MSGID, stamped with the time it is written.
#[derive(Debug)]
pub struct FramedSyslogSink {
    sink: SyslogSink,
    /// `<PRI>1 ` and the fields after TIMESTAMP: ` HOSTNAME APP-NAME - MSGID - `.
    pri: String,
    rest: String,
}

impl FramedSyslogSink {
    /// An output as `config` says.
    pub fn new(config: &super::config::SyslogOutputConfig) -> std::io::Result<FramedSyslogSink> {
        use super::format::{facility, header_field, local_hostname, severity};
        let facility = config.facility.as_deref().and_then(facility).unwrap_or(16);
        let severity = config.severity.as_deref().and_then(severity).unwrap_or(6);
        Ok(FramedSyslogSink {
            sink: SyslogSink::new(config.target())?,
            pri: format!("<{}>1 ", u16::from(facility) * 8 + u16::from(severity)),
            rest: format!(
                " {} {} - {} - ",
                header_field(&local_hostname(), 255),
                header_field(config.app_name.as_deref().unwrap_or("wasp"), 48),
                header_field(config.msg_id.as_deref().unwrap_or("-"), 32)
            ),
        })
    }
}

impl Sink for FramedSyslogSink {
    fn write(&mut self, record: &[u8]) -> std::io::Result<()> {
        let record = record.strip_suffix(b"\n").unwrap_or(record);
        let now = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
        let mut message = Vec::with_capacity(self.pri.len() + now.len() + self.rest.len() + record.len());
        message.extend_from_slice(self.pri.as_bytes());
        message.extend_from_slice(now.as_bytes());
        message.extend_from_slice(self.rest.as_bytes());
        message.extend_from_slice(record);
        self.sink.write(&message)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.sink.flush()
    }
    fn location(&self) -> String {
        self.sink.location()
    }
    fn rollback(&mut self) -> std::io::Result<()> {
        self.sink.rollback()
    }
    fn retryable(&self, _error: &std::io::Error) -> bool {
        true
    }
}
