//! Built-in outputs a handler's records go to.
//!
//! Every output has the same shape: `config.rs` (the user-facing settings;
//! each field's doc comment is its documentation), `sink.rs` (takes records,
//! flushes, and acknowledges only after delivery), `tests.rs`. A sink's
//! `flush` returning `Ok` means the records were delivered as far as the
//! output promises (a file: written to the operating system), and only then
//! does the handler acknowledge its events in the journal.

pub mod amqp;
pub mod broker;
pub mod csv;
pub mod elasticsearch;
pub mod file;
pub mod http;
pub mod log_file;
pub mod mqtt;
pub mod nats;
pub mod redis_stream;
pub mod rotation;
pub mod splunk;
pub mod sql;
pub mod stdout;
pub mod syslog;

use std::path::Path;

use serde::Deserialize;

/// A setting that is not valid: of an output, or of another part
/// configured field by field (`wasp.fleet`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingError {
    /// The field, as the configuration spells it (`url`, `tls.caFile`);
    /// empty when the problem is between fields.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl SettingError {
    /// `field` is wrong: `message`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        SettingError { field: field.into(), message: message.into() }
    }

    /// A problem between fields (`certFile and keyFile go together`),
    /// whose message names them.
    pub fn whole(message: impl Into<String>) -> Self {
        SettingError { field: String::new(), message: message.into() }
    }
}

impl std::fmt::Display for SettingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.field.as_str() {
            "" => f.write_str(&self.message),
            field => write!(f, "{field}: {}", self.message),
        }
    }
}

impl std::error::Error for SettingError {}

/// What `wasp config check` found wrong with an output before it runs.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// A setting is wrong.
    #[error(transparent)]
    Setting(#[from] SettingError),
    /// A file it needs (a CA, a client certificate) cannot be read.
    #[error("{0}")]
    Files(std::io::Error),
    /// The host resolves to no address.
    #[error("the host `{0}` resolves to no address")]
    NoAddress(String),
    /// The host does not resolve.
    #[error("the host `{host}` does not resolve: {source}")]
    Unresolved {
        /// The host.
        host: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Where an output is opened.
pub struct OutputPlace<'a> {
    /// The handler's output directory (a capability: an output cannot
    /// reach outside it), opened only when one of its outputs
    /// [needs it](Output::needs_directory).
    pub dir: Option<&'a cap_std::fs::Dir>,
    /// That directory's path, for people (and SQLite's relative paths).
    pub shown: &'a Path,
    /// A flush also syncs the file to disk (the `fsync` journal durability).
    pub sync: bool,
}

impl OutputPlace<'_> {
    /// No directory: for outputs that need none (network outputs).
    pub fn without_directory() -> OutputPlace<'static> {
        OutputPlace { dir: None, shown: Path::new(""), sync: false }
    }

    /// The handler's output directory; an error for an output that did not
    /// declare it needs one.
    pub fn dir(&self) -> std::io::Result<&cap_std::fs::Dir> {
        self.dir.ok_or_else(|| std::io::Error::other("the output needs a directory but declared none"))
    }
}

/// One kind of output a WASM handler can declare. Its settings type (the
/// `config.rs` of its folder) implements this, and one line of
/// [`OutputConfig`]'s list registers it under its `type` name.
pub trait Output {
    /// Whether it writes under the handler's output directory: the
    /// directory is created and opened only for handlers with such an
    /// output. Network outputs do not.
    fn needs_directory(&self) -> bool {
        false
    }
    /// Resolves relative file settings (TLS files) against the
    /// configuration file's directory.
    fn resolve_paths(&mut self, _base_dir: &Path) {}
    /// Checks settings that do not depend on the filesystem or the network.
    fn validate(&self) -> Result<(), SettingError>;
    /// Opens the output. A network output connects at its first flush.
    fn open(&self, place: &OutputPlace<'_>) -> std::io::Result<Box<dyn Sink>>;
    /// What `wasp config check` can know before it runs (see
    /// [`check_network`]); `Ok` for outputs that are not on the network.
    fn check_network(&self) -> Result<(), CheckError> {
        Ok(())
    }
    /// A message-broker output's server and credentials (`None` for the
    /// others).
    fn broker_endpoint(&self) -> Option<Result<broker::Endpoint, SettingError>> {
        None
    }
}

/// The registry: `OutputConfig`, one variant per output with its `type`
/// name, and the dispatch to its [`Output`] implementation.
macro_rules! outputs {
    ($($(#[doc = $doc:literal])* $name:literal => $variant:ident($config:ty),)*) => {
        /// One output a WASM handler declares, by `type`.
        #[derive(Debug, Clone, Deserialize, PartialEq)]
        #[serde(tag = "type", deny_unknown_fields)]
        pub enum OutputConfig {
            $($(#[doc = $doc])* #[serde(rename = $name)] $variant($config),)*
        }

        impl OutputConfig {
            /// The output's type name, as in the configuration.
            pub fn kind(&self) -> &'static str {
                match self {
                    $(OutputConfig::$variant(_) => $name,)*
                }
            }

            /// The output's settings, behind its [`Output`] implementation.
            pub fn output(&self) -> &dyn Output {
                match self {
                    $(OutputConfig::$variant(c) => c,)*
                }
            }

            fn output_mut(&mut self) -> &mut dyn Output {
                match self {
                    $(OutputConfig::$variant(c) => c,)*
                }
            }
        }
    };
}

outputs! {
    /// JSON lines appended to a file under the handler's directory.
    "file" => File(file::FileConfig),
    /// Lines written to the process's standard output.
    "stdout" => Stdout(stdout::StdoutConfig),
    /// RFC 5424 messages to a syslog daemon, each record their MSG.
    "syslog" => Syslog(syslog::SyslogOutputConfig),
    /// Batches of records POSTed to an HTTP endpoint.
    "http" => Http(http::HttpOutputConfig),
    /// Records (JSON objects) indexed in Elasticsearch or OpenSearch.
    "elasticsearch" => Elasticsearch(elasticsearch::ElasticsearchOutputConfig),
    /// Records sent as events to a Splunk HTTP Event Collector.
    "splunk" => Splunk(splunk::SplunkOutputConfig),
    /// Messages published to NATS JetStream, each acknowledged.
    "nats" => Nats(nats::NatsOutputConfig),
    /// Messages published to an AMQP 0-9-1 exchange with publisher confirms.
    "amqp" => Amqp(amqp::AmqpOutputConfig),
    /// Entries appended to a Redis stream.
    "redis-stream" => RedisStream(redis_stream::RedisStreamConfig),
    /// Messages published to an MQTT broker with QoS 1.
    "mqtt" => Mqtt(mqtt::MqttOutputConfig),
    /// Rows of a database table (PostgreSQL, MySQL/MariaDB, SQLite): each
    /// record a JSON object, its fields mapped to columns.
    "sql" => Sql(sql::SqlOutputConfig),
}

impl OutputConfig {
    /// Resolves relative file settings (TLS files) against the
    /// configuration file's directory.
    pub fn resolve_paths(&mut self, base_dir: &Path) {
        self.output_mut().resolve_paths(base_dir);
    }

    /// Line-oriented outputs take one line per record.
    pub fn line_oriented(&self) -> bool {
        true
    }

    /// Checks settings that do not depend on the filesystem or the network.
    pub fn validate(&self) -> Result<(), SettingError> {
        self.output().validate()
    }

    /// Whether the output writes under the handler's output directory.
    pub fn needs_directory(&self) -> bool {
        self.output().needs_directory()
    }

    /// Opens the output at `place`.
    pub fn build(&self, place: &OutputPlace<'_>) -> std::io::Result<Box<dyn Sink>> {
        self.output().open(place)
    }

    /// A message-broker output's server and credentials (`None` for the
    /// others).
    pub fn broker_endpoint(&self) -> Option<Result<broker::Endpoint, SettingError>> {
        self.output().broker_endpoint()
    }

    /// [`check_network`] for the network outputs; `Ok` for the others.
    pub fn check_network(&self) -> Result<(), CheckError> {
        self.output().check_network()
    }
}

/// What `wasp config check` can know of a network output before it runs:
/// its files (CA, client certificate) are readable and its host resolves.
/// Whether the receiver answers is a run-time matter (retried).
pub fn check_network(host: &str, port: u16, open: impl FnOnce() -> std::io::Result<()>) -> Result<(), CheckError> {
    use std::net::ToSocketAddrs;
    open().map_err(CheckError::Files)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match (host, port).to_socket_addrs().map(|mut a| a.next().is_some()) {
        Ok(true) => Ok(()),
        Ok(false) => Err(CheckError::NoAddress(host.to_owned())),
        Err(source) => Err(CheckError::Unresolved { host: host.to_owned(), source }),
    }
}

/// [`check_network`] for an output at an `http(s)://` URL (`shown`: the URL
/// as messages may show it).
pub fn check_url(url: &str, shown: &str, open: impl FnOnce() -> std::io::Result<()>) -> Result<(), CheckError> {
    let (host, port) = url_host_port(url).ok_or_else(|| SettingError::new("url", format!("`{shown}` names no host")))?;
    check_network(&host, port, open)
}

/// The host and port of an `http(s)://host[:port]/…` URL (the port
/// defaulting to the scheme's).
pub fn url_host_port(url: &str) -> Option<(String, u16)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let default = if scheme.eq_ignore_ascii_case("https") { 443 } else { 80 };
    if let Some(stripped) = authority.strip_prefix('[') {
        let (host, after) = stripped.split_once(']')?;
        let port = after.strip_prefix(':').map_or(Some(default), |p| p.parse().ok())?;
        return Some((host.to_owned(), port));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => Some((host.to_owned(), port.parse().ok()?)),
        None => Some((authority.to_owned(), default)),
    }
}

/// Where records of one output end up.
pub trait Sink: Send {
    /// Takes one record (buffered until `flush`).
    fn write(&mut self, record: &[u8]) -> std::io::Result<()>;
    /// Delivers everything written so far.
    fn flush(&mut self) -> std::io::Result<()>;
    /// Where the records go, for people (a path, `stdout`).
    fn location(&self) -> String;
    /// Remembers the current end, for `rollback`.
    fn mark(&mut self) {}
    /// Forgets what was written since `mark`, so that a retry does not
    /// write a record twice (outputs that cannot take back what they wrote,
    /// like stdout, do nothing).
    fn rollback(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    /// Starts a new file, keeping the current one under a new name, which
    /// it returns (`None`: the output has nothing to rotate).
    fn rotate(&mut self) -> std::io::Result<Option<String>> {
        Ok(None)
    }
    /// Time-driven work between batches (time-based rotation, retention,
    /// periodic signatures); called at least every
    /// [`tick_interval`](Self::tick_interval).
    fn tick(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    /// How often `tick` wants to run (`None`: never).
    fn tick_interval(&self) -> Option<std::time::Duration> {
        None
    }
    /// Declares that the journal dropped these events (inclusive ranges of
    /// journal sequences) before the handler read them (`drop-oldest`): a
    /// tamper-evident output writes a signed `dropped` record for each, so
    /// the gap is part of its proof; other outputs do nothing.
    fn declare_dropped(&mut self, _ranges: &[(u64, u64)]) -> std::io::Result<()> {
        Ok(())
    }
    /// Whether `error` of this output is transient (a network receiver
    /// that is down): the handler then keeps the batch's events in the
    /// journal and tries them again with a backoff, instead of
    /// dead-lettering them.
    fn retryable(&self, _error: &std::io::Error) -> bool {
        false
    }
    /// The records of the last successful `flush` the receiver refused for
    /// good (their index among the records written since the flush before,
    /// and why): their events are dead-lettered, the others acknowledged.
    fn take_rejected(&mut self) -> Vec<(usize, String)> {
        Vec::new()
    }
    /// Flushes and seals the output when the handler stops.
    fn close(&mut self) -> std::io::Result<()> {
        self.flush()
    }
}

/// Opens the directory `path` (creating it with `create`). With a tenant's
/// output `root`, `path` lies under it and is opened through the root as a
/// capability, so that no `..`, absolute path or symbolic link leads out of
/// it; without, it is opened as it is.
pub(crate) fn open_directory(root: Option<&Path>, path: &Path, create: bool) -> Result<cap_std::fs::Dir, String> {
    use cap_std::{ambient_authority, fs::Dir};
    let ambient = |path: &Path, create: bool| {
        if create {
            std::fs::create_dir_all(path).map_err(|e| format!("cannot create directory {}: {e}", path.display()))?;
        }
        Dir::open_ambient_dir(path, ambient_authority()).map_err(|e| format!("cannot open directory {}: {e}", path.display()))
    };
    let Some(root_path) = root else { return ambient(path, create) };
    let root = ambient(root_path, true)?;
    let escape =
        |e: std::io::Error| format!("directory `{}` is not inside the tenant's output root {}: {e}", path.display(), root_path.display());
    let relative = path.strip_prefix(root_path).unwrap_or(path);
    if relative.as_os_str().is_empty() {
        return Ok(root);
    }
    if create {
        root.create_dir_all(relative).map_err(escape)?;
    }
    root.open_dir(relative).map_err(escape)
}

/// Whether `error` says the disk (or the user's quota) is full: a file
/// output's events then wait in the journal and the write is tried again
/// with a backoff — space may come back (an operator frees it, retention
/// removes an archive) — instead of being dead-lettered to the same full
/// disk.
pub(crate) fn disk_full(error: &std::io::Error) -> bool {
    matches!(error.kind(), std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded)
}

/// Appends `record` as one line (adding the newline if it has none).
pub(crate) fn write_line(out: &mut impl std::io::Write, record: &[u8]) -> std::io::Result<()> {
    out.write_all(record)?;
    if !record.ends_with(b"\n") {
        out.write_all(b"\n")?;
    }
    Ok(())
}
