//! Making an export: read the query handler's files of a topic in chain
//! order (JSON lines or CSV rows), check each file's chain, build its
//! Merkle tree, select the records matching the query, write them (a CSV
//! export after the log's header) and the signed manifest.

use std::io::Write;

use serde_json::Value;

use super::{Checkpoint, CsvLayout, EXPORT_MEMBER, ExportError, ExportFormat, FORMAT, Manifest, Proof, SIGNING_DOMAIN};
use crate::builtin::BuiltinSettings;
use crate::config::Config;
use crate::integrity::IntegrityKeys;
use crate::integrity::merkle::{MerkleTree, leaf_hash};
use crate::integrity::verify::{Entry, Verifier};
use crate::outputs::csv::codec::row_to_event;
use crate::outputs::log_file::codec::{CsvRows, INTEGRITY_MEMBER, JsonLines, LineCodec};
use crate::outputs::log_file::read_text;
use crate::outputs::log_file::verify::files_in;
use crate::query::QueryFilter;

/// What was exported.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportSummary {
    /// Records exported.
    pub count: u64,
    /// Log files read.
    pub files: usize,
    /// Data records read (the checkpoints' leaves together).
    pub scanned: u64,
    /// The export root (hex).
    pub root: String,
}

/// How the query handler's records are read.
enum Source {
    /// A JSON handler's lines (`elasticsearchCompatible`: denormalised
    /// before matching).
    Json { elasticsearch: bool },
    /// A CSV handler's rows: the codec (format, columns) and the topic's
    /// schema (which types the cells for matching).
    Csv { rows: CsvRows, schema: Value },
}

impl Source {
    fn codec(&self) -> &dyn LineCodec {
        match self {
            Source::Json { .. } => &JsonLines,
            Source::Csv { rows, .. } => rows,
        }
    }

    /// The event a data record holds, as queries see it.
    fn event(&self, record: &str, entry: &Entry) -> Result<Value, String> {
        match self {
            Source::Json { elasticsearch } => match serde_json::from_str::<Value>(record) {
                Ok(Value::Object(mut map)) => {
                    map.remove(INTEGRITY_MEMBER);
                    let event = Value::Object(map);
                    Ok(if *elasticsearch { crate::outputs::elasticsearch::denormalize(event) } else { event })
                }
                _ => Err("not a JSON object".into()),
            },
            Source::Csv { rows, schema } => {
                let Entry::Data { fields, .. } = entry else { return Err("not a data row".into()) };
                let cells: Vec<String> = fields.iter().map(|(_, v)| String::from_utf8_lossy(v).into_owned()).collect();
                Ok(row_to_event(&rows.columns, &cells, schema, rows.format.neutralise_formulas))
            }
        }
    }
}

/// The format the query handler of `tenant` for `topic` exports in, or why
/// it cannot export (not a JSON or CSV handler, no `security`, a ForgeRock
/// JCEKS keystore).
pub fn handler_format(config: &Config, tenant: Option<&str>, topic: &str) -> Result<ExportFormat, ExportError> {
    let (handler, _) = crate::handler_query::query_handler(config, tenant, topic)?;
    let name = handler.qualified_name();
    let security = match &handler.builtin {
        Some(BuiltinSettings::Json(s)) => s.security.as_ref().map(|s| (s, ExportFormat::Ndjson)),
        Some(BuiltinSettings::Csv(s)) => s.security.as_ref().map(|s| (s, ExportFormat::Csv)),
        _ => {
            return Err(ExportError::Handler(format!(
                "handler `{name}` is not a JSON or CSV handler: exports with proofs are made from tamper-evident file logs"
            )));
        }
    };
    let (security, format) = security.ok_or_else(|| {
        ExportError::Handler(format!("handler `{name}` keeps no tamper-evident log: set its `security` (exports are signed with its key)"))
    })?;
    if security.is_jceks() {
        return Err(ExportError::Handler(format!(
            "handler `{name}` writes ForgeRock's format with a JCEKS keystore, which holds no Ed25519 key to sign an export with: \
             exports need a WASP key file (`wasp keygen`) as `security.filename`"
        )));
    }
    Ok(format)
}

/// Exports the records of `topic` kept by the query handler of `tenant`
/// that match `filter` (a `_queryFilter`) to `out`, in `format` (`None`:
/// the handler's own; another than the handler's is refused).
pub fn export(
    config: &Config,
    tenant: Option<&str>,
    topic: &str,
    filter: &str,
    format: Option<ExportFormat>,
    out: &mut dyn Write,
) -> Result<ExportSummary, ExportError> {
    let query = QueryFilter::parse(filter)?;
    let own = handler_format(config, tenant, topic)?;
    let (handler, root) = crate::handler_query::query_handler(config, tenant, topic)?;
    let name = handler.qualified_name();
    if let Some(asked) = format.filter(|f| *f != own) {
        return Err(ExportError::FormatMismatch { handler: name, own, asked });
    }
    let (source, security, log_directory, rotation, live) = match &handler.builtin {
        Some(BuiltinSettings::Json(s)) => (
            Source::Json { elasticsearch: s.elasticsearch_compatible },
            s.security.as_ref(),
            &s.log_directory,
            &s.rotation,
            crate::builtin::json::JsonSettings::file_name(topic),
        ),
        Some(BuiltinSettings::Csv(s)) => {
            if s.format.quote == '{' || s.format.delimiter == '{' {
                return Err(ExportError::Handler(format!(
                    "handler `{name}`: a CSV export's trailer line starts with `{{`, which this format's quote or delimiter is; \
                     exports need another character"
                )));
            }
            let schema = config.schema_source(topic).map_err(|e| ExportError::Handler(e.to_string()))?;
            let columns = crate::outputs::csv::codec::columns_for_schema(&schema);
            let rows = CsvRows { format: s.format.clone(), columns, secure: true };
            (
                Source::Csv { rows, schema },
                s.security.as_ref(),
                &s.log_directory,
                &s.rotation,
                crate::builtin::csv::CsvSettings::file_name(topic),
            )
        }
        _ => return Err(ExportError::Handler(format!("handler `{name}` is not a JSON or CSV handler"))),
    };
    let security = security.ok_or_else(|| ExportError::Handler(format!("handler `{name}` keeps no tamper-evident log")))?;
    let io = |what: String| move |source| ExportError::Io { what, source };
    let keys = IntegrityKeys::load(&security.key_file).map_err(|e| ExportError::Handler(e.to_string()))?;
    let dir_name = log_directory.display().to_string();
    let dir = crate::outputs::open_directory(root, log_directory, false)
        .map_err(|e| ExportError::Io { what: dir_name.clone(), source: std::io::Error::other(e) })?;
    let files = files_in(&dir, &live, rotation).map_err(io(dir_name.clone()))?;
    let codec = source.codec();
    let csv = match &source {
        Source::Json { .. } => None,
        Source::Csv { rows, .. } => {
            let header = String::from_utf8(rows.header().unwrap_or_default()).unwrap_or_default();
            let f = &rows.format;
            Some(CsvLayout {
                header: header.strip_suffix(f.end_of_line.as_str()).unwrap_or(&header).to_owned(),
                quote: f.quote,
                delimiter: f.delimiter,
                end_of_line: f.end_of_line.clone(),
            })
        }
    };

    let mut verifier = Verifier::new(&keys);
    let mut checkpoints = Vec::new();
    let mut proofs = Vec::new();
    let mut exported = Vec::new();
    let mut scanned = 0;
    let mut written = std::io::BufWriter::with_capacity(1 << 20, out);
    let end_of_line = csv.as_ref().map_or("\n", |c| c.end_of_line.as_str()).to_owned();
    if let Some(csv) = &csv {
        write!(written, "{}{end_of_line}", csv.header).map_err(io("the export".into()))?;
    }
    for (index, (file, _)) in files.iter().enumerate() {
        let is_live = *file == live;
        let chain = |line: usize, message: String| ExportError::Chain { file: file.clone(), line, message };
        verifier.begin_file();
        let text = read_text(&dir, file).map_err(io(file.clone()))?;
        let mut leaves = Vec::new();
        let mut selected = Vec::new();
        let mut log_signature = None;
        for (line, record, complete) in codec.split(&text).map_err(|e| chain(0, e))? {
            if !complete {
                if is_live {
                    break; // being written right now
                }
                return Err(chain(line, "a partial last record".into()));
            }
            let entry = match codec.parse(record) {
                Ok(Some(entry)) => entry,
                Ok(None) => continue,
                Err(e) => return Err(chain(line, e)),
            };
            match &entry {
                Entry::Data { .. } => {
                    let event = source.event(record, &entry).map_err(|e| chain(line, e))?;
                    if query.matches(&event) {
                        selected.push((leaves.len(), record));
                    }
                    leaves.push(leaf_hash(record.as_bytes()));
                }
                Entry::Signed(r) => log_signature = Some(r.to_json()),
            }
            verifier.entry(file, entry).map_err(|e| chain(line, e.to_string()))?;
        }
        let _note = verifier.end_file(is_live, true).map_err(|e| chain(0, e.to_string()))?;
        let state = verifier.state().unwrap_or(crate::integrity::ChainState::GENESIS);
        scanned += leaves.len() as u64;
        let tree = MerkleTree::new(leaves);
        for (leaf, record) in selected {
            written
                .write_all(record.as_bytes())
                .and_then(|()| written.write_all(end_of_line.as_bytes()))
                .map_err(io("the export".into()))?;
            let hash = leaf_hash(record.as_bytes());
            exported.push(hash);
            proofs.push(Proof {
                file: index,
                leaf: leaf as u64,
                hash: hex::encode(hash),
                path: tree.proof(leaf).iter().map(hex::encode).collect(),
            });
        }
        checkpoints.push(Checkpoint {
            file: file.clone(),
            leaves: tree.len() as u64,
            root: hex::encode(tree.root()),
            last_seq: state.seq,
            head: state.head_hex(),
            log_signature,
        });
    }
    verifier.finish().map_err(|(file, message)| ExportError::Chain { file, line: 0, message: message.to_string() })?;
    let root = hex::encode(MerkleTree::new(exported).root());
    let manifest = Manifest {
        format: FORMAT.to_owned(),
        handler: name,
        tenant: tenant.map(str::to_owned),
        topic: topic.to_owned(),
        query: filter.to_owned(),
        time: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
        count: proofs.len() as u64,
        root: root.clone(),
        checkpoints,
        csv,
    };
    if !end_of_line.ends_with('\n') {
        // The trailer is always a line of its own.
        written.write_all(b"\n").map_err(io("the export".into()))?;
    }
    written.write_all(trailer(&keys, &manifest, &proofs).as_bytes()).and_then(|()| written.flush()).map_err(io("the export".into()))?;
    Ok(ExportSummary { count: manifest.count, files: files.len(), scanned, root })
}

/// The export's last line, with its `\n`: the manifest, its signature
/// under `keys`, the proofs.
pub(super) fn trailer(keys: &IntegrityKeys, manifest: &Manifest, proofs: &[Proof]) -> String {
    let text = serde_json::to_string(manifest).expect("a manifest serialises");
    let signature = keys.sign(format!("{SIGNING_DOMAIN}{text}").as_bytes());
    let proofs_text = serde_json::to_string(proofs).expect("proofs serialise");
    let sig_text = serde_json::to_string(&signature).expect("a string");
    format!("{{\"{EXPORT_MEMBER}\":{{\"manifest\":{text},\"signature\":{sig_text},\"proofs\":{proofs_text}}}}}\n")
}
