//! Making an export: read the query handler's files of a topic in chain
//! order, check each file's chain, build its Merkle tree, select the
//! records matching the query, write them and the signed manifest.

use std::io::Write;

use serde_json::Value;

use super::{Checkpoint, EXPORT_MEMBER, ExportError, FORMAT, Manifest, Proof, SIGNING_DOMAIN};
use crate::Config;
use crate::builtin::BuiltinSettings;
use crate::integrity::IntegrityKeys;
use crate::integrity::merkle::{MerkleTree, leaf_hash};
use crate::integrity::verify::{Entry, Verifier};
use crate::outputs::log_file::codec::{INTEGRITY_MEMBER, JsonLines, LineCodec};
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

/// Exports the records of `topic` kept by the query handler of `tenant`
/// that match `filter` (a `_queryFilter`) to `out`.
pub fn export(config: &Config, tenant: Option<&str>, topic: &str, filter: &str, out: &mut dyn Write) -> Result<ExportSummary, ExportError> {
    let query = QueryFilter::parse(filter)?;
    let (handler, root) = crate::builtin::query::query_handler(config, tenant, topic).map_err(|e| ExportError::Handler(e.to_string()))?;
    let name = handler.qualified_name();
    let Some(BuiltinSettings::Json(settings)) = &handler.builtin else {
        return Err(ExportError::Handler(format!(
            "handler `{name}` is not a JSON handler: exports with proofs are made from tamper-evident JSON logs"
        )));
    };
    let security = settings.security.as_ref().ok_or_else(|| {
        ExportError::Handler(format!("handler `{name}` keeps no tamper-evident log: set its `security` (exports are signed with its key)"))
    })?;
    let io = |what: String| move |source| ExportError::Io { what, source };
    let keys = IntegrityKeys::load(&security.key_file).map_err(|e| ExportError::Handler(e.to_string()))?;
    let dir_name = settings.log_directory.display().to_string();
    let dir = crate::outputs::open_directory(root, &settings.log_directory, false)
        .map_err(|e| ExportError::Io { what: dir_name.clone(), source: std::io::Error::other(e) })?;
    let live = crate::builtin::json::JsonSettings::file_name(topic);
    let files = files_in(&dir, &live, &settings.rotation).map_err(io(dir_name.clone()))?;

    let mut verifier = Verifier::new(&keys);
    let mut checkpoints = Vec::new();
    let mut proofs = Vec::new();
    let mut exported = Vec::new();
    let mut scanned = 0;
    let mut written = std::io::BufWriter::with_capacity(1 << 20, out);
    for (index, (file, _)) in files.iter().enumerate() {
        let is_live = *file == live;
        let chain = |line: usize, message: String| ExportError::Chain { file: file.clone(), line, message };
        verifier.begin_file();
        let text = read_text(&dir, file).map_err(io(file.clone()))?;
        let mut leaves = Vec::new();
        let mut selected = Vec::new();
        let mut log_signature = None;
        for (line, record, complete) in JsonLines.split(&text).map_err(|e| chain(0, e))? {
            if !complete {
                if is_live {
                    break; // being written right now
                }
                return Err(chain(line, "a partial last record".into()));
            }
            let entry = match JsonLines.parse(record) {
                Ok(Some(entry)) => entry,
                Ok(None) => continue,
                Err(e) => return Err(chain(line, e)),
            };
            match &entry {
                Entry::Data { .. } => {
                    let event = match serde_json::from_str::<Value>(record) {
                        Ok(Value::Object(mut map)) => {
                            map.remove(INTEGRITY_MEMBER);
                            let event = Value::Object(map);
                            if settings.elasticsearch_compatible { crate::builtin::json::denormalize(event) } else { event }
                        }
                        _ => return Err(chain(line, "not a JSON object".into())),
                    };
                    if query.matches(&event) {
                        selected.push((leaves.len(), record));
                    }
                    leaves.push(leaf_hash(record.as_bytes()));
                }
                Entry::Signed(r) => log_signature = Some(r.to_json()),
            }
            verifier.entry(file, entry).map_err(|e| chain(line, e))?;
        }
        let _note = verifier.end_file(is_live, true).map_err(|e| chain(0, e))?;
        let state = verifier.state().unwrap_or(crate::integrity::ChainState::GENESIS);
        scanned += leaves.len() as u64;
        let tree = MerkleTree::new(leaves);
        for (leaf, record) in selected {
            written.write_all(record.as_bytes()).and_then(|()| written.write_all(b"\n")).map_err(io("the export".into()))?;
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
    verifier.finish().map_err(|(file, message)| ExportError::Chain { file, line: 0, message })?;
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
    };
    let text = serde_json::to_string(&manifest).expect("a manifest serialises");
    let signature = keys.sign(format!("{SIGNING_DOMAIN}{text}").as_bytes());
    let proofs_text = serde_json::to_string(&proofs).expect("proofs serialise");
    let sig_text = serde_json::to_string(&signature).expect("a string");
    writeln!(written, "{{\"{EXPORT_MEMBER}\":{{\"manifest\":{text},\"signature\":{sig_text},\"proofs\":{proofs_text}}}}}")
        .and_then(|()| written.flush())
        .map_err(io("the export".into()))?;
    Ok(ExportSummary { count: manifest.count, files: files.len(), scanned, root })
}
