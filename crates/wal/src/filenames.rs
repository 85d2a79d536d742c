//! On-disk names and constants of the WAL.

/// First bytes of every WAL file; the digit is the format version.
pub const MAGIC: &[u8; 8] = b"TRWLWAL1";
/// Length prefix and checksum.
pub const FRAME_HEADER_LEN: usize = 8;
/// A frame larger than this is treated as corruption on replay (and refused on append).
pub const MAX_FRAME_LEN: usize = 256 * 1024 * 1024;

pub fn wal_file_name(seq: u64) -> String {
    format!("wal-{seq:016}.log")
}

pub fn parse_wal_file_name(name: &str) -> Option<u64> {
    name.strip_prefix("wal-")?.strip_suffix(".log")?.parse().ok()
}
