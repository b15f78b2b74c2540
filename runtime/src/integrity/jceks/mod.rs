//! A reader for Java's JCEKS keystores (OpenJDK `com.sun.crypto.provider.JceKeyStore`),
//! the keystore ForgeRock's CSV audit handler takes its tamper-evidence keys
//! from: an RSA private key `signature` and an HmacSHA256 secret key
//! `password`.
//!
//! # Format (all integers big-endian)
//! ```text
//! u32 magic 0xcececece | u32 version (1 or 2) | u32 count
//! count × entry:
//!   u32 tag | UTF alias | i64 creation time (ms since 1970)
//!   tag 1, private key: u32 len, EncryptedPrivateKeyInfo (DER, algorithm
//!          PBEWithMD5AndTripleDES, or JKS's key protector for a key
//!          imported from a JKS keystore) | u32 n, n × certificate
//!   tag 2, trusted certificate: one certificate
//!   tag 3, secret key: a Java-serialized SealedObjectForKeyProtector
//!          (javax.crypto.SealedObject sealed with PBEWithMD5AndTripleDES)
//!   certificate: (version 2 only) UTF type, e.g. "X.509" | u32 len | DER
//! 20 bytes: SHA-1(password as UTF-16BE ‖ "Mighty Aphrodite" ‖ all bytes before)
//! ```
//! `UTF` is Java's `writeUTF`: a u16 length and modified UTF-8.
//!
//! [`JceksWriter`] writes keystores of secret keys in the same format.
//!
//! # Invariants
//! - [`JceksKeyStore::open`] checks the keyed SHA-1 over the whole file
//!   before it returns anything: a wrong store password and an altered
//!   file give the same [`JceksError::Integrity`] (they cannot be told
//!   apart, as in Java);
//! - keys stay encrypted in memory until asked for by alias, with the key
//!   password (ForgeRock uses the store password for both);
//! - no password, and no key material, is ever part of an error or a
//!   `Debug` output; errors name the file and the entry;
//! - every length is checked against what is left of the file before it is
//!   allocated: a truncated or corrupt file gives [`JceksError::Corrupt`],
//!   never a panic.

mod pbe;
mod serial;
#[cfg(test)]
mod tests;
mod write;

use std::path::{Path, PathBuf};

use sha1::{Digest, Sha1};

use serial::Value;
pub use write::{JceksWriter, SEAL_ITERATIONS};

const MAGIC: u32 = 0xcece_cece;
const TAG_PRIVATE_KEY: u32 = 1;
const TAG_TRUSTED_CERT: u32 = 2;
const TAG_SECRET_KEY: u32 = 3;
/// The words Sun mixes into the integrity digest.
const INTEGRITY_SALT: &[u8] = b"Mighty Aphrodite";
const DIGEST_LEN: usize = 20;

/// What can go wrong reading a JCEKS keystore. Each names the file, and
/// the entry where there is one; none holds a password or key bytes.
#[derive(Debug, thiserror::Error)]
pub enum JceksError {
    /// The file cannot be read.
    #[error("keystore {}: {source}", path.display())]
    Io {
        /// The keystore.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file does not start with JCEKS's magic number.
    #[error("keystore {}: not a JCEKS keystore (it starts with {found:#010x}, not 0xcececece; a JKS or PKCS#12 keystore can be converted with `keytool -importkeystore -deststoretype JCEKS`)", path.display())]
    NotJceks {
        /// The keystore.
        path: PathBuf,
        /// The first four bytes.
        found: u32,
    },
    /// A version other than 1 or 2.
    #[error("keystore {}: JCEKS version {version} is not supported (1 and 2 are)", path.display())]
    Version {
        /// The keystore.
        path: PathBuf,
        /// The version found.
        version: u32,
    },
    /// The file is truncated or does not follow the format.
    #[error("keystore {}: corrupt at byte {offset}{}: {what}", path.display(), entry_suffix(alias))]
    Corrupt {
        /// The keystore.
        path: PathBuf,
        /// The entry being read, if any.
        alias: Option<String>,
        /// Where in the file.
        offset: usize,
        /// What was wrong.
        what: String,
    },
    /// The keyed SHA-1 at the end of the file does not match.
    #[error("keystore {}: integrity check failed: the keystore password is wrong, or the file was altered", path.display())]
    Integrity {
        /// The keystore.
        path: PathBuf,
    },
    /// A password that Sun's `PBEWithMD5AndTripleDES` cannot take.
    #[error("keystore {}: the password must be printable ASCII (Java's PBEKey refuses anything else)", path.display())]
    PasswordNotAscii {
        /// The keystore.
        path: PathBuf,
    },
    /// No entry by that alias.
    #[error("keystore {}: no entry {alias:?} (entries: {})", path.display(), present.join(", "))]
    Missing {
        /// The keystore.
        path: PathBuf,
        /// The alias asked for.
        alias: String,
        /// The aliases there are.
        present: Vec<String>,
    },
    /// The entry is of another kind than asked for.
    #[error("keystore {}: entry {alias:?} is a {found}, not a {wanted}", path.display())]
    WrongKind {
        /// The keystore.
        path: PathBuf,
        /// The entry.
        alias: String,
        /// What it is.
        found: &'static str,
        /// What was asked for.
        wanted: &'static str,
    },
    /// The key does not decrypt: wrong key password, or altered entry.
    #[error("keystore {}: entry {alias:?}: the key cannot be recovered: the key password is wrong, or the entry was altered", path.display())]
    KeyPassword {
        /// The keystore.
        path: PathBuf,
        /// The entry.
        alias: String,
    },
    /// The entry decrypts but its content is not usable.
    #[error("keystore {}: entry {alias:?}: {message}", path.display())]
    Entry {
        /// The keystore.
        path: PathBuf,
        /// The entry.
        alias: String,
        /// What was wrong.
        message: String,
    },
}

fn entry_suffix(alias: &Option<String>) -> String {
    alias.as_ref().map(|a| format!(" (entry {a:?})")).unwrap_or_default()
}

/// A certificate of a private key's chain, or a trusted certificate.
#[derive(Debug, Clone, PartialEq)]
pub struct Certificate {
    /// Its type (`X.509`; version 1 keystores do not say, and read as `X.509`).
    pub cert_type: String,
    /// Its encoding (DER for X.509).
    pub der: Vec<u8>,
}

/// What an entry holds; keys still encrypted.
#[derive(Clone)]
pub enum EntryKind {
    /// A private key (an `EncryptedPrivateKeyInfo`) and its certificate chain.
    PrivateKey {
        /// The encrypted key.
        protected: Vec<u8>,
        /// The chain, the key's own certificate first.
        chain: Vec<Certificate>,
    },
    /// A trusted certificate.
    TrustedCert(Certificate),
    /// A secret key: the sealed object's parameters and content.
    SecretKey {
        /// `encodedParams`: the DER PBE parameters.
        params: Vec<u8>,
        /// `encryptedContent`.
        content: Vec<u8>,
        /// `sealAlg`.
        seal_alg: String,
    },
}

impl EntryKind {
    /// The kind's name, as errors and listings say it.
    pub fn name(&self) -> &'static str {
        match self {
            EntryKind::PrivateKey { .. } => "private key",
            EntryKind::TrustedCert(_) => "trusted certificate",
            EntryKind::SecretKey { .. } => "secret key",
        }
    }
}

impl std::fmt::Debug for EntryKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One keystore entry.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its alias (Java lower-cases aliases when it writes them).
    pub alias: String,
    /// When it was made, in milliseconds since 1970.
    pub created_ms: i64,
    /// What it holds.
    pub kind: EntryKind,
}

/// A recovered secret key. `Debug` shows the algorithm and length only.
#[derive(Clone, PartialEq)]
pub struct SecretKey {
    /// Its algorithm, e.g. `HmacSHA256`.
    pub algorithm: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey({}, {} bytes)", self.algorithm, self.bytes.len())
    }
}

/// A JCEKS keystore, read and integrity-checked.
#[derive(Debug, Clone)]
pub struct JceksKeyStore {
    path: PathBuf,
    version: u32,
    entries: Vec<Entry>,
}

impl JceksKeyStore {
    /// Reads the keystore at `path` and checks its integrity with the store
    /// password.
    pub fn open(path: &Path, password: &str) -> Result<Self, JceksError> {
        let data = std::fs::read(path).map_err(|source| JceksError::Io { path: path.to_owned(), source })?;
        Self::parse(path, &data, password)
    }

    /// Reads a keystore from `data`; `path` only names it in errors.
    pub fn parse(path: &Path, data: &[u8], password: &str) -> Result<Self, JceksError> {
        let path = path.to_owned();
        let corrupt = |alias: Option<&str>, offset: usize, what: &str| JceksError::Corrupt {
            path: path.clone(),
            alias: alias.map(str::to_owned),
            offset,
            what: what.to_owned(),
        };
        if data.len() < 4 {
            return Err(corrupt(None, 0, "shorter than a JCEKS header"));
        }
        let magic = u32::from_be_bytes(data[..4].try_into().expect("4 bytes"));
        if magic != MAGIC {
            return Err(JceksError::NotJceks { path, found: magic });
        }
        if data.len() < 12 + DIGEST_LEN {
            return Err(corrupt(None, 0, "shorter than a JCEKS header and digest"));
        }
        // Integrity first: nothing is parsed from a file that fails it.
        let (body, digest) = data.split_at(data.len() - DIGEST_LEN);
        let mut md = Sha1::new();
        for u in password.encode_utf16() {
            md.update(u.to_be_bytes());
        }
        md.update(INTEGRITY_SALT);
        md.update(body);
        if md.finalize().as_slice() != digest {
            return Err(JceksError::Integrity { path });
        }
        let mut r = Cursor { data: body, pos: 4 };
        let e = |r: &Cursor<'_>, alias: Option<&str>, what: &str| corrupt(alias, r.pos, what);
        let version = r.u32().ok_or_else(|| e(&r, None, "no version"))?;
        if version != 1 && version != 2 {
            return Err(JceksError::Version { path, version });
        }
        let count = r.u32().ok_or_else(|| e(&r, None, "no entry count"))?;
        let mut entries = Vec::new();
        for _ in 0..count {
            let tag = r.u32().ok_or_else(|| e(&r, None, "truncated before an entry"))?;
            let alias = r.utf().ok_or_else(|| e(&r, None, "truncated alias"))?;
            let a = Some(alias.as_str());
            let created_ms = r.u64().ok_or_else(|| e(&r, a, "truncated date"))? as i64;
            let cert = |r: &mut Cursor<'_>| -> Option<Certificate> {
                let cert_type = if version == 2 { r.utf()? } else { "X.509".to_string() };
                let der = r.bytes()?.to_vec();
                Some(Certificate { cert_type, der })
            };
            let kind = match tag {
                TAG_PRIVATE_KEY => {
                    let protected = r.bytes().ok_or_else(|| e(&r, a, "truncated private key"))?.to_vec();
                    let n = r.u32().ok_or_else(|| e(&r, a, "truncated certificate count"))?;
                    let mut chain = Vec::new();
                    for _ in 0..n {
                        chain.push(cert(&mut r).ok_or_else(|| e(&r, a, "truncated certificate"))?);
                    }
                    EntryKind::PrivateKey { protected, chain }
                }
                TAG_TRUSTED_CERT => EntryKind::TrustedCert(cert(&mut r).ok_or_else(|| e(&r, a, "truncated certificate"))?),
                TAG_SECRET_KEY => {
                    let (v, used) = serial::read_stream(&r.data[r.pos..]).map_err(|m| e(&r, a, &m))?;
                    r.pos += used;
                    sealed_object(&v).map_err(|m| e(&r, a, &m))?
                }
                t => return Err(e(&r, a, &format!("unknown entry tag {t}"))),
            };
            entries.push(Entry { alias, created_ms, kind });
        }
        if r.pos != body.len() {
            return Err(e(&r, None, "bytes after the last entry"));
        }
        Ok(JceksKeyStore { path, version, entries })
    }

    /// The file this keystore was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The format version (1 or 2).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The entries, in file order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The entry `alias` (matched as Java does: case-insensitively).
    pub fn entry(&self, alias: &str) -> Result<&Entry, JceksError> {
        self.entries.iter().find(|e| e.alias.eq_ignore_ascii_case(alias)).ok_or_else(|| JceksError::Missing {
            path: self.path.clone(),
            alias: alias.to_owned(),
            present: self.entries.iter().map(|e| e.alias.clone()).collect(),
        })
    }

    fn wrong_kind(&self, entry: &Entry, wanted: &'static str) -> JceksError {
        JceksError::WrongKind { path: self.path.clone(), alias: entry.alias.clone(), found: entry.kind.name(), wanted }
    }

    fn decrypt(&self, alias: &str, key_password: &str, params: &pbe::PbeParams, data: &[u8]) -> Result<Vec<u8>, JceksError> {
        if !key_password.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
            return Err(JceksError::PasswordNotAscii { path: self.path.clone() });
        }
        pbe::decrypt(key_password.as_bytes(), params, data).map_err(|err| match err {
            pbe::PbeError::Padding => JceksError::KeyPassword { path: self.path.clone(), alias: alias.to_owned() },
            pbe::PbeError::Params(m) => self.entry_error(alias, m),
        })
    }

    fn entry_error(&self, alias: &str, message: String) -> JceksError {
        JceksError::Entry { path: self.path.clone(), alias: alias.to_owned(), message }
    }

    /// Recovers the secret key `alias` with its key password.
    pub fn secret_key(&self, alias: &str, key_password: &str) -> Result<SecretKey, JceksError> {
        let entry = self.entry(alias)?;
        let EntryKind::SecretKey { params, content, seal_alg } = &entry.kind else {
            return Err(self.wrong_kind(entry, "secret key"));
        };
        let alias = entry.alias.as_str();
        if seal_alg != "PBEWithMD5AndTripleDES" {
            return Err(self.entry_error(alias, format!("sealed with {seal_alg}, not PBEWithMD5AndTripleDES")));
        }
        let params = pbe::PbeParams::from_der(params).map_err(|e| self.entry_error(alias, format!("{e:?}")))?;
        let plain = self.decrypt(alias, key_password, &params, content)?;
        // A wrong password that happens to leave valid padding decrypts to
        // garbage: it is refused here, as a wrong password.
        let wrong = || JceksError::KeyPassword { path: self.path.clone(), alias: alias.to_owned() };
        let (key, _) = serial::read_stream(&plain).map_err(|_| wrong())?;
        let algorithm = match key.field("algorithm") {
            Some(Value::Str(s)) => s.clone(),
            _ => return Err(self.entry_error(alias, "the sealed key has no algorithm".into())),
        };
        // javax.crypto.spec.SecretKeySpec has `key`; java.security.KeyRep has `encoded`.
        match key.field("key").or_else(|| key.field("encoded")) {
            Some(Value::Bytes(bytes)) => Ok(SecretKey { algorithm, bytes: bytes.clone() }),
            _ => Err(self.entry_error(alias, "the sealed object is not a secret key".into())),
        }
    }

    /// Recovers the private key `alias` as PKCS#8 DER.
    pub fn private_key_pkcs8(&self, alias: &str, key_password: &str) -> Result<Vec<u8>, JceksError> {
        let entry = self.entry(alias)?;
        let EntryKind::PrivateKey { protected, .. } = &entry.kind else {
            return Err(self.wrong_kind(entry, "private key"));
        };
        let alias = entry.alias.as_str();
        let protection = pbe::encrypted_private_key_info(protected).map_err(|e| self.entry_error(alias, format!("{e:?}")))?;
        let plain = match protection {
            pbe::Protection::Pbe(params, data) => self.decrypt(alias, key_password, &params, data)?,
            pbe::Protection::Jks(data) => pbe::jks_recover(key_password, data).map_err(|err| match err {
                pbe::PbeError::Padding => JceksError::KeyPassword { path: self.path.clone(), alias: alias.to_owned() },
                pbe::PbeError::Params(m) => self.entry_error(alias, m),
            })?,
        };
        if pbe::der_tlv(&plain, 0x30).is_none_or(|(_, rest)| !rest.is_empty()) {
            return Err(JceksError::KeyPassword { path: self.path.clone(), alias: alias.to_owned() });
        }
        Ok(plain)
    }

    /// Recovers the RSA private key `alias`.
    pub fn rsa_private_key(&self, alias: &str, key_password: &str) -> Result<rsa::RsaPrivateKey, JceksError> {
        use rsa::pkcs8::DecodePrivateKey;
        let der = self.private_key_pkcs8(alias, key_password)?;
        rsa::RsaPrivateKey::from_pkcs8_der(&der).map_err(|e| self.entry_error(alias, format!("not an RSA private key: {e}")))
    }

    /// The certificate chain of the private key `alias`.
    pub fn certificate_chain(&self, alias: &str) -> Result<&[Certificate], JceksError> {
        let entry = self.entry(alias)?;
        match &entry.kind {
            EntryKind::PrivateKey { chain, .. } => Ok(chain),
            _ => Err(self.wrong_kind(entry, "private key")),
        }
    }
}

/// The fields of a deserialized `javax.crypto.SealedObject`.
fn sealed_object(v: &Value) -> Result<EntryKind, String> {
    let Value::Object { class, .. } = v else {
        return Err("the secret key entry is not an object".into());
    };
    let bytes = |name| match v.field(name) {
        Some(Value::Bytes(b)) => Ok(b.clone()),
        _ => Err(format!("{class} has no {name}")),
    };
    let seal_alg = match v.field("sealAlg") {
        Some(Value::Str(s)) => s.clone(),
        _ => return Err(format!("{class} has no sealAlg")),
    };
    Ok(EntryKind::SecretKey { params: bytes("encodedParams")?, content: bytes("encryptedContent")?, seal_alg })
}

/// A bounds-checked reader over the file's bytes.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.data.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }
    fn utf(&mut self) -> Option<String> {
        let n = u16::from_be_bytes(self.take(2)?.try_into().ok()?);
        Some(String::from_utf8_lossy(self.take(usize::from(n))?).into_owned())
    }
    /// A u32 length and that many bytes.
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}
