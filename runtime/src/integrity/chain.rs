//! The keyed hash chain: record MACs, key evolution, and the chain state a
//! writer resumes from.

use sha2::{Digest, Sha256};

/// Where a chain stands: the last sequence number and the head (the last
/// record's MAC, or the head a signed record carried over).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainState {
    /// The sequence number of the last record (0: none yet).
    pub seq: u64,
    /// The chain head after it.
    pub head: [u8; 32],
}

impl ChainState {
    /// The state before the first record ever.
    pub const GENESIS: ChainState = ChainState { seq: 0, head: [0; 32] };

    /// The head as lower-case hex.
    pub fn head_hex(&self) -> String {
        hex::encode(self.head)
    }
}

/// A writer's (or verifier's) chain: its state and the key for the next
/// record.
#[derive(Clone)]
pub struct Chain {
    state: ChainState,
    /// `k_{seq+1}`.
    key: [u8; 32],
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain").field("state", &self.state).finish_non_exhaustive()
    }
}

impl Chain {
    /// The chain continuing from `state`, under the key file's HMAC key
    /// `k1` (the key is evolved `state.seq` times: about 0.3 s per million
    /// records).
    pub fn resume(k1: &[u8; 32], state: ChainState) -> Chain {
        let mut key = *k1;
        for _ in 0..state.seq {
            key = Sha256::digest(key).into();
        }
        Chain { state, key }
    }

    /// Where the chain stands.
    pub fn state(&self) -> ChainState {
        self.state
    }

    /// Seals the next record: returns its sequence number and MAC, and
    /// moves the chain past it.
    pub fn seal(&mut self, fields: &[(&str, &[u8])]) -> (u64, [u8; 32]) {
        let seq = self.state.seq + 1;
        let mac = self.mac(seq, fields);
        self.state = ChainState { seq, head: mac };
        self.key = Sha256::digest(self.key).into();
        (seq, mac)
    }

    /// The MAC the next record (number `seq`, which must be the next one)
    /// would get, without moving the chain.
    pub fn mac(&self, seq: u64, fields: &[(&str, &[u8])]) -> [u8; 32] {
        debug_assert_eq!(seq, self.state.seq + 1);
        let mut message = encode_fields(fields);
        message.extend_from_slice(&seq.to_be_bytes());
        message.extend_from_slice(&self.state.head);
        hmac_sha256(&self.key, &message)
    }

    /// Jumps over a declared gap: the chain continues at `to` with `head`
    /// (what a signed `gap` record carries).
    pub fn skip_to(&mut self, k1: &[u8; 32], to: ChainState) {
        *self = Chain::resume(k1, to);
    }
}

/// `be32(len) name be32(len) value` for each field, in order.
pub fn encode_fields<N: AsRef<[u8]>, V: AsRef<[u8]>>(fields: &[(N, V)]) -> Vec<u8> {
    let size = fields.iter().map(|(n, v)| 8 + n.as_ref().len() + v.as_ref().len()).sum();
    let mut out = Vec::with_capacity(size);
    for (name, value) in fields {
        for part in [name.as_ref(), value.as_ref()] {
            out.extend_from_slice(&(part.len() as u32).to_be_bytes());
            out.extend_from_slice(part);
        }
    }
    out
}

/// HMAC-SHA256 (RFC 2104).
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(message).finalize();
    Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize().into()
}
