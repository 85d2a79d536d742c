use serde::{Deserialize, Serialize};

/// A Bloom filter with double hashing over one xxh3-64 hash per item, sized for ~1 % false
/// positives. Items are hashed once ([`Bloom::hash`]) so a writer can deduplicate hashes cheaply
/// before sizing the filter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bloom {
    bits: Vec<u64>,
    n_hashes: u32,
}

impl Bloom {
    /// A filter for about `n_items` distinct items at ~1 % false positives (9.6 bits, 7 hashes).
    pub fn with_capacity(n_items: usize) -> Bloom {
        let n_bits = (n_items.max(16) as f64 * 9.6).ceil() as usize;
        Bloom { bits: vec![0; n_bits.div_ceil(64)], n_hashes: 7 }
    }

    /// A filter that holds no bits and may contain everything.
    pub fn everything() -> Bloom {
        Bloom { bits: Vec::new(), n_hashes: 0 }
    }

    /// The hash of an item, as [`Bloom::insert_hash`] takes it.
    pub fn hash(item: &[u8]) -> u64 {
        xxhash_rust::xxh3::xxh3_64(item)
    }

    fn positions(&self, h: u64) -> impl Iterator<Item = usize> {
        let (h1, h2) = (h, h.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(31) | 1);
        let n_bits = (self.bits.len() * 64) as u64;
        (0..self.n_hashes as u64).map(move |i| (h1.wrapping_add(i.wrapping_mul(h2)) % n_bits) as usize)
    }

    pub fn insert(&mut self, item: &[u8]) {
        self.insert_hash(Bloom::hash(item));
    }

    pub fn insert_hash(&mut self, hash: u64) {
        if self.bits.is_empty() {
            return;
        }
        let n_bits = (self.bits.len() * 64) as u64;
        let (h1, h2) = (hash, hash.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(31) | 1);
        for i in 0..self.n_hashes as u64 {
            let p = (h1.wrapping_add(i.wrapping_mul(h2)) % n_bits) as usize;
            self.bits[p / 64] |= 1 << (p % 64);
        }
    }

    /// False means certainly absent.
    pub fn may_contain(&self, item: &[u8]) -> bool {
        self.may_contain_hash(Bloom::hash(item))
    }

    /// [`Bloom::may_contain`] for an item already hashed with [`Bloom::hash`].
    pub fn may_contain_hash(&self, hash: u64) -> bool {
        if self.bits.is_empty() {
            return true;
        }
        self.positions(hash).all(|p| self.bits[p / 64] & (1 << (p % 64)) != 0)
    }

    pub fn size_bytes(&self) -> usize {
        self.bits.len() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserted_items_are_found_and_false_positives_are_rare() {
        let mut bloom = Bloom::with_capacity(10_000);
        for i in 0..10_000 {
            bloom.insert(format!("item-{i}").as_bytes());
        }
        assert!((0..10_000).all(|i| bloom.may_contain(format!("item-{i}").as_bytes())));
        let fp = (0..10_000).filter(|i| bloom.may_contain(format!("other-{i}").as_bytes())).count();
        assert!(fp < 300, "false positives: {fp}");
    }
}
