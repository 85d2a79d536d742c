//! The write-ahead log: checksummed frames appended to numbered files.
//!
//! A WAL *file* is `wal-<seq>.log`: an 8-byte header (`TRWLWAL1`) and then frames of
//! `[len: u32 LE][crc32 of payload: u32 LE][payload]`. Files are never appended to after a
//! restart: replay reads them all, and appending starts in a new file, so a torn tail is never
//! followed by good frames in the same file.
//!
//! This crate is synchronous and knows nothing of what the payloads mean; group commit (many
//! requests sharing one fsync) is the caller's loop around [`Wal::append`] and [`Wal::sync`].

mod filenames;
mod wal;

pub use filenames::{parse_wal_file_name, wal_file_name, FRAME_HEADER_LEN, MAGIC, MAX_FRAME_LEN};
pub use wal::{disk_bytes, remove_files_through, Replay, ReplayedFrame, Wal, WalError};
