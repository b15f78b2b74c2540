//! Where a syslog output sends: host, port, transport, timeouts, TLS files.

use std::path::PathBuf;
use std::time::Duration;

use crate::outputs::SettingError;

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

/// `{"type": "syslog", …}`: a WASM handler's records as the MSG part of
/// RFC 5424 messages to a syslog daemon (the handler writes its own line
/// format; WASP adds the header).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SyslogOutputConfig {
    /// The daemon's host name or address.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// `tcp` (octet counting, the default), `udp` or `tls`.
    #[serde(default = "default_protocol")]
    pub protocol: String,
    /// Milliseconds to wait for a TCP/TLS connection. Default: 30000.
    #[serde(default)]
    pub connect_timeout: Option<u64>,
    /// The facility (`kern` … `local7`). Default: `local0`.
    #[serde(default)]
    pub facility: Option<String>,
    /// The severity of every message (`emergency` … `debug`). Default:
    /// `informational`.
    #[serde(default)]
    pub severity: Option<String>,
    /// APP-NAME. Default: `wasp`.
    #[serde(default)]
    pub app_name: Option<String>,
    /// MSGID. Default: `-` (none).
    #[serde(default)]
    pub msg_id: Option<String>,
    /// TLS files (protocol `tls`), relative to the configuration file.
    #[serde(default)]
    pub tls: Option<SyslogTlsConfig>,
}

/// `tls` of a syslog output.
#[derive(Debug, Clone, PartialEq, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SyslogTlsConfig {
    /// PEM file of the CA that signed the daemon's certificate (required).
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate chain.
    pub cert_file: Option<PathBuf>,
    /// PEM key of `certFile`.
    pub key_file: Option<PathBuf>,
    /// The name the daemon's certificate must carry (default: `host`).
    pub server_name: Option<String>,
}

fn default_protocol() -> String {
    "tcp".to_owned()
}

impl SyslogOutputConfig {
    /// Checks the settings; the message names the field.
    pub fn validate(&self) -> Result<(), SettingError> {
        let protocol = Protocol::parse(&self.protocol)
            .ok_or_else(|| SettingError::new("protocol", format!("`{}` is not tcp, udp or tls", self.protocol)))?;
        if self.port == 0 {
            return Err(SettingError::new("port", "must be 1 to 65535"));
        }
        if SyslogTarget::bare_host(&self.host).is_empty() {
            return Err(SettingError::new("host", "required"));
        }
        if let Some(f) = &self.facility
            && super::format::facility(f).is_none()
        {
            return Err(SettingError::new("facility", format!("`{f}` is not a syslog facility (kern … local7)")));
        }
        if let Some(s) = &self.severity
            && super::format::severity(s).is_none()
        {
            return Err(SettingError::new("severity", format!("`{s}` is not a syslog severity (emergency … debug)")));
        }
        match (protocol, &self.tls) {
            (Protocol::Tls, Some(SyslogTlsConfig { ca_file: Some(_), .. })) => Ok(()),
            (Protocol::Tls, _) => Err(SettingError::new("tls.caFile", "required with protocol tls")),
            (_, Some(_)) => Err(SettingError::new("tls", "only with protocol tls")),
            _ => Ok(()),
        }
    }

    /// Resolves the TLS files against the configuration file's directory.
    pub fn resolve_paths(&mut self, base_dir: &std::path::Path) {
        if let Some(tls) = &mut self.tls {
            for file in [&mut tls.ca_file, &mut tls.cert_file, &mut tls.key_file].into_iter().flatten() {
                *file = base_dir.join(&*file);
            }
        }
    }

    /// Where it sends (after [`validate`](Self::validate)).
    pub fn target(&self) -> SyslogTarget {
        let tls = self.tls.clone().unwrap_or_default();
        SyslogTarget {
            host: SyslogTarget::bare_host(&self.host),
            port: self.port,
            protocol: Protocol::parse(&self.protocol).unwrap_or(Protocol::Tcp),
            connect_timeout: Duration::from_millis(self.connect_timeout.unwrap_or(30_000)),
            write_timeout: Duration::from_secs(30),
            tls: TlsFiles { ca_file: tls.ca_file, cert_file: tls.cert_file, key_file: tls.key_file, server_name: tls.server_name },
        }
    }
}
