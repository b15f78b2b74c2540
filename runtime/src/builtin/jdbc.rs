//! `JdbcAuditEventHandler`: events written as rows of database tables
//! ([`crate::outputs::sql`]), configured as in ForgeRock: `databaseType`,
//! `connectionPool` (`jdbcUrl`, `username`, `password`, `driverClassName`,
//! `connectionTimeout`; the pool-sizing settings are accepted), or a
//! route's heap `JdbcDataSource` (its `properties.url` and `username`);
//! `tableMappings` (`event`, `table`, `fieldToColumn`) and `buffering`
//! (`enabled`, `writeInterval`, `maxBatchedEvents`; `maxSize`, `autoFlush`,
//! `writerThreads` accepted).
//!
//! JDBC URLs map to native drivers: `jdbc:postgresql://` to PostgreSQL,
//! `jdbc:mysql://` and `jdbc:mariadb://` to MySQL/MariaDB, and H2
//! (`jdbc:h2:`, `databaseType` `h2`) to an embedded SQLite file under
//! `<dataDirectory>/jdbc/` (see [`SqlTarget::from_url`]).
//!
//! An event of a topic goes to every table mapped to that topic, as one
//! row; `fieldToColumn` must map `_id` (the key that makes a retried insert
//! idempotent).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value};

use super::NativeHandler;
use super::settings::{SettingsError, boolean, duration, integer, object, only, string};
use crate::event::HostEvent;
use crate::outputs::sql::{Dialect, SqlTarget, TableMapping};

/// The settings of a `JdbcAuditEventHandler`.
#[derive(Debug, Clone, PartialEq)]
pub struct JdbcSettings {
    /// `databaseType` as written (`h2` is run by SQLite).
    pub database_type: String,
    /// Where it connects: `None` when neither `connectionPool` nor a heap
    /// `JdbcDataSource` says (ForgeRock allows the data source in a parent
    /// heap): the handler then cannot run, and says so.
    pub target: Option<SqlTarget>,
    /// `tableMappings`, in order.
    pub mappings: Vec<TableMapping>,
    /// `buffering.maxBatchedEvents` (default 100): events per transaction.
    pub max_batched: usize,
    /// `buffering.writeInterval` with `buffering.enabled` (none without):
    /// how long events may wait to be written together.
    pub write_interval: Duration,
}

const POOL_KEYS: &[&str] = &[
    "driverClassName",
    "dataSourceClassName",
    "jdbcUrl",
    "username",
    "password",
    "autoCommit",
    "connectionTimeout",
    "idleTimeout",
    "maxLifetime",
    "minIdle",
    "maxPoolSize",
    "poolName",
];

/// The dialect a JDBC driver or data source class belongs to, for the
/// classes WASP knows (`None`: another class, not checked).
fn class_dialect(class: &str) -> Option<Dialect> {
    let class = class.to_ascii_lowercase();
    if class.contains("postgresql") {
        Some(Dialect::Postgres)
    } else if class.contains("mysql") || class.contains("mariadb") {
        Some(Dialect::MySql)
    } else if class.contains("h2") || class.contains("sqlite") {
        Some(Dialect::Sqlite)
    } else {
        None
    }
}

impl JdbcSettings {
    /// Reads the handler's settings (besides name, topics and enabled); H2
    /// and SQLite files go under `<data_dir>/jdbc`.
    pub fn from_settings(settings: &Map<String, Value>, data_dir: &std::path::Path) -> Result<JdbcSettings, SettingsError> {
        only(settings, "", &["databaseType", "buffering", "connectionPool", "tableMappings"])?;
        let database_type = string(settings, "", "databaseType")?
            .ok_or_else(|| SettingsError::new("databaseType", "required: postgresql, mysql, mariadb, sqlite or h2"))?;
        let dialect = Dialect::from_database_type(&database_type).map_err(|e| SettingsError::new("databaseType", e.to_string()))?;
        let mappings = table_mappings(settings)?;
        let (max_batched, write_interval) = buffering(settings)?;
        let Some(pool) = object(settings, "connectionPool", POOL_KEYS)? else {
            return Ok(JdbcSettings { database_type, target: None, mappings, max_batched, write_interval });
        };
        let url = string(pool, "connectionPool", "jdbcUrl")?
            .ok_or_else(|| SettingsError::new("connectionPool.jdbcUrl", "required: the database's JDBC URL"))?;
        let mut target =
            SqlTarget::from_url(&url, &data_dir.join("jdbc")).map_err(|e| SettingsError::new("connectionPool.jdbcUrl", e.to_string()))?;
        if target.dialect != dialect {
            return Err(SettingsError::new(
                "databaseType",
                format!("`{database_type}` is {}, but connectionPool.jdbcUrl names a {} database", dialect.name(), target.dialect.name()),
            ));
        }
        for key in ["driverClassName", "dataSourceClassName"] {
            if let Some(class) = string(pool, "connectionPool", key)?
                && let Some(other) = class_dialect(&class).filter(|d| *d != dialect)
            {
                return Err(SettingsError::new(
                    format!("connectionPool.{key}"),
                    format!("`{class}` is a {} driver, not {}", other.name(), dialect.name()),
                ));
            }
        }
        if let Some(user) = string(pool, "connectionPool", "username")? {
            target.username = Some(user);
        }
        if let Some(password) = string(pool, "connectionPool", "password")? {
            target.password = Some(password);
        }
        if let Some(ms) = integer(pool, "connectionPool", "connectionTimeout")? {
            if ms <= 0 {
                return Err(SettingsError::new("connectionPool.connectionTimeout", "must be greater than 0 (milliseconds)"));
            }
            target.connect_timeout = Duration::from_millis(ms.min(3_600_000) as u64);
        }
        for key in ["idleTimeout", "maxLifetime", "minIdle", "maxPoolSize"] {
            integer(pool, "connectionPool", key)?;
        }
        boolean(pool, "connectionPool", "autoCommit")?;
        Ok(JdbcSettings { database_type, target: Some(target), mappings, max_batched, write_interval })
    }

    /// Where it connects, or why it cannot.
    pub fn target(&self) -> Result<&SqlTarget, String> {
        self.target.as_ref().ok_or_else(|| NO_DATABASE.to_owned())
    }

    /// The mappings of `topic`, with their index (the output index).
    pub fn mappings_of<'a>(&'a self, topic: &'a str) -> impl Iterator<Item = (usize, &'a TableMapping)> + 'a {
        self.mappings.iter().enumerate().filter(move |(_, m)| m.topic == topic)
    }
}

/// Why a handler without a database cannot run.
pub const NO_DATABASE: &str = "connectionPool: required (with `jdbcUrl`), unless the route's heap declares a JdbcDataSource (one in a parent heap: give WASP the file that declares it)";

/// `buffering`: events per transaction, and how long they may wait.
fn buffering(settings: &Map<String, Value>) -> Result<(usize, Duration), SettingsError> {
    Ok(match object(settings, "buffering", &["enabled", "writeInterval", "autoFlush", "maxBatchedEvents", "maxSize", "writerThreads"])? {
        None => (100, Duration::ZERO),
        Some(b) => {
            let batched = integer(b, "buffering", "maxBatchedEvents")?.unwrap_or(100);
            if batched <= 0 || batched > 100_000 {
                return Err(SettingsError::new("buffering.maxBatchedEvents", "must be between 1 and 100000"));
            }
            for key in ["maxSize", "writerThreads"] {
                if let Some(n) = integer(b, "buffering", key)?
                    && n <= 0
                {
                    return Err(SettingsError::new(format!("buffering.{key}"), "must be greater than 0"));
                }
            }
            boolean(b, "buffering", "autoFlush")?;
            let wait = if boolean(b, "buffering", "enabled")?.unwrap_or(false) {
                let interval = duration(b, "buffering", "writeInterval")?
                    .ok_or_else(|| SettingsError::new("buffering.writeInterval", "required when buffering is enabled"))?;
                if interval.is_zero() {
                    return Err(SettingsError::new("buffering.writeInterval", "must be greater than 0 when buffering is enabled"));
                }
                interval
            } else {
                Duration::ZERO
            };
            (batched as usize, wait)
        }
    })
}

fn table_mappings(settings: &Map<String, Value>) -> Result<Vec<TableMapping>, SettingsError> {
    let list = match settings.get("tableMappings") {
        Some(Value::Array(list)) if !list.is_empty() => list,
        Some(Value::Array(_)) | None | Some(Value::Null) => {
            return Err(SettingsError::new("tableMappings", "required: at least one {\"event\", \"table\", \"fieldToColumn\"}"));
        }
        Some(_) => {
            return Err(SettingsError::new("tableMappings", "expected an array of {\"event\", \"table\", \"fieldToColumn\"}"));
        }
    };
    let mut mappings = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let at = format!("tableMappings[{i}]");
        let Value::Object(item) = item else {
            return Err(SettingsError::new(at, "expected an object"));
        };
        only(item, &at, &["event", "table", "fieldToColumn"])?;
        let topic = string(item, &at, "event")?.ok_or_else(|| SettingsError::new(format!("{at}.event"), "required: the topic"))?;
        let table = string(item, &at, "table")?.ok_or_else(|| SettingsError::new(format!("{at}.table"), "required: the table"))?;
        let columns = match item.get("fieldToColumn") {
            Some(Value::Object(map)) => map
                .iter()
                .map(|(field, column)| match column {
                    Value::String(c) => Ok((field.clone(), c.clone())),
                    _ => Err(SettingsError::new(format!("{at}.fieldToColumn.{field}"), "expected a column name")),
                })
                .collect::<Result<Vec<_>, _>>()?,
            _ => {
                return Err(SettingsError::new(format!("{at}.fieldToColumn"), "required: an object of event fields to column names"));
            }
        };
        let mapping = TableMapping::new(&topic, &table, columns, "_id").map_err(|(key, m)| SettingsError::new(format!("{at}.{key}"), m))?;
        mappings.push(mapping);
    }
    Ok(mappings)
}

/// Routes each event to the tables of its topic (the record is the event).
#[derive(Debug)]
pub struct JdbcHandler {
    /// Output indexes by topic.
    pub outputs: BTreeMap<String, Vec<usize>>,
}

impl JdbcHandler {
    /// The handler of `settings`.
    pub fn new(settings: &JdbcSettings) -> JdbcHandler {
        let mut outputs: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, m) in settings.mappings.iter().enumerate() {
            outputs.entry(m.topic.clone()).or_default().push(i);
        }
        JdbcHandler { outputs }
    }
}

impl NativeHandler for JdbcHandler {
    fn record(&mut self, event: &HostEvent) -> Result<Vec<(usize, Vec<u8>)>, String> {
        let outputs = self
            .outputs
            .get(&event.topic)
            .ok_or_else(|| format!("no table mapping for topic `{}` (add one to tableMappings)", event.topic))?;
        Ok(outputs.iter().map(|i| (*i, event.json.clone().into_bytes())).collect())
    }
}

impl JdbcSettings {
    /// The handler with one table output per mapping, sharing one
    /// connection pool.
    pub(crate) fn open(&self) -> super::Opened {
        let outputs = self
            .target()
            .cloned()
            .and_then(|target| crate::outputs::sql::SqlClient::new(target).map_err(|e| e.to_string()))
            .map(|client| {
                let client = std::sync::Arc::new(client);
                self.mappings
                    .iter()
                    .map(|mapping| {
                        let sink = crate::outputs::sql::SqlSink::new(client.clone(), mapping.clone(), self.max_batched);
                        let location = crate::outputs::Sink::location(&sink);
                        super::OpenedOutput { name: mapping.table.clone(), kind: "jdbc", location, sink: Box::new(sink) }
                    })
                    .collect()
            })
            .map_err(|e| format!("the JDBC output: {e}"));
        super::Opened {
            handler: Box::new(JdbcHandler::new(self)),
            outputs,
            batch_max_size: self.max_batched,
            batch_max_wait: self.write_interval,
        }
    }

    /// What `wasp config check` says of the handler of `topics`; the
    /// database is probed when `enabled`.
    pub(crate) fn check(&self, topics: &[String], enabled: bool) -> super::Checked {
        let mut checked = super::Checked::default();
        let mapped = if self.database_type.eq_ignore_ascii_case("h2") { "; databaseType h2 is run by SQLite" } else { "" };
        match &self.target {
            Some(t) => {
                checked.lines.push(format!("jdbc {} ({}{mapped}), {} events a transaction", t.shown(), t.dialect.name(), self.max_batched))
            }
            None => checked.problems.push(NO_DATABASE.to_owned()),
        }
        for m in &self.mappings {
            checked.lines.push(format!("  {} -> table {} (key column {})", m.topic, m.table, m.key_column()));
        }
        for topic in topics.iter().filter(|t| self.mappings_of(t).next().is_none()) {
            checked.problems.push(format!("tableMappings: topic `{topic}` has no table mapping (its events would be dead-lettered)"));
        }
        if let Some((host, port)) = self.target.as_ref().and_then(|t| t.host_port()) {
            checked.probe(enabled, || {
                crate::outputs::check_network(host, port, || Ok(())).map_err(|e| format!("connectionPool.jdbcUrl: {e}"))
            });
        }
        checked
    }
}
