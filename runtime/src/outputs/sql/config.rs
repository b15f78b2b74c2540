//! Where a SQL output connects ([`SqlTarget`], from a JDBC URL or a native
//! one) and how records become rows ([`TableMapping`]); the `sql` output of
//! WASM handlers ([`SqlOutputConfig`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// The database kinds WASP writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// PostgreSQL (`jdbc:postgresql://`).
    Postgres,
    /// MySQL or MariaDB (`jdbc:mysql://`, `jdbc:mariadb://`).
    MySql,
    /// SQLite, embedded: a file (`jdbc:sqlite:`, and H2's `jdbc:h2:` URLs).
    Sqlite,
}

impl Dialect {
    /// The database's name, for people.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Postgres => "PostgreSQL",
            Dialect::MySql => "MySQL/MariaDB",
            Dialect::Sqlite => "SQLite",
        }
    }

    /// The `n`-th (from 1) bind parameter.
    pub fn placeholder(self, n: usize) -> String {
        match self {
            Dialect::Postgres => format!("${n}"),
            Dialect::MySql | Dialect::Sqlite => "?".to_owned(),
        }
    }

    /// A checked identifier, quoted. `schema.table` is a table of a schema
    /// (PostgreSQL), of a database (MySQL); SQLite has no schemas of that
    /// kind: there the whole name, dot included, is the table's name.
    pub fn quote(self, name: &str) -> String {
        let one = |part: &str| match self {
            Dialect::MySql => format!("`{part}`"),
            Dialect::Postgres | Dialect::Sqlite => format!("\"{part}\""),
        };
        match (self, name.split_once('.')) {
            (Dialect::Postgres | Dialect::MySql, Some((schema, table))) => {
                format!("{}.{}", one(schema), one(table))
            }
            _ => one(name),
        }
    }

    /// The dialect of a ForgeRock `databaseType`.
    pub fn from_database_type(name: &str) -> Result<Dialect, UnsupportedDatabase> {
        Ok(match name.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" => Dialect::Postgres,
            "mysql" | "mariadb" => Dialect::MySql,
            "h2" | "sqlite" => Dialect::Sqlite,
            other => return Err(UnsupportedDatabase(other.to_owned())),
        })
    }
}

/// A `databaseType` WASP does not drive.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not supported (postgresql, mysql, mariadb, sqlite, or h2, which WASP maps to SQLite)")]
pub struct UnsupportedDatabase(pub String);

/// A table name that is not a plain identifier or `schema.table`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a table name (letters, digits, `_`, `$`, optionally `schema.table`)")]
pub struct NotATable(pub String);

/// Whether `name` is a plain SQL identifier: a letter or `_`, then letters,
/// digits, `_` or `$`, at most 63 characters (so that it needs no escaping
/// and fits every database's limit).
pub fn plain_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        && name.len() <= 63
}

/// Checks a table name: an identifier, or `schema.table`.
pub fn check_table(name: &str) -> Result<(), NotATable> {
    let ok = match name.split_once('.') {
        Some((schema, table)) => plain_identifier(schema) && plain_identifier(table),
        None => plain_identifier(name),
    };
    if ok { Ok(()) } else { Err(NotATable(name.to_owned())) }
}

/// Where a SQL output connects. Its `Debug` never shows the password.
#[derive(Clone, PartialEq)]
pub struct SqlTarget {
    /// The kind of database.
    pub dialect: Dialect,
    /// The server and database, or the SQLite file.
    pub location: Location,
    /// The user to connect as (servers).
    pub username: Option<String>,
    /// The user's password.
    pub password: Option<String>,
    /// How long to wait for a connection before the attempt fails (and is
    /// retried): `connectionPool.connectionTimeout`, default 30 s.
    pub connect_timeout: Duration,
}

impl std::fmt::Debug for SqlTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlTarget")
            .field("dialect", &self.dialect)
            .field("location", &self.location)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

/// A database server and database, or a SQLite file.
#[derive(Debug, Clone, PartialEq)]
pub enum Location {
    /// A server.
    Server {
        /// Host name or address.
        host: String,
        /// TCP port.
        port: u16,
        /// The database.
        database: String,
    },
    /// A SQLite database file (created when missing).
    File(PathBuf),
}

impl SqlTarget {
    /// Reads a JDBC URL (`jdbc:postgresql://host[:port]/db`,
    /// `jdbc:mysql://…`, `jdbc:mariadb://…`, `jdbc:h2:…`, `jdbc:sqlite:PATH`)
    /// or the same without `jdbc:` (`postgresql://`, `postgres://`,
    /// `mysql://`, `mariadb://`, `sqlite:PATH`). `user` and `password`
    /// query parameters are taken; other parameters are ignored.
    ///
    /// H2 URLs name a SQLite file: an absolute file path
    /// (`jdbc:h2:/var/db/audit`, `jdbc:h2:file:/var/db/audit`) becomes
    /// that path with `.sqlite` appended; any other (`jdbc:h2:tcp://host/~/test`,
    /// `jdbc:h2:mem:test`, `jdbc:h2:~/test`) becomes
    /// `<files_dir>/<last name>.sqlite`. A relative `sqlite:` path resolves
    /// against `files_dir`.
    pub fn from_url(url: &str, files_dir: &Path) -> Result<SqlTarget, SqlUrlError> {
        let shown = || redact_url(url);
        let bare = url.strip_prefix("jdbc:").unwrap_or(url);
        let (scheme, rest) = bare.split_once(':').ok_or_else(|| SqlUrlError::NotAUrl(shown()))?;
        let target =
            |dialect, location| SqlTarget { dialect, location, username: None, password: None, connect_timeout: Duration::from_secs(30) };
        match scheme.to_ascii_lowercase().as_str() {
            "postgresql" | "postgres" => server(Dialect::Postgres, rest, 5432, url),
            "mysql" | "mariadb" => server(Dialect::MySql, rest, 3306, url),
            "sqlite" => {
                let path = rest.trim_start_matches("//");
                let path = path.split(['?', ';']).next().unwrap_or_default();
                if path.is_empty() || path.contains(":memory:") {
                    return Err(SqlUrlError::InMemory(shown()));
                }
                Ok(target(Dialect::Sqlite, Location::File(files_dir.join(path))))
            }
            "h2" => {
                let path = rest.split(';').next().unwrap_or_default();
                let path = path.strip_prefix("file:").unwrap_or(path);
                let absolute = !path.contains("://") && !path.starts_with("mem:") && path.starts_with('/');
                let name = path.rsplit(['/', ':', '\\']).find(|p| !p.is_empty() && *p != "~").unwrap_or("audit");
                let file = if absolute { PathBuf::from(format!("{path}.sqlite")) } else { files_dir.join(format!("{name}.sqlite")) };
                Ok(target(Dialect::Sqlite, Location::File(file)))
            }
            "oracle" | "sqlserver" | "db2" => Err(SqlUrlError::Unsupported { url: shown(), scheme: scheme.to_owned() }),
            _ => Err(SqlUrlError::Unknown(shown())),
        }
    }

    /// The database, for people and errors (never the password).
    pub fn shown(&self) -> String {
        match &self.location {
            Location::Server { host, port, database } => {
                let scheme = if self.dialect == Dialect::Postgres { "postgresql" } else { "mysql" };
                format!("{scheme}://{host}:{port}/{database}")
            }
            Location::File(path) => format!("sqlite:{}", path.display()),
        }
    }

    /// The URL the driver connects with (credentials included).
    pub(crate) fn connect_url(&self) -> String {
        match &self.location {
            Location::Server { host, port, database } => {
                let scheme = if self.dialect == Dialect::Postgres { "postgres" } else { "mysql" };
                let user = self.username.as_deref().map(encode).unwrap_or_default();
                let credentials = match (&self.username, self.password.as_deref().filter(|p| !p.is_empty())) {
                    (Some(_), Some(p)) => format!("{user}:{}@", encode(p)),
                    (Some(_), None) => format!("{user}@"),
                    (None, _) => String::new(),
                };
                let host = if host.contains(':') { format!("[{host}]") } else { host.clone() };
                format!("{scheme}://{credentials}{host}:{port}/{}", encode(database))
            }
            Location::File(path) => format!("sqlite://{}?mode=rwc", path.display()),
        }
    }

    /// The server's host and port (`None` for a file).
    pub fn host_port(&self) -> Option<(&str, u16)> {
        match &self.location {
            Location::Server { host, port, .. } => Some((host, *port)),
            Location::File(_) => None,
        }
    }
}

/// A database URL that could not be read; `url` is shown without its
/// password (in the user info or a `password=` parameter).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SqlUrlError {
    /// No scheme.
    #[error("`{0}` is not a database URL")]
    NotAUrl(String),
    /// An SQLite URL without a file.
    #[error("`{0}` names no database file (an in-memory database would lose every event at a restart)")]
    InMemory(String),
    /// A database WASP does not drive.
    #[error("`{url}`: {scheme} is not supported (PostgreSQL, MySQL/MariaDB, SQLite, or H2 mapped to SQLite)")]
    Unsupported {
        /// The URL.
        url: String,
        /// Its scheme.
        scheme: String,
    },
    /// An unknown scheme.
    #[error("`{0}` is not a PostgreSQL, MySQL/MariaDB, SQLite or H2 URL")]
    Unknown(String),
    /// No `//host`.
    #[error("`{0}`: expected `//host[:port]/database` after the scheme")]
    NoAuthority(String),
    /// An IPv6 host without its `]`.
    #[error("`{0}`: unclosed `[`")]
    Unclosed(String),
    /// A port that is not 1 to 65535.
    #[error("`{url}`: `{port}` is not a port")]
    Port {
        /// The URL.
        url: String,
        /// The port as written.
        port: String,
    },
    /// Not one host name or address.
    #[error("`{url}`: `{host}` is not a host name or address (one host only)")]
    Host {
        /// The URL.
        url: String,
        /// The host as written.
        host: String,
    },
    /// No database name.
    #[error("`{0}` names no database (`…/database`)")]
    NoDatabase(String),
}

/// `url` without its password: `user:***@` in the user info, `password=***`
/// among the parameters.
fn redact_url(url: &str) -> String {
    let url = crate::outputs::broker::redact(url);
    let Some((head, params)) = url.split_once('?') else { return url };
    let params: Vec<String> = params
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{head}?{}", params.join("&"))
}

fn server(dialect: Dialect, rest: &str, default_port: u16, url: &str) -> Result<SqlTarget, SqlUrlError> {
    let shown = || redact_url(url);
    let rest = rest.strip_prefix("//").ok_or_else(|| SqlUrlError::NoAuthority(shown()))?;
    let (address, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let (database, params) = tail.split_once('?').unwrap_or((tail, ""));
    let address = address.rsplit_once('@').map_or(address, |(_, a)| a);
    let (host, port) = if let Some(v6) = address.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or_else(|| SqlUrlError::Unclosed(shown()))?;
        (host, after.strip_prefix(':'))
    } else {
        match address.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (address, None),
        }
    };
    let port = match port {
        None | Some("") => default_port,
        Some(p) => p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| SqlUrlError::Port { url: shown(), port: p.to_owned() })?,
    };
    let host = if host.is_empty() { "localhost" } else { host };
    if host.contains(['/', ' ', '@', ',']) {
        return Err(SqlUrlError::Host { url: shown(), host: host.to_owned() });
    }
    let database = database.split(';').next().unwrap_or_default();
    if database.is_empty() {
        return Err(SqlUrlError::NoDatabase(shown()));
    }
    let mut target = SqlTarget {
        dialect,
        location: Location::Server { host: host.to_owned(), port, database: database.to_owned() },
        username: None,
        password: None,
        connect_timeout: Duration::from_secs(30),
    };
    for pair in params.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "user" => target.username = Some(value.to_owned()),
            "password" => target.password = Some(value.to_owned()),
            _ => {}
        }
    }
    Ok(target)
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// How the records of one topic (or one output) become rows: a table and
/// its columns, each filled from a JSON pointer of the record.
#[derive(Debug, Clone, PartialEq)]
pub struct TableMapping {
    /// The topic whose events go to this table (`event` in ForgeRock);
    /// empty for a WASM handler's output.
    pub topic: String,
    /// The table, `name` or `schema.name`, as configured.
    pub table: String,
    /// `(pointer, column)`: the record's field (a JSON pointer without its
    /// leading `/`, `http/request/headers`) and the column it fills.
    /// Objects and arrays are stored as their JSON text, numbers and
    /// booleans as their JSON text, absent fields and `null` as `NULL`.
    pub columns: Vec<(String, String)>,
    /// The index in `columns` of the key: the column filled from `_id`
    /// (its primary key makes a retried insert change nothing).
    pub key: usize,
}

impl TableMapping {
    /// Checks and builds a mapping; `key_pointer` is the pointer of the
    /// idempotency key (`_id`). Errors name the setting (`table`,
    /// `fieldToColumn`) and the cause.
    pub fn new(
        topic: &str,
        table: &str,
        columns: Vec<(String, String)>,
        key_pointer: &str,
    ) -> Result<TableMapping, (&'static str, String)> {
        check_table(table).map_err(|e| ("table", e.to_string()))?;
        if columns.is_empty() {
            return Err(("fieldToColumn", "required: at least one field and its column".into()));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (pointer, column) in &columns {
            if !plain_identifier(column) {
                return Err(("fieldToColumn", format!("`{column}` (for `{pointer}`) is not a column name (letters, digits, `_`, `$`)")));
            }
            if !seen.insert(column.to_ascii_lowercase()) {
                return Err(("fieldToColumn", format!("column `{column}` is filled twice")));
            }
            if pointer.trim_start_matches('/').is_empty() {
                return Err(("fieldToColumn", format!("column `{column}`: the field is empty")));
            }
        }
        let key_pointer = key_pointer.trim_start_matches('/');
        let key = columns.iter().position(|(p, _)| p.trim_start_matches('/') == key_pointer).ok_or_else(|| {
            ("fieldToColumn", format!("map `{key_pointer}` to a column: it is the key that makes a retried insert idempotent"))
        })?;
        let columns = columns.into_iter().map(|(p, c)| (p.trim_start_matches('/').to_owned(), c)).collect();
        Ok(TableMapping { topic: topic.to_owned(), table: table.to_owned(), columns, key })
    }

    /// The key column's name.
    pub fn key_column(&self) -> &str {
        &self.columns[self.key].1
    }
}

/// A WASM handler's `sql` output: each record the handler writes to it is a
/// JSON object that becomes one row of `table`.
#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SqlOutputConfig {
    /// The database: `postgresql://host:port/db`, `mysql://…` (MariaDB
    /// too), or `sqlite:FILE` (relative to the handler's directory, and
    /// inside it); the `jdbc:` forms are accepted too.
    pub url: String,
    /// The user to connect as (PostgreSQL, MySQL/MariaDB).
    #[serde(default)]
    pub username: Option<String>,
    /// The user's password (never logged nor printed by `config check`).
    #[serde(default)]
    pub password: Option<String>,
    /// The table (`name` or `schema.name`); `wasp db init` creates it.
    pub table: String,
    /// Which field of the record fills which column: JSON pointers (with
    /// or without the leading `/`) to column names.
    pub columns: BTreeMap<String, String>,
    /// The field that identifies a record (default `_id`): its column is the
    /// table's primary key, so that a retry never adds a row twice.
    #[serde(default = "default_key")]
    pub key: String,
}

fn default_key() -> String {
    "_id".to_owned()
}

impl std::fmt::Debug for SqlOutputConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlOutputConfig")
            .field("url", &self.url)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("table", &self.table)
            .field("columns", &self.columns)
            .field("key", &self.key)
            .finish()
    }
}

impl SqlOutputConfig {
    /// Checks the settings that do not need the database.
    pub fn validate(&self) -> Result<(), crate::outputs::SettingError> {
        use crate::outputs::SettingError;
        self.mapping()?;
        if let Some(path) = self.url.strip_prefix("jdbc:").unwrap_or(&self.url).strip_prefix("sqlite:") {
            let path = Path::new(path.trim_start_matches("//"));
            if path.is_absolute() || path.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
                return Err(SettingError::new(
                    "url",
                    format!("`{}` must name a file inside the handler's directory (relative, without `..`)", self.url),
                ));
            }
        }
        Ok(())
    }

    /// The table mapping.
    pub fn mapping(&self) -> Result<TableMapping, crate::outputs::SettingError> {
        let columns = self.columns.iter().map(|(p, c)| (p.clone(), c.clone())).collect();
        TableMapping::new("", &self.table, columns, &self.key)
            .map_err(|(at, m)| crate::outputs::SettingError::new(if at == "table" { "table" } else { "columns" }, m))
    }

    /// Where it connects; a SQLite file lies in `handler_dir`.
    pub fn target(&self, handler_dir: &Path) -> Result<SqlTarget, crate::outputs::SettingError> {
        let mut target =
            SqlTarget::from_url(&self.url, handler_dir).map_err(|e| crate::outputs::SettingError::new("url", e.to_string()))?;
        if self.username.is_some() {
            target.username = self.username.clone();
        }
        if self.password.is_some() {
            target.password = self.password.clone();
        }
        Ok(target)
    }
}
