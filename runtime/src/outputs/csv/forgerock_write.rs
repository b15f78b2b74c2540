//! A writer of ForgeRock's tamper-evident CSV format ([`crate::integrity::forgerock`]
//! describes it): rows with their `HMAC` column, signature rows, the
//! `<file>.keystore` beside the file (written with [`JceksWriter`]),
//! rotation, and continuing a file that ForgeRock (or this writer) began,
//! from the `CurrentKey` and `CurrentSignature` of its keystore.
//!
//! # Invariants
//! - [`ForgeRockCsvWriter::flush`] writes the rows to the file and syncs it
//!   first, then replaces `<file>.keystore` (atomically) with the key for
//!   the next row: the keystore never names a key past the rows on disk.
//!   A crash between the two leaves rows the keystore does not account for,
//!   which `wasp verify --keystore` reports (as ForgeRock's verifier does);
//! - the keystore is rewritten after each flush, not after each row (the
//!   verifier checks only the key after the last row, so the file verifies
//!   the same); the 2 × 200,000-round key derivation is paid once per file;
//! - a rotated file and its keystore are renamed together (`<archive>` and
//!   `<archive>.keystore`); the next file starts with the header and a copy
//!   of the last signature, and a fresh random initial key.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::codec::CsvFormat;
use crate::integrity::forgerock::{ForgeRockKeys, HEADER_HMAC, HEADER_SIGNATURE, row_hmac};
use crate::integrity::jceks::{JceksError, JceksKeyStore, JceksWriter, SecretKey};

const INITIAL_KEY: &str = "InitialKey";
const CURRENT_KEY: &str = "CurrentKey";
const CURRENT_SIGNATURE: &str = "CurrentSignature";
const HMAC_ALGORITHM: &str = "HmacSHA256";
const SIGNATURE_ALGORITHM: &str = "SHA256withRSA";

/// What can go wrong writing a ForgeRock CSV file. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum ForgeRockWriteError {
    /// The file cannot be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file's keystore cannot be read or written.
    #[error(transparent)]
    Keystore(#[from] JceksError),
    /// The existing file cannot be continued.
    #[error("{}: cannot continue it: {message}", path.display())]
    Continue {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// Signing failed.
    #[error("{}: signing failed: {message}", path.display())]
    Sign {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

/// One live ForgeRock-format CSV file being written (and its archives).
pub struct ForgeRockCsvWriter {
    keys: ForgeRockKeys,
    path: PathBuf,
    format: CsvFormat,
    columns: Vec<String>,
    out: std::io::BufWriter<std::fs::File>,
    keystore: JceksWriter,
    /// The key for the next row.
    current: Vec<u8>,
    last_hmac: Option<String>,
    last_signature: Option<Vec<u8>>,
    /// Rows since the last signature.
    unsigned: usize,
    /// Bytes in the file, those still buffered included.
    len: u64,
    /// What [`ForgeRockCsvWriter::rollback`] returns to.
    mark: Option<Box<Mark>>,
}

/// The state at [`ForgeRockCsvWriter::mark`].
struct Mark {
    len: u64,
    keystore: JceksWriter,
    current: Vec<u8>,
    last_hmac: Option<String>,
    last_signature: Option<Vec<u8>>,
    unsigned: usize,
}

impl std::fmt::Debug for ForgeRockCsvWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ForgeRockCsvWriter({})", self.path.display())
    }
}

/// `<file>.keystore`.
pub fn keystore_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".keystore");
    PathBuf::from(name)
}

impl ForgeRockCsvWriter {
    /// Opens the live file `path` with the data `columns`: continues it
    /// when it exists (its header must be the columns, `HMAC`,
    /// `SIGNATURE`, and its `<file>.keystore` must open with the handler's
    /// keys), or starts it.
    pub fn open(path: &Path, columns: Vec<String>, format: CsvFormat, keys: ForgeRockKeys) -> Result<Self, ForgeRockWriteError> {
        let io = |source| ForgeRockWriteError::Io { path: path.to_owned(), source };
        let existing = std::fs::metadata(path).map(|m| m.len() > 0).unwrap_or(false);
        let mut header: Vec<String> = columns.clone();
        header.extend([HEADER_HMAC.to_string(), HEADER_SIGNATURE.to_string()]);
        if existing {
            let text = std::fs::read_to_string(path).map_err(io)?;
            let records =
                format.decode(&text).map_err(|e| ForgeRockWriteError::Continue { path: path.to_owned(), message: e.to_string() })?;
            let found = records.first().map(|r| r.cells.clone()).unwrap_or_default();
            if found != header {
                return Err(ForgeRockWriteError::Continue {
                    path: path.to_owned(),
                    message: format!("its header is `{}`, the handler writes `{}`", found.join(","), header.join(",")),
                });
            }
            if records.last().is_some_and(|r| !r.complete) {
                return Err(ForgeRockWriteError::Continue { path: path.to_owned(), message: "its last row is torn".into() });
            }
            let ks_path = keystore_path(path);
            let password = keys.file_keystore_password();
            let store = JceksKeyStore::open(&ks_path, &password)?;
            let initial = store.secret_key(INITIAL_KEY, &password)?;
            let current = store.secret_key(CURRENT_KEY, &password)?.bytes;
            let last_signature = store.secret_key(CURRENT_SIGNATURE, &password).ok().map(|k| k.bytes);
            let mut keystore = JceksWriter::new(&ks_path)?;
            keystore.set_secret_key(INITIAL_KEY, &initial, &password)?;
            if let Some(sig) = &last_signature {
                keystore.set_secret_key(
                    CURRENT_SIGNATURE,
                    &SecretKey { algorithm: SIGNATURE_ALGORITHM.into(), bytes: sig.clone() },
                    &password,
                )?;
            }
            let file = std::fs::OpenOptions::new().append(true).open(path).map_err(io)?;
            let mut w = ForgeRockCsvWriter {
                keys,
                path: path.to_owned(),
                format,
                columns,
                out: std::io::BufWriter::new(file),
                keystore,
                current,
                last_hmac: None,
                last_signature,
                unsigned: 0,
                len: text.len() as u64,
                mark: None,
            };
            w.store_current_key()?;
            return Ok(w);
        }
        Self::start(path, columns, format, keys, None)
    }

    /// Starts a new file (header, then a copy of `previous_signature` when
    /// there is one) with a fresh random initial key.
    fn start(
        path: &Path,
        columns: Vec<String>,
        format: CsvFormat,
        keys: ForgeRockKeys,
        previous_signature: Option<Vec<u8>>,
    ) -> Result<Self, ForgeRockWriteError> {
        let io = |source| ForgeRockWriteError::Io { path: path.to_owned(), source };
        let mut initial = vec![0u8; 32];
        getrandom::fill(&mut initial).map_err(|e| io(std::io::Error::other(format!("no random initial key: {e}"))))?;
        let password = keys.file_keystore_password();
        let mut keystore = JceksWriter::new(&keystore_path(path))?;
        keystore.set_secret_key(INITIAL_KEY, &SecretKey { algorithm: HMAC_ALGORITHM.into(), bytes: initial.clone() }, &password)?;
        if let Some(sig) = &previous_signature {
            keystore.set_secret_key(
                CURRENT_SIGNATURE,
                &SecretKey { algorithm: SIGNATURE_ALGORITHM.into(), bytes: sig.clone() },
                &password,
            )?;
        }
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(io)?;
        let mut w = ForgeRockCsvWriter {
            keys,
            path: path.to_owned(),
            format,
            columns,
            out: std::io::BufWriter::new(file),
            keystore,
            current: initial,
            last_hmac: None,
            last_signature: None,
            unsigned: 0,
            len: 0,
            mark: None,
        };
        let mut header: Vec<&str> = w.columns.iter().map(String::as_str).collect();
        header.extend([HEADER_HMAC, HEADER_SIGNATURE]);
        let line = w.format.encode(&header);
        w.put(&line)?;
        if let Some(sig) = previous_signature {
            w.put_signature_row(&STANDARD.encode(&sig))?;
            w.last_signature = Some(sig);
        }
        w.flush()?;
        Ok(w)
    }

    /// The live file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn put(&mut self, line: &str) -> Result<(), ForgeRockWriteError> {
        self.out.write_all(line.as_bytes()).map_err(|source| ForgeRockWriteError::Io { path: self.path.clone(), source })?;
        self.len += line.len() as u64;
        Ok(())
    }

    /// Bytes in the file (buffered ones included).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The length of the row `cells` would take, HMAC included.
    pub fn row_len(&self, cells: &[&str]) -> u64 {
        let mut row = cells.to_vec();
        let mac = STANDARD.encode([0u8; 32]);
        row.push(&mac);
        row.push("");
        self.format.encode(&row).len() as u64
    }

    /// Remembers the state after the last flush, for [`Self::rollback`].
    pub fn mark(&mut self) {
        self.mark = Some(Box::new(Mark {
            len: self.len,
            keystore: self.keystore.clone(),
            current: self.current.clone(),
            last_hmac: self.last_hmac.clone(),
            last_signature: self.last_signature.clone(),
            unsigned: self.unsigned,
        }));
    }

    /// Takes back the rows (and signatures) written since [`Self::mark`],
    /// and the key state with them.
    pub fn rollback(&mut self) -> Result<(), ForgeRockWriteError> {
        let Some(mark) = self.mark.take() else { return Ok(()) };
        let io = |source| ForgeRockWriteError::Io { path: self.path.clone(), source };
        let file = self.out.get_ref().try_clone().map_err(io)?;
        let _unwritten = std::mem::replace(&mut self.out, std::io::BufWriter::new(file)).into_parts();
        self.out.get_ref().set_len(mark.len).map_err(io)?;
        let Mark { len, keystore, current, last_hmac, last_signature, unsigned } = *mark;
        (self.len, self.keystore, self.current, self.last_hmac, self.last_signature, self.unsigned) =
            (len, keystore, current, last_hmac, last_signature, unsigned);
        self.mark();
        Ok(())
    }

    fn put_signature_row(&mut self, signature: &str) -> Result<(), ForgeRockWriteError> {
        let mut row = vec![""; self.columns.len() + 1];
        row.push(signature);
        let line = self.format.encode(&row);
        self.put(&line)
    }

    /// Appends a data row (one cell per data column) with its HMAC.
    pub fn append(&mut self, cells: &[&str]) -> Result<(), ForgeRockWriteError> {
        if cells.len() != self.columns.len() {
            return Err(ForgeRockWriteError::Io {
                path: self.path.clone(),
                source: std::io::Error::other(format!("{} cells for {} columns", cells.len(), self.columns.len())),
            });
        }
        let (mac, next) = row_hmac(&self.current, cells);
        let mut row = cells.to_vec();
        row.push(&mac);
        row.push("");
        let line = self.format.encode(&row);
        self.put(&line)?;
        self.current = next;
        self.last_hmac = Some(mac);
        self.unsigned += 1;
        Ok(())
    }

    /// Rows written since the last signature row.
    pub fn unsigned(&self) -> usize {
        self.unsigned
    }

    /// Writes a signature row when rows were written since the last one.
    pub fn sign(&mut self) -> Result<(), ForgeRockWriteError> {
        let Some(last_hmac) = self.last_hmac.clone().filter(|_| self.unsigned > 0) else { return Ok(()) };
        let sig = self
            .keys
            .sign(&last_hmac, self.last_signature.as_deref())
            .map_err(|e| ForgeRockWriteError::Sign { path: self.path.clone(), message: e.to_string() })?;
        self.put_signature_row(&STANDARD.encode(&sig))?;
        let password = self.keys.file_keystore_password();
        self.keystore.set_secret_key(
            CURRENT_SIGNATURE,
            &SecretKey { algorithm: SIGNATURE_ALGORITHM.into(), bytes: sig.clone() },
            &password,
        )?;
        self.last_signature = Some(sig);
        self.unsigned = 0;
        Ok(())
    }

    fn store_current_key(&mut self) -> Result<(), ForgeRockWriteError> {
        let password = self.keys.file_keystore_password();
        self.keystore.set_secret_key(
            CURRENT_KEY,
            &SecretKey { algorithm: HMAC_ALGORITHM.into(), bytes: self.current.clone() },
            &password,
        )?;
        self.keystore.store(&password)?;
        Ok(())
    }

    /// Writes the rows to the file and syncs it, then the keystore.
    pub fn flush(&mut self) -> Result<(), ForgeRockWriteError> {
        let io = |source| ForgeRockWriteError::Io { path: self.path.clone(), source };
        self.out.flush().map_err(io)?;
        self.out.get_ref().sync_data().map_err(io)?;
        self.store_current_key()
    }

    /// Signs, flushes, renames the file to `archive` (a sibling name) and
    /// its keystore to `<archive>.keystore`, and starts a new live file
    /// beginning with a copy of the last signature.
    pub fn rotate(self, archive: &Path) -> Result<ForgeRockCsvWriter, ForgeRockWriteError> {
        let mut this = self;
        this.sign()?;
        this.flush()?;
        let io = |path: &Path, source| ForgeRockWriteError::Io { path: path.to_owned(), source };
        std::fs::rename(&this.path, archive).map_err(|e| io(&this.path, e))?;
        std::fs::rename(keystore_path(&this.path), keystore_path(archive)).map_err(|e| io(&this.path, e))?;
        let ForgeRockCsvWriter { keys, path, format, columns, last_signature, .. } = this;
        Self::start(&path, columns, format, keys, last_signature)
    }

    /// Signs and flushes: what closing the output does.
    pub fn close(&mut self) -> Result<(), ForgeRockWriteError> {
        self.sign()?;
        self.flush()
    }
}
