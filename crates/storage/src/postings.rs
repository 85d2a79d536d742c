//! A sorted list of `u32` (row numbers of a segment, or key hashes) in few bytes.
//!
//! Layout: the count and the first value as varints, then the deltas between neighbours: blocks
//! of 128 bit-packed at the width of the block's largest delta (one width byte, then
//! `width * 16` bytes), and the last deltas that do not fill a block as varints. A term in every
//! other row costs about 2 bits a row; a rare term's few rows cost a few bytes.
//!
//! Decoding checks every length against the bytes given: damaged bytes give an error, never a
//! panic or an unbounded allocation.

use bitpacking::{BitPacker, BitPacker4x};

const BLOCK: usize = BitPacker4x::BLOCK_LEN;

/// Appends the encoding of `values` (ascending, duplicates allowed) to `out`.
pub(crate) fn encode(values: &[u32], out: &mut Vec<u8>) {
    debug_assert!(values.windows(2).all(|w| w[0] <= w[1]));
    put_varint(out, values.len() as u64);
    let Some((&first, rest)) = values.split_first() else { return };
    put_varint(out, first as u64);
    let packer = BitPacker4x::new();
    let mut previous = first;
    let mut blocks = rest.chunks_exact(BLOCK);
    for block in &mut blocks {
        let width = packer.num_bits_sorted(previous, block);
        out.push(width);
        let start = out.len();
        out.resize(start + BitPacker4x::compressed_block_size(width), 0);
        packer.compress_sorted(previous, block, &mut out[start..], width);
        previous = block[BLOCK - 1];
    }
    for &v in blocks.remainder() {
        put_varint(out, (v - previous) as u64);
        previous = v;
    }
}

/// Decodes one list from the start of `bytes`; returns it and the number of bytes read.
pub(crate) fn decode(bytes: &[u8]) -> Result<(Vec<u32>, usize), String> {
    let mut at = 0;
    let n = get_varint(bytes, &mut at)?;
    // Each value takes at least one bit: a count beyond that is damage, not a big list.
    if n > (bytes.len() as u64 + 1) * 8 {
        return Err(format!("postings count {n} exceeds the {} bytes given", bytes.len()));
    }
    let n = n as usize;
    let mut values = Vec::with_capacity(n);
    if n == 0 {
        return Ok((values, at));
    }
    let first = u32::try_from(get_varint(bytes, &mut at)?).map_err(|_| "postings value beyond u32".to_string())?;
    values.push(first);
    let packer = BitPacker4x::new();
    let mut previous = first;
    let mut block = [0u32; BLOCK];
    for _ in 0..(n - 1) / BLOCK {
        let width = *bytes.get(at).ok_or("postings block truncated")?;
        if width > 32 {
            return Err(format!("postings block width {width}"));
        }
        at += 1;
        let size = BitPacker4x::compressed_block_size(width);
        let packed = bytes.get(at..at + size).ok_or("postings block truncated")?;
        packer.decompress_sorted(previous, packed, &mut block, width);
        // Deltas wrap on damaged bytes: a list that is not ascending is damage.
        if block[0] < previous || block.windows(2).any(|w| w[1] < w[0]) {
            return Err("postings block not ascending".into());
        }
        at += size;
        values.extend_from_slice(&block);
        previous = block[BLOCK - 1];
    }
    while values.len() < n {
        let delta = get_varint(bytes, &mut at)?;
        previous = u32::try_from(previous as u64 + delta).map_err(|_| "postings value beyond u32".to_string())?;
        values.push(previous);
    }
    Ok((values, at))
}

pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(crate) fn get_varint(bytes: &[u8], at: &mut usize) -> Result<u64, String> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*at).ok_or("varint truncated")?;
        *at += 1;
        v |= ((b & 0x7f) as u64) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err("varint too long".into())
}

/// The values in both ascending lists.
pub fn intersect(a: &[u32], b: &[u32]) -> Vec<u32> {
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let mut out = Vec::with_capacity(small.len());
    let mut rest = large;
    for &v in small {
        // Galloping: a short list against a long one costs log steps per value, not a walk.
        let mut step = 1;
        while step < rest.len() && rest[step] < v {
            step *= 2;
        }
        let upto = (step + 1).min(rest.len());
        let i = rest[..upto].partition_point(|&x| x < v);
        rest = &rest[i..];
        match rest.first() {
            Some(&x) if x == v => out.push(v),
            Some(_) => {}
            None => break,
        }
    }
    out
}

/// The values in either ascending list, once each.
pub fn union(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let v = a[i].min(b[j]);
        out.push(v);
        i += (a[i] == v) as usize;
        j += (b[j] == v) as usize;
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trip(values: &[u32]) -> usize {
        let mut out = Vec::new();
        encode(values, &mut out);
        out.extend_from_slice(b"tail");
        let (decoded, used) = decode(&out).unwrap();
        assert_eq!(decoded, values);
        assert_eq!(&out[used..], b"tail");
        used
    }

    #[test]
    fn dense_lists_cost_bits_and_rare_ones_bytes() {
        let every_other: Vec<u32> = (0..100_000).step_by(2).collect();
        let used = round_trip(&every_other);
        assert!(used < every_other.len() / 3, "{used} bytes for {} values", every_other.len());
        assert!(round_trip(&[7]) <= 2);
        assert!(round_trip(&[70_000, 70_003, 99_999]) <= 9);
        round_trip(&[]);
        round_trip(&[u32::MAX; 300]);
        round_trip(&[0, u32::MAX]);
    }

    #[test]
    fn damaged_bytes_are_errors() {
        let values: Vec<u32> = (0..1000).map(|i| i * 3).collect();
        let mut out = Vec::new();
        encode(&values, &mut out);
        for cut in 0..out.len() {
            assert!(decode(&out[..cut]).is_err(), "cut at {cut}");
        }
        assert!(decode(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]).is_err());
        assert!(decode(&[0xff; 20]).is_err());
    }

    proptest! {
        #[test]
        fn any_sorted_list_round_trips(mut values in proptest::collection::vec(any::<u32>(), 0..700)) {
            values.sort();
            round_trip(&values);
        }

        #[test]
        fn intersect_and_union_are_the_set_operations(
            a in proptest::collection::btree_set(0u32..2000, 0..400),
            b in proptest::collection::btree_set(0u32..2000, 0..400),
        ) {
            let (va, vb): (Vec<u32>, Vec<u32>) = (a.iter().copied().collect(), b.iter().copied().collect());
            prop_assert_eq!(intersect(&va, &vb), a.intersection(&b).copied().collect::<Vec<_>>());
            prop_assert_eq!(union(&va, &vb), a.union(&b).copied().collect::<Vec<_>>());
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = decode(&bytes);
        }
    }
}
