//! ForgeRock's tamper-evident CSV format (commons-audit `SecureCsvWriter`,
//! `CsvSecureVerifier`, `HmacCalculator`, `CsvSecureUtils`), with the keys
//! of a ForgeRock JCEKS keystore ([`super::jceks`]).
//!
//! # The format
//! - The handler's keystore (`security.filename`, `security.password`)
//!   holds an RSA key pair `Signature` and an HmacSHA256 secret key
//!   `Password` (Java matches aliases without case).
//! - Beside each CSV file `F` lies a second JCEKS keystore `F.keystore`
//!   whose password is the standard Base64 of the `Password` key's bytes.
//!   It holds `InitialKey` (the random first HMAC key of `F`), `CurrentKey`
//!   (the key for the next row, rewritten after every row) and
//!   `CurrentSignature` (the last signature).
//! - The header ends with two columns, `HMAC` and `SIGNATURE`. Data row `i`
//!   carries `HMAC = Base64(HMAC-SHA256(k_i, UTF-8 of the row's cells
//!   concatenated in header order, without HMAC and SIGNATURE))` and an
//!   empty `SIGNATURE`; `k_1 = InitialKey`, `k_{i+1} = SHA-256(k_i)`.
//!   (ForgeRock skips absent values when concatenating; a CSV row has none,
//!   an empty cell adds nothing.)
//! - A signature row has only `SIGNATURE`: the Base64 of `SHA256withRSA`
//!   (PKCS#1 v1.5) over the last row's HMAC bytes, followed by the previous
//!   signature's bytes when there is one.
//! - A rotated file's first row after the header is a copy of the previous
//!   file's last signature: it is not checked, only chained from.
//!
//! # Invariants checked by [`verify`]
//! The last two header columns are `HMAC`, `SIGNATURE`; every data row's
//! HMAC matches; every signature row verifies under the public key; the
//! last row is a signature; the key after the last row equals `CurrentKey`.
//! As in ForgeRock, rows after the last signature fail the file.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rsa::pkcs1v15::Pkcs1v15Sign;
use sha2::{Digest, Sha256};

use super::hmac_sha256;
use super::jceks::{JceksError, JceksKeyStore};

/// The HMAC column's name.
pub const HEADER_HMAC: &str = "HMAC";
/// The signature column's name.
pub const HEADER_SIGNATURE: &str = "SIGNATURE";

/// The keys of ForgeRock's handler keystore. `Debug` shows no key.
#[derive(Clone)]
pub struct ForgeRockKeys {
    password: Vec<u8>,
    signing: rsa::RsaPrivateKey,
}

impl std::fmt::Debug for ForgeRockKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ForgeRockKeys(..)")
    }
}

impl ForgeRockKeys {
    /// Takes `Password` and `Signature` from the handler's keystore (keys
    /// protected with the store password, as ForgeRock's are).
    pub fn from_keystore(store: &JceksKeyStore, password: &str) -> Result<ForgeRockKeys, JceksError> {
        let secret = store.secret_key("Password", password)?;
        let signing = store.rsa_private_key("Signature", password)?;
        Ok(ForgeRockKeys { password: secret.bytes, signing })
    }

    /// The password of the `F.keystore` beside each CSV file.
    pub fn file_keystore_password(&self) -> String {
        STANDARD.encode(&self.password)
    }

    /// Signs a signature row: over `last_hmac` (Base64, as in the row)
    /// followed by `last_signature`.
    pub fn sign(&self, last_hmac: &str, last_signature: Option<&[u8]>) -> Result<Vec<u8>, SignError> {
        let digest = Sha256::digest(data_to_sign(last_hmac, last_signature).map_err(SignError::Hmac)?);
        self.signing.sign(Pkcs1v15Sign::new::<Sha256>(), &digest).map_err(SignError::Rsa)
    }

    /// The public key signatures are checked with.
    pub fn public_key(&self) -> rsa::RsaPublicKey {
        self.signing.to_public_key()
    }
}

/// The keys kept in `F.keystore` beside a CSV file.
#[derive(Clone, PartialEq)]
pub struct FileKeys {
    /// `InitialKey`: the first row's HMAC key.
    pub initial: Vec<u8>,
    /// `CurrentKey`: the key for the next row.
    pub current: Vec<u8>,
}

impl std::fmt::Debug for FileKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FileKeys(..)")
    }
}

impl FileKeys {
    /// Reads `InitialKey` and `CurrentKey` from a file's keystore.
    pub fn open(path: &std::path::Path, keys: &ForgeRockKeys) -> Result<FileKeys, JceksError> {
        let password = keys.file_keystore_password();
        let store = JceksKeyStore::open(path, &password)?;
        Ok(FileKeys {
            initial: store.secret_key("InitialKey", &password)?.bytes,
            current: store.secret_key("CurrentKey", &password)?.bytes,
        })
    }
}

/// `Base64-decode(last_hmac) ‖ last_signature`.
fn data_to_sign(last_hmac: &str, last_signature: Option<&[u8]>) -> Result<Vec<u8>, base64::DecodeError> {
    let mut data = STANDARD.decode(last_hmac)?;
    data.extend_from_slice(last_signature.unwrap_or_default());
    Ok(data)
}

/// A row's HMAC under `key` (Base64), and the next key.
pub fn row_hmac(key: &[u8], cells: &[&str]) -> (String, Vec<u8>) {
    let mac = hmac_sha256(key, cells.concat().as_bytes());
    (STANDARD.encode(mac), Sha256::digest(key).to_vec())
}

/// What a file that verified holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// Data rows.
    pub rows: usize,
    /// Signature rows checked (not counting a rotated file's copied one).
    pub signatures: usize,
    /// The last HMAC (Base64), to continue from.
    pub last_hmac: Option<String>,
    /// The last signature, to continue from.
    pub last_signature: Option<Vec<u8>>,
    /// The key for the next row.
    pub next_key: Vec<u8>,
}

/// Why a signature row could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The last row's HMAC is not Base64.
    #[error("the last HMAC is not Base64: {0}")]
    Hmac(#[source] base64::DecodeError),
    /// The RSA signature failed.
    #[error("{0}")]
    Rsa(#[source] rsa::Error),
}

/// Why a ForgeRock CSV file does not verify: what was tampered with, and
/// where (rows count the header as row 1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotVerified {
    /// The file has no rows.
    #[error("the file is empty")]
    Empty,
    /// The header lacks the HMAC and SIGNATURE columns.
    #[error("the header does not end with {HEADER_HMAC},{HEADER_SIGNATURE}")]
    Header,
    /// A row with another number of cells than the header.
    #[error("row {row}: {cells} cells, the header has {header}")]
    Cells {
        /// The row.
        row: usize,
        /// Its cells.
        cells: usize,
        /// The header's.
        header: usize,
    },
    /// A signature cell that is not Base64.
    #[error("row {0}: the signature is not Base64")]
    SignatureNotBase64(usize),
    /// A signature row before any data row.
    #[error("row {0}: a signature before any HMAC")]
    SignatureBeforeHmac(usize),
    /// An HMAC cell that is not Base64 (before row `0`'s signature).
    #[error("row {0}: the last HMAC is not Base64")]
    HmacNotBase64(usize),
    /// A signature that does not verify.
    #[error("row {0}: the signature is not correct")]
    Signature(usize),
    /// A row whose HMAC is not the chain's.
    #[error("row {0}: the HMAC is not correct")]
    Hmac(usize),
    /// The chain ends on another key than the keystore's `CurrentKey`.
    #[error("the final HMAC key does not match CurrentKey (rows were removed or added)")]
    CurrentKey,
    /// The file does not end with a signature row.
    #[error("missing final signature")]
    NoFinalSignature,
}

/// Verifies a ForgeRock CSV file given as rows of cells (the header first)
/// with its `F.keystore` keys and the public key, as `CsvSecureVerifier`
/// does. An error names the row (1 is the header).
pub fn verify(rows: &[Vec<String>], file_keys: &FileKeys, public: &rsa::RsaPublicKey) -> Result<Verified, NotVerified> {
    let header = rows.first().ok_or(NotVerified::Empty)?;
    let n = header.len();
    if n < 2 || header[n - 2] != HEADER_HMAC || header[n - 1] != HEADER_SIGNATURE {
        return Err(NotVerified::Header);
    }
    let mut v = Verified { rows: 0, signatures: 0, last_hmac: None, last_signature: None, next_key: file_keys.initial.clone() };
    let mut last_was_signature = false;
    for (i, row) in rows.iter().enumerate().skip(1) {
        let line = i + 1;
        if row.len() != n {
            return Err(NotVerified::Cells { row: line, cells: row.len(), header: n });
        }
        let signature = &row[n - 1];
        last_was_signature = false;
        if !signature.is_empty() {
            let bytes = STANDARD.decode(signature).map_err(|_| NotVerified::SignatureNotBase64(line))?;
            if line == 2 {
                // A rotated file: the previous file's last signature, chained from.
                v.last_signature = Some(bytes);
                continue;
            }
            let last_hmac = v.last_hmac.as_deref().ok_or(NotVerified::SignatureBeforeHmac(line))?;
            let data = data_to_sign(last_hmac, v.last_signature.as_deref()).map_err(|_| NotVerified::HmacNotBase64(line))?;
            let digest = Sha256::digest(data);
            public.verify(Pkcs1v15Sign::new::<Sha256>(), &digest, &bytes).map_err(|_| NotVerified::Signature(line))?;
            v.last_signature = Some(bytes);
            v.signatures += 1;
            last_was_signature = true;
        } else {
            let cells: Vec<&str> = row[..n - 2].iter().map(String::as_str).collect();
            let (mac, next) = row_hmac(&v.next_key, &cells);
            if mac != row[n - 2] {
                return Err(NotVerified::Hmac(line));
            }
            v.next_key = next;
            v.last_hmac = Some(mac);
            v.rows += 1;
        }
    }
    if v.next_key != file_keys.current {
        return Err(NotVerified::CurrentKey);
    }
    if !last_was_signature {
        return Err(NotVerified::NoFinalSignature);
    }
    Ok(v)
}
