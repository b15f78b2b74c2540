//! A writer for JCEKS keystores holding secret keys, byte for byte as
//! OpenJDK's `JceKeyStore.engineStore` writes them: what ForgeRock's CSV
//! handler keeps beside each log file (`<file>.keystore`, with the secret
//! keys `InitialKey`, `CurrentKey` and `CurrentSignature`).
//!
//! Each secret key is sealed as Java's `KeyProtector.seal` does: a
//! `javax.crypto.spec.SecretKeySpec` is Java-serialized, encrypted with
//! Sun's `PBEWithMD5AndTripleDES` (a random 8-byte salt,
//! [`SEAL_ITERATIONS`] iterations, the key password), and the result is
//! stored as a Java-serialized `SealedObjectForKeyProtector`, each entry in
//! its own object stream. The file ends with the keyed SHA-1 of
//! [`super::JceksKeyStore`]'s format.
//!
//! One difference from Java, invisible to any reader: Java draws a salt for
//! every seal; a writer here draws one when it is made and keeps the
//! derived key for its key password, so that the 2 × 200,000 MD5 rounds
//! are paid once per keystore, not once per rewrite (ForgeRock rewrites
//! `CurrentKey` after every row). The salt travels in each entry's
//! parameters, as in Java; the cost of guessing a password is unchanged.
//!
//! # Invariants
//! - an entry is sealed once, when it is set: storing again re-uses the
//!   sealed bytes of the entries that did not change (as Java keeps them
//!   in memory), so rewriting the file after each change costs one seal;
//! - [`JceksWriter::store`] replaces the file atomically (a temporary file
//!   in the same directory, synced, renamed over it, the directory synced):
//!   a crash leaves the old keystore or the new one, never a torn one;
//! - aliases are lower-cased, as Java stores them; a key password must be
//!   printable ASCII (Java's `PBEKey` refuses anything else).

use std::path::{Path, PathBuf};

use sha1::{Digest, Sha1};

use super::pbe::{self, PbeParams};
use super::{DIGEST_LEN, INTEGRITY_SALT, JceksError, MAGIC, SecretKey, TAG_SECRET_KEY};

/// The iteration count Java 17's `KeyProtector` seals keys with (its
/// default for `jdk.jceks.iterationCount`).
pub const SEAL_ITERATIONS: u32 = 200_000;
const SEAL_ALG: &str = "PBEWithMD5AndTripleDES";

const STREAM_HEADER: [u8; 4] = [0xac, 0xed, 0x00, 0x05];
const TC_NULL: u8 = 0x70;
const TC_REFERENCE: u8 = 0x71;
const TC_CLASSDESC: u8 = 0x72;
const TC_OBJECT: u8 = 0x73;
const TC_STRING: u8 = 0x74;
const TC_ARRAY: u8 = 0x75;
const TC_ENDBLOCKDATA: u8 = 0x78;
const SC_SERIALIZABLE: u8 = 0x02;
const BASE_HANDLE: u32 = 0x7e_0000;
/// `serialVersionUID`s of the classes written.
const UID_SEALED_FOR_KEY_PROTECTOR: u64 = 0xcd57_ca59_e730_bb53;
const UID_SEALED_OBJECT: u64 = 0x3e36_3da6_c3b7_5470;
const UID_SECRET_KEY_SPEC: u64 = 0x5b47_0b66_e230_614d;
const UID_BYTE_ARRAY: u64 = 0xacf3_17f8_0608_54e0;

/// One sealed entry, ready to be written.
#[derive(Clone)]
pub(super) struct Sealed {
    pub(super) alias: String,
    pub(super) created_ms: i64,
    /// The entry's object stream (a `SealedObjectForKeyProtector`).
    pub(super) stream: Vec<u8>,
}

/// A JCEKS keystore of secret keys being written. `Debug` shows the
/// aliases only.
#[derive(Clone)]
pub struct JceksWriter {
    path: PathBuf,
    iterations: u32,
    salt: [u8; 8],
    /// The key and IV derived for a key password (never printed).
    derived: Option<(String, [u8; 32])>,
    pub(super) entries: Vec<Sealed>,
}

impl std::fmt::Debug for JceksWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let aliases: Vec<&str> = self.entries.iter().map(|e| e.alias.as_str()).collect();
        write!(f, "JceksWriter({}, {aliases:?})", self.path.display())
    }
}

impl JceksWriter {
    /// An empty keystore to be stored at `path` (also named in errors).
    pub fn new(path: &Path) -> Result<JceksWriter, JceksError> {
        let mut salt = [0u8; 8];
        getrandom::fill(&mut salt)
            .map_err(|e| JceksError::Io { path: path.to_owned(), source: std::io::Error::other(format!("no random salt: {e}")) })?;
        Ok(JceksWriter { path: path.to_owned(), iterations: SEAL_ITERATIONS, salt, derived: None, entries: Vec::new() })
    }

    /// Seals with `iterations` (1 to 5,000,000, what Java reads) instead
    /// of [`SEAL_ITERATIONS`].
    pub fn with_iterations(mut self, iterations: u32) -> JceksWriter {
        self.iterations = iterations.clamp(1, 5_000_000);
        self.derived = None;
        self
    }

    /// The file the keystore is stored at.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Seals `key` under `alias` (replacing an entry of that alias) with
    /// the key password, dated now.
    pub fn set_secret_key(&mut self, alias: &str, key: &SecretKey, key_password: &str) -> Result<(), JceksError> {
        if !key_password.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
            return Err(JceksError::PasswordNotAscii { path: self.path.clone() });
        }
        let alias = alias.to_lowercase();
        let entry_error = |message: &str| JceksError::Entry { path: self.path.clone(), alias: alias.clone(), message: message.into() };
        let params = PbeParams { salt: self.salt, iterations: self.iterations };
        let plain = secret_key_spec(&key.algorithm, &key.bytes).map_err(|m| entry_error(&m))?;
        let derived = match &self.derived {
            Some((pw, d)) if pw == key_password => *d,
            _ => {
                let d = pbe::derive(key_password.as_bytes(), &params);
                self.derived = Some((key_password.to_owned(), d));
                d
            }
        };
        let content = pbe::encrypt_derived(&derived, &plain);
        let stream = sealed_object(&params.to_der(), &content);
        let created_ms =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or_default();
        java_utf(&alias).map_err(|m| entry_error(&m))?;
        let sealed = Sealed { alias, created_ms, stream };
        match self.entries.iter_mut().find(|e| e.alias == sealed.alias) {
            Some(e) => *e = sealed,
            None => self.entries.push(sealed),
        }
        Ok(())
    }

    /// The keystore's bytes, with the keyed SHA-1 of `store_password`.
    pub fn to_bytes(&self, store_password: &str) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&MAGIC.to_be_bytes());
        out.extend_from_slice(&2u32.to_be_bytes());
        out.extend_from_slice(&(self.entries.len() as u32).to_be_bytes());
        for e in &self.entries {
            out.extend_from_slice(&TAG_SECRET_KEY.to_be_bytes());
            out.extend_from_slice(&java_utf(&e.alias).expect("checked when set"));
            out.extend_from_slice(&e.created_ms.to_be_bytes());
            out.extend_from_slice(&e.stream);
        }
        let mut md = Sha1::new();
        for u in store_password.encode_utf16() {
            md.update(u.to_be_bytes());
        }
        md.update(INTEGRITY_SALT);
        md.update(&out);
        let digest = md.finalize();
        debug_assert_eq!(digest.len(), DIGEST_LEN);
        out.extend_from_slice(&digest);
        out
    }

    /// Writes the keystore to its path, replacing the file atomically.
    pub fn store(&self, store_password: &str) -> Result<(), JceksError> {
        use std::io::Write;
        let io = |source: std::io::Error| JceksError::Io { path: self.path.clone(), source };
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        let name = self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp = dir.join(format!(".{name}.tmp"));
        let mut file = std::fs::File::create(&tmp).map_err(io)?;
        file.write_all(&self.to_bytes(store_password)).map_err(io)?;
        file.sync_all().map_err(io)?;
        drop(file);
        std::fs::rename(&tmp, &self.path).map_err(io)?;
        std::fs::File::open(&dir).and_then(|d| d.sync_all()).map_err(io)
    }
}

/// Java's `writeUTF`: a u16 length and modified UTF-8 (NUL as two bytes,
/// characters beyond the BMP as two 3-byte surrogates).
fn java_utf(s: &str) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    for u in s.encode_utf16() {
        match u {
            0x0001..=0x007f => body.push(u as u8),
            0x0000 | 0x0080..=0x07ff => body.extend_from_slice(&[0xc0 | (u >> 6) as u8, 0x80 | (u & 0x3f) as u8]),
            _ => body.extend_from_slice(&[0xe0 | (u >> 12) as u8, 0x80 | ((u >> 6) & 0x3f) as u8, 0x80 | (u & 0x3f) as u8]),
        }
    }
    let len = u16::try_from(body.len()).map_err(|_| "longer than 65535 bytes in modified UTF-8".to_string())?;
    let mut out = len.to_be_bytes().to_vec();
    out.extend_from_slice(&body);
    Ok(out)
}

/// An object stream being written; handles are counted as Java assigns them.
struct Stream {
    out: Vec<u8>,
}

impl Stream {
    fn new() -> Stream {
        Stream { out: STREAM_HEADER.to_vec() }
    }
    fn utf(&mut self, s: &str) {
        self.out.extend_from_slice(&java_utf(s).expect("short ASCII names"));
    }
    fn string(&mut self, s: &str) {
        self.out.push(TC_STRING);
        self.utf(s);
    }
    fn reference(&mut self, handle: u32) {
        self.out.push(TC_REFERENCE);
        self.out.extend_from_slice(&(BASE_HANDLE + handle).to_be_bytes());
    }
    /// `TC_CLASSDESC name uid SC_SERIALIZABLE count`; fields follow.
    fn class_desc(&mut self, name: &str, uid: u64, fields: u16) {
        self.out.push(TC_CLASSDESC);
        self.utf(name);
        self.out.extend_from_slice(&uid.to_be_bytes());
        self.out.push(SC_SERIALIZABLE);
        self.out.extend_from_slice(&fields.to_be_bytes());
    }
    /// The end of a class descriptor: no annotation, no superclass.
    fn end_desc(&mut self) {
        self.out.extend_from_slice(&[TC_ENDBLOCKDATA, TC_NULL]);
    }
    fn bytes(&mut self, b: &[u8]) {
        self.out.extend_from_slice(&(b.len() as u32).to_be_bytes());
        self.out.extend_from_slice(b);
    }
}

/// `new SecretKeySpec(key, algorithm)`, serialized as its own stream (the
/// plaintext a secret key entry seals). Handles: 0 the class, 1 the
/// `Ljava/lang/String;` type name, 2 `[B`, 3 the object, 4 the algorithm,
/// 5 `byte[]`'s class, 6 the array.
pub(super) fn secret_key_spec(algorithm: &str, key: &[u8]) -> Result<Vec<u8>, String> {
    java_utf(algorithm).map_err(|m| format!("the key's algorithm is {m}"))?;
    let mut s = Stream::new();
    s.out.push(TC_OBJECT);
    s.class_desc("javax.crypto.spec.SecretKeySpec", UID_SECRET_KEY_SPEC, 2);
    s.out.push(b'L');
    s.utf("algorithm");
    s.string("Ljava/lang/String;");
    s.out.push(b'[');
    s.utf("key");
    s.string("[B");
    s.end_desc();
    s.string(algorithm);
    s.out.push(TC_ARRAY);
    s.class_desc("[B", UID_BYTE_ARRAY, 0);
    s.end_desc();
    s.bytes(key);
    Ok(s.out)
}

/// A `SealedObjectForKeyProtector` (whose serializable fields are all its
/// superclass `javax.crypto.SealedObject`'s) as `JceKeyStore` writes one.
/// Handles: 0 and 1 the two classes, 2 `[B`, 3 `Ljava/lang/String;`, 4 the
/// object, 5 `byte[]`'s class, then the values.
pub(super) fn sealed_object(encoded_params: &[u8], encrypted_content: &[u8]) -> Vec<u8> {
    let mut s = Stream::new();
    s.out.push(TC_OBJECT);
    s.class_desc("com.sun.crypto.provider.SealedObjectForKeyProtector", UID_SEALED_FOR_KEY_PROTECTOR, 0);
    s.out.push(TC_ENDBLOCKDATA);
    s.class_desc("javax.crypto.SealedObject", UID_SEALED_OBJECT, 4);
    s.out.push(b'[');
    s.utf("encodedParams");
    s.string("[B");
    s.out.push(b'[');
    s.utf("encryptedContent");
    s.reference(2);
    s.out.push(b'L');
    s.utf("paramsAlg");
    s.string("Ljava/lang/String;");
    s.out.push(b'L');
    s.utf("sealAlg");
    s.reference(3);
    s.end_desc();
    // Field values, in descriptor order.
    s.out.push(TC_ARRAY);
    s.class_desc("[B", UID_BYTE_ARRAY, 0);
    s.end_desc();
    s.bytes(encoded_params);
    s.out.push(TC_ARRAY);
    s.reference(5);
    s.bytes(encrypted_content);
    s.string(SEAL_ALG);
    s.string(SEAL_ALG);
    s.out
}
