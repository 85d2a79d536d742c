//! The pattern tables of the metastore: the ingest miners' saved state and the dictionary.
//!
//! ```text
//! pattern_miners     (tenant, service) → state (bincode MinerState, NULL once evicted), next_id, last_used
//! pattern_dictionary (tenant, service, pattern_id) → canonical_id, template, first_seen_ns
//! ```
//! Both are written in the transaction that registers a buffer's segments (see
//! `Metastore::register_with_patterns`): the saved miners are exactly those that mined every
//! record up to the WAL watermark, and every pattern id in a registered segment has its row.
//! A dictionary row keeps its `first_seen_ns` from its first write; its template and canonical
//! id follow the miner (templates generalise, patterns merge).

use std::collections::HashMap;

use rusqlite::{params, OptionalExtension, Transaction};

use crate::pattern_registry::{MinerRow, PatternDelta, TemplateRow};
use crate::StoreError;

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS pattern_miners (
    tenant TEXT NOT NULL,
    service TEXT NOT NULL,
    state BLOB,
    next_id INTEGER NOT NULL,
    last_used INTEGER NOT NULL,
    PRIMARY KEY (tenant, service)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pattern_dictionary (
    tenant TEXT NOT NULL,
    service TEXT NOT NULL,
    pattern_id INTEGER NOT NULL,
    canonical_id INTEGER NOT NULL,
    template TEXT NOT NULL,
    first_seen_ns INTEGER NOT NULL,
    PRIMARY KEY (tenant, service, pattern_id)
) WITHOUT ROWID;
";

/// Stores `delta` for `tenant` within the registration transaction.
pub(crate) fn insert(tx: &Transaction<'_>, tenant: &str, delta: &PatternDelta) -> Result<(), StoreError> {
    if !delta.miners.is_empty() {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO pattern_miners (tenant, service, state, next_id, last_used) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (tenant, service) DO UPDATE SET state = excluded.state, next_id = excluded.next_id, last_used = excluded.last_used",
        )?;
        for m in &delta.miners {
            stmt.execute(params![tenant, m.service, m.state, m.next_id as i64, m.last_used as i64])?;
        }
    }
    if !delta.templates.is_empty() {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO pattern_dictionary (tenant, service, pattern_id, canonical_id, template, first_seen_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (tenant, service, pattern_id) DO UPDATE SET canonical_id = excluded.canonical_id, template = excluded.template",
        )?;
        for t in &delta.templates {
            stmt.execute(params![tenant, t.service, t.pattern_id as i64, t.canonical_id as i64, t.template, t.first_seen_ns])?;
        }
    }
    Ok(())
}

/// Every saved miner of `tenant`.
pub(crate) fn read_miners(conn: &rusqlite::Connection, tenant: &str) -> Result<Vec<MinerRow>, StoreError> {
    let mut stmt = conn.prepare("SELECT service, state, next_id, last_used FROM pattern_miners WHERE tenant = ?1 ORDER BY service")?;
    let rows = stmt
        .query_map(params![tenant], |r| {
            Ok(MinerRow {
                service: r.get(0)?,
                state: r.get(1)?,
                next_id: r.get::<_, i64>(2)?.max(0) as u64,
                last_used: r.get::<_, i64>(3)?.max(0) as u64,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// The dictionary rows of `keys` (service, pattern id) that exist.
pub(crate) fn read_templates(
    conn: &rusqlite::Connection,
    tenant: &str,
    keys: &[(String, u64)],
) -> Result<HashMap<(String, u64), TemplateRow>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT canonical_id, template, first_seen_ns FROM pattern_dictionary WHERE tenant = ?1 AND service = ?2 AND pattern_id = ?3",
    )?;
    let mut found = HashMap::new();
    for (service, id) in keys {
        let row = stmt
            .query_row(params![tenant, service, *id as i64], |r| {
                Ok(TemplateRow {
                    service: service.clone(),
                    pattern_id: *id,
                    canonical_id: r.get::<_, i64>(0)?.max(0) as u64,
                    template: r.get(1)?,
                    first_seen_ns: r.get(2)?,
                })
            })
            .optional()?;
        if let Some(row) = row {
            found.insert((service.clone(), *id), row);
        }
    }
    Ok(found)
}
