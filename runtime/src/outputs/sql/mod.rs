//! The SQL output: records written as table rows into PostgreSQL,
//! MySQL/MariaDB or SQLite (the embedded default, which needs no server).
//! ForgeRock's `JdbcAuditEventHandler` ([`crate::builtin::jdbc`]) and the
//! `sql` output a WASM handler declares both write through it.
//!
//! - [`config`]: where to connect (JDBC URLs mapped to native drivers, H2
//!   to SQLite) and how a record becomes a row (a table and its columns,
//!   each filled from a JSON pointer of the record).
//! - [`sink`]: batched, idempotent inserts: each flush is one statement of
//!   text arrays (PostgreSQL) or one transaction of multi-row `INSERT`s,
//!   skipping a row whose key (`_id`) is already there (PostgreSQL and
//!   SQLite `ON CONFLICT DO NOTHING`, MySQL/MariaDB
//!   `ON DUPLICATE KEY UPDATE key = key`), so that a retry after a lost
//!   acknowledgement never duplicates a row. The events are acknowledged
//!   after the commit; connection loss, a wrong password or a missing table
//!   are retried with a backoff while the events wait in the journal; a row
//!   the database refuses for good (a value too long for its column) is
//!   dead-lettered alone.
//! - [`schema`]: the `CREATE TABLE` statements of `wasp db init`.
//! - [`query`]: `handlerForQueries` over a table: `_queryFilter`, read by
//!   id and sort keys as parameterised SQL.
//!
//! Every value is bound as a parameter; identifiers (tables, columns) come
//! from the configuration only, are checked to be plain names and quoted.

pub mod config;
pub mod query;
pub mod schema;
pub mod sink;

#[cfg(test)]
mod tests;

pub use config::{Dialect, SqlOutputConfig, SqlTarget, TableMapping};
pub use sink::{SqlClient, SqlSink};

impl super::Output for SqlOutputConfig {
    fn validate(&self) -> Result<(), super::SettingError> {
        SqlOutputConfig::validate(self)
    }
    /// The database connects at the first flush; a relative SQLite path
    /// lies in the handler's directory.
    fn open(&self, place: &super::OutputPlace<'_>) -> std::io::Result<Box<dyn super::Sink>> {
        let invalid = |e: super::SettingError| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string());
        let client = SqlClient::new(self.target(place.shown).map_err(invalid)?)?;
        Ok(Box::new(SqlSink::new(std::sync::Arc::new(client), self.mapping().map_err(invalid)?, 10_000)))
    }
    fn check_network(&self) -> Result<(), super::CheckError> {
        let target = self.target(std::path::Path::new("."))?;
        match target.host_port() {
            Some((host, port)) => super::check_network(host, port, || Ok(())),
            None => Ok(()),
        }
    }
}
