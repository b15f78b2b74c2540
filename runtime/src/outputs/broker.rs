//! What the message-broker outputs (`nats`, `amqp`, `redis-stream`,
//! `mqtt`) share: the broker URL (`scheme://[user[:password]@]host[:port][/path]`)
//! read into an [`Endpoint`] whose password is never printed, the event id
//! a record carries (`_id`, or `event._id` in ForgeRock's JMS body) for
//! idempotent publishing, and the small tokio runtime an async client runs
//! on inside a synchronous sink; and `broker_output!`, their common
//! `impl Output`.

use std::time::Duration;

/// A broker's address and credentials, read from its URL and the
/// output's `username`/`password` settings (which win over the URL's).
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `nats`, `amqp`, `redis`, `mqtt`.
    pub scheme: String,
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// Port (the scheme's default when the URL has none).
    pub port: u16,
    /// User name, if any.
    pub username: Option<String>,
    /// Password, if any (never printed).
    pub password: Option<String>,
    /// The path after the authority, without its leading `/` (an AMQP
    /// virtual host, a Redis database number), percent-decoded.
    pub path: String,
}

impl std::fmt::Debug for Endpoint {
    // The password is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint").field("url", &self.shown()).field("username", &self.username).finish_non_exhaustive()
    }
}

/// The default port of a broker URL scheme.
pub fn default_port(scheme: &str) -> Option<u16> {
    Some(match scheme {
        "nats" => 4222,
        "amqp" => 5672,
        "redis" => 6379,
        "mqtt" => 1883,
        _ => return None,
    })
}

/// A broker URL that could not be read; `url` is shown without its
/// password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrokerUrlError {
    /// Not a URL of the expected scheme.
    #[error("`{url}` is not a {scheme}:// URL")]
    Scheme {
        /// The URL.
        url: String,
        /// The scheme expected.
        scheme: String,
    },
    /// An IPv6 host without its `]`.
    #[error("`{0}`: unclosed `[` in the host")]
    Unclosed(String),
    /// A port that is not 1 to 65535.
    #[error("`{url}`: `{port}` is not a port (1 to 65535)")]
    Port {
        /// The URL.
        url: String,
        /// The port as written.
        port: String,
    },
    /// No host.
    #[error("`{0}` names no host")]
    NoHost(String),
}

impl Endpoint {
    /// Reads `url`, whose scheme must be `scheme`; `username`/`password`
    /// override the URL's. The message says what is wrong (without the
    /// password).
    pub fn parse(url: &str, scheme: &str, username: Option<&str>, password: Option<&str>) -> Result<Endpoint, BrokerUrlError> {
        let shown = redact(url);
        let not_scheme = || BrokerUrlError::Scheme { url: shown.clone(), scheme: scheme.to_owned() };
        let (found, rest) = url.split_once("://").ok_or_else(not_scheme)?;
        if !found.eq_ignore_ascii_case(scheme) {
            return Err(not_scheme());
        }
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let path = path.split(['?', '#']).next().unwrap_or_default();
        let (userinfo, hostport) = authority.rsplit_once('@').map_or((None, authority), |(u, h)| (Some(u), h));
        let (url_user, url_password) = match userinfo {
            None => (None, None),
            Some(u) => match u.split_once(':') {
                Some((user, password)) => (Some(decode(user)), Some(decode(password))),
                None => (Some(decode(u)), None),
            },
        };
        let default = default_port(scheme).unwrap_or(0);
        let (host, port) = if let Some(stripped) = hostport.strip_prefix('[') {
            let (host, after) = stripped.split_once(']').ok_or_else(|| BrokerUrlError::Unclosed(shown.clone()))?;
            (host.to_owned(), after.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((host, port)) => (host.to_owned(), Some(port)),
                None => (hostport.to_owned(), None),
            }
        };
        let port = match port {
            None | Some("") => default,
            Some(p) => {
                p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| BrokerUrlError::Port { url: shown.clone(), port: p.to_owned() })?
            }
        };
        if host.is_empty() || host.contains([' ', '/']) {
            return Err(BrokerUrlError::NoHost(shown));
        }
        Ok(Endpoint {
            scheme: scheme.to_owned(),
            host,
            port,
            username: username.map(str::to_owned).or(url_user).filter(|u| !u.is_empty()),
            password: password.map(str::to_owned).or(url_password),
            path: decode(path),
        })
    }

    /// `scheme://host:port`, for people and logs (no credentials).
    pub fn shown(&self) -> String {
        if self.host.contains(':') {
            format!("{}://[{}]:{}", self.scheme, self.host, self.port)
        } else {
            format!("{}://{}:{}", self.scheme, self.host, self.port)
        }
    }

    /// `host:port` for a socket.
    pub fn socket_address(&self) -> String {
        if self.host.contains(':') { format!("[{}]:{}", self.host, self.port) } else { format!("{}:{}", self.host, self.port) }
    }

    /// [`super::check_network`]: the host resolves.
    pub fn check_network(&self) -> Result<(), super::CheckError> {
        super::check_network(&self.host, self.port, || Ok(()))
    }
}

/// `url` with its password replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_once('/').map_or((rest, None), |(a, p)| (a, Some(p)));
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{name}:***@{host}"),
            None => format!("{user}@{host}"),
        },
        None => authority.to_owned(),
    };
    match path {
        Some(p) => format!("{scheme}://{authority}/{p}"),
        None => format!("{scheme}://{authority}"),
    }
}

/// Percent-decoding (`%2f` → `/`); malformed escapes are kept as written.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(v) = text.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The event id a record carries: its top-level `_id`, or `event._id` (the
/// JMS body `{"auditTopic": …, "event": {…}}`). `None` for a record that is
/// not a JSON object or has neither.
pub fn record_id(record: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Inner {
        #[serde(rename = "_id")]
        id: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct Outer {
        #[serde(rename = "_id")]
        id: Option<String>,
        event: Option<Inner>,
    }
    let outer: Outer = serde_json::from_slice(record).ok()?;
    outer.id.or(outer.event.and_then(|e| e.id)).filter(|id| !id.is_empty())
}

/// A one-worker tokio runtime for an async broker client, owned by its
/// (synchronous) sink: the client's background tasks (heartbeats, pings,
/// reading) keep running between flushes.
pub(crate) fn runtime(name: &str) -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).thread_name(format!("wasp-{name}")).enable_all().build()
}

/// How long a broker operation may take before it counts as failed (and
/// is retried), from an output's `timeout` setting in milliseconds.
pub(crate) fn timeout(ms: Option<u64>) -> Duration {
    Duration::from_millis(ms.unwrap_or(10_000))
}

/// A transient failure (retried while the events wait in the journal).
pub(crate) fn transient(message: impl Into<String>) -> std::io::Error {
    std::io::Error::other(message.into())
}

/// `impl Output` for a message-broker output: `$config` has `validate` and
/// `endpoint` (its server and credentials), `$sink::new(&$config)` opens
/// the sink, which connects at its first flush; `wasp config check`
/// resolves the server's host.
macro_rules! broker_output {
    ($config:ty, $sink:ty) => {
        impl $crate::outputs::Output for $config {
            fn validate(&self) -> Result<(), $crate::outputs::SettingError> {
                <$config>::validate(self)
            }
            fn open(&self, _place: &$crate::outputs::OutputPlace<'_>) -> std::io::Result<Box<dyn $crate::outputs::Sink>> {
                Ok(Box::new(<$sink>::new(self)?))
            }
            fn check_network(&self) -> Result<(), $crate::outputs::CheckError> {
                self.endpoint()?.check_network()
            }
            fn broker_endpoint(&self) -> Option<Result<$crate::outputs::broker::Endpoint, $crate::outputs::SettingError>> {
                Some(self.endpoint())
            }
        }
    };
}
pub(crate) use broker_output;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_read_with_credentials_and_defaults() {
        let e = Endpoint::parse("amqp://guest:gu%40st@rabbit.example:5673/%2f", "amqp", None, None).unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.username.as_deref(), e.password.as_deref(), e.path.as_str()),
            ("rabbit.example", 5673, Some("guest"), Some("gu@st"), "/")
        );
        let e = Endpoint::parse("nats://[::1]", "nats", Some("u"), Some("p")).unwrap();
        assert_eq!((e.host.as_str(), e.port, e.username.as_deref()), ("::1", 4222, Some("u")));
        assert_eq!(e.shown(), "nats://[::1]:4222");
        assert!(!format!("{e:?}").contains("\"p\""), "the password is not printed");
        let err = Endpoint::parse("tcp://u:secret@h:61616", "amqp", None, None).unwrap_err().to_string();
        assert!(err.contains("not a amqp:// URL") && !err.contains("secret"), "{err}");
        assert_eq!(
            Endpoint::parse("redis://h:0", "redis", None, None).unwrap_err(),
            BrokerUrlError::Port { url: "redis://h:0".into(), port: "0".into() }
        );
        assert!(Endpoint::parse("mqtt://", "mqtt", None, None).unwrap_err().to_string().contains("names no host"));
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("amqp://guest:guest@h:5672/v"), "amqp://guest:***@h:5672/v");
        assert_eq!(redact("nats://h:4222"), "nats://h:4222");
    }

    #[test]
    fn record_ids_come_from_the_record_or_the_jms_body() {
        assert_eq!(record_id(br#"{"_id":"a","x":1}"#).as_deref(), Some("a"));
        assert_eq!(record_id(br#"{"auditTopic":"access","event":{"_id":"b"}}"#).as_deref(), Some("b"));
        assert_eq!(record_id(b"plain text"), None);
        assert_eq!(record_id(br#"{"_id":""}"#), None);
    }
}
