//! Every on-disk name of the storage layer, and the format version written into every file.
//!
//! ```text
//! <data-dir>/
//!   LOCK                 held by the running process
//!   metastore.sqlite
//!   wal/wal-<seq>.log
//!   segments/<tenant>/<yyyy-mm-dd>/<kind>-<wal seq>.parquet   immutable once registered
//!   segments/<tenant>/<yyyy-mm-dd>/<kind>-<wal seq>.idx       sidecar index of that file
//!   segments/<tenant>/<yyyy-mm-dd>/records-<wal seq>.postings row index of a records segment
//! ```
//! The day folder is the UTC day of the segment's oldest item: time partitions let retention and
//! an object-storage tier move whole folders later.

use std::path::{Path, PathBuf};

/// Written into every segment's Parquet key-value metadata and every sidecar index.
/// 2: records segments have a `pattern_id` column (version 1 segments are read as having none).
/// 3: records segments have typed attribute columns (`attributes.<key>`, `resource.<key>`) and
///    their `attributes`/`resource` JSON holds only the other keys; the sidecar lists them.
/// 4: records segments have a row index (`.postings`) and their sidecar no term filters.
pub const FORMAT_VERSION: u32 = 4;
pub const DEFAULT_TENANT: &str = "default";
pub const METASTORE_FILE: &str = "metastore.sqlite";
/// Locked while a process has the data directory open.
pub const LOCK_FILE: &str = "LOCK";
pub const WAL_DIR: &str = "wal";
pub const SEGMENTS_DIR: &str = "segments";
pub const SEGMENT_EXT: &str = "parquet";
pub const INDEX_EXT: &str = "idx";
/// The exact row index of a records segment (format version 4 on).
pub const POSTINGS_EXT: &str = "postings";
/// Magic bytes at the start of a sidecar index; the digit is the index layout's version.
pub const INDEX_MAGIC: &[u8; 8] = b"TRWLIDX2";
/// The sidecar layout of format versions 1 and 2 (no typed columns), still read.
pub const INDEX_MAGIC_V1: &[u8; 8] = b"TRWLIDX1";
/// Parquet key-value metadata keys.
pub const META_FORMAT_VERSION: &str = "trawl.format_version";
pub const META_TENANT: &str = "trawl.tenant";
pub const META_KIND: &str = "trawl.kind";

pub fn wal_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(WAL_DIR)
}

/// Path of a segment relative to the data directory.
pub fn segment_rel_path(tenant: &str, day: &str, kind: &str, wal_seq: u64) -> PathBuf {
    Path::new(SEGMENTS_DIR).join(tenant).join(day).join(format!("{kind}-{wal_seq:016}.{SEGMENT_EXT}"))
}

pub fn index_path_for(segment_path: &Path) -> PathBuf {
    segment_path.with_extension(INDEX_EXT)
}

pub fn postings_path_for(segment_path: &Path) -> PathBuf {
    segment_path.with_extension(POSTINGS_EXT)
}

/// Every file of a segment: the Parquet file and its sidecars.
pub fn segment_files(segment_path: &Path) -> [PathBuf; 3] {
    [segment_path.to_path_buf(), index_path_for(segment_path), postings_path_for(segment_path)]
}
