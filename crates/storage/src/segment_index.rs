//! The sidecar index of a segment: what pruning needs without opening the Parquet file.
//!
//! One entry per row group: time range, services and levels present, a Bloom filter of trace ids
//! and a Bloom filter of index terms (words, and CJK unigrams/bigrams; see `trawl_model::text`).
//! Records segments of format version 4 on have an empty term filter: their row index
//! ([`crate::RowIndex`]) maps every term to its rows exactly.
//! The index also lists the segment's typed attribute columns (format version 3), so a query
//! plans which columns to read without opening the Parquet file.
//! File layout: `TRWLIDX2` (`TRWLIDX1` before format version 3, without the typed columns),
//! payload length (u32 LE), crc32 of payload (u32 LE), payload (bincode).

use std::path::Path;

use serde::{Deserialize, Serialize};
use trawl_model::{text, Level, Record, Span};

use crate::attribute_columns::{AttrSource, TypedColumn};
use crate::bloom::Bloom;
use crate::filenames::{FORMAT_VERSION, INDEX_MAGIC, INDEX_MAGIC_V1};
use crate::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SegmentKind {
    Records,
    Spans,
}

impl SegmentKind {
    /// The column holding each row's time: `time` for records, `start` for spans.
    pub fn time_column(self) -> &'static str {
        match self {
            SegmentKind::Records => "time",
            SegmentKind::Spans => "start",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SegmentKind::Records => "records",
            SegmentKind::Spans => "spans",
        }
    }

    pub fn parse(s: &str) -> Option<SegmentKind> {
        match s {
            "records" => Some(SegmentKind::Records),
            "spans" => Some(SegmentKind::Spans),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentIndex {
    pub format_version: u32,
    pub kind: SegmentKind,
    pub tenant: String,
    pub n_rows: u64,
    pub min_time_ns: i64,
    pub max_time_ns: i64,
    /// Every service in the segment, sorted.
    pub services: Vec<String>,
    /// Bit `level as u8` set when the level occurs (records only).
    pub levels_mask: u8,
    pub row_groups: Vec<RowGroupIndex>,
    /// Typed attribute columns of a records segment (none before format version 3).
    pub columns: Vec<TypedColumn>,
}

/// The payload of an index written before format version 3 (`TRWLIDX1`).
#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
struct SegmentIndexV1 {
    format_version: u32,
    kind: SegmentKind,
    tenant: String,
    n_rows: u64,
    min_time_ns: i64,
    max_time_ns: i64,
    services: Vec<String>,
    levels_mask: u8,
    row_groups: Vec<RowGroupIndex>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowGroupIndex {
    pub n_rows: u64,
    pub min_time_ns: i64,
    pub max_time_ns: i64,
    /// Indexes into [`SegmentIndex::services`].
    pub services: Vec<u32>,
    pub levels_mask: u8,
    pub trace_ids: Bloom,
    pub terms: Bloom,
}

pub fn level_bit(level: Level) -> u8 {
    1 << (level as u8)
}

impl RowGroupIndex {
    pub fn has_level(&self, level: Level) -> bool {
        self.levels_mask & level_bit(level) != 0
    }

    /// False when some term is certainly absent from this row group.
    pub fn may_contain_terms(&self, terms: &[String]) -> bool {
        terms.iter().all(|t| self.terms.may_contain(t.as_bytes()))
    }

    pub fn may_contain_trace(&self, trace_id: &str) -> bool {
        self.trace_ids.may_contain(trace_id.as_bytes())
    }

    /// True when some trace of `set` may be in this row group.
    pub fn may_contain_any_trace(&self, set: &TraceIdSet) -> bool {
        set.0 .0.iter().any(|&h| self.trace_ids.may_contain_hash(h))
    }
}

/// A set of trace ids kept as their 64-bit hashes: checked against the Bloom filters without
/// hashing each id again, and against every decoded row with one fast hash. A hash collision
/// only lets an extra row through a pre-filter; exact checks come after.
#[derive(Debug, Clone, Default)]
pub struct TraceIdSet(HashSet64);

impl TraceIdSet {
    pub fn new<'a>(ids: impl IntoIterator<Item = &'a str>) -> TraceIdSet {
        let mut set = HashSet64::default();
        for id in ids {
            set.add(id);
        }
        TraceIdSet(set)
    }

    pub fn may_contain(&self, trace_id: &str) -> bool {
        self.0 .0.contains(&Bloom::hash(trace_id.as_bytes()))
    }

    pub fn len(&self) -> usize {
        self.0 .0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0 .0.is_empty()
    }
}

/// Hashes seen in one row group, deduplicated before the Bloom filter is sized.
#[derive(Debug, Clone, Default)]
struct HashSet64(std::collections::HashSet<u64, std::hash::BuildHasherDefault<IdentityHasher>>);

/// The keys are already xxh3 hashes: hashing them again would only cost time.
#[derive(Debug, Clone, Default)]
struct IdentityHasher(u64);

impl std::hash::Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | *b as u64;
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

impl HashSet64 {
    fn add(&mut self, item: &str) {
        self.0.insert(Bloom::hash(item.as_bytes()));
    }

    fn into_bloom(self) -> Bloom {
        let mut bloom = Bloom::with_capacity(self.0.len());
        for h in self.0 {
            bloom.insert_hash(h);
        }
        bloom
    }
}

/// Builds the index of one row group; `services` is the segment's sorted service list. Without
/// `with_terms` its term filter lets everything through: the segment's row index
/// ([`crate::RowIndex`]) answers term lookups exactly.
pub(crate) fn index_records(records: &[&Record], services: &[String], with_terms: bool) -> RowGroupIndex {
    let mut terms = HashSet64::default();
    let mut trace_ids = HashSet64::default();
    let mut levels_mask = 0;
    let mut service_ids = std::collections::BTreeSet::new();
    for r in records {
        levels_mask |= level_bit(r.level);
        if let Ok(i) = services.binary_search(&r.service) {
            service_ids.insert(i as u32);
        }
        if !r.trace_id.is_empty() {
            trace_ids.add(&r.trace_id);
        }
        if with_terms {
            record_terms(r, |t| terms.add(t));
        }
    }
    RowGroupIndex {
        n_rows: records.len() as u64,
        min_time_ns: records.iter().map(|r| r.time_ns).min().unwrap_or(0),
        max_time_ns: records.iter().map(|r| r.time_ns).max().unwrap_or(0),
        services: service_ids.into_iter().collect(),
        levels_mask,
        trace_ids: trace_ids.into_bloom(),
        terms: if with_terms { terms.into_bloom() } else { Bloom::everything() },
    }
}

/// Every index term of the text a bare word or a `field:value` term can match in a record: body,
/// attribute and resource values, trace id and span id.
pub fn record_terms(r: &Record, mut emit: impl FnMut(&str)) {
    text::index_terms(&r.body, &mut emit);
    for (_, v) in r.attributes.iter().chain(&r.resource) {
        match v {
            trawl_model::AttrValue::Str(s) => text::index_terms(s, &mut emit),
            other => text::index_terms(&other.to_text(), &mut emit),
        }
    }
    if !r.trace_id.is_empty() {
        emit(&r.trace_id);
    }
    if !r.span_id.is_empty() {
        emit(&r.span_id);
    }
}

pub(crate) fn index_spans(spans: &[&Span], services: &[String]) -> RowGroupIndex {
    let mut terms = HashSet64::default();
    let mut trace_ids = HashSet64::default();
    let mut service_ids = std::collections::BTreeSet::new();
    let mut levels_mask = 0;
    for s in spans {
        if let Ok(i) = services.binary_search(&s.service) {
            service_ids.insert(i as u32);
        }
        levels_mask |= level_bit(if s.status_code == trawl_model::StatusCode::Error { Level::Error } else { Level::Info });
        trace_ids.add(&s.trace_id);
        let mut emit = |t: &str| terms.add(t);
        text::index_terms(&s.name, &mut emit);
        text::index_terms(&s.status_message, &mut emit);
        for (_, v) in &s.attributes {
            text::index_terms(&v.to_text(), &mut emit);
        }
    }
    RowGroupIndex {
        n_rows: spans.len() as u64,
        min_time_ns: spans.iter().map(|s| s.start_ns).min().unwrap_or(0),
        max_time_ns: spans.iter().map(|s| s.start_ns).max().unwrap_or(0),
        services: service_ids.into_iter().collect(),
        levels_mask,
        trace_ids: trace_ids.into_bloom(),
        terms: terms.into_bloom(),
    }
}

impl SegmentIndex {
    pub fn encode(&self) -> Vec<u8> {
        let payload = bincode::serialize(self).expect("index serialization cannot fail");
        let mut out = Vec::with_capacity(payload.len() + 16);
        out.extend_from_slice(INDEX_MAGIC);
        out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        out.extend_from_slice(&payload);
        out
    }

    pub fn decode(bytes: &[u8], path: &Path) -> Result<SegmentIndex, StoreError> {
        let corrupt = |reason: &str| StoreError::Corrupt { path: path.to_path_buf(), reason: reason.to_string() };
        let v1 = bytes.len() >= 8 && &bytes[..8] == INDEX_MAGIC_V1;
        if bytes.len() < 16 || (&bytes[..8] != INDEX_MAGIC && !v1) {
            return Err(corrupt("not a trawl index file (bad magic)"));
        }
        let len = u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize;
        let crc = u32::from_le_bytes(bytes[12..16].try_into().unwrap());
        let payload = &bytes[16..];
        if payload.len() != len {
            return Err(corrupt("truncated index"));
        }
        if crc32fast::hash(payload) != crc {
            return Err(corrupt("index checksum mismatch"));
        }
        let options = bincode::DefaultOptions::new().with_fixint_encoding().allow_trailing_bytes().with_limit(len as u64);
        let undecodable = |e: bincode::Error| corrupt(&format!("undecodable index: {e}"));
        let index: SegmentIndex = if v1 {
            let old: SegmentIndexV1 = options.deserialize(payload).map_err(undecodable)?;
            SegmentIndex {
                format_version: old.format_version,
                kind: old.kind,
                tenant: old.tenant,
                n_rows: old.n_rows,
                min_time_ns: old.min_time_ns,
                max_time_ns: old.max_time_ns,
                services: old.services,
                levels_mask: old.levels_mask,
                row_groups: old.row_groups,
                columns: Vec::new(),
            }
        } else {
            options.deserialize(payload).map_err(undecodable)?
        };
        if index.format_version > FORMAT_VERSION {
            return Err(corrupt(&format!("format version {} is newer than this binary", index.format_version)));
        }
        Ok(index)
    }

    /// The typed column of `key` in `source`, if the segment has one.
    pub fn typed_column(&self, source: AttrSource, key: &str) -> Option<&TypedColumn> {
        self.columns.iter().find(|c| c.source == source && c.key == key)
    }

    pub fn read(path: &Path) -> Result<SegmentIndex, StoreError> {
        let bytes = std::fs::read(path).map_err(|e| StoreError::io(path, e))?;
        SegmentIndex::decode(&bytes, path)
    }
}

use bincode::Options as _;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_round_trips_and_detects_damage() {
        let mut r = Record::new(1_000);
        r.service = "payment".into();
        r.level = Level::Error;
        r.trace_id = "abcd".into();
        r.body = "결제가 실패했습니다 timeout".into();
        let services = vec!["payment".to_string()];
        let rg = index_records(&[&r], &services, true);
        assert!(rg.may_contain_terms(&trawl_model::text::required_terms("실패")));
        assert!(rg.may_contain_terms(&["timeout".to_string()]));
        assert!(rg.may_contain_trace("abcd"));
        assert!(rg.has_level(Level::Error));
        let index = SegmentIndex {
            format_version: FORMAT_VERSION,
            kind: SegmentKind::Records,
            tenant: "default".into(),
            n_rows: 1,
            min_time_ns: 1_000,
            max_time_ns: 1_000,
            services,
            levels_mask: rg.levels_mask,
            row_groups: vec![rg],
            columns: vec![TypedColumn { source: AttrSource::Attributes, key: "http.status".into(), ty: crate::attribute_columns::ColumnType::Int }],
        };
        let path = Path::new("x.idx");
        let bytes = index.encode();
        assert_eq!(SegmentIndex::decode(&bytes, path).unwrap(), index);
        let mut damaged = bytes.clone();
        let last = damaged.len() - 1;
        damaged[last] ^= 1;
        assert!(matches!(SegmentIndex::decode(&damaged, path), Err(StoreError::Corrupt { .. })));
        assert!(SegmentIndex::decode(&bytes[..bytes.len() - 3], path).is_err());
        assert!(SegmentIndex::decode(b"garbage", path).is_err());
    }

    #[test]
    fn indexes_of_format_version_2_still_decode() {
        let mut r = Record::new(5);
        r.service = "cart".into();
        let services = vec!["cart".to_string()];
        let rg = index_records(&[&r], &services, true);
        let old = SegmentIndexV1 { format_version: 2, kind: SegmentKind::Records, tenant: "default".into(), n_rows: 1, min_time_ns: 5, max_time_ns: 5, services, levels_mask: rg.levels_mask, row_groups: vec![rg.clone()] };
        let payload = bincode::serialize(&old).unwrap();
        let mut bytes = INDEX_MAGIC_V1.to_vec();
        bytes.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        bytes.extend_from_slice(&payload);
        let index = SegmentIndex::decode(&bytes, Path::new("old.idx")).unwrap();
        assert_eq!(index.format_version, 2);
        assert_eq!(index.row_groups, vec![rg]);
        assert!(index.columns.is_empty());
    }
}
