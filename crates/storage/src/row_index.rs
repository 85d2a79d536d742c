//! The exact row index of a records segment: for every key (an index term of the body, the
//! attribute values and the trace and span ids, a service, a level), the row blocks of the segment (64 rows
//! each) that hold it.
//!
//! A lookup reads only the pages of the rows that may match instead of whole row groups: "the
//! newest records with these words" decodes a few pages, not the segment.
//!
//! Keys are kept as 32-bit hashes (xxh3 of the key, seeded by its kind): two keys of one segment
//! with the same hash share a list (the union of both), which only lets extra rows through to
//! the exact check every row gets anyway.
//!
//! File layout (`<segment>.postings`):
//! ```text
//! TRWLPST1
//! block lists                         one per key in more than one row block,
//!                                     `postings::encode`d block numbers
//! key blocks                          per 128 keys: the offset of the first one's list (varint),
//!                                     the hashes (`postings::encode`d), then per key a tag
//!                                     (varint): its only row block inline, or its list's length
//! skip table                          per key block: first hash u32, offset u64, length u32
//! footer                              skip table offset u64, blocks u32, rows u32,
//!                                     crc32 of the skip table u32, TRWLPST1
//! ```
//! Only the skip table (16 bytes per 128 keys) stays in memory; a lookup reads one key block
//! and at most one list.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use trawl_model::{Level, Record};

use crate::postings::{self, get_varint, put_varint};
use crate::StoreError;

const MAGIC: &[u8; 8] = b"TRWLPST1";
const KEYS_PER_BLOCK: usize = 128;
/// Rows per row block, the unit the lists name. A Parquet page of bodies holds about a hundred
/// rows, so naming single rows would read no fewer pages; blocks make a frequent word's list a
/// bit per 64 rows and a rare one's a few bytes, and the query's exact check sorts out the rows.
pub const ROWS_PER_BLOCK: u32 = 64;
const FOOTER_LEN: usize = 8 + 4 + 4 + 4 + 8;

/// What a row is looked up by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexKey<'a> {
    /// An index term of the body or an attribute value (`trawl_model::text::index_terms`), or
    /// the trace id or span id (normalised), which are terms too (`record_terms`).
    Term(&'a str),
    /// A service, lowercased.
    Service(&'a str),
    Level(Level),
}

impl IndexKey<'_> {
    fn hash(&self) -> u32 {
        use xxhash_rust::xxh3::xxh3_64_with_seed as hash;
        // One seed per kind keeps the kinds apart: a word equal to a service name is another key.
        let h = match self {
            IndexKey::Term(t) => hash(t.as_bytes(), 1),
            IndexKey::Service(s) => hash(s.as_bytes(), 3),
            IndexKey::Level(l) => hash(&[*l as u8], 4),
        };
        h as u32
    }
}

/// Collects the keys of records in row order, then writes the file.
#[derive(Default)]
pub(crate) struct RowIndexBuilder {
    lists: ahash::AHashMap<u32, Vec<u32>>,
    n_rows: u32,
    /// The last service seen, as given and lowercased.
    service: (String, String),
}

impl RowIndexBuilder {
    fn add(&mut self, key: IndexKey<'_>, row: u32) {
        let block = row / ROWS_PER_BLOCK;
        let list = self.lists.entry(key.hash()).or_default();
        if list.last() != Some(&block) {
            list.push(block);
        }
    }

    /// Adds the next row; rows are numbered in the order added (the segment's row order).
    pub(crate) fn add_record(&mut self, r: &Record) {
        let row = self.n_rows;
        self.n_rows += 1;
        // The trace id is one of the terms: a trace lookup is a term lookup.
        crate::segment_index::record_terms(r, |t| self.add(IndexKey::Term(t), row));
        // Records come sorted by service: the lowercased name is made once per run.
        if self.service.0 != r.service {
            self.service = (r.service.clone(), r.service.to_lowercase());
        }
        let service = std::mem::take(&mut self.service.1);
        self.add(IndexKey::Service(&service), row);
        self.service.1 = service;
        self.add(IndexKey::Level(r.level), row);
    }

    pub(crate) fn encode(self) -> Vec<u8> {
        let mut keys: Vec<(u32, Vec<u32>)> = self.lists.into_iter().collect();
        keys.sort_unstable_by_key(|(h, _)| *h);
        let mut out = MAGIC.to_vec();
        // Per key: where its list starts, and its tag (see `Tag`).
        let mut list_offsets = Vec::with_capacity(keys.len());
        let mut tags = Vec::with_capacity(keys.len());
        for (_, blocks) in &keys {
            list_offsets.push(out.len() as u64);
            if let [only] = blocks.as_slice() {
                tags.push(Tag::Inline(*only).encode());
            } else {
                let start = out.len();
                postings::encode(blocks, &mut out);
                tags.push(Tag::List(out.len() - start).encode());
            }
        }
        let mut skip = Vec::new();
        for (b, block) in keys.chunks(KEYS_PER_BLOCK).enumerate() {
            let start = out.len() as u64;
            let first = b * KEYS_PER_BLOCK;
            put_varint(&mut out, list_offsets[first]);
            let hashes: Vec<u32> = block.iter().map(|(h, _)| *h).collect();
            postings::encode(&hashes, &mut out);
            for &tag in &tags[first..first + block.len()] {
                put_varint(&mut out, tag);
            }
            skip.extend_from_slice(&hashes[0].to_le_bytes());
            skip.extend_from_slice(&start.to_le_bytes());
            skip.extend_from_slice(&((out.len() as u64 - start) as u32).to_le_bytes());
        }
        let skip_offset = out.len() as u64;
        out.extend_from_slice(&skip);
        out.extend_from_slice(&skip_offset.to_le_bytes());
        out.extend_from_slice(&(keys.len().div_ceil(KEYS_PER_BLOCK) as u32).to_le_bytes());
        out.extend_from_slice(&self.n_rows.to_le_bytes());
        out.extend_from_slice(&crc32fast::hash(&skip).to_le_bytes());
        out.extend_from_slice(MAGIC);
        out
    }

    /// Writes and fsyncs the file.
    pub(crate) fn write(self, path: &Path) -> Result<u64, StoreError> {
        let bytes = self.encode();
        let mut f = File::create(path).map_err(|e| StoreError::io(path, e))?;
        f.write_all(&bytes).map_err(|e| StoreError::io(path, e))?;
        f.sync_all().map_err(|e| StoreError::io(path, e))?;
        Ok(bytes.len() as u64)
    }
}

/// An open row index: its skip table in memory, the rest read per lookup.
#[derive(Debug)]
pub struct RowIndex {
    path: PathBuf,
    /// Per key block: first hash, offset, length.
    key_blocks: Vec<(u32, u64, u32)>,
    n_rows: u32,
}

impl RowIndex {
    /// Opens the index of a segment. `Ok(None)` when the segment has none (written before it
    /// existed); an error when the file is damaged.
    pub fn open(path: &Path) -> Result<Option<RowIndex>, StoreError> {
        let corrupt = |reason: String| StoreError::Corrupt { path: path.to_path_buf(), reason };
        let mut file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::io(path, e)),
        };
        let file_len = file.metadata().map_err(|e| StoreError::io(path, e))?.len();
        if file_len < (MAGIC.len() + FOOTER_LEN) as u64 {
            return Err(corrupt(format!("row index of {file_len} bytes is too short")));
        }
        let footer = read_at(&mut file, path, file_len - FOOTER_LEN as u64, FOOTER_LEN)?;
        let u32_at = |i: usize| u32::from_le_bytes(footer[i..i + 4].try_into().expect("4 bytes"));
        let skip_offset = u64::from_le_bytes(footer[0..8].try_into().expect("8 bytes"));
        let (n_blocks, n_rows, crc) = (u32_at(8), u32_at(12), u32_at(16));
        if &footer[20..28] != MAGIC {
            return Err(corrupt("row index footer magic missing".into()));
        }
        let skip_len = n_blocks as u64 * 16;
        if skip_offset < MAGIC.len() as u64 || skip_offset + skip_len != file_len - FOOTER_LEN as u64 {
            return Err(corrupt(format!("row index skip table at {skip_offset} of {n_blocks} blocks does not fit")));
        }
        let skip = read_at(&mut file, path, skip_offset, skip_len as usize)?;
        if crc32fast::hash(&skip) != crc {
            return Err(corrupt("row index skip table checksum mismatch".into()));
        }
        let key_blocks = skip
            .chunks_exact(16)
            .map(|c| {
                let first = u32::from_le_bytes(c[0..4].try_into().expect("4 bytes"));
                let offset = u64::from_le_bytes(c[4..12].try_into().expect("8 bytes"));
                let len = u32::from_le_bytes(c[12..16].try_into().expect("4 bytes"));
                (first, offset, len)
            })
            .collect::<Vec<_>>();
        if key_blocks.iter().any(|&(_, offset, len)| offset + len as u64 > skip_offset) || key_blocks.windows(2).any(|w| w[1].0 < w[0].0) {
            return Err(corrupt("row index key blocks out of place".into()));
        }
        Ok(Some(RowIndex { path: path.to_path_buf(), key_blocks, n_rows }))
    }

    pub fn n_rows(&self) -> u32 {
        self.n_rows
    }

    /// The row blocks ([`ROWS_PER_BLOCK`] rows each) holding `key`, ascending (a superset when
    /// another key shares its hash); [`RowIndex::rows_of`] turns them into rows.
    pub fn blocks(&self, key: IndexKey<'_>) -> Result<Vec<u32>, StoreError> {
        let corrupt = |reason: String| StoreError::Corrupt { path: self.path.clone(), reason };
        let hash = key.hash();
        let b = self.key_blocks.partition_point(|&(first, ..)| first <= hash);
        if b == 0 {
            return Ok(Vec::new());
        }
        let (_, offset, len) = self.key_blocks[b - 1];
        let mut file = File::open(&self.path).map_err(|e| StoreError::io(&self.path, e))?;
        let block = read_at(&mut file, &self.path, offset, len as usize)?;
        let mut at = 0;
        let lists_start = get_varint(&block, &mut at).map_err(corrupt)?;
        let (hashes, used) = postings::decode(&block[at..]).map_err(corrupt)?;
        at += used;
        let Ok(k) = hashes.binary_search(&hash) else { return Ok(Vec::new()) };
        let mut list_offset = lists_start;
        for _ in 0..k {
            if let Tag::List(len) = Tag::decode(get_varint(&block, &mut at).map_err(corrupt)?) {
                list_offset += len as u64;
            }
        }
        let blocks = match Tag::decode(get_varint(&block, &mut at).map_err(corrupt)?) {
            Tag::Inline(only) => vec![only],
            Tag::List(len) => {
                if list_offset + len as u64 > offset {
                    return Err(corrupt(format!("row list at {list_offset} of {len} bytes out of place")));
                }
                let bytes = read_at(&mut file, &self.path, list_offset, len)?;
                postings::decode(&bytes).map_err(corrupt)?.0
            }
        };
        if blocks.last().is_some_and(|&b| b >= self.n_rows.div_ceil(ROWS_PER_BLOCK)) {
            return Err(corrupt(format!("row block {} beyond the segment's {} rows", blocks[blocks.len() - 1], self.n_rows)));
        }
        Ok(blocks)
    }

    /// The rows of row blocks (ascending), ascending.
    pub fn rows_of(&self, blocks: &[u32]) -> Vec<u32> {
        let mut rows = Vec::with_capacity(blocks.len() * ROWS_PER_BLOCK as usize);
        for &b in blocks {
            let first = b.saturating_mul(ROWS_PER_BLOCK);
            rows.extend(first..first.saturating_add(ROWS_PER_BLOCK).min(self.n_rows));
        }
        rows
    }
}

/// What a key block says of one key: its only row block, inline (`block << 1 | 1`), or the
/// length in bytes of its list (`len << 1`), which follows the previous key's list.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Tag {
    Inline(u32),
    List(usize),
}

impl Tag {
    fn encode(self) -> u64 {
        match self {
            Tag::Inline(block) => (block as u64) << 1 | 1,
            Tag::List(len) => (len as u64) << 1,
        }
    }

    fn decode(v: u64) -> Tag {
        if v & 1 == 1 {
            Tag::Inline((v >> 1).min(u32::MAX as u64) as u32)
        } else {
            Tag::List((v >> 1).min(u32::MAX as u64) as usize)
        }
    }
}

fn read_at(file: &mut File, path: &Path, offset: u64, len: usize) -> Result<Vec<u8>, StoreError> {
    let mut buf = vec![0; len];
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        file.read_exact_at(&mut buf, offset).map_err(|e| StoreError::io(path, e))?;
    }
    #[cfg(not(unix))]
    {
        use std::io::{Read, Seek, SeekFrom};
        file.seek(SeekFrom::Start(offset)).map_err(|e| StoreError::io(path, e))?;
        file.read_exact(&mut buf).map_err(|e| StoreError::io(path, e))?;
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use trawl_model::AttrValue;

    fn record(i: usize) -> Record {
        let mut r = Record::new(i as i64);
        r.service = if i % 3 == 0 { "Pay" } else { "orders" }.into();
        r.level = if i % 10 == 0 { Level::Error } else { Level::Info };
        r.body = format!("req {i} 결제가 실패했습니다 code{}", i % 7);
        r.trace_id = format!("{:032x}", i / 4);
        r.attributes.push(("user.id".into(), AttrValue::Str(format!("u-{}", i % 50))));
        r
    }

    fn build(n: usize) -> (tempfile::TempDir, PathBuf, Vec<Record>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records-1.postings");
        let records: Vec<Record> = (0..n).map(record).collect();
        let mut b = RowIndexBuilder::default();
        records.iter().for_each(|r| b.add_record(r));
        b.write(&path).unwrap();
        (dir, path, records)
    }

    #[test]
    fn every_key_finds_exactly_its_row_blocks() {
        let (_dir, path, records) = build(5000);
        let index = RowIndex::open(&path).unwrap().unwrap();
        assert_eq!(index.n_rows(), 5000);
        let expect = |f: &dyn Fn(&Record) -> bool| {
            let mut blocks: Vec<u32> = records.iter().enumerate().filter(|(_, r)| f(r)).map(|(i, _)| i as u32 / ROWS_PER_BLOCK).collect();
            blocks.dedup();
            blocks
        };
        let rows = |key| index.rows_of(&index.blocks(key).unwrap());
        assert_eq!(index.blocks(IndexKey::Term(&format!("{:032x}", 17))).unwrap(), vec![1]);
        assert_eq!(index.blocks(IndexKey::Service("pay")).unwrap(), expect(&|r| r.service == "Pay"));
        assert_eq!(index.blocks(IndexKey::Level(Level::Error)).unwrap(), expect(&|r| r.level == Level::Error));
        assert_eq!(index.blocks(IndexKey::Term("code3")).unwrap(), expect(&|r| r.body.ends_with("code3")));
        assert_eq!(rows(IndexKey::Term("결제")), (0..5000).collect::<Vec<u32>>());
        assert_eq!(rows(IndexKey::Term("4321")), (4288..4352).collect::<Vec<u32>>());
        assert_eq!(rows(IndexKey::Term("4999")), (4992..5000).collect::<Vec<u32>>(), "the last block is short");
        assert_eq!(index.blocks(IndexKey::Term("u")).unwrap().len(), 5000usize.div_ceil(64));
        assert_eq!(index.blocks(IndexKey::Term("absent")).unwrap(), Vec::<u32>::new());
    }

    #[test]
    fn a_segment_without_an_index_has_none_and_damage_is_an_error() {
        let (dir, path, _) = build(3000);
        assert!(RowIndex::open(&dir.path().join("none.postings")).unwrap().is_none());
        let good = std::fs::read(&path).unwrap();
        for cut in [0, 8, good.len() / 2, good.len() - 1] {
            std::fs::write(&path, &good[..cut]).unwrap();
            assert!(RowIndex::open(&path).is_err(), "cut at {cut}");
        }
        // A flipped byte in a list or key block is an error on lookup, or a list that the exact
        // check after it filters; never a panic or a row beyond the segment.
        for at in (8..good.len() - FOOTER_LEN).step_by(37) {
            let mut bad = good.clone();
            bad[at] ^= 0x5a;
            std::fs::write(&path, &bad).unwrap();
            if let Ok(Some(index)) = RowIndex::open(&path) {
                for key in [IndexKey::Term("결제"), IndexKey::Service("orders"), IndexKey::Term("code1")] {
                    if let Ok(blocks) = index.blocks(key) {
                        assert!(index.rows_of(&blocks).iter().all(|&r| r < 3000));
                    }
                }
            }
        }
    }
}
