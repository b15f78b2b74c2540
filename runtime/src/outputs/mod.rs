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

/// One output a WASM handler declares, by `type`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum OutputConfig {
    /// JSON lines appended to a file under the handler's directory.
    File(file::FileConfig),
    /// Lines written to the process's standard output.
    Stdout(stdout::StdoutConfig),
    /// RFC 5424 messages to a syslog daemon, each record their MSG.
    Syslog(syslog::SyslogOutputConfig),
    /// Batches of records POSTed to an HTTP endpoint.
    Http(http::HttpOutputConfig),
    /// Records (JSON objects) indexed in Elasticsearch or OpenSearch.
    Elasticsearch(elasticsearch::ElasticsearchOutputConfig),
    /// Records sent as events to a Splunk HTTP Event Collector.
    Splunk(splunk::SplunkOutputConfig),
    /// Messages published to NATS JetStream, each acknowledged.
    Nats(nats::NatsOutputConfig),
    /// Messages published to an AMQP 0-9-1 exchange with publisher confirms.
    Amqp(amqp::AmqpOutputConfig),
    /// Entries appended to a Redis stream.
    RedisStream(redis_stream::RedisStreamConfig),
    /// Messages published to an MQTT broker with QoS 1.
    Mqtt(mqtt::MqttOutputConfig),
    /// Rows of a database table (PostgreSQL, MySQL/MariaDB, SQLite): each
    /// record a JSON object, its fields mapped to columns.
    Sql(sql::SqlOutputConfig),
}

impl OutputConfig {
    /// The output's type name, as in the configuration.
    pub fn kind(&self) -> &'static str {
        match self {
            OutputConfig::File(_) => "file",
            OutputConfig::Stdout(_) => "stdout",
            OutputConfig::Syslog(_) => "syslog",
            OutputConfig::Http(_) => "http",
            OutputConfig::Elasticsearch(_) => "elasticsearch",
            OutputConfig::Splunk(_) => "splunk",
            OutputConfig::Nats(_) => "nats",
            OutputConfig::Amqp(_) => "amqp",
            OutputConfig::RedisStream(_) => "redis-stream",
            OutputConfig::Mqtt(_) => "mqtt",
            OutputConfig::Sql(_) => "sql",
        }
    }

    /// Resolves relative file settings (TLS files) against the
    /// configuration file's directory.
    pub fn resolve_paths(&mut self, base_dir: &Path) {
        match self {
            OutputConfig::Syslog(c) => c.resolve_paths(base_dir),
            OutputConfig::Http(c) => c.resolve_paths(base_dir),
            OutputConfig::Elasticsearch(c) => c.resolve_paths(base_dir),
            OutputConfig::Splunk(c) => c.resolve_paths(base_dir),
            OutputConfig::File(_)
            | OutputConfig::Stdout(_)
            | OutputConfig::Nats(_)
            | OutputConfig::Amqp(_)
            | OutputConfig::RedisStream(_)
            | OutputConfig::Mqtt(_)
            | OutputConfig::Sql(_) => {}
        }
    }

    /// Line-oriented outputs take one line per record.
    pub fn line_oriented(&self) -> bool {
        true
    }

    /// Checks settings that do not depend on the filesystem; the message
    /// names the offending field.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            OutputConfig::File(c) => c.validate(),
            OutputConfig::Stdout(_) => Ok(()),
            OutputConfig::Syslog(c) => c.validate(),
            OutputConfig::Http(c) => c.validate(),
            OutputConfig::Elasticsearch(c) => c.validate(),
            OutputConfig::Splunk(c) => c.validate(),
            OutputConfig::Nats(c) => c.validate(),
            OutputConfig::Amqp(c) => c.validate(),
            OutputConfig::RedisStream(c) => c.validate(),
            OutputConfig::Mqtt(c) => c.validate(),
            OutputConfig::Sql(c) => c.validate(),
        }
    }

    /// Opens the output inside `dir`, the handler's output directory (a
    /// capability: the output cannot reach outside it); `shown` names `dir`
    /// for people.
    /// With `sync`, a flush also syncs the file to disk (the `fsync`
    /// journal durability).
    pub fn build(&self, dir: &cap_std::fs::Dir, shown: &Path, sync: bool) -> std::io::Result<Box<dyn Sink>> {
        Ok(match self {
            OutputConfig::File(c) => Box::new(file::FileSink::open(c, dir, shown, sync)?),
            OutputConfig::Stdout(c) => Box::new(stdout::StdoutSink::new(c)),
            OutputConfig::Syslog(c) => Box::new(syslog::FramedSyslogSink::new(c)?),
            OutputConfig::Http(c) => Box::new(http::HttpSink::new(c)?),
            OutputConfig::Elasticsearch(c) => Box::new(elasticsearch::ElasticsearchSink::for_documents(c.target(), c.index.clone())?),
            OutputConfig::Splunk(c) => Box::new(splunk::SplunkSink::new(c.target())?),
            OutputConfig::Sql(c) => {
                let invalid = |m: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, m);
                let client = sql::SqlClient::new(c.target(shown).map_err(invalid)?)?;
                Box::new(sql::SqlSink::new(std::sync::Arc::new(client), c.mapping().map_err(invalid)?, 10_000))
            }
            OutputConfig::Nats(_) | OutputConfig::Amqp(_) | OutputConfig::RedisStream(_) | OutputConfig::Mqtt(_) => {
                self.build_broker().expect("a broker output")?
            }
        })
    }

    /// Opens a message-broker output (`None` for the others). It connects
    /// at its first flush.
    pub fn build_broker(&self) -> Option<std::io::Result<Box<dyn Sink>>> {
        fn boxed<S: Sink + 'static>(sink: std::io::Result<S>) -> std::io::Result<Box<dyn Sink>> {
            sink.map(|s| Box::new(s) as Box<dyn Sink>)
        }
        Some(match self {
            OutputConfig::Nats(c) => boxed(nats::NatsSink::new(c)),
            OutputConfig::Amqp(c) => boxed(amqp::AmqpSink::new(c)),
            OutputConfig::RedisStream(c) => boxed(redis_stream::RedisStreamSink::new(c)),
            OutputConfig::Mqtt(c) => boxed(mqtt::MqttSink::new(c)),
            OutputConfig::File(_)
            | OutputConfig::Stdout(_)
            | OutputConfig::Syslog(_)
            | OutputConfig::Http(_)
            | OutputConfig::Elasticsearch(_)
            | OutputConfig::Splunk(_)
            | OutputConfig::Sql(_) => return None,
        })
    }

    /// A message-broker output's server and credentials (`None` for the
    /// others).
    pub fn broker_endpoint(&self) -> Option<Result<broker::Endpoint, String>> {
        Some(match self {
            OutputConfig::Nats(c) => c.endpoint(),
            OutputConfig::Amqp(c) => c.endpoint(),
            OutputConfig::RedisStream(c) => c.endpoint(),
            OutputConfig::Mqtt(c) => c.endpoint(),
            OutputConfig::File(_)
            | OutputConfig::Stdout(_)
            | OutputConfig::Syslog(_)
            | OutputConfig::Http(_)
            | OutputConfig::Elasticsearch(_)
            | OutputConfig::Splunk(_)
            | OutputConfig::Sql(_) => return None,
        })
    }
}

/// What `wasp config check` can know of a network output before it runs:
/// its files (CA, client certificate) are readable and its host resolves.
/// Whether the receiver answers is a run-time matter (retried).
pub fn check_network(host: &str, port: u16, open: impl FnOnce() -> std::io::Result<()>) -> Result<(), String> {
    use std::net::ToSocketAddrs;
    open().map_err(|e| e.to_string())?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match (host, port).to_socket_addrs().map(|mut a| a.next().is_some()) {
        Ok(true) => Ok(()),
        Ok(false) => Err(format!("the host `{host}` resolves to no address")),
        Err(e) => Err(format!("the host `{host}` does not resolve: {e}")),
    }
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

impl OutputConfig {
    /// [`check_network`] for the network outputs; `Ok` for the others.
    pub fn check_network(&self) -> Result<(), String> {
        match self {
            OutputConfig::File(_) | OutputConfig::Stdout(_) => Ok(()),
            OutputConfig::Syslog(c) => {
                let target = c.target();
                check_network(&target.host, target.port, || syslog::SyslogSink::new(target.clone()).map(drop))
            }
            OutputConfig::Http(c) => {
                let (host, port) = url_host_port(&c.url).ok_or_else(|| format!("url: `{}` names no host", c.shown_url()))?;
                check_network(&host, port, || http::HttpSink::new(c).map(drop))
            }
            OutputConfig::Elasticsearch(c) => {
                let (host, port) = url_host_port(&c.url).ok_or_else(|| format!("url: `{}` names no host", c.url))?;
                check_network(&host, port, || elasticsearch::ElasticsearchSink::new(c.target()).map(drop))
            }
            OutputConfig::Splunk(c) => {
                let (host, port) = url_host_port(&c.url).ok_or_else(|| format!("url: `{}` names no host", c.url))?;
                check_network(&host, port, || splunk::SplunkSink::new(c.target()).map(drop))
            }
            OutputConfig::Sql(c) => {
                let target = c.target(Path::new("."))?;
                match target.host_port() {
                    Some((host, port)) => check_network(host, port, || Ok(())),
                    None => Ok(()),
                }
            }
            OutputConfig::Nats(_) | OutputConfig::Amqp(_) | OutputConfig::RedisStream(_) | OutputConfig::Mqtt(_) => {
                self.broker_endpoint().expect("a broker output")?.check_network()
            }
        }
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
