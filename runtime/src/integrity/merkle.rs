//! RFC 6962 (RFC 9162 §2.1) Merkle trees: `leaf = SHA-256(0x00 ‖ data)`,
//! `node = SHA-256(0x01 ‖ left ‖ right)`; a tree of `n` leaves splits at
//! the largest power of two below `n`. Built level by level (an odd last
//! node is carried up unchanged, which gives the same root), so a tree of
//! `n` leaves and all its inclusion proofs cost O(n log n).

use sha2::{Digest, Sha256};

/// The hash of one leaf: `SHA-256(0x00 ‖ data)`.
pub fn leaf_hash(data: &[u8]) -> [u8; 32] {
    Sha256::new().chain_update([0u8]).chain_update(data).finalize().into()
}

/// The hash of an inner node: `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    Sha256::new().chain_update([1u8]).chain_update(left).chain_update(right).finalize().into()
}

/// A whole tree, every level kept (level 0: the leaf hashes).
#[derive(Debug, Clone)]
pub struct MerkleTree {
    levels: Vec<Vec<[u8; 32]>>,
}

impl MerkleTree {
    /// The tree over these leaf hashes.
    pub fn new(leaves: Vec<[u8; 32]>) -> MerkleTree {
        let mut levels = vec![leaves];
        while levels.last().is_some_and(|l| l.len() > 1) {
            let below = levels.last().expect("a level");
            let up = below.chunks(2).map(|pair| if let [l, r] = pair { node_hash(l, r) } else { pair[0] }).collect();
            levels.push(up);
        }
        MerkleTree { levels }
    }

    /// How many leaves.
    pub fn len(&self) -> usize {
        self.levels[0].len()
    }

    /// Whether it has no leaves.
    pub fn is_empty(&self) -> bool {
        self.levels[0].is_empty()
    }

    /// The root (for no leaves, `SHA-256("")` as RFC 6962 says).
    pub fn root(&self) -> [u8; 32] {
        match self.levels.last().and_then(|l| l.first()) {
            Some(root) => *root,
            None => Sha256::digest(b"").into(),
        }
    }

    /// The inclusion proof (audit path) of leaf `index`, bottom up.
    pub fn proof(&self, index: usize) -> Vec<[u8; 32]> {
        let mut path = Vec::new();
        let mut i = index;
        for level in &self.levels[..self.levels.len().saturating_sub(1)] {
            if let Some(sibling) = level.get(i ^ 1) {
                path.push(*sibling);
            }
            i >>= 1;
        }
        path
    }
}

/// Whether `path` proves that `leaf` is leaf `index` of a tree of `size`
/// leaves with this `root` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(leaf: &[u8; 32], index: u64, size: u64, path: &[[u8; 32]], root: &[u8; 32]) -> bool {
    if index >= size {
        return false;
    }
    let (mut f, mut s, mut r) = (index, size - 1, *leaf);
    for p in path {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && r == *root
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6962's recursive definition, to check the level-wise one.
    fn reference(leaves: &[[u8; 32]]) -> [u8; 32] {
        match leaves.len() {
            0 => Sha256::digest(b"").into(),
            1 => leaves[0],
            n => {
                let k = n.next_power_of_two() / 2;
                node_hash(&reference(&leaves[..k]), &reference(&leaves[k..]))
            }
        }
    }

    #[test]
    fn roots_match_rfc_6962_and_every_proof_verifies() {
        for n in 1..40usize {
            let leaves: Vec<[u8; 32]> = (0..n).map(|i| leaf_hash(i.to_string().as_bytes())).collect();
            let tree = MerkleTree::new(leaves.clone());
            assert_eq!(tree.root(), reference(&leaves), "n={n}");
            for (i, leaf) in leaves.iter().enumerate() {
                let path = tree.proof(i);
                assert!(verify_inclusion(leaf, i as u64, n as u64, &path, &tree.root()), "n={n} i={i}");
                assert!(!verify_inclusion(leaf, (i as u64 + 1) % n as u64, n as u64, &path, &tree.root()) || n == 1);
            }
        }
    }
}
