//! `wasp.fleet`: the NATS JetStream servers, the stream and the role of
//! this process (see `docs/fleet.md`).

use std::time::Duration;

use crate::outputs::SettingError;

/// What a `wasp run` process does in a fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything in one process, no NATS (the default).
    Single,
    /// Accepts events (HTTP, `publish`) and forwards each to JetStream;
    /// runs no handler.
    Edge,
    /// Runs the handlers on events pulled from JetStream; accepts none.
    Worker,
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        match s {
            "single" => Ok(Role::Single),
            "edge" => Ok(Role::Edge),
            "worker" => Ok(Role::Worker),
            other => Err(format!("`{other}` is not a role (single, edge or worker)")),
        }
    }
}

/// The stream's retention policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Retention {
    /// Messages are kept until `maxAge`/`maxBytes` (default): a handler
    /// added later, or a replay, can read them again.
    Limits,
    /// Messages are removed once every consumer acknowledged them.
    Interest,
}

/// `wasp.fleet`.
#[derive(Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FleetConfig {
    /// The role of `wasp run` (`single`, `edge`, `worker`); `--role`
    /// overrides it. Default: `single` (no NATS at all).
    #[serde(default)]
    pub role: Option<Role>,
    /// The NATS servers, `nats://host[:port]` (any of a cluster's; the
    /// client finds the others). Default: `["nats://127.0.0.1:4222"]`.
    #[serde(default)]
    pub servers: Vec<String>,
    /// User name for the servers.
    #[serde(default)]
    pub username: Option<String>,
    /// Password for the servers (never logged).
    #[serde(default)]
    pub password: Option<String>,
    /// The JetStream stream holding the events; created when missing.
    /// Default: `AUDIT`.
    #[serde(default)]
    pub stream: Option<String>,
    /// The subjects the stream captures. Default: `["audit.>"]`; edges
    /// publish on `audit.<tenant, or _>.<topic>`, so they must be covered.
    #[serde(default)]
    pub subjects: Vec<String>,
    /// `limits` (default) or `interest`.
    #[serde(default)]
    pub retention: Option<Retention>,
    /// Seconds a message is kept (0 or absent: no limit).
    #[serde(default)]
    pub max_age: Option<u64>,
    /// Bytes the stream may hold (absent: no limit); past it the oldest
    /// messages are discarded.
    #[serde(default)]
    pub max_bytes: Option<i64>,
    /// Copies of each message in a cluster (1 to 5). Default: 1.
    #[serde(default)]
    pub replicas: Option<usize>,
    /// Seconds within which a message id (`Nats-Msg-Id` = the event's
    /// `_id`) is stored once: an edge re-sending after a lost PubAck does
    /// not make a duplicate. Default: 120.
    #[serde(default)]
    pub duplicate_window: Option<u64>,
    /// Seconds a worker may hold a message before JetStream gives it to
    /// another worker (it sends "in progress" while its handler retries).
    /// Default: 30.
    #[serde(default)]
    pub ack_wait: Option<u64>,
    /// Messages a worker fetches at once per handler. Default: 256.
    #[serde(default)]
    pub batch: Option<usize>,
    /// Whether a WebAssembly handler's `state` is shared by every worker
    /// (a JetStream key-value bucket `wasp-state-<handler>`, created when
    /// missing, with `replicas` copies) or kept by each worker to itself.
    /// Default: `true`.
    #[serde(default)]
    pub shared_state: Option<bool>,
    /// Handlers (by name; `tenant/name` for a tenant's) that see their
    /// events in stream order across the whole fleet: their consumer hands
    /// out one batch at a time (`batch` messages unacknowledged at most),
    /// so workers take turns instead of working in parallel. Default: none.
    #[serde(default)]
    pub ordered: Vec<String>,
}

impl std::fmt::Debug for FleetConfig {
    // The password is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetConfig")
            .field("role", &self.role)
            .field("servers", &self.servers)
            .field("stream", &self.stream_name())
            .field("subjects", &self.subjects())
            .finish_non_exhaustive()
    }
}

impl FleetConfig {
    /// The stream's name.
    pub fn stream_name(&self) -> &str {
        self.stream.as_deref().unwrap_or("AUDIT")
    }

    /// The stream's subjects.
    pub fn subjects(&self) -> Vec<String> {
        if self.subjects.is_empty() { vec!["audit.>".to_owned()] } else { self.subjects.clone() }
    }

    /// The servers, comma-separated, as the client takes them.
    pub fn server_list(&self) -> String {
        if self.servers.is_empty() { "nats://127.0.0.1:4222".to_owned() } else { self.servers.join(",") }
    }

    /// `ackWait`.
    pub fn ack_wait(&self) -> Duration {
        Duration::from_secs(self.ack_wait.unwrap_or(30))
    }

    /// `batch`.
    pub fn batch(&self) -> usize {
        self.batch.unwrap_or(256)
    }

    /// Whether handler `qualified` is in `ordered`.
    pub fn is_ordered(&self, qualified: &str) -> bool {
        self.ordered.iter().any(|h| h == qualified)
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<(), SettingError> {
        for server in &self.servers {
            crate::outputs::broker::Endpoint::parse(server, "nats", None, None).map_err(|e| SettingError::new("servers", e.to_string()))?;
        }
        let stream = self.stream_name();
        if stream.is_empty() || stream.contains([' ', '\t', '.', '*', '>', '/', '\\']) {
            return Err(SettingError::new("stream", format!("`{stream}` is not a stream name (no spaces, `.`, `*`, `>`, `/`, `\\`)")));
        }
        for subject in &self.subjects {
            if subject.is_empty() || subject.contains([' ', '\t']) || subject.split('.').any(str::is_empty) {
                return Err(SettingError::new("subjects", format!("`{subject}` is not a subject")));
            }
        }
        if !self.subjects.is_empty() && !self.subjects.iter().any(|s| s == "audit.>" || s == ">") {
            return Err(SettingError::new("subjects", "must contain `audit.>` (edges publish on audit.<tenant>.<topic>)"));
        }
        if let Some(r) = self.replicas
            && !(1..=5).contains(&r)
        {
            return Err(SettingError::new("replicas", format!("{r} is not between 1 and 5")));
        }
        if self.max_bytes.is_some_and(|b| b <= 0) {
            return Err(SettingError::new("maxBytes", "must be greater than 0"));
        }
        if self.duplicate_window == Some(0) {
            return Err(SettingError::new("duplicateWindow", "must be greater than 0"));
        }
        if self.ack_wait == Some(0) {
            return Err(SettingError::new("ackWait", "must be greater than 0"));
        }
        if self.batch == Some(0) {
            return Err(SettingError::new("batch", "must be greater than 0"));
        }
        Ok(())
    }

    /// The stream as WASP creates it.
    pub fn stream_config(&self) -> async_nats::jetstream::stream::Config {
        use async_nats::jetstream::stream;
        stream::Config {
            name: self.stream_name().to_owned(),
            subjects: self.subjects(),
            retention: match self.retention.unwrap_or(Retention::Limits) {
                Retention::Limits => stream::RetentionPolicy::Limits,
                Retention::Interest => stream::RetentionPolicy::Interest,
            },
            max_age: Duration::from_secs(self.max_age.unwrap_or(0)),
            max_bytes: self.max_bytes.unwrap_or(-1),
            num_replicas: self.replicas.unwrap_or(1),
            duplicate_window: Duration::from_secs(self.duplicate_window.unwrap_or(120)),
            storage: stream::StorageType::File,
            ..Default::default()
        }
    }
}
