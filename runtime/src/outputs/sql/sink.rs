//! The SQL sink: records buffered until `flush`, then inserted in one
//! transaction (multi-row `INSERT`s that skip rows whose key is already
//! there) and acknowledged after the commit.
//!
//! The worker threads are synchronous: a [`SqlClient`] owns a small
//! current-thread tokio runtime and one connection, opened on first use and
//! opened again after a failure.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use sqlx::{AnyConnection, Connection};

use super::config::{Dialect, SqlTarget, TableMapping};
use crate::outputs::Sink;

/// How long one flush (its statements and commit) may take before the
/// attempt counts as failed and is retried on a new connection.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(60);

/// Most bind parameters in one statement (PostgreSQL and MySQL allow
/// 65535, SQLite 32766).
const MAX_PARAMETERS: usize = 30_000;

/// Why a database operation failed: `permanent` when trying again cannot
/// help (the row's data), else a transient failure (connection, password,
/// missing table: the operator can fix those while the events wait).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct SqlError {
    /// A refusal of the data, not of the attempt.
    pub permanent: bool,
    /// What happened, with the database's code and a hint.
    pub message: String,
}

impl SqlError {
    fn transient(message: String) -> SqlError {
        SqlError { permanent: false, message }
    }

    /// As an I/O error: `InvalidData` (dead-lettered) when permanent.
    pub fn into_io(self) -> std::io::Error {
        let kind = if self.permanent { std::io::ErrorKind::InvalidData } else { std::io::ErrorKind::Other };
        std::io::Error::new(kind, self)
    }

    /// Reads a driver error.
    pub fn from_sqlx(dialect: Dialect, error: &sqlx::Error) -> SqlError {
        let sqlx::Error::Database(db) = error else {
            let message = match error {
                sqlx::Error::Io(e) => format!("connection failed: {e}"),
                other => other.to_string(),
            };
            return SqlError::transient(message);
        };
        let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
        let message = db.message().to_owned();
        let (permanent, missing_table, auth) = match dialect {
            Dialect::Postgres => {
                (code.starts_with("22") || code.starts_with("23"), code == "42P01" || code == "3F000", code.starts_with("28"))
            }
            Dialect::MySql => (
                code.starts_with("22") || code.starts_with("23") || code == "HY000" && message.contains("Incorrect"),
                code == "42S02" || message.contains("Unknown database"),
                code.starts_with("28") || message.contains("Access denied"),
            ),
            // SQLITE_CONSTRAINT (19 and its extended codes), TOOBIG,
            // MISMATCH.
            Dialect::Sqlite => (
                matches!(code.as_str(), "18" | "19" | "20" | "275" | "531" | "787" | "1043" | "1299" | "1555" | "2067" | "2579" | "3091"),
                message.contains("no such table"),
                false,
            ),
        };
        let hint = if missing_table {
            " (create the tables with `wasp db init --config FILE`)"
        } else if auth {
            " (check the user name and password)"
        } else {
            ""
        };
        let code = if code.is_empty() { String::new() } else { format!(" [{code}]") };
        SqlError { permanent, message: format!("{message}{code}{hint}") }
    }
}

/// A connection to one database, shared by the sinks of a handler (one per
/// table) and used from its worker thread.
pub struct SqlClient {
    runtime: tokio::runtime::Runtime,
    connection: Mutex<Option<AnyConnection>>,
    /// PostgreSQL's own connection, for the sinks' array inserts.
    postgres: Mutex<Option<sqlx::PgConnection>>,
    target: SqlTarget,
}

impl std::fmt::Debug for SqlClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlClient").field("target", &self.target).finish_non_exhaustive()
    }
}

impl SqlClient {
    /// A client of `target`; nothing connects until the first use (a
    /// database that is down delays delivery, not the start).
    pub fn new(target: SqlTarget) -> std::io::Result<SqlClient> {
        sqlx::any::install_default_drivers();
        if let super::config::Location::File(path) = &target.location
            && let Some(parent) = path.parent()
        {
            std::fs::create_dir_all(parent)
                .map_err(|e| std::io::Error::new(e.kind(), format!("cannot create {}: {e}", parent.display())))?;
        }
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        Ok(SqlClient { runtime, connection: Mutex::new(None), postgres: Mutex::new(None), target })
    }

    /// Where it connects.
    pub fn target(&self) -> &SqlTarget {
        &self.target
    }

    /// Runs `work` on the connection (connecting first if needed). A
    /// transient failure drops the connection, so that the next attempt
    /// starts on a fresh one.
    pub fn run<T>(&self, work: impl AsyncFnOnce(&mut AnyConnection) -> Result<T, sqlx::Error>) -> Result<T, SqlError> {
        self.run_on(&self.connection, work)
    }

    /// [`run`](Self::run) on a PostgreSQL connection (the target must be
    /// PostgreSQL).
    pub(crate) fn run_postgres<T>(&self, work: impl AsyncFnOnce(&mut sqlx::PgConnection) -> Result<T, sqlx::Error>) -> Result<T, SqlError> {
        self.run_on(&self.postgres, work)
    }

    fn run_on<C: Connection, T>(
        &self,
        slot: &Mutex<Option<C>>,
        work: impl AsyncFnOnce(&mut C) -> Result<T, sqlx::Error>,
    ) -> Result<T, SqlError> {
        let taken = slot.lock().unwrap().take();
        let dialect = self.target.dialect;
        let (result, keep) = self.runtime.block_on(async {
            let mut connection = match taken {
                Some(c) => c,
                None => {
                    let url = self.target.connect_url();
                    let timeout = self.target.connect_timeout;
                    match tokio::time::timeout(timeout, C::connect(&url)).await {
                        Err(_) => {
                            return (
                                Err(SqlError::transient(format!("no connection within {}", humantime::format_duration(timeout)))),
                                None,
                            );
                        }
                        Ok(Err(e)) => {
                            let e = SqlError::from_sqlx(dialect, &e);
                            return (Err(SqlError { permanent: false, message: format!("cannot connect: {}", e.message) }), None);
                        }
                        Ok(Ok(c)) => c,
                    }
                }
            };
            match tokio::time::timeout(STATEMENT_TIMEOUT, work(&mut connection)).await {
                Ok(Ok(value)) => (Ok(value), Some(connection)),
                Ok(Err(e)) => {
                    let error = SqlError::from_sqlx(dialect, &e);
                    let keep = error.permanent.then_some(connection);
                    (Err(error), keep)
                }
                Err(_) => (Err(SqlError::transient(format!("no answer within {}", humantime::format_duration(STATEMENT_TIMEOUT)))), None),
            }
        });
        *slot.lock().unwrap() = keep;
        result
    }

    /// Runs each statement, in order, outside any transaction.
    pub fn execute_all(&self, statements: &[String]) -> Result<(), SqlError> {
        self.run(async |c| {
            for sql in statements {
                sqlx::raw_sql(sql).execute(&mut *c).await?;
            }
            Ok(())
        })
    }
}

/// A mapping's insert statements, prepared once.
#[derive(Debug)]
pub(crate) struct Inserts {
    dialect: Dialect,
    head: String,
    tail: String,
    columns: usize,
    /// Rows per statement (the parameter limit divided by the columns).
    pub(crate) rows_per_statement: usize,
    full: String,
    /// PostgreSQL: one statement for the whole batch, a text array per
    /// column (`INSERT … SELECT * FROM UNNEST($1::text[], …)`).
    pub(crate) unnest: Option<String>,
}

impl Inserts {
    pub(crate) fn new(dialect: Dialect, mapping: &TableMapping, max_rows: usize) -> Inserts {
        let columns: Vec<String> = mapping.columns.iter().map(|(_, c)| dialect.quote(c)).collect();
        let head = format!("INSERT INTO {} ({}) VALUES ", dialect.quote(&mapping.table), columns.join(", "));
        let tail = match dialect {
            Dialect::Postgres | Dialect::Sqlite => " ON CONFLICT DO NOTHING".to_owned(),
            Dialect::MySql => {
                let key = dialect.quote(mapping.key_column());
                format!(" ON DUPLICATE KEY UPDATE {key} = {key}")
            }
        };
        let rows_per_statement = (MAX_PARAMETERS / columns.len().max(1)).clamp(1, max_rows.max(1));
        let unnest = (dialect == Dialect::Postgres).then(|| {
            let arrays: Vec<String> = (1..=columns.len()).map(|n| format!("${n}::text[]")).collect();
            format!(
                "INSERT INTO {} ({}) SELECT * FROM UNNEST({}){tail}",
                dialect.quote(&mapping.table),
                columns.join(", "),
                arrays.join(", ")
            )
        });
        let mut inserts = Inserts { dialect, head, tail, columns: columns.len(), rows_per_statement, full: String::new(), unnest };
        inserts.full = inserts.sql(rows_per_statement);
        inserts
    }

    /// The statement inserting `rows` rows.
    pub(crate) fn sql(&self, rows: usize) -> String {
        if rows == self.rows_per_statement && !self.full.is_empty() {
            return self.full.clone();
        }
        let mut sql = String::with_capacity(self.head.len() + rows * self.columns * 5 + self.tail.len());
        sql.push_str(&self.head);
        let mut n = 0;
        for row in 0..rows {
            if row > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for column in 0..self.columns {
                if column > 0 {
                    sql.push_str(", ");
                }
                n += 1;
                sql.push_str(&self.dialect.placeholder(n));
            }
            sql.push(')');
        }
        sql.push_str(&self.tail);
        sql
    }
}

/// A row: one cell per mapped column.
pub(crate) type Row = Vec<Option<String>>;

/// The cell of a value: strings as they are, other values as their JSON
/// text, `null` and absent as `NULL`.
pub(crate) fn cell(value: Option<&Value>) -> Option<String> {
    match value {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    }
}

/// A JSON pointer split into its unescaped steps, once (walking it then
/// allocates nothing, unlike `Value::pointer`).
pub(crate) fn steps(pointer: &str) -> Vec<String> {
    pointer.trim_start_matches('/').split('/').map(|s| s.replace("~1", "/").replace("~0", "~")).collect()
}

/// The value at `steps` (object keys, array indexes).
fn at<'v>(mut value: &'v Value, steps: &[String]) -> Option<&'v Value> {
    for step in steps {
        value = match value {
            Value::Object(map) => map.get(step)?,
            Value::Array(items) => items.get(step.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(value)
}

/// The value at `steps`, taken out of `value` (left `null`).
fn take_at(mut value: &mut Value, steps: &[String]) -> Option<Value> {
    for step in steps {
        value = match value {
            Value::Object(map) => map.get_mut(step)?,
            Value::Array(items) => items.get_mut(step.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(std::mem::take(value))
}

/// Whether no pointer lies inside another (then each field can be taken
/// out of the parsed record instead of copied).
pub(crate) fn disjoint(pointers: &[Vec<String>]) -> bool {
    pointers.iter().enumerate().all(|(i, a)| pointers.iter().enumerate().all(|(j, b)| i == j || !(a.starts_with(b) || b.starts_with(a))))
}

/// The row of one record, or why the record cannot be one. With
/// `disjoint` pointers, the values are moved out of the parsed record.
pub(crate) fn row_of(mapping: &TableMapping, pointers: &[Vec<String>], disjoint: bool, record: &[u8]) -> Result<Row, String> {
    let mut value: Value = serde_json::from_slice(record).map_err(|e| format!("the record is not JSON: {e}"))?;
    if !value.is_object() {
        return Err("the record is not a JSON object".into());
    }
    let row: Row = if disjoint {
        pointers
            .iter()
            .map(|p| match take_at(&mut value, p) {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s),
                Some(other) => Some(other.to_string()),
            })
            .collect()
    } else {
        pointers.iter().map(|p| cell(at(&value, p))).collect()
    };
    if row[mapping.key].as_deref().is_none_or(str::is_empty) {
        return Err(format!("the record has no `{}` (the key, column `{}`)", mapping.columns[mapping.key].0, mapping.key_column()));
    }
    Ok(row)
}

/// Inserts `rows` in one transaction.
pub(crate) async fn insert_rows(connection: &mut AnyConnection, inserts: &Inserts, rows: &[Row]) -> Result<(), sqlx::Error> {
    let mut tx = connection.begin().await?;
    for chunk in rows.chunks(inserts.rows_per_statement) {
        let sql = inserts.sql(chunk.len());
        let mut query = sqlx::query(&sql);
        for row in chunk {
            for value in row {
                query = query.bind(value.as_deref());
            }
        }
        query.execute(&mut *tx).await?;
    }
    tx.commit().await
}

/// Inserts `rows` with one statement binding a text array per column
/// (PostgreSQL): atomic, and far fewer parameters to bind than one per cell.
pub(crate) async fn insert_arrays(connection: &mut sqlx::PgConnection, sql: &str, rows: &[Row], columns: usize) -> Result<(), sqlx::Error> {
    let mut arrays: Vec<Vec<Option<&str>>> = (0..columns).map(|_| Vec::with_capacity(rows.len())).collect();
    for row in rows {
        for (array, value) in arrays.iter_mut().zip(row) {
            array.push(value.as_deref());
        }
    }
    let mut query = sqlx::query::<sqlx::Postgres>(sql);
    for array in arrays {
        query = query.bind(array);
    }
    query.execute(connection).await?;
    Ok(())
}

/// One table's sink.
#[derive(Debug)]
pub struct SqlSink {
    client: Arc<SqlClient>,
    mapping: TableMapping,
    pointers: Vec<Vec<String>>,
    disjoint: bool,
    inserts: Inserts,
    pending: Vec<Vec<u8>>,
    mark: usize,
    rejected: Vec<(usize, String)>,
}

impl SqlSink {
    /// A sink writing the rows of `mapping` through `client`; `max_rows`
    /// bounds the rows of one statement.
    pub fn new(client: Arc<SqlClient>, mapping: TableMapping, max_rows: usize) -> SqlSink {
        let pointers: Vec<Vec<String>> = mapping.columns.iter().map(|(p, _)| steps(p)).collect();
        let disjoint = disjoint(&pointers);
        let inserts = Inserts::new(client.target().dialect, &mapping, max_rows);
        SqlSink { client, mapping, pointers, disjoint, inserts, pending: Vec::new(), mark: 0, rejected: Vec::new() }
    }

    /// Inserts `rows` in one transaction.
    fn insert(&self, rows: &[Row]) -> Result<(), SqlError> {
        match &self.inserts.unnest {
            Some(sql) => self.client.run_postgres(async |c| insert_arrays(c, sql, rows, self.mapping.columns.len()).await),
            None => self.client.run(async |c| insert_rows(c, &self.inserts, rows).await),
        }
    }

    /// Inserts the rows one by one, after the database refused the batch
    /// for the data of some row: the refused ones are rejected alone.
    fn isolate(&mut self, rows: &[Row], indices: &[usize]) -> Result<(), SqlError> {
        for (row, index) in rows.iter().zip(indices) {
            match self.insert(std::slice::from_ref(row)) {
                Ok(()) => {}
                Err(e) if e.permanent => self.rejected.push((*index, e.message)),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl Sink for SqlSink {
    fn write(&mut self, record: &[u8]) -> std::io::Result<()> {
        self.pending.push(record.to_vec());
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.rejected.clear();
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut rows = Vec::with_capacity(self.pending.len());
        let mut indices = Vec::with_capacity(self.pending.len());
        for (index, record) in self.pending.iter().enumerate() {
            match row_of(&self.mapping, &self.pointers, self.disjoint, record) {
                Ok(row) => {
                    rows.push(row);
                    indices.push(index);
                }
                Err(reason) => self.rejected.push((index, reason)),
            }
        }
        if !rows.is_empty() {
            match self.insert(&rows) {
                Ok(()) => {}
                Err(e) if e.permanent => self.isolate(&rows, &indices).map_err(SqlError::into_io)?,
                Err(e) => return Err(e.into_io()),
            }
        }
        self.pending.clear();
        self.mark = 0;
        Ok(())
    }

    fn location(&self) -> String {
        format!("{} table {}", self.client.target().shown(), self.mapping.table)
    }

    fn mark(&mut self) {
        self.mark = self.pending.len();
    }

    fn rollback(&mut self) -> std::io::Result<()> {
        self.pending.truncate(self.mark);
        Ok(())
    }

    fn retryable(&self, error: &std::io::Error) -> bool {
        error.kind() != std::io::ErrorKind::InvalidData
    }

    fn take_rejected(&mut self) -> Vec<(usize, String)> {
        std::mem::take(&mut self.rejected)
    }
}
