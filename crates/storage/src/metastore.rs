//! The metastore: which segments exist and how far the WAL is covered by them.
//! SQLite (bundled) by default; segments and the WAL watermark change in one transaction, so a
//! segment is either registered with its WAL coverage or not at all. The rollups of a buffer are
//! written in the transaction that registers its segments (see `rollup_tables.rs`).

use std::path::Path;

use rusqlite::{params, Connection};

use trawl_rollup::RollupSet;

use crate::pattern_registry::{MinerRow, PatternDelta, TemplateRow};
use crate::pattern_tables;
use crate::rollup_tables::{self, RollupCompaction};
use crate::StoreError;

/// One registered segment file.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentRow {
    pub tenant: String,
    pub kind: String,
    /// Relative to the data directory.
    pub path: String,
    pub min_time_ns: i64,
    pub max_time_ns: i64,
    pub n_rows: u64,
    pub n_bytes: u64,
    pub wal_seq: u64,
    pub format_version: u32,
}

pub struct Metastore {
    conn: Connection,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS segments (
    id INTEGER PRIMARY KEY,
    tenant TEXT NOT NULL,
    kind TEXT NOT NULL,
    path TEXT NOT NULL UNIQUE,
    min_time_ns INTEGER NOT NULL,
    max_time_ns INTEGER NOT NULL,
    n_rows INTEGER NOT NULL,
    n_bytes INTEGER NOT NULL,
    wal_seq INTEGER NOT NULL,
    format_version INTEGER NOT NULL,
    created_at_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS segments_time ON segments (tenant, max_time_ns);
CREATE TABLE IF NOT EXISTS wal_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    flushed_through INTEGER NOT NULL
);
INSERT OR IGNORE INTO wal_state (id, flushed_through) VALUES (1, 0);
CREATE TABLE IF NOT EXISTS saved_queries (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    query TEXT NOT NULL,
    created_at_ns INTEGER NOT NULL,
    updated_at_ns INTEGER NOT NULL
);
";

/// A query saved under a name, for the UI and the CLI.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SavedQuery {
    pub id: i64,
    pub name: String,
    pub query: String,
    pub created_at_ns: i64,
    pub updated_at_ns: i64,
}

fn saved_query(row: &rusqlite::Row<'_>) -> rusqlite::Result<SavedQuery> {
    Ok(SavedQuery { id: row.get(0)?, name: row.get(1)?, query: row.get(2)?, created_at_ns: row.get(3)?, updated_at_ns: row.get(4)? })
}

fn unique_name(e: rusqlite::Error, name: &str) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
            StoreError::Conflict(format!("a saved query named {name:?} already exists"))
        }
        other => StoreError::Metastore(other),
    }
}

impl Metastore {
    pub fn saved_queries(&self) -> Result<Vec<SavedQuery>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT id, name, query, created_at_ns, updated_at_ns FROM saved_queries ORDER BY name")?;
        let rows = stmt.query_map([], saved_query)?.collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    pub fn saved_query(&self, id: i64) -> Result<Option<SavedQuery>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT id, name, query, created_at_ns, updated_at_ns FROM saved_queries WHERE id = ?1")?;
        let mut rows = stmt.query_map(params![id], saved_query)?;
        Ok(rows.next().transpose()?)
    }

    /// Saves a new query; a name already taken is a [`StoreError::Conflict`].
    pub fn create_saved_query(&mut self, name: &str, query: &str) -> Result<SavedQuery, StoreError> {
        let now = trawl_model::now_ns();
        self.conn
            .execute(
                "INSERT INTO saved_queries (name, query, created_at_ns, updated_at_ns) VALUES (?1, ?2, ?3, ?3)",
                params![name, query, now],
            )
            .map_err(|e| unique_name(e, name))?;
        let id = self.conn.last_insert_rowid();
        Ok(SavedQuery { id, name: name.to_string(), query: query.to_string(), created_at_ns: now, updated_at_ns: now })
    }

    /// Replaces a saved query's name and text; None when there is no such id.
    pub fn update_saved_query(&mut self, id: i64, name: &str, query: &str) -> Result<Option<SavedQuery>, StoreError> {
        let now = trawl_model::now_ns();
        let n = self
            .conn
            .execute("UPDATE saved_queries SET name = ?2, query = ?3, updated_at_ns = ?4 WHERE id = ?1", params![id, name, query, now])
            .map_err(|e| unique_name(e, name))?;
        if n == 0 {
            return Ok(None);
        }
        self.saved_query(id)
    }

    /// True when something was deleted.
    pub fn delete_saved_query(&mut self, id: i64) -> Result<bool, StoreError> {
        Ok(self.conn.execute("DELETE FROM saved_queries WHERE id = ?1", params![id])? > 0)
    }

    pub fn open(path: &Path) -> Result<Metastore, StoreError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        conn.execute_batch(rollup_tables::SCHEMA)?;
        conn.execute_batch(pattern_tables::SCHEMA)?;
        Ok(Metastore { conn })
    }

    /// Every WAL file numbered `<=` this is covered by registered segments.
    pub fn flushed_through(&self) -> Result<u64, StoreError> {
        Ok(self.conn.query_row("SELECT flushed_through FROM wal_state WHERE id = 1", [], |r| r.get::<_, i64>(0))? as u64)
    }

    /// Registers segments, adds the rollups of the same items (for `tenant`) and advances the
    /// WAL watermark, all in one transaction: rollups are stored exactly when their segments are.
    pub fn register(&mut self, rows: &[SegmentRow], tenant: &str, rollups: &RollupSet, wal_seq_through: u64) -> Result<(), StoreError> {
        self.register_with_patterns(rows, tenant, rollups, &PatternDelta::default(), wal_seq_through)
    }

    /// [`Metastore::register`], also storing the ingest miners and dictionary rows that mined
    /// the same items.
    pub(crate) fn register_with_patterns(
        &mut self,
        rows: &[SegmentRow],
        tenant: &str,
        rollups: &RollupSet,
        patterns: &PatternDelta,
        wal_seq_through: u64,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        rollup_tables::insert(&tx, tenant, rollups)?;
        pattern_tables::insert(&tx, tenant, patterns)?;
        let now = trawl_model::now_ns();
        for row in rows {
            tx.execute(
                "INSERT INTO segments (tenant, kind, path, min_time_ns, max_time_ns, n_rows, n_bytes, wal_seq, format_version, created_at_ns)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![row.tenant, row.kind, row.path, row.min_time_ns, row.max_time_ns, row.n_rows as i64, row.n_bytes as i64, row.wal_seq as i64, row.format_version, now],
            )?;
        }
        tx.execute("UPDATE wal_state SET flushed_through = MAX(flushed_through, ?1) WHERE id = 1", params![wal_seq_through as i64])?;
        tx.commit()?;
        // Fold SQLite's own write-ahead log back into the database after every flush, so it
        // does not grow during heavy ingest. Best effort: a reader may hold it back this time.
        let _ = self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        Ok(())
    }

    /// The stored rollups (any resolution) of `tenant` overlapping `start_ns..=end_ns`, read at one
    /// point in time, with the problems met in damaged rows.
    pub fn read_rollups(&mut self, tenant: &str, start_ns: i64, end_ns: i64) -> Result<(RollupSet, Vec<String>), StoreError> {
        let tx = self.conn.transaction()?;
        let read = rollup_tables::read(&tx, tenant, start_ns, end_ns)?;
        tx.commit()?;
        Ok(read)
    }

    /// One compaction step in one transaction: minute rollups before `cutoff_ns` (rounded down
    /// to an hour), at most `max_hours` hours of them, become hour rollups.
    pub fn compact_rollups(&mut self, tenant: &str, cutoff_ns: i64, max_hours: i64) -> Result<RollupCompaction, StoreError> {
        let tx = self.conn.transaction()?;
        let done = rollup_tables::compact(&tx, tenant, cutoff_ns, max_hours)?;
        tx.commit()?;
        Ok(done)
    }

    /// The saved ingest miners of `tenant`.
    pub(crate) fn pattern_miners(&self, tenant: &str) -> Result<Vec<MinerRow>, StoreError> {
        pattern_tables::read_miners(&self.conn, tenant)
    }

    /// The stored dictionary rows of `keys` (service, pattern id); unknown keys are left out.
    pub fn pattern_templates(
        &self,
        tenant: &str,
        keys: &[(String, u64)],
    ) -> Result<std::collections::HashMap<(String, u64), TemplateRow>, StoreError> {
        pattern_tables::read_templates(&self.conn, tenant, keys)
    }

    pub fn segments(&self) -> Result<Vec<SegmentRow>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT tenant, kind, path, min_time_ns, max_time_ns, n_rows, n_bytes, wal_seq, format_version FROM segments ORDER BY id",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(SegmentRow {
                    tenant: r.get(0)?,
                    kind: r.get(1)?,
                    path: r.get(2)?,
                    min_time_ns: r.get(3)?,
                    max_time_ns: r.get(4)?,
                    n_rows: r.get::<_, i64>(5)? as u64,
                    n_bytes: r.get::<_, i64>(6)? as u64,
                    wal_seq: r.get::<_, i64>(7)? as u64,
                    format_version: r.get(8)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_queries_round_trip_and_names_are_unique() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = Metastore::open(&dir.path().join("m.sqlite")).unwrap();
        let a = m.create_saved_query("payment errors", "service:payment level:error").unwrap();
        assert!(matches!(m.create_saved_query("payment errors", "x"), Err(StoreError::Conflict(_))));
        let b = m.create_saved_query("결제 실패", "\"결제 실패\"").unwrap();
        assert_eq!(m.saved_queries().unwrap().iter().map(|q| q.id).collect::<Vec<_>>(), vec![a.id, b.id]);
        let updated = m.update_saved_query(a.id, "payment errors", "service:payment level:fatal").unwrap().unwrap();
        assert_eq!(updated.query, "service:payment level:fatal");
        assert!(m.update_saved_query(999, "x", "y").unwrap().is_none());
        assert!(m.delete_saved_query(b.id).unwrap());
        assert!(!m.delete_saved_query(b.id).unwrap());
        assert_eq!(m.saved_query(b.id).unwrap(), None);
    }

    #[test]
    fn registration_is_kept_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.sqlite");
        let row = SegmentRow {
            tenant: "default".into(),
            kind: "records".into(),
            path: "segments/default/2026-11-26/records-1.parquet".into(),
            min_time_ns: 1,
            max_time_ns: 2,
            n_rows: 3,
            n_bytes: 4,
            wal_seq: 7,
            format_version: 1,
        };
        {
            let mut m = Metastore::open(&path).unwrap();
            assert_eq!(m.flushed_through().unwrap(), 0);
            m.register(std::slice::from_ref(&row), "default", &RollupSet::default(), 7).unwrap();
            // The watermark never moves back.
            m.register(&[], "default", &RollupSet::default(), 3).unwrap();
        }
        let m = Metastore::open(&path).unwrap();
        assert_eq!(m.flushed_through().unwrap(), 7);
        assert_eq!(m.segments().unwrap(), vec![row]);
    }

    #[test]
    fn rollups_are_stored_only_with_their_segments() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.sqlite");
        let mut span = trawl_model::Span {
            trace_id: "t".into(),
            span_id: "s".into(),
            parent_span_id: String::new(),
            service: "web".into(),
            environment: String::new(),
            host: String::new(),
            name: "GET /".into(),
            kind: trawl_model::SpanKind::Server,
            start_ns: 120_000_000_000,
            duration_ns: 5_000_000,
            status_code: trawl_model::StatusCode::Error,
            status_message: String::new(),
            attributes: Vec::new(),
            resource: Vec::new(),
            events: Vec::new(),
            links: Vec::new(),
        };
        let rollups = RollupSet::from_items([], [&span]);
        let row = |seq: u64| SegmentRow {
            tenant: "default".into(),
            kind: "spans".into(),
            path: format!("segments/default/1970-01-01/spans-{seq}.parquet"),
            min_time_ns: 1,
            max_time_ns: 2,
            n_rows: 1,
            n_bytes: 4,
            wal_seq: seq,
            format_version: 1,
        };
        {
            let mut m = Metastore::open(&path).unwrap();
            m.register(&[row(1)], "default", &rollups, 1).unwrap();
            // The same path again fails, and the second buffer's rollups go with it.
            span.duration_ns = 1;
            let again = RollupSet::from_items([], [&span]);
            assert!(m.register(&[row(1)], "default", &again, 2).is_err());
            assert_eq!(m.flushed_through().unwrap(), 1);
        }
        let mut m = Metastore::open(&path).unwrap();
        let (read, warnings) = m.read_rollups("default", 0, i64::MAX).unwrap();
        assert!(warnings.is_empty());
        assert_eq!(read, rollups);
    }
}
