//! The key file: the chain's HMAC key and the Ed25519 signing key, kept
//! outside the log directory (`wasp keygen` writes one).
//!
//! Format: `{"format": "wasp-integrity-key/1", "hmacKey": "<base64, 32
//! bytes>", "signingKey": "<base64, 32-byte Ed25519 seed>"}`, created with
//! mode 0600 and never overwritten.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};

use super::IntegrityError;

const FORMAT: &str = "wasp-integrity-key/1";

/// The keys of one tamper-evident output (never printed).
#[derive(Clone)]
pub struct IntegrityKeys {
    hmac: [u8; 32],
    signing: SigningKey,
}

impl std::fmt::Debug for IntegrityKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IntegrityKeys(verifying key {})", self.verifying_key_base64())
    }
}

impl IntegrityKeys {
    /// Fresh random keys.
    pub fn generate() -> Result<IntegrityKeys, IntegrityError> {
        let mut bytes = [0u8; 64];
        getrandom::fill(&mut bytes).map_err(|e| IntegrityError::KeyFile { path: "<random>".into(), message: e.to_string() })?;
        let (hmac, seed) = bytes.split_at(32);
        Ok(IntegrityKeys { hmac: hmac.try_into().expect("32 bytes"), signing: SigningKey::from_bytes(seed.try_into().expect("32 bytes")) })
    }

    /// Reads a key file.
    pub fn load(path: &Path) -> Result<IntegrityKeys, IntegrityError> {
        let error = |message: String| IntegrityError::KeyFile { path: path.to_owned(), message };
        let bytes = std::fs::read(path).map_err(|e| error(e.to_string()))?;
        if bytes.starts_with(&[0xce; 4]) {
            return Err(error(
                "a ForgeRock JCEKS keystore: only the CSV handler writes with one (ForgeRock's format, with `security.password`); \
                 give this output a WASP key file (`wasp keygen`)"
                    .into(),
            ));
        }
        let text = String::from_utf8(bytes).map_err(|_| error("not a WASP key file (not text)".into()))?;
        let doc: serde_json::Value = serde_json::from_str(&text).map_err(|e| error(format!("not JSON: {e}")))?;
        if doc.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
            return Err(error(format!("not a WASP key file (`format` must be `{FORMAT}`; create one with `wasp keygen`)")));
        }
        let key = |field: &str| -> Result<[u8; 32], IntegrityError> {
            let text = doc.get(field).and_then(|v| v.as_str()).ok_or_else(|| error(format!("`{field}` is missing")))?;
            let bytes = STANDARD.decode(text).map_err(|e| error(format!("`{field}` is not base64: {e}")))?;
            bytes.try_into().map_err(|_| error(format!("`{field}` must be 32 bytes")))
        };
        Ok(IntegrityKeys { hmac: key("hmacKey")?, signing: SigningKey::from_bytes(&key("signingKey")?) })
    }

    /// Writes a new key file (mode 0600); an existing file is never
    /// replaced.
    pub fn save(&self, path: &Path) -> Result<(), IntegrityError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let error = |e: std::io::Error| IntegrityError::KeyFile { path: path.to_owned(), message: e.to_string() };
        let doc = serde_json::json!({
            "format": FORMAT,
            "hmacKey": STANDARD.encode(self.hmac),
            "signingKey": STANDARD.encode(self.signing.to_bytes()),
            "verifyingKey": self.verifying_key_base64(),
        });
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(error)?;
        file.write_all(format!("{doc:#}\n").as_bytes()).map_err(error)?;
        file.sync_all().map_err(error)
    }

    /// The chain's first key `k_1`.
    pub fn hmac_key(&self) -> &[u8; 32] {
        &self.hmac
    }

    /// Signs `message` (base64 of the Ed25519 signature).
    pub fn sign(&self, message: &[u8]) -> String {
        STANDARD.encode(self.signing.sign(message).to_bytes())
    }

    /// Whether `signature` (base64) is this key's signature of `message`.
    pub fn verify(&self, message: &[u8], signature: &str) -> bool {
        let Ok(bytes) = STANDARD.decode(signature) else {
            return false;
        };
        let Ok(bytes) = <[u8; 64]>::try_from(bytes) else {
            return false;
        };
        self.verifying_key().verify(message, &ed25519_dalek::Signature::from_bytes(&bytes)).is_ok()
    }

    fn verifying_key(&self) -> VerifyingKey {
        self.signing.verifying_key()
    }

    /// The public key, base64.
    pub fn verifying_key_base64(&self) -> String {
        STANDARD.encode(self.verifying_key().to_bytes())
    }
}

/// A verifying (public) key alone: what the recipient of an export holds.
#[derive(Debug, Clone)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// From the base64 of its 32 bytes (`wasp keygen` prints it; a key
    /// file's `verifyingKey`).
    pub fn from_base64(text: &str) -> Result<PublicKey, IntegrityError> {
        let error = |message: String| IntegrityError::KeyFile { path: "<public key>".into(), message };
        let bytes = STANDARD.decode(text.trim()).map_err(|e| error(format!("not base64: {e}")))?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| error("an Ed25519 public key is 32 bytes".into()))?;
        VerifyingKey::from_bytes(&bytes).map(PublicKey).map_err(|e| error(e.to_string()))
    }

    /// Whether `signature` (base64) is this key's signature of `message`.
    pub fn verify(&self, message: &[u8], signature: &str) -> bool {
        let Ok(bytes) = STANDARD.decode(signature) else {
            return false;
        };
        let Ok(bytes) = <[u8; 64]>::try_from(bytes) else {
            return false;
        };
        self.0.verify(message, &ed25519_dalek::Signature::from_bytes(&bytes)).is_ok()
    }
}

impl IntegrityKeys {
    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.verifying_key())
    }
}
