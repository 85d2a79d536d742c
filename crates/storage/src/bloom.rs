use serde::{Deserialize, Serialize};

/// A split-free Bloom filter with double hashing over xxh3-128, sized for ~1 % false positives.
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

    fn positions(&self, item: &[u8]) -> impl Iterator<Item = usize> {
        let h = xxhash_rust::xxh3::xxh3_128(item);
        let (h1, h2) = (h as u64, (h >> 64) as u64 | 1);
        let n_bits = (self.bits.len() * 64) as u64;
        (0..self.n_hashes as u64).map(move |i| (h1.wrapping_add(i.wrapping_mul(h2)) % n_bits) as usize)
    }

    pub fn insert(&mut self, item: &[u8]) {
        if self.bits.is_empty() {
            return;
        }
        let positions: Vec<usize> = self.positions(item).collect();
        for p in positions {
            self.bits[p / 64] |= 1 << (p % 64);
        }
    }

    /// False means certainly absent.
    pub fn may_contain(&self, item: &[u8]) -> bool {
        if self.bits.is_empty() {
            return true;
        }
        self.positions(item).all(|p| self.bits[p / 64] & (1 << (p % 64)) != 0)
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
