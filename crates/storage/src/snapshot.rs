//! What queries read: registered segments with their indexes, the snapshot of the buffer and
//! segments, and the lookup of stored pattern ids.

use std::path::PathBuf;
use std::sync::Arc;

use crate::StoreError;
use crate::buffer::Chunk;
use crate::filenames;
use crate::pattern_registry::TemplateRow;
use crate::row_index::RowIndex;
use crate::segment_index::{SegmentIndex, SegmentKind};
use crate::store::Inner;

/// A registered segment with its sidecar index loaded.
#[derive(Debug)]
pub struct SegmentHandle {
    pub path: PathBuf,
    pub kind: SegmentKind,
    pub n_bytes: u64,
    pub index: SegmentIndex,
    /// The exact row index of a records segment; None before format version 4, or when its
    /// file is damaged (searches then read the row groups the sidecar index lets through).
    pub row_index: Option<RowIndex>,
}

impl SegmentHandle {
    pub(crate) fn new(path: PathBuf, kind: SegmentKind, n_bytes: u64, index: SegmentIndex) -> SegmentHandle {
        let row_index = match kind {
            SegmentKind::Records => match RowIndex::open(&filenames::postings_path_for(&path)) {
                Ok(r) => r.filter(|r| r.n_rows() as u64 == index.n_rows),
                Err(e) => {
                    tracing::error!(path = %path.display(), error = %e, "row index damaged; searches of this segment read its row groups");
                    None
                }
            },
            SegmentKind::Spans => None,
        };
        SegmentHandle { path, kind, n_bytes, index, row_index }
    }
}

/// What a query reads: acknowledged writes still in memory, and registered segments. Both are
/// immutable; a write acknowledged before the snapshot was taken is in exactly one of them.
#[derive(Clone)]
pub struct Snapshot {
    pub chunks: Vec<Arc<Chunk>>,
    pub segments: Vec<Arc<SegmentHandle>>,
    /// Templates of the records' stored pattern ids.
    pub patterns: PatternLookup,
}

/// `(service, pattern id)` → `(canonical id, template)`.
pub type PatternTemplates = std::collections::HashMap<(String, u64), (u64, String)>;

/// Finds the templates of stored pattern ids: in the live ingest miners, else in the
/// metastore's dictionary. [`PatternLookup::default`] knows none (for tests and tools).
#[derive(Clone, Default)]
pub struct PatternLookup {
    pub(crate) inner: Option<Arc<Inner>>,
}

impl PatternLookup {
    /// `(canonical id, template)` of each `(service, pattern id)` that is known; ids merged
    /// since they were stored resolve to the pattern they were merged into.
    pub fn templates(&self, keys: &[(String, u64)]) -> Result<PatternTemplates, StoreError> {
        let mut found = std::collections::HashMap::new();
        let Some(inner) = &self.inner else { return Ok(found) };
        let mut missing = Vec::new();
        {
            let registry = inner.patterns.lock();
            for key in keys {
                match registry.live_template(&key.0, key.1) {
                    Some(t) => {
                        found.insert(key.clone(), t);
                    }
                    None => missing.push(key.clone()),
                }
            }
        }
        if !missing.is_empty() {
            let stored = inner.metastore_reader.lock().pattern_templates(&inner.config.tenant, &missing)?;
            for (key, TemplateRow { canonical_id, template, .. }) in stored {
                found.insert(key, (canonical_id, template));
            }
        }
        Ok(found)
    }
}

impl PatternLookup {
    /// When each `(service, pattern id)` was first seen (the time of the record that created
    /// it), for the ids that are known: patterns created since the last flush from the live
    /// miners, the others from the dictionary.
    pub fn first_seen(&self, keys: &[(String, u64)]) -> Result<std::collections::HashMap<(String, u64), i64>, StoreError> {
        let mut found = std::collections::HashMap::new();
        let Some(inner) = &self.inner else { return Ok(found) };
        let mut missing = Vec::new();
        {
            let registry = inner.patterns.lock();
            for key in keys {
                match registry.created_at(&key.0, key.1) {
                    Some(t) => {
                        found.insert(key.clone(), t);
                    }
                    None => missing.push(key.clone()),
                }
            }
        }
        if !missing.is_empty() {
            let stored = inner.metastore_reader.lock().pattern_templates(&inner.config.tenant, &missing)?;
            for (key, row) in stored {
                found.insert(key, row.first_seen_ns);
            }
        }
        Ok(found)
    }
}

