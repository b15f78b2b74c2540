//! The tables of `wasp db init`: one per table mapping, with a column per
//! mapped field and the key column (`_id`'s) as primary key, created if
//! missing (so `db init` can run again), and a check that an existing table
//! has every mapped column.
//!
//! Every column holds text: strings as they are, numbers, booleans,
//! objects and arrays as their JSON text (as ForgeRock's own schemas store
//! ports, status codes and headers in `VARCHAR`/`TEXT` columns). The key
//! is `TEXT` (PostgreSQL, SQLite) or `VARCHAR(255)` (MySQL/MariaDB, whose
//! keys need a length); the other columns `TEXT`, or `MEDIUMTEXT` on
//! MySQL/MariaDB (headers can pass 64 KiB).

use super::config::{Dialect, TableMapping};
use super::sink::{SqlClient, SqlError};

/// The statements creating `mapping`'s table (and its schema or database,
/// for a `schema.table` name on PostgreSQL or MySQL/MariaDB).
pub fn create_statements(dialect: Dialect, mapping: &TableMapping) -> Vec<String> {
    let mut statements = Vec::new();
    if let Some((schema, _)) = mapping.table.split_once('.') {
        match dialect {
            Dialect::Postgres => statements.push(format!("CREATE SCHEMA IF NOT EXISTS {}", dialect.quote(schema))),
            Dialect::MySql => statements.push(format!("CREATE DATABASE IF NOT EXISTS {} CHARACTER SET utf8mb4", dialect.quote(schema))),
            Dialect::Sqlite => {}
        }
    }
    let (key_type, text_type, options) = match dialect {
        Dialect::Postgres | Dialect::Sqlite => ("TEXT", "TEXT", ""),
        Dialect::MySql => ("VARCHAR(255)", "MEDIUMTEXT", " DEFAULT CHARSET=utf8mb4"),
    };
    let columns: Vec<String> = mapping
        .columns
        .iter()
        .enumerate()
        .map(|(i, (_, column))| {
            if i == mapping.key {
                format!("{} {key_type} NOT NULL PRIMARY KEY", dialect.quote(column))
            } else {
                format!("{} {text_type} NULL", dialect.quote(column))
            }
        })
        .collect();
    statements.push(format!("CREATE TABLE IF NOT EXISTS {} ({}){options}", dialect.quote(&mapping.table), columns.join(", ")));
    statements
}

/// A statement that fails when the table or one of its columns is missing
/// (and reads no row).
pub fn probe_statement(dialect: Dialect, mapping: &TableMapping) -> String {
    let columns: Vec<String> = mapping.columns.iter().map(|(_, c)| dialect.quote(c)).collect();
    format!("SELECT {} FROM {} WHERE 1 = 0", columns.join(", "), dialect.quote(&mapping.table))
}

/// Creates `mapping`'s table through `client` if it is missing, then checks
/// that it has every mapped column.
pub fn init_table(client: &SqlClient, mapping: &TableMapping) -> Result<(), SqlError> {
    let dialect = client.target().dialect;
    client.execute_all(&create_statements(dialect, mapping))?;
    client
        .execute_all(&[probe_statement(dialect, mapping)])
        .map_err(|e| SqlError { permanent: true, message: format!("the table exists but does not fit the mapping: {}", e.message) })
}
