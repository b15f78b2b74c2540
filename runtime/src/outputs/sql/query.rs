//! `handlerForQueries` over a SQL table: read by `_id`, and `_queryFilter`
//! with sort keys and paging.
//!
//! The filter is translated to a `WHERE` clause whose values are all bind
//! parameters (a hostile value such as `'; DROP TABLE` is only ever data);
//! columns come from the configured mapping, never from the request. The
//! translation narrows the rows read and never drops a row the filter
//! matches: comparisons SQL cannot decide exactly as CREST does (numbers,
//! orderings of strings, non-ASCII case folding, fields stored as JSON
//! text, negations) are left to the exact evaluation of
//! [`crate::query::run`] over the rows read, which also sorts (CREST's
//! order: absent first, numbers, strings ignoring case …) and pages.
//! Rows come in the order of the sort keys' columns, then of the
//! timestamp's, then of the key's.
//!
//! Where the translation is exact (see [`Translation::exact`]) and the
//! request is paged in storage order, the database counts and pages
//! (`COUNT(*)`, `LIMIT`/`OFFSET`); otherwise the rows are streamed, never
//! all held: the evaluation keeps only those that can make the page.

use serde_json::{Map, Value};
use sqlx::Row as _;

use super::config::{Dialect, TableMapping};
use super::sink::{SqlClient, SqlError};
use crate::query::filter::{Expr, Op};
use crate::query::{QueryPage, QueryRequest};

/// A `WHERE` clause (or a whole statement) and its bind parameters, in
/// order.
#[derive(Debug, Clone, PartialEq)]
pub struct Translation {
    /// The clause (`1 = 1` when nothing narrows the rows).
    pub sql: String,
    /// The values of its placeholders.
    pub params: Vec<String>,
    /// The clause selects exactly the rows whose events match the filter
    /// (`pr` of string fields, `true`, `false`, fields no column holds,
    /// and `and`/`or` of those), so SQL can count and page them.
    pub exact: bool,
}

/// Where a filter's field is stored.
enum Field<'a> {
    /// In this column, whole.
    Column(&'a str, &'a str),
    /// Inside a column holding JSON text, or partly in several: SQL cannot
    /// compare it.
    Inside,
    /// Nowhere: the events read back never have it.
    Absent,
}

struct Translator<'a> {
    dialect: Dialect,
    mapping: &'a TableMapping,
    schema: Option<&'a Value>,
    params: Vec<String>,
    /// Whether the clause so far selects exactly the rows whose events
    /// the filter matches (no CREST evaluation needed after it).
    exact: bool,
}

impl<'a> Translator<'a> {
    fn param(&mut self, value: String) -> String {
        self.params.push(value);
        self.dialect.placeholder(self.params.len())
    }

    fn field(&self, pointer: &str) -> Field<'a> {
        let pointer = pointer.trim_start_matches('/');
        let mut inside = false;
        let mapping: &'a TableMapping = self.mapping;
        for (mapped, column) in &mapping.columns {
            if mapped == pointer {
                return Field::Column(mapped, column);
            }
            let nested = |outer: &str, inner: &str| inner.strip_prefix(outer).is_some_and(|rest| rest.starts_with('/'));
            inside |= nested(mapped, pointer) || nested(pointer, mapped);
        }
        if inside { Field::Inside } else { Field::Absent }
    }

    /// SQL narrowing `expr` (`None`: it cannot narrow). Clears `exact`
    /// where the clause is wider than `expr`.
    fn node(&mut self, expr: &Expr) -> Option<String> {
        match expr {
            Expr::Const(true) => None,
            Expr::Not(_) => {
                self.exact = false;
                None
            }
            Expr::Const(false) => Some("1 = 0".into()),
            Expr::And(children) => {
                let parts: Vec<String> = children.iter().filter_map(|c| self.node(c)).collect();
                (!parts.is_empty()).then(|| format!("({})", parts.join(" AND ")))
            }
            Expr::Or(children) => {
                let mut parts = Vec::new();
                for child in children {
                    match self.node(child) {
                        Some(part) => parts.push(part),
                        None => {
                            // An `or` with a child that narrows nothing
                            // narrows nothing; it is exact only if that
                            // child is `true`.
                            self.exact &= matches!(child, Expr::Const(true));
                            return None;
                        }
                    }
                }
                Some(format!("({})", parts.join(" OR ")))
            }
            Expr::Present(pointer) => match self.field(pointer) {
                // Another column fills a field inside this one: the field
                // can be there while its own column is NULL.
                Field::Column(mapped, _)
                    if self.mapping.columns.iter().any(|(p, _)| p.strip_prefix(mapped).is_some_and(|r| r.starts_with('/'))) =>
                {
                    self.exact = false;
                    None
                }
                Field::Column(mapped, column) => {
                    // A string field's cell reads back as a string whenever
                    // it is not NULL; another type's text may read back
                    // as JSON `null`, which CREST does not count as present.
                    self.exact &= schema_type(self.schema, mapped) == Some("string");
                    Some(format!("{} IS NOT NULL", self.dialect.quote(column)))
                }
                Field::Inside => {
                    self.exact = false;
                    None
                }
                Field::Absent => Some("1 = 0".into()),
            },
            Expr::Compare { pointer, op, value, .. } => match self.field(pointer) {
                Field::Column(mapped, column) => {
                    // Never exact: a database's `LOWER`, collations (MariaDB
                    // ignores trailing spaces) and text forms of numbers are
                    // not CREST's comparisons.
                    self.exact = false;
                    let string_field = schema_type(self.schema, mapped) == Some("string");
                    self.compare(&self.dialect.quote(column), string_field, *op, value)
                }
                Field::Inside => {
                    self.exact = false;
                    None
                }
                Field::Absent => Some("1 = 0".into()),
            },
        }
    }

    fn compare(&mut self, column: &str, string_field: bool, op: Op, value: &Value) -> Option<String> {
        let like = |s: &str| s.to_ascii_lowercase().replace('!', "!!").replace('%', "!%").replace('_', "!_");
        match (op, value) {
            // Strings compare ignoring case; only for fields that hold
            // strings (an array's text holds its elements) and ASCII
            // values (not every database folds other letters as CREST).
            (Op::Eq, Value::String(s)) if string_field && s.is_ascii() => {
                Some(format!("LOWER({column}) = {}", self.param(s.to_ascii_lowercase())))
            }
            (Op::Co, Value::String(s)) if string_field && s.is_ascii() => {
                Some(format!("LOWER({column}) LIKE {} ESCAPE '!'", self.param(format!("%{}%", like(s)))))
            }
            (Op::Sw, Value::String(s)) if string_field && s.is_ascii() => {
                Some(format!("LOWER({column}) LIKE {} ESCAPE '!'", self.param(format!("{}%", like(s)))))
            }
            (Op::Eq, Value::Null) => Some(format!("{column} IS NULL")),
            _ => None,
        }
    }
}

/// Translates a filter for `mapping`'s table; `schema` (the topic's JSON
/// schema) tells which fields hold strings.
pub fn translate(dialect: Dialect, mapping: &TableMapping, schema: Option<&Value>, request: &QueryRequest) -> Translation {
    let mut translator = Translator { dialect, mapping, schema, params: Vec::new(), exact: true };
    let sql = translator.node(request.filter.expr()).unwrap_or_else(|| "1 = 1".into());
    Translation { sql, params: translator.params, exact: translator.exact }
}

/// The `SELECT` of a query: every mapped column, the translated filter,
/// ordered by the sort keys' columns, the timestamp's and the key's.
pub fn select(dialect: Dialect, mapping: &TableMapping, schema: Option<&Value>, request: &QueryRequest) -> Translation {
    select_where(dialect, mapping, request, translate(dialect, mapping, schema, request))
}

/// [`select`] with its `WHERE` clause translated already.
fn select_where(dialect: Dialect, mapping: &TableMapping, request: &QueryRequest, where_: Translation) -> Translation {
    let columns: Vec<String> = mapping.columns.iter().map(|(_, c)| dialect.quote(c)).collect();
    let mut order = Vec::new();
    for key in &request.sort_keys {
        if let Some((_, column)) = mapping.columns.iter().find(|(p, _)| *p == key.pointer.trim_start_matches('/')) {
            order.push(format!("{}{}", dialect.quote(column), if key.ascending { "" } else { " DESC" }));
        }
    }
    if let Some((_, column)) = mapping.columns.iter().find(|(p, _)| p == "timestamp") {
        order.push(dialect.quote(column));
    }
    order.push(dialect.quote(mapping.key_column()));
    Translation {
        sql: format!(
            "SELECT {} FROM {} WHERE {} ORDER BY {}",
            columns.join(", "),
            dialect.quote(&mapping.table),
            where_.sql,
            order.join(", ")
        ),
        params: where_.params,
        exact: where_.exact,
    }
}

/// How a query is run: paged by the database, or read through and
/// evaluated here.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// The filter translates exactly and the order is the storage order:
    /// `count` gives the total, `page` (`LIMIT`/`OFFSET`) the page.
    Paged {
        /// `SELECT COUNT(*) … WHERE …`.
        count: Translation,
        /// The page's `SELECT … LIMIT n OFFSET m`.
        page: Translation,
        /// Where the page starts among the matches.
        offset: usize,
    },
    /// The narrowed rows are streamed through CREST's exact evaluation,
    /// which keeps only the rows that can make the page (see
    /// [`crate::query::Collector`]).
    Streamed(Translation),
}

/// The plan of `request` over `mapping`'s table.
pub fn plan(dialect: Dialect, mapping: &TableMapping, schema: Option<&Value>, request: &QueryRequest) -> Plan {
    let where_ = translate(dialect, mapping, schema, request);
    let paged = request.page_size.filter(|&n| n > 0).zip(request.offset().ok());
    match paged {
        Some((size, offset)) if where_.exact && request.sort_keys.is_empty() => {
            let count = Translation {
                sql: format!("SELECT COUNT(*) FROM {} WHERE {}", dialect.quote(&mapping.table), where_.sql),
                params: where_.params.clone(),
                exact: true,
            };
            let select = select_where(dialect, mapping, request, where_);
            // Numbers of ours, not the request's text: written inline
            // (PostgreSQL will not take a text parameter as a LIMIT).
            let page = Translation { sql: format!("{} LIMIT {size} OFFSET {offset}", select.sql), ..select };
            Plan::Paged { count, page, offset }
        }
        _ => Plan::Streamed(select_where(dialect, mapping, request, where_)),
    }
}

/// Runs a query over `mapping`'s table.
pub fn query(client: &SqlClient, mapping: &TableMapping, schema: Option<&Value>, request: &QueryRequest) -> Result<QueryPage, SqlError> {
    match plan(client.target().dialect, mapping, schema, request) {
        Plan::Paged { count, page, offset } => {
            let total = client.run(async |c| bound(&count).fetch_one(&mut *c).await?.try_get::<i64, _>(0))?;
            let result = fetch(client, &page)?.into_iter().map(|cells| event_of(mapping, schema, cells)).collect();
            Ok(QueryPage::of(request, offset, result, usize::try_from(total).unwrap_or(0)))
        }
        Plan::Streamed(select) => client.run(async |c| {
            use futures_util::TryStreamExt as _;
            let mut rows = bound(&select).fetch(&mut *c);
            let mut collector = crate::query::Collector::new(request);
            let mut index = 0_usize;
            while let Some(row) = rows.try_next().await? {
                let event = event_of(mapping, schema, (0..row.len()).map(|i| text_of(&row, i)).collect());
                if request.filter.matches(&event) {
                    collector.offer(index, event);
                }
                index += 1;
            }
            Ok(collector.finish().0)
        }),
    }
}

/// The event whose key is `id`, if the table has it.
pub fn read(client: &SqlClient, mapping: &TableMapping, schema: Option<&Value>, id: &str) -> Result<Option<Value>, SqlError> {
    let dialect = client.target().dialect;
    let columns: Vec<String> = mapping.columns.iter().map(|(_, c)| dialect.quote(c)).collect();
    let select = Translation {
        sql: format!(
            "SELECT {} FROM {} WHERE {} = {}",
            columns.join(", "),
            dialect.quote(&mapping.table),
            dialect.quote(mapping.key_column()),
            dialect.placeholder(1)
        ),
        params: vec![id.to_owned()],
        exact: true,
    };
    Ok(fetch(client, &select)?.into_iter().next().map(|cells| event_of(mapping, schema, cells)))
}

/// The statement of `translation` with its parameters bound.
fn bound(translation: &Translation) -> sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments<'_>> {
    translation.params.iter().fold(sqlx::query(&translation.sql), |query, param| query.bind(param.as_str()))
}

fn fetch(client: &SqlClient, select: &Translation) -> Result<Vec<Vec<Option<String>>>, SqlError> {
    client.run(async |c| {
        let rows = bound(select).fetch_all(&mut *c).await?;
        Ok(rows.iter().map(|row| (0..row.len()).map(|i| text_of(row, i)).collect()).collect())
    })
}

/// A cell as text (bytes as UTF-8; numbers and booleans of columns of
/// other types as their text).
fn text_of(row: &sqlx::any::AnyRow, i: usize) -> Option<String> {
    if let Ok(text) = row.try_get::<Option<String>, _>(i) {
        return text;
    }
    // MySQL/MariaDB `TEXT` columns come as bytes.
    if let Ok(bytes) = row.try_get::<Option<Vec<u8>>, _>(i) {
        return bytes.map(|b| String::from_utf8_lossy(&b).into_owned());
    }
    if let Ok(n) = row.try_get::<Option<i64>, _>(i) {
        return n.map(|n| n.to_string());
    }
    if let Ok(x) = row.try_get::<Option<f64>, _>(i) {
        return x.map(|x| x.to_string());
    }
    row.try_get::<Option<bool>, _>(i).ok().flatten().map(|b| b.to_string())
}

/// The JSON type the schema gives the field at `pointer` (no leading `/`).
fn schema_type<'a>(schema: Option<&'a Value>, pointer: &str) -> Option<&'a str> {
    let mut node = schema?;
    for part in pointer.split('/') {
        node = node.get("properties")?.get(part)?;
    }
    match node.get("type")? {
        Value::String(t) => Some(t),
        Value::Array(types) => types.iter().filter_map(Value::as_str).find(|t| *t != "null"),
        _ => None,
    }
}

/// A row as the event it was: each column's text at its field, typed as
/// the schema says (numbers, booleans, objects and arrays from their JSON
/// text; without a schema, text that is a JSON object or array is read as
/// one, any other as a string).
pub fn event_of(mapping: &TableMapping, schema: Option<&Value>, cells: Vec<Option<String>>) -> Value {
    let mut event = Map::new();
    for ((pointer, _), cell) in mapping.columns.iter().zip(cells) {
        let Some(text) = cell else { continue };
        let value = match schema_type(schema, pointer) {
            Some("string") => Value::String(text),
            Some("boolean" | "integer" | "number" | "object" | "array") => serde_json::from_str(&text).unwrap_or(Value::String(text)),
            _ if text.starts_with(['{', '[']) => serde_json::from_str(&text).unwrap_or(Value::String(text)),
            _ => Value::String(text),
        };
        set(&mut event, pointer, value);
    }
    Value::Object(event)
}

fn set(event: &mut Map<String, Value>, pointer: &str, value: Value) {
    let unescape = |s: &str| s.replace("~1", "/").replace("~0", "~");
    let mut parts: Vec<String> = pointer.split('/').map(unescape).collect();
    let last = parts.pop().unwrap_or_default();
    let mut node = event;
    for part in parts {
        let slot = node.entry(part).or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        node = slot.as_object_mut().expect("an object");
    }
    node.insert(last, value);
}
