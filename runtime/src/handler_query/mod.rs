//! Queries over a file handler's records (`handlerForQueries`): read by
//! `_id`, and CREST `_queryFilter` with paging and sorting, over the live
//! file and every archive (gzipped ones too), oldest first; a JDBC
//! handler's table (`outputs::sql::query`) and an Elasticsearch handler's
//! index (`outputs::elasticsearch::query`) answer the same requests.
//!
//! Top-level events are answered by the audit service's
//! `handlerForQueries`; a tenant's by the tenant's own
//! `tenants.<name>.handlerForQueries`, read through the tenant's output
//! root, so that one tenant's queries never see another's records.

use std::path::PathBuf;

use serde_json::Value;

use crate::builtin::BuiltinSettings;
use crate::config::Config;
use crate::outputs::csv::codec::row_to_event;
use crate::outputs::log_file::codec::{CsvRows, INTEGRITY_MEMBER, LineCodec, SIGNATURE_MEMBER};
use crate::outputs::log_file::read_text;
use crate::outputs::log_file::verify::files_in;
use crate::query::{QueryPage, QueryRequest};

mod scan;

/// Why a query could not run.
#[derive(Debug, thiserror::Error)]
pub enum QueryFailure {
    /// The configuration names no `handlerForQueries` (for the tenant, if
    /// any).
    #[error("{}", match .0 {
        None => "no handler answers queries: set `handlerForQueries` in the audit service's `config`".to_owned(),
        Some(t) => format!("no handler answers the queries of tenant `{t}`: set `tenants.{t}.handlerForQueries`"),
    })]
    NoQueryHandler(Option<String>),
    /// The tenant is not configured.
    #[error("no tenant `{0}` is configured")]
    UnknownTenant(String),
    /// `handlerForQueries` names no JSON, CSV, JDBC or Elasticsearch handler.
    #[error("handlerForQueries `{0}` is not an enabled JSON, CSV, JDBC or Elasticsearch handler")]
    NotAFileHandler(String),
    /// The database of a JDBC query handler, or the Elasticsearch server
    /// of an Elasticsearch one, failed.
    #[error("{handler}: {message}")]
    Database {
        /// The handler (its database and table).
        handler: String,
        /// What failed.
        message: String,
    },
    /// The handler does not receive the topic.
    #[error("handler `{handler}` does not receive topic `{topic}`")]
    UnknownTopic {
        /// The query handler.
        handler: String,
        /// The topic asked for.
        topic: String,
    },
    /// A bad `_queryFilter`, `_pageSize`, cookie or sort key.
    #[error(transparent)]
    Query(#[from] crate::query::QueryError),
    /// A file cannot be read.
    #[error("{file}: {error}")]
    Io {
        /// The file.
        file: PathBuf,
        /// The error (part of the message, not a separate cause, so that
        /// a chain of causes does not print it twice).
        error: std::io::Error,
    },
    /// A record that does not parse.
    #[error("{file} line {line}: {message}")]
    Corrupt {
        /// The file.
        file: PathBuf,
        /// Its line.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// Runs a query over the records of `topic` kept by the query handler of
/// `tenant` (`None`: of the top-level events).
pub fn query(config: &Config, tenant: Option<&str>, topic: &str, request: &QueryRequest) -> Result<QueryPage, QueryFailure> {
    if let Some((client, mapping, schema)) = table(config, tenant, topic)? {
        return crate::outputs::sql::query::query(&client, mapping, schema.as_ref(), request).map_err(|e| database(&client, mapping, e));
    }
    if let Some(index) = index(config, tenant, topic)? {
        return index.query(request).map_err(|message| QueryFailure::Database { handler: handler_name(config, tenant), message });
    }
    // A JSON handler's records are read slim: only the members the
    // filter and sort keys look at, the page's records whole at the end.
    if let (Some(wanted), Some(files)) = (crate::query::slim::members(request), json_files(config, tenant, topic)?) {
        let mut collector = crate::query::Collector::new(request);
        files.scan(&wanted, &|event| request.filter.matches(event), &mut collector)?;
        let (page, positions) = collector.finish();
        return files.expand(page, &positions);
    }
    let page = crate::query::run(request, events(config, tenant, topic)?)?;
    Ok(page)
}

/// The event of `topic` with this `_id` (the last written, if repeated).
pub fn read(config: &Config, tenant: Option<&str>, topic: &str, id: &str) -> Result<Option<Value>, QueryFailure> {
    if let Some((client, mapping, schema)) = table(config, tenant, topic)? {
        return crate::outputs::sql::query::read(&client, mapping, schema.as_ref(), id).map_err(|e| database(&client, mapping, e));
    }
    if let Some(index) = index(config, tenant, topic)? {
        return index.read(id).map_err(|message| QueryFailure::Database { handler: handler_name(config, tenant), message });
    }
    if let Some(files) = json_files(config, tenant, topic)? {
        // Every record with this `_id` (exactly: not a query's `eq`,
        // which ignores case), read slim; the last one read whole.
        let request = QueryRequest::new(crate::query::QueryFilter::parse("true")?);
        let mut collector = crate::query::Collector::new(&request);
        let wanted = std::collections::BTreeSet::from(["_id".to_owned()]);
        files.scan(&wanted, &|event| event.get("_id").and_then(Value::as_str) == Some(id), &mut collector)?;
        let (mut page, mut positions) = collector.finish();
        let (Some(last), Some(position)) = (page.result.pop(), positions.pop()) else { return Ok(None) };
        page.result = vec![last];
        return Ok(files.expand(page, &[position])?.result.pop());
    }
    let mut found = None;
    for event in events(config, tenant, topic)? {
        let event = event?;
        if event.get("_id").and_then(Value::as_str) == Some(id) {
            found = Some(event);
        }
    }
    Ok(found)
}

/// The query handler's index of `topic` (`<indexName>_<topic>`) when it is
/// an Elasticsearch handler.
fn index(
    config: &Config,
    tenant: Option<&str>,
    topic: &str,
) -> Result<Option<crate::outputs::elasticsearch::query::IndexReader>, QueryFailure> {
    let (handler, _) = query_handler(config, tenant, topic)?;
    let Some(BuiltinSettings::Elasticsearch(s)) = &handler.builtin else {
        return Ok(None);
    };
    crate::outputs::elasticsearch::query::IndexReader::new(&s.target, format!("{}_{topic}", s.index_name))
        .map(Some)
        .map_err(|message| QueryFailure::Database { handler: handler.qualified_name(), message })
}

fn handler_name(config: &Config, tenant: Option<&str>) -> String {
    match tenant {
        None => config.audit.handler_for_queries.clone().unwrap_or_default(),
        Some(t) => format!("{t}/{}", config.tenants.get(t).and_then(|t| t.handler_for_queries.clone()).unwrap_or_default()),
    }
}

/// A JDBC query handler's table: a client, the mapping, the topic's schema.
type Table<'a> = (crate::outputs::sql::SqlClient, &'a crate::outputs::sql::TableMapping, Option<Value>);

/// The query handler's table of `topic` when it is a JDBC handler: a
/// client, the table's mapping, and the topic's schema (which types the
/// columns read back).
fn table<'a>(config: &'a Config, tenant: Option<&str>, topic: &str) -> Result<Option<Table<'a>>, QueryFailure> {
    let (handler, _) = query_handler(config, tenant, topic)?;
    let Some(BuiltinSettings::Jdbc(s)) = &handler.builtin else {
        return Ok(None);
    };
    let mapping = s.mappings.iter().find(|m| m.topic == topic).ok_or_else(|| QueryFailure::Database {
        handler: handler.qualified_name(),
        message: format!("tableMappings: topic `{topic}` has no table"),
    })?;
    let target = s.target().map_err(|message| QueryFailure::Database { handler: handler.qualified_name(), message })?;
    let client = crate::outputs::sql::SqlClient::new(target.clone())
        .map_err(|e| QueryFailure::Database { handler: handler.qualified_name(), message: e.to_string() })?;
    Ok(Some((client, mapping, config.schema_source(topic).ok())))
}

fn database(
    client: &crate::outputs::sql::SqlClient,
    mapping: &crate::outputs::sql::TableMapping,
    e: crate::outputs::sql::sink::SqlError,
) -> QueryFailure {
    QueryFailure::Database { handler: format!("{} table {}", client.target().shown(), mapping.table), message: e.message }
}

/// The enabled `handlerForQueries` of `tenant` receiving `topic`, and the
/// tenant's output root.
pub(crate) fn query_handler<'a>(
    config: &'a Config,
    tenant: Option<&str>,
    topic: &str,
) -> Result<(&'a crate::config::forgerock::ForgeRockHandlerConfig, Option<&'a std::path::Path>), QueryFailure> {
    let (name, root) = match tenant {
        None => (config.audit.handler_for_queries.as_deref(), None),
        Some(t) => {
            let tenant = config.tenants.get(t).ok_or_else(|| QueryFailure::UnknownTenant(t.to_owned()))?;
            (tenant.handler_for_queries.as_deref(), Some(tenant.output_root.as_path()))
        }
    };
    let name = name.ok_or_else(|| QueryFailure::NoQueryHandler(tenant.map(str::to_owned)))?;
    let handler = config
        .forgerock_handlers
        .iter()
        .find(|h| h.name == name && h.tenant.as_deref() == tenant && h.enabled)
        .ok_or_else(|| QueryFailure::NotAFileHandler(name.to_owned()))?;
    if !handler.topics.iter().any(|t| t == topic) {
        return Err(QueryFailure::UnknownTopic { handler: name.to_owned(), topic: topic.to_owned() });
    }
    Ok((handler, root))
}

/// A plain JSON handler's files of `topic` (not Elasticsearch-compatible
/// ones, whose records are rewritten), which queries read slim ([`scan`]).
fn json_files(config: &Config, tenant: Option<&str>, topic: &str) -> Result<Option<JsonFiles>, QueryFailure> {
    let (handler, root) = query_handler(config, tenant, topic)?;
    let Some(BuiltinSettings::Json(s)) = &handler.builtin else { return Ok(None) };
    if s.elasticsearch_compatible {
        return Ok(None);
    }
    let io = |error| QueryFailure::Io { file: s.log_directory.clone(), error };
    let dir = crate::outputs::open_directory(root, &s.log_directory, false).map_err(|e| io(std::io::Error::other(e)))?;
    let files = files_in(&dir, &crate::builtin::json::JsonSettings::file_name(topic), &s.rotation).map_err(io)?;
    Ok(Some(JsonFiles { dir, path: s.log_directory.clone(), files: files.into_iter().map(|(f, _)| f).collect() }))
}

/// Every record of `topic`, oldest first, as the event it was.
fn events(config: &Config, tenant: Option<&str>, topic: &str) -> Result<impl Iterator<Item = Result<Value, QueryFailure>>, QueryFailure> {
    let (handler, root) = query_handler(config, tenant, topic)?;
    let name = handler.name.as_str();
    let reader = match &handler.builtin {
        Some(BuiltinSettings::Json(s)) => Reader {
            dir: s.log_directory.clone(),
            live: crate::builtin::json::JsonSettings::file_name(topic),
            naming: s.rotation.clone(),
            kind: Kind::Json { elasticsearch: s.elasticsearch_compatible },
        },
        Some(BuiltinSettings::Csv(s)) => {
            let schema = config.schema_source(topic).map_err(|e| QueryFailure::Corrupt {
                file: s.log_directory.clone(),
                line: 0,
                message: e.to_string(),
            })?;
            let columns = crate::outputs::csv::codec::columns_for_schema(&schema);
            Reader {
                dir: s.log_directory.clone(),
                live: crate::builtin::csv::CsvSettings::file_name(topic),
                naming: s.rotation.clone(),
                kind: Kind::Csv { rows: CsvRows { format: s.format.clone(), columns, secure: s.security.is_some() }, schema },
            }
        }
        _ => return Err(QueryFailure::NotAFileHandler(name.to_owned())),
    };
    let io = |error| QueryFailure::Io { file: reader.dir.clone(), error };
    let dir = crate::outputs::open_directory(root, &reader.dir, false).map_err(|e| io(std::io::Error::other(e)))?;
    let files = files_in(&dir, &reader.live, &reader.naming).map_err(io)?;
    Ok(files.into_iter().flat_map(move |(file, _)| {
        let path = reader.dir.join(&file);
        let records = match read_text(&dir, &file) {
            Ok(text) => reader.records(&path, &text),
            Err(error) => vec![Err(QueryFailure::Io { file: path, error })],
        };
        records.into_iter()
    }))
}

/// A JSON handler's log directory and its files, oldest first (the order
/// [`scan::Position`]s count them in).
struct JsonFiles {
    dir: cap_std::fs::Dir,
    path: PathBuf,
    files: Vec<String>,
}

impl JsonFiles {
    /// Offers to `collector` every record that `keep` accepts, read slim
    /// with the `wanted` members.
    fn scan(
        &self,
        wanted: &std::collections::BTreeSet<String>,
        keep: &(dyn Fn(&Value) -> bool + Sync),
        collector: &mut crate::query::Collector<'_, scan::Position>,
    ) -> Result<(), QueryFailure> {
        scan::scan(&self.dir, &self.path, &self.files, wanted, keep, collector, scan::SIZES)
    }

    /// The page with its slim events read whole: a plain file's records
    /// by their byte ranges, a compressed archive's from its text (read
    /// once).
    fn expand(&self, page: crate::query::QueryPage, positions: &[scan::Position]) -> Result<crate::query::QueryPage, QueryFailure> {
        let mut texts: std::collections::BTreeMap<usize, String> = std::collections::BTreeMap::new();
        crate::query::slim::expand(page, positions, |&(index, start, len)| {
            let file = self.files.get(index).cloned().unwrap_or_default();
            let path = self.path.join(&file);
            let io = |error| QueryFailure::Io { file: path.clone(), error };
            let read_at;
            let record = if file.ends_with(".gz") {
                // A compressed archive: positions count its text, read whole once.
                let text = match texts.entry(index) {
                    std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::btree_map::Entry::Vacant(e) => e.insert(read_text(&self.dir, &file).map_err(io)?),
                };
                usize::try_from(start).ok().and_then(|start| text.get(start..start + len)).unwrap_or("")
            } else {
                // A plain file: only the record's bytes.
                use std::os::unix::fs::FileExt as _;
                let mut bytes = vec![0u8; len];
                self.dir.open(&file).map_err(io)?.into_std().read_exact_at(&mut bytes, start).map_err(io)?;
                read_at = String::from_utf8(bytes).unwrap_or_default();
                read_at.as_str()
            };
            let changed = || QueryFailure::Corrupt { file: path.clone(), line: 0, message: "the file changed while it was queried".into() };
            match serde_json::from_str::<Value>(record) {
                Ok(Value::Object(mut event)) => {
                    event.remove(INTEGRITY_MEMBER);
                    Ok(Value::Object(event))
                }
                _ => Err(changed()),
            }
        })
    }
}

enum Kind {
    Json { elasticsearch: bool },
    Csv { rows: CsvRows, schema: Value },
}

struct Reader {
    dir: PathBuf,
    live: String,
    naming: crate::outputs::rotation::RotationPolicy,
    kind: Kind,
}

impl Reader {
    /// The events in one file's text (a partial last record, being
    /// written, is skipped).
    fn records(&self, path: &std::path::Path, text: &str) -> Vec<Result<Value, QueryFailure>> {
        let corrupt = |line, message| QueryFailure::Corrupt { file: path.to_owned(), line, message };
        let split = match &self.kind {
            Kind::Json { .. } => crate::outputs::log_file::codec::JsonLines.split(text),
            Kind::Csv { rows, .. } => rows.split(text),
        };
        let split = match split {
            Ok(split) => split,
            Err(message) => return vec![Err(corrupt(0, message))],
        };
        let mut out = Vec::new();
        for (line, record, complete) in split {
            if !complete || record.trim().is_empty() {
                continue;
            }
            match &self.kind {
                Kind::Json { elasticsearch } => match serde_json::from_str::<Value>(record) {
                    Ok(Value::Object(mut map)) => {
                        if map.contains_key(SIGNATURE_MEMBER) && map.len() == 1 {
                            continue;
                        }
                        map.remove(INTEGRITY_MEMBER);
                        let event = Value::Object(map);
                        out.push(Ok(if *elasticsearch { crate::outputs::elasticsearch::denormalize(event) } else { event }));
                    }
                    Ok(_) => out.push(Err(corrupt(line, "not a JSON object".into()))),
                    Err(e) => out.push(Err(corrupt(line, e.to_string()))),
                },
                Kind::Csv { rows, schema } => {
                    let cells = match rows.format.decode(&format!("{record}{}", rows.format.end_of_line)) {
                        Ok(mut records) if records.len() == 1 => records.remove(0).cells,
                        Ok(_) => {
                            out.push(Err(corrupt(line, "not one CSV record".into())));
                            continue;
                        }
                        Err(e) => {
                            out.push(Err(corrupt(line, e.to_string())));
                            continue;
                        }
                    };
                    let n = rows.columns.len();
                    if cells.len() < n || cells.iter().zip(&rows.columns).all(|(c, h)| c == h) {
                        continue; // the header
                    }
                    if rows.secure && cells.get(n + 2).is_some_and(|s| !s.is_empty()) {
                        continue; // a signed record
                    }
                    out.push(Ok(row_to_event(&rows.columns, &cells[..n], schema, rows.format.neutralise_formulas)));
                }
            }
        }
        out
    }
}
