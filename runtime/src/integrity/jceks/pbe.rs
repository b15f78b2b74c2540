//! Sun's proprietary `PBEWithMD5AndTripleDES` (OID 1.3.6.1.4.1.42.2.19.1),
//! the cipher that protects every key in a JCEKS keystore, and the little
//! DER its parameters are written in.
//!
//! Key derivation (OpenJDK `PBES1Core.deriveCipherKey` for DESede): the
//! 8-byte salt is split in two halves; if the halves are equal, the first
//! half is reversed. For each half `h`: `x = h`, then `iterations` times
//! `x = MD5(x ‖ password)`; the two 16-byte results, concatenated, give the
//! 24-byte triple-DES key (bytes 0..24) and the CBC IV (bytes 24..32).
//! The password bytes are the password's characters, each one byte: Java's
//! `PBEKey` accepts printable ASCII only, and so does this module.
//! Decryption is DES-EDE3-CBC with PKCS#5 padding; a wrong password shows
//! as bad padding (or, one time in ~256, as garbage that the caller's
//! parser refuses).

use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
use md5::{Digest, Md5};

/// The OID of `PBEWithMD5AndTripleDES`, DER-encoded (without tag and length).
pub(super) const OID_PBE_MD5_TRIPLE_DES: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x2a, 0x02, 0x13, 0x01];
/// More iterations than this are refused (OpenJDK's own limit is 5,000,000).
const MAX_ITERATIONS: u32 = 5_000_000;

/// Why a decryption failed.
#[derive(Debug, PartialEq)]
pub(super) enum PbeError {
    /// The parameters are not what `PBEWithMD5AndTripleDES` takes.
    Params(String),
    /// Bad padding: the password is wrong or the ciphertext is altered.
    Padding,
}

/// The parameters: an 8-byte salt and an iteration count.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct PbeParams {
    /// The salt.
    pub salt: [u8; 8],
    /// The iteration count.
    pub iterations: u32,
}

impl PbeParams {
    /// Reads the DER `SEQUENCE { OCTET STRING salt, INTEGER iterations }`.
    pub(super) fn from_der(der: &[u8]) -> Result<Self, PbeError> {
        let bad = |m: &str| PbeError::Params(m.to_string());
        let (seq, rest) = der_tlv(der, 0x30).ok_or_else(|| bad("parameters are not a DER sequence"))?;
        if !rest.is_empty() {
            return Err(bad("bytes after the parameters"));
        }
        let (salt, seq) = der_tlv(seq, 0x04).ok_or_else(|| bad("no salt"))?;
        let (count, _) = der_tlv(seq, 0x02).ok_or_else(|| bad("no iteration count"))?;
        let salt: [u8; 8] = salt.try_into().map_err(|_| bad("the salt is not 8 bytes"))?;
        if count.is_empty() || count.len() > 5 || count[0] & 0x80 != 0 {
            return Err(bad("the iteration count is not a positive 32-bit integer"));
        }
        let iterations = count.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b));
        if iterations == 0 || iterations > u64::from(MAX_ITERATIONS) {
            return Err(bad("the iteration count is 0 or above 5,000,000"));
        }
        Ok(PbeParams { salt, iterations: iterations as u32 })
    }

    /// Writes the DER `SEQUENCE { OCTET STRING salt, INTEGER iterations }`
    /// as Java does (the integer in its shortest two's-complement form).
    pub(super) fn to_der(&self) -> Vec<u8> {
        let mut count: Vec<u8> = self.iterations.to_be_bytes().to_vec();
        while count.len() > 1 && count[0] == 0 && count[1] & 0x80 == 0 {
            count.remove(0);
        }
        if count[0] & 0x80 != 0 {
            count.insert(0, 0);
        }
        let mut inner = vec![0x04, 8];
        inner.extend_from_slice(&self.salt);
        inner.extend_from_slice(&[0x02, count.len() as u8]);
        inner.extend_from_slice(&count);
        let mut der = vec![0x30, inner.len() as u8];
        der.extend_from_slice(&inner);
        der
    }
}

/// The triple-DES key (bytes 0..24) and IV (24..32) for `password` and `params`.
pub(super) fn derive(password: &[u8], params: &PbeParams) -> [u8; 32] {
    let mut salt = params.salt;
    if salt[..4] == salt[4..] {
        salt[..4].reverse();
    }
    let mut derived = [0u8; 32];
    for (half, out) in salt.chunks(4).zip(derived.chunks_mut(16)) {
        // Iterations are at least 1 (`from_der` refuses 0; the writer uses more).
        let mut x: [u8; 16] = Md5::new().chain_update(half).chain_update(password).finalize().into();
        for _ in 1..params.iterations {
            x = Md5::new().chain_update(x).chain_update(password).finalize().into();
        }
        out.copy_from_slice(&x);
    }
    derived
}

/// Encrypts `data` with `password` (printable ASCII, checked by the caller),
/// as Sun's cipher does: DES-EDE3-CBC with PKCS#5 padding. (The writer
/// keeps the derived key and uses [`encrypt_derived`].)
#[cfg(test)]
pub(super) fn encrypt(password: &[u8], params: &PbeParams, data: &[u8]) -> Vec<u8> {
    encrypt_derived(&derive(password, params), data)
}

/// Encrypts `data` with a key and IV from [`derive`].
pub(super) fn encrypt_derived(derived: &[u8; 32], data: &[u8]) -> Vec<u8> {
    cbc::Encryptor::<des::TdesEde3>::new_from_slices(&derived[..24], &derived[24..])
        .expect("24-byte key and 8-byte IV")
        .encrypt_padded_vec_mut::<Pkcs7>(data)
}

/// Decrypts `data` with `password` (printable ASCII, checked by the caller).
pub(super) fn decrypt(password: &[u8], params: &PbeParams, data: &[u8]) -> Result<Vec<u8>, PbeError> {
    let derived = derive(password, params);
    if data.is_empty() || !data.len().is_multiple_of(8) {
        return Err(PbeError::Padding);
    }
    let cipher = cbc::Decryptor::<des::TdesEde3>::new_from_slices(&derived[..24], &derived[24..])
        .map_err(|_| PbeError::Params("key or IV length".into()))?;
    cipher.decrypt_padded_vec_mut::<Pkcs7>(data).map_err(|_| PbeError::Padding)
}

/// One DER element with tag `tag` at the start of `der`: its contents and
/// what follows it. Only definite lengths of up to 4 bytes are read.
pub(super) fn der_tlv(der: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&t, rest) = der.split_first()?;
    if t != tag {
        return None;
    }
    let (&l, mut rest) = rest.split_first()?;
    let len = if l < 0x80 {
        usize::from(l)
    } else {
        let n = usize::from(l & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |a, b| (a << 8) | usize::from(*b));
        rest = &rest[n..];
        len
    };
    (rest.len() >= len).then(|| rest.split_at(len))
}

/// How a private key entry is protected.
pub(super) enum Protection<'a> {
    /// `PBEWithMD5AndTripleDES` (keys stored by JCEKS itself).
    Pbe(PbeParams, &'a [u8]),
    /// Sun's JKS key protector (keys imported from a JKS keystore keep it).
    Jks(&'a [u8]),
}

/// A JCEKS private key entry's `EncryptedPrivateKeyInfo`: `SEQUENCE {
/// SEQUENCE { OID, params }, OCTET STRING data }`; refuses any algorithm
/// but `PBEWithMD5AndTripleDES` and JKS's.
pub(super) fn encrypted_private_key_info(der: &[u8]) -> Result<Protection<'_>, PbeError> {
    let bad = |m: &str| PbeError::Params(m.to_string());
    let (seq, _) = der_tlv(der, 0x30).ok_or_else(|| bad("not an EncryptedPrivateKeyInfo"))?;
    let (alg, seq) = der_tlv(seq, 0x30).ok_or_else(|| bad("no algorithm identifier"))?;
    let (oid, params) = der_tlv(alg, 0x06).ok_or_else(|| bad("no algorithm OID"))?;
    let (data, _) = der_tlv(seq, 0x04).ok_or_else(|| bad("no encrypted data"))?;
    match oid {
        OID_PBE_MD5_TRIPLE_DES => Ok(Protection::Pbe(PbeParams::from_der(params)?, data)),
        OID_JKS_KEY_PROTECTOR => Ok(Protection::Jks(data)),
        _ => Err(bad("the key is protected neither with PBEWithMD5AndTripleDES nor with JKS's key protector")),
    }
}

/// The OID of Sun's JKS key protector, 1.3.6.1.4.1.42.2.17.1.1.
const OID_JKS_KEY_PROTECTOR: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x2a, 0x02, 0x11, 0x01, 0x01];

/// Sun's JKS key protector (OpenJDK `sun.security.provider.KeyProtector`):
/// `data = salt(20) ‖ key XOR stream ‖ check(20)`, the stream being
/// `d_1 = SHA-1(pw ‖ salt)`, `d_{n+1} = SHA-1(pw ‖ d_n)` with `pw` the
/// password in UTF-16BE, and `check = SHA-1(pw ‖ key)`. A wrong password
/// fails the check ([`PbeError::Padding`]).
pub(super) fn jks_recover(password: &str, data: &[u8]) -> Result<Vec<u8>, PbeError> {
    use sha1::{Digest as _, Sha1};
    if data.len() < 40 {
        return Err(PbeError::Params("a JKS-protected key shorter than its salt and check".into()));
    }
    let pw: Vec<u8> = password.encode_utf16().flat_map(u16::to_be_bytes).collect();
    let (salt, rest) = data.split_at(20);
    let (encrypted, check) = rest.split_at(rest.len() - 20);
    let mut digest = salt.to_vec();
    let mut key = Vec::with_capacity(encrypted.len());
    for chunk in encrypted.chunks(20) {
        digest = Sha1::new().chain_update(&pw).chain_update(&digest).finalize().to_vec();
        key.extend(chunk.iter().zip(&digest).map(|(a, b)| a ^ b));
    }
    if Sha1::new().chain_update(&pw).chain_update(&key).finalize().as_slice() != check {
        return Err(PbeError::Padding);
    }
    Ok(key)
}
