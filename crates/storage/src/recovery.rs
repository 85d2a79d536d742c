//! What a start finds: segment files a crash left unregistered, and the WAL replayed into the
//! buffer.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use bincode::Options as _;
use trawl_model::{Record, Span};

use crate::buffer::Chunk;
use crate::filenames::{self, INDEX_EXT, POSTINGS_EXT, SEGMENT_EXT};
use crate::metastore::SegmentRow;
use crate::store::Inner;
use crate::writer::push_active;

/// Deletes segment and index files under `segments/` that the metastore does not know: a crash
/// between writing a segment and registering it leaves them, and the WAL still has their items.
pub(crate) fn remove_unregistered_files(data_dir: &Path, rows: &[SegmentRow]) {
    let known: std::collections::HashSet<PathBuf> = rows
        .iter()
        .flat_map(|r| {
            let p = data_dir.join(&r.path);
            filenames::segment_files(&p)
        })
        .collect();
    let mut stack = vec![data_dir.join(filenames::SEGMENTS_DIR)];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.filter_map(|e| e.ok()) {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if matches!(path.extension().and_then(|e| e.to_str()), Some(SEGMENT_EXT | INDEX_EXT | POSTINGS_EXT))
                && !known.contains(&path)
            {
                tracing::warn!(path = %path.display(), "removing unregistered segment file");
                let _ = std::fs::remove_file(&path);
            }
        }
    }
}

pub(crate) fn replay_into(inner: &Inner, replay: trawl_wal::Replay) {
    let n_frames = replay.frames.len();
    let mut mem = inner.mem.write();
    for frame in replay.frames {
        match bincode::DefaultOptions::new()
            .with_fixint_encoding()
            .allow_trailing_bytes()
            .with_limit(frame.payload.len() as u64 * 4 + 1024)
            .deserialize::<(Vec<Record>, Vec<Span>)>(&frame.payload)
        {
            Ok((mut records, spans)) => {
                // The same order as when the writes were first acknowledged: the same ids.
                inner.patterns.lock().assign(&mut records);
                push_active(&mut mem, Chunk::new(records, spans));
            }
            Err(e) => {
                tracing::error!(wal_file = frame.file_seq, error = %e, "undecodable wal frame skipped");
                inner.metrics.wal_corrupt_tails.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    inner.metrics.wal_replayed_frames.store(n_frames as u64, Ordering::Relaxed);
    inner.metrics.wal_corrupt_tails.fetch_add(replay.corrupt_tails.len() as u64, Ordering::Relaxed);
    let mut corrupt = inner.corrupt_files.lock();
    for (path, bytes) in replay.corrupt_tails {
        corrupt.push(format!("{}: torn or corrupt wal tail, {bytes} bytes ignored", path.display()));
    }
    tracing::info!(frames = n_frames, "wal replayed");
}

