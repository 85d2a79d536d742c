use std::fs::{self, File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::filenames::{parse_wal_file_name, wal_file_name, FRAME_HEADER_LEN, MAGIC, MAX_FRAME_LEN};

#[derive(Debug, thiserror::Error)]
pub enum WalError {
    /// The disk refused the write or the fsync (full, read-only, failing). Retry later.
    #[error("wal write failed in {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("wal directory {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("frame of {0} bytes exceeds the wal frame limit")]
    FrameTooLarge(usize),
}

/// One payload read back on replay.
#[derive(Debug)]
pub struct ReplayedFrame {
    pub file_seq: u64,
    pub payload: Vec<u8>,
}

/// What replay found.
#[derive(Debug, Default)]
pub struct Replay {
    pub frames: Vec<ReplayedFrame>,
    /// Files whose tail was torn or corrupt, with the number of bytes ignored in each.
    pub corrupt_tails: Vec<(PathBuf, u64)>,
    /// Sequence numbers of the files that were read.
    pub file_seqs: Vec<u64>,
}

/// An open WAL: replayed files stay on disk until [`Wal::remove_through`] drops them.
pub struct Wal {
    dir: PathBuf,
    seq: u64,
    file: File,
    /// Bytes of the current file known to be complete frames (after the last good append).
    written_len: u64,
    /// Set after a failed write: the file must be cut back to `written_len` before appending.
    needs_repair: bool,
    /// Set after a failed fsync: the next repair starts a new file.
    sync_failed: bool,
    dirty: bool,
}

impl Wal {
    /// Opens `dir` (created if missing), reads every frame of every existing file in order,
    /// skipping files numbered `<= skip_through` (already covered by registered segments), and
    /// starts a new file for appends. Never fails on file contents: bad tails are reported.
    pub fn open(dir: &Path, skip_through: u64) -> Result<(Wal, Replay), WalError> {
        let io_err = |source| WalError::Io { path: dir.to_path_buf(), source };
        fs::create_dir_all(dir).map_err(io_err)?;
        let mut seqs: Vec<u64> = fs::read_dir(dir)
            .map_err(io_err)?
            .filter_map(|e| e.ok())
            .filter_map(|e| parse_wal_file_name(&e.file_name().to_string_lossy()))
            .collect();
        seqs.sort_unstable();
        let mut replay = Replay::default();
        let mut max_seq = skip_through;
        for seq in seqs {
            max_seq = max_seq.max(seq);
            let path = dir.join(wal_file_name(seq));
            if seq <= skip_through {
                let _ = fs::remove_file(&path);
                continue;
            }
            replay.file_seqs.push(seq);
            let bytes = match fs::read(&path) {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(path = %path.display(), error = %e, "cannot read wal file");
                    replay.corrupt_tails.push((path, 0));
                    continue;
                }
            };
            let (frames, good_len) = read_frames(&bytes);
            for payload in frames {
                replay.frames.push(ReplayedFrame { file_seq: seq, payload });
            }
            if good_len < bytes.len() {
                let lost = (bytes.len() - good_len) as u64;
                tracing::warn!(path = %path.display(), bytes = lost, "torn or corrupt wal tail ignored");
                replay.corrupt_tails.push((path, lost));
            }
        }
        let wal = Wal::create(dir, max_seq + 1)?;
        Ok((wal, replay))
    }

    fn create(dir: &Path, seq: u64) -> Result<Wal, WalError> {
        let path = dir.join(wal_file_name(seq));
        let write_err = |source| WalError::Write { path: path.clone(), source };
        let mut file =
            OpenOptions::new().create(true).truncate(true).write(true).open(&path).map_err(write_err)?;
        file.write_all(MAGIC).map_err(write_err)?;
        file.sync_all().map_err(write_err)?;
        sync_dir(dir).map_err(write_err)?;
        Ok(Wal {
            dir: dir.to_path_buf(),
            seq,
            file,
            written_len: MAGIC.len() as u64,
            needs_repair: false,
            sync_failed: false,
            dirty: false,
        })
    }

    /// Sequence number of the file being appended to.
    pub fn current_seq(&self) -> u64 {
        self.seq
    }

    fn current_path(&self) -> PathBuf {
        self.dir.join(wal_file_name(self.seq))
    }

    /// Appends frames (not yet durable: call [`Wal::sync`]). On error nothing of this call is
    /// kept: the file is cut back before the next append.
    pub fn append(&mut self, payloads: &[&[u8]]) -> Result<(), WalError> {
        if self.needs_repair {
            self.repair()?;
        }
        let total: usize = payloads.iter().map(|p| p.len() + FRAME_HEADER_LEN).sum();
        let mut buf = Vec::with_capacity(total);
        for payload in payloads {
            if payload.len() > MAX_FRAME_LEN {
                return Err(WalError::FrameTooLarge(payload.len()));
            }
            buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
            buf.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
            buf.extend_from_slice(payload);
        }
        if let Err(source) = self.file.write_all(&buf) {
            self.needs_repair = true;
            return Err(WalError::Write { path: self.current_path(), source });
        }
        self.written_len += buf.len() as u64;
        self.dirty = true;
        Ok(())
    }

    /// Makes every appended frame durable. On failure the frames since the last successful sync
    /// may or may not be on disk; callers must not acknowledge them.
    pub fn sync(&mut self) -> Result<(), WalError> {
        if !self.dirty {
            return Ok(());
        }
        if let Err(source) = self.file.sync_data() {
            self.needs_repair = true;
            self.sync_failed = true;
            return Err(WalError::Write { path: self.current_path(), source });
        }
        self.dirty = false;
        Ok(())
    }

    /// After a failed write, cut the current file back to its last good length and go on
    /// appending to it: a full disk that refuses every write for minutes then costs no new
    /// files. Only when the cut fails, or after a failed fsync (the kernel may have dropped
    /// pages it could not write, so the file's content is not known), does a fresh file start;
    /// the old one keeps its good prefix (replay stops at a bad frame anyway).
    fn repair(&mut self) -> Result<(), WalError> {
        let cut = self.file.set_len(self.written_len).and_then(|()| self.file.seek(SeekFrom::Start(self.written_len)));
        if cut.is_ok() && !self.sync_failed {
            self.needs_repair = false;
            return Ok(());
        }
        let next = Wal::create(&self.dir, self.seq + 1)?;
        *self = next;
        Ok(())
    }

    /// Syncs and closes the current file, starts the next one, and returns the closed file's
    /// sequence number: every frame appended so far lives in files `<=` that number.
    pub fn rotate(&mut self) -> Result<u64, WalError> {
        self.sync()?;
        let closed = self.seq;
        let next = Wal::create(&self.dir, self.seq + 1)?;
        *self = next;
        Ok(closed)
    }

}

/// Deletes the WAL files of `dir` numbered `<= seq` (their frames are in registered segments).
/// Safe to call from another thread than the appender: the open file is always newer.
pub fn remove_files_through(dir: &Path, seq: u64) -> Result<(), WalError> {
    let io_err = |source| WalError::Io { path: dir.to_path_buf(), source };
    for entry in fs::read_dir(dir).map_err(io_err)?.filter_map(|e| e.ok()) {
        if let Some(s) = parse_wal_file_name(&entry.file_name().to_string_lossy()) {
            if s <= seq {
                fs::remove_file(entry.path()).map_err(io_err)?;
            }
        }
    }
    Ok(())
}

/// Total bytes of the WAL files in `dir`.
pub fn disk_bytes(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok()).filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum())
        .unwrap_or(0)
}

/// Reads complete, checksummed frames; returns them and the length of the good prefix.
fn read_frames(bytes: &[u8]) -> (Vec<Vec<u8>>, usize) {
    let mut frames = Vec::new();
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return (frames, 0);
    }
    let mut pos = MAGIC.len();
    while bytes.len() - pos >= FRAME_HEADER_LEN {
        let len = u32::from_le_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
        let crc = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().unwrap());
        let start = pos + FRAME_HEADER_LEN;
        if len > MAX_FRAME_LEN || bytes.len() - start < len {
            break;
        }
        let payload = &bytes[start..start + len];
        if crc32fast::hash(payload) != crc {
            break;
        }
        frames.push(payload.to_vec());
        pos = start + len;
    }
    (frames, pos)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn payloads(replay: &Replay) -> Vec<Vec<u8>> {
        replay.frames.iter().map(|f| f.payload.clone()).collect()
    }

    #[test]
    fn frames_round_trip_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, replay) = Wal::open(dir.path(), 0).unwrap();
        assert!(replay.frames.is_empty());
        wal.append(&[b"one", b"two"]).unwrap();
        wal.sync().unwrap();
        let first = wal.rotate().unwrap();
        wal.append(&["결제 실패".as_bytes()]).unwrap();
        wal.sync().unwrap();
        drop(wal);

        let (wal, replay) = Wal::open(dir.path(), 0).unwrap();
        assert_eq!(payloads(&replay), vec![b"one".to_vec(), b"two".to_vec(), "결제 실패".as_bytes().to_vec()]);
        assert!(replay.corrupt_tails.is_empty());
        drop(wal);

        // Files covered by a registered segment are skipped and deleted.
        let (_wal, replay) = Wal::open(dir.path(), first).unwrap();
        assert_eq!(payloads(&replay), vec!["결제 실패".as_bytes().to_vec()]);
        assert!(!dir.path().join(wal_file_name(first)).exists());
    }

    #[test]
    fn torn_tail_is_reported_and_good_frames_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _) = Wal::open(dir.path(), 0).unwrap();
        wal.append(&[b"good-1", b"good-2"]).unwrap();
        wal.sync().unwrap();
        let path = wal.current_path();
        drop(wal);
        // Half a frame, as a crash mid-write leaves it.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&100u32.to_le_bytes()).unwrap();
        f.write_all(b"\x01\x02\x03").unwrap();
        drop(f);
        let (mut wal, replay) = Wal::open(dir.path(), 0).unwrap();
        assert_eq!(payloads(&replay), vec![b"good-1".to_vec(), b"good-2".to_vec()]);
        assert_eq!(replay.corrupt_tails.len(), 1);
        assert_eq!(replay.corrupt_tails[0].1, 7);
        // Appending goes to a new file, so the next replay sees the new frame too.
        wal.append(&[b"after"]).unwrap();
        wal.sync().unwrap();
        drop(wal);
        let (_wal, replay) = Wal::open(dir.path(), 0).unwrap();
        assert_eq!(payloads(&replay).len(), 3);
    }

    #[test]
    fn flipped_byte_stops_replay_of_that_file() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _) = Wal::open(dir.path(), 0).unwrap();
        wal.append(&[b"aaaa", b"bbbb", b"cccc"]).unwrap();
        wal.sync().unwrap();
        let path = wal.current_path();
        drop(wal);
        let mut bytes = fs::read(&path).unwrap();
        let second_payload = MAGIC.len() + FRAME_HEADER_LEN + 4 + FRAME_HEADER_LEN;
        bytes[second_payload] ^= 0xff;
        fs::write(&path, &bytes).unwrap();
        let (_wal, replay) = Wal::open(dir.path(), 0).unwrap();
        assert_eq!(payloads(&replay), vec![b"aaaa".to_vec()]);
        assert_eq!(replay.corrupt_tails.len(), 1);
    }

    proptest! {
        #[test]
        fn read_frames_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut with_magic = MAGIC.to_vec();
            with_magic.extend_from_slice(&bytes);
            let _ = read_frames(&bytes);
            let (_, good) = read_frames(&with_magic);
            prop_assert!(good <= with_magic.len());
        }

        #[test]
        fn any_payloads_round_trip(ps in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..20)) {
            let dir = tempfile::tempdir().unwrap();
            let (mut wal, _) = Wal::open(dir.path(), 0).unwrap();
            let refs: Vec<&[u8]> = ps.iter().map(|p| p.as_slice()).collect();
            wal.append(&refs).unwrap();
            wal.sync().unwrap();
            drop(wal);
            let (_wal, replay) = Wal::open(dir.path(), 0).unwrap();
            prop_assert_eq!(payloads(&replay), ps);
        }
    }
}
