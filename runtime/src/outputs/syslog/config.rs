//! Where a syslog output sends: host, port, transport, timeouts, TLS files.

use std::path::PathBuf;
use std::time::Duration;

/// The transport to the syslog daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// UDP, one message per datagram (RFC 5426).
    Udp,
    /// TCP, octet-counted frames (RFC 6587 section 3.4.1).
    Tcp,
    /// TLS over TCP, octet-counted frames (RFC 5425).
    Tls,
}

impl Protocol {
    /// `UDP`, `TCP` or `TLS`, any case (ForgeRock writes `TCP`/`UDP`).
    pub fn parse(text: &str) -> Option<Protocol> {
        match text.to_ascii_uppercase().as_str() {
            "UDP" => Some(Protocol::Udp),
            "TCP" => Some(Protocol::Tcp),
            "TLS" | "SSL" => Some(Protocol::Tls),
            _ => None,
        }
    }

    /// The name, for people.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Udp => "udp",
            Protocol::Tcp => "tcp",
            Protocol::Tls => "tls",
        }
    }
}

/// TLS settings of a `TLS` syslog connection.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsFiles {
    /// PEM file of the CA (or the daemon's own self-signed certificate) to
    /// trust; none: the operating system's usual roots are not used, so
    /// one is required.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate chain, when the daemon asks for one.
    pub cert_file: Option<PathBuf>,
    /// PEM private key of `cert_file`.
    pub key_file: Option<PathBuf>,
    /// Name to check the daemon's certificate against (default: `host`).
    pub server_name: Option<String>,
}

/// Where and how a syslog output sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogTarget {
    /// Host name or address of the daemon (a `scheme://` prefix, as one of
    /// ForgeRock's examples writes, is ignored).
    pub host: String,
    /// Its port.
    pub port: u16,
    /// The transport.
    pub protocol: Protocol,
    /// How long to wait for a TCP/TLS connection (ForgeRock's
    /// `connectTimeout`, milliseconds); default 30 s.
    pub connect_timeout: Duration,
    /// How long a write may block before the connection counts as broken.
    pub write_timeout: Duration,
    /// TLS settings (protocol `TLS`).
    pub tls: TlsFiles,
}

impl SyslogTarget {
    /// `host:port` as the output's location.
    pub fn location(&self) -> String {
        format!("syslog+{}://{}:{}", self.protocol.as_str(), self.host, self.port)
    }

    /// The host without a `scheme://` prefix or trailing `/`.
    pub fn bare_host(text: &str) -> String {
        let host = text.split_once("://").map_or(text, |(_, rest)| rest);
        host.trim_end_matches('/').to_owned()
    }
}
