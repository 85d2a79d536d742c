//! The rollup tables of the metastore: one row per key and bucket of a [`RollupSet`].
//!
//! ```text
//! rollup_red    (tenant, resolution_s, bucket_start_ns, service, operation, kind) → requests, errors, latency
//! rollup_levels (tenant, resolution_s, bucket_start_ns, service) → n_trace … n_fatal
//! rollup_edges  (tenant, resolution_s, bucket_start_ns, caller, callee) → calls, errors, latency
//! ```
//! `latency` is an encoded [`trawl_rollup::LatencySketch`]. Rows are written in the transaction
//! that registers the segments of the same buffer (see `Metastore::register`), so
//! the rollups of a buffer are stored exactly once, or not at all and then rebuilt from the WAL.
//! A second buffer with items in the same bucket merges into the existing row.
//!
//! Compaction: minute rows older than the compaction age are merged into hour rows, in one
//! transaction per batch of hours, so a long range reads at most one row per key and hour.
//!
//! Nothing read here is trusted: a row with an unknown resolution is never read, a negative
//! count reads as 0 and a damaged sketch as an empty one (its counts stay); both are reported.

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use trawl_model::Level;
use trawl_rollup::{EdgeKey, LatencySketch, LevelCounts, LevelKey, RedKey, RedStats, Resolution, RollupSet};

use crate::StoreError;

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS rollup_red (
    tenant TEXT NOT NULL,
    resolution_s INTEGER NOT NULL,
    bucket_start_ns INTEGER NOT NULL,
    service TEXT NOT NULL,
    operation TEXT NOT NULL,
    kind TEXT NOT NULL,
    requests INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    latency BLOB NOT NULL,
    PRIMARY KEY (tenant, resolution_s, bucket_start_ns, service, operation, kind)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rollup_levels (
    tenant TEXT NOT NULL,
    resolution_s INTEGER NOT NULL,
    bucket_start_ns INTEGER NOT NULL,
    service TEXT NOT NULL,
    n_trace INTEGER NOT NULL,
    n_debug INTEGER NOT NULL,
    n_info INTEGER NOT NULL,
    n_warn INTEGER NOT NULL,
    n_error INTEGER NOT NULL,
    n_fatal INTEGER NOT NULL,
    PRIMARY KEY (tenant, resolution_s, bucket_start_ns, service)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rollup_edges (
    tenant TEXT NOT NULL,
    resolution_s INTEGER NOT NULL,
    bucket_start_ns INTEGER NOT NULL,
    caller TEXT NOT NULL,
    callee TEXT NOT NULL,
    calls INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    latency BLOB NOT NULL,
    PRIMARY KEY (tenant, resolution_s, bucket_start_ns, caller, callee)
) WITHOUT ROWID;
";

/// At most this many distinct problems are reported per read.
const MAX_WARNINGS: usize = 10;

fn count_to_sql(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Problems met while reading rows, reported once each.
#[derive(Default)]
pub(crate) struct Warnings(pub Vec<String>);

impl Warnings {
    fn push(&mut self, message: String) {
        if self.0.len() < MAX_WARNINGS && !self.0.contains(&message) {
            tracing::error!(problem = %message, "damaged rollup row");
            self.0.push(message);
        }
    }

    fn count(&mut self, table: &str, n: i64) -> u64 {
        u64::try_from(n).unwrap_or_else(|_| {
            self.push(format!("metastore {table}: negative count read as 0"));
            0
        })
    }

    fn sketch(&mut self, table: &str, bytes: &[u8]) -> LatencySketch {
        LatencySketch::decode(bytes).unwrap_or_else(|e| {
            self.push(format!("metastore {table}: {e}; latency of the row ignored"));
            LatencySketch::new()
        })
    }
}

/// Adds every row of `set` to the tables, merging into rows of the same key.
pub(crate) fn insert(tx: &Transaction<'_>, tenant: &str, set: &RollupSet) -> Result<(), StoreError> {
    let mut warnings = Warnings::default();
    {
        let mut select = tx.prepare_cached(
            "SELECT requests, errors, latency FROM rollup_red
             WHERE tenant = ?1 AND resolution_s = ?2 AND bucket_start_ns = ?3 AND service = ?4 AND operation = ?5 AND kind = ?6",
        )?;
        let mut upsert = tx.prepare_cached(
            "INSERT OR REPLACE INTO rollup_red (tenant, resolution_s, bucket_start_ns, service, operation, kind, requests, errors, latency)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        for (k, v) in &set.red {
            let key = params![tenant, k.resolution.seconds(), k.bucket_start_ns, k.service, k.operation, k.kind];
            let old = select
                .query_row(key, |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, Vec<u8>>(2)?)))
                .optional()?;
            let merged = merge_red(&mut warnings, "rollup_red", old, v);
            upsert.execute(params![
                tenant,
                k.resolution.seconds(),
                k.bucket_start_ns,
                k.service,
                k.operation,
                k.kind,
                count_to_sql(merged.requests),
                count_to_sql(merged.errors),
                merged.latency.encode()
            ])?;
        }
    }
    {
        let mut upsert = tx.prepare_cached(
            "INSERT INTO rollup_levels (tenant, resolution_s, bucket_start_ns, service, n_trace, n_debug, n_info, n_warn, n_error, n_fatal)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (tenant, resolution_s, bucket_start_ns, service) DO UPDATE SET
               n_trace = n_trace + excluded.n_trace, n_debug = n_debug + excluded.n_debug,
               n_info = n_info + excluded.n_info, n_warn = n_warn + excluded.n_warn,
               n_error = n_error + excluded.n_error, n_fatal = n_fatal + excluded.n_fatal",
        )?;
        for (k, v) in &set.levels {
            let n = v.0.map(count_to_sql);
            upsert.execute(params![tenant, k.resolution.seconds(), k.bucket_start_ns, k.service, n[0], n[1], n[2], n[3], n[4], n[5]])?;
        }
    }
    {
        let mut select = tx.prepare_cached(
            "SELECT calls, errors, latency FROM rollup_edges
             WHERE tenant = ?1 AND resolution_s = ?2 AND bucket_start_ns = ?3 AND caller = ?4 AND callee = ?5",
        )?;
        let mut upsert = tx.prepare_cached(
            "INSERT OR REPLACE INTO rollup_edges (tenant, resolution_s, bucket_start_ns, caller, callee, calls, errors, latency)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        for (k, v) in &set.edges {
            let key = params![tenant, k.resolution.seconds(), k.bucket_start_ns, k.caller, k.callee];
            let old = select
                .query_row(key, |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, Vec<u8>>(2)?)))
                .optional()?;
            let merged = merge_red(&mut warnings, "rollup_edges", old, v);
            upsert.execute(params![
                tenant,
                k.resolution.seconds(),
                k.bucket_start_ns,
                k.caller,
                k.callee,
                count_to_sql(merged.requests),
                count_to_sql(merged.errors),
                merged.latency.encode()
            ])?;
        }
    }
    Ok(())
}

fn merge_red(warnings: &mut Warnings, table: &str, old: Option<(i64, i64, Vec<u8>)>, new: &RedStats) -> RedStats {
    let mut merged = match old {
        Some((requests, errors, latency)) => RedStats {
            requests: warnings.count(table, requests),
            errors: warnings.count(table, errors),
            latency: warnings.sketch(table, &latency),
        },
        None => RedStats::default(),
    };
    merged.merge(new);
    merged
}

/// Reads the rows of `resolution` whose bucket starts in `from_ns..=to_ns` into `set`.
fn read_range(
    conn: &Connection,
    tenant: &str,
    resolution: Resolution,
    from_ns: i64,
    to_ns: i64,
    set: &mut RollupSet,
    warnings: &mut Warnings,
) -> Result<(), StoreError> {
    let res = resolution.seconds();
    let mut stmt = conn.prepare_cached(
        "SELECT bucket_start_ns, service, operation, kind, requests, errors, latency FROM rollup_red
         WHERE tenant = ?1 AND resolution_s = ?2 AND bucket_start_ns BETWEEN ?3 AND ?4",
    )?;
    let mut rows = stmt.query(params![tenant, res, from_ns, to_ns])?;
    while let Some(r) = rows.next()? {
        let key = RedKey { resolution, bucket_start_ns: r.get(0)?, service: r.get(1)?, operation: r.get(2)?, kind: r.get(3)? };
        let stats = RedStats {
            requests: warnings.count("rollup_red", r.get(4)?),
            errors: warnings.count("rollup_red", r.get(5)?),
            latency: warnings.sketch("rollup_red", &r.get::<_, Vec<u8>>(6)?),
        };
        set.red.entry(key).or_default().merge(&stats);
    }
    let mut stmt = conn.prepare_cached(
        "SELECT bucket_start_ns, service, n_trace, n_debug, n_info, n_warn, n_error, n_fatal FROM rollup_levels
         WHERE tenant = ?1 AND resolution_s = ?2 AND bucket_start_ns BETWEEN ?3 AND ?4",
    )?;
    let mut rows = stmt.query(params![tenant, res, from_ns, to_ns])?;
    while let Some(r) = rows.next()? {
        let key = LevelKey { resolution, bucket_start_ns: r.get(0)?, service: r.get(1)? };
        let mut counts = LevelCounts::default();
        for level in Level::ALL {
            counts.0[level as usize] = warnings.count("rollup_levels", r.get(2 + level as usize)?);
        }
        set.levels.entry(key).or_default().merge(&counts);
    }
    let mut stmt = conn.prepare_cached(
        "SELECT bucket_start_ns, caller, callee, calls, errors, latency FROM rollup_edges
         WHERE tenant = ?1 AND resolution_s = ?2 AND bucket_start_ns BETWEEN ?3 AND ?4",
    )?;
    let mut rows = stmt.query(params![tenant, res, from_ns, to_ns])?;
    while let Some(r) = rows.next()? {
        let key = EdgeKey { resolution, bucket_start_ns: r.get(0)?, caller: r.get(1)?, callee: r.get(2)? };
        let stats = RedStats {
            requests: warnings.count("rollup_edges", r.get(3)?),
            errors: warnings.count("rollup_edges", r.get(4)?),
            latency: warnings.sketch("rollup_edges", &r.get::<_, Vec<u8>>(5)?),
        };
        set.edges.entry(key).or_default().merge(&stats);
    }
    Ok(())
}

/// Every stored bucket (any resolution) overlapping `start_ns..=end_ns`. Call it inside a
/// transaction so the three tables are read at one point in time.
pub(crate) fn read(conn: &Connection, tenant: &str, start_ns: i64, end_ns: i64) -> Result<(RollupSet, Vec<String>), StoreError> {
    let mut set = RollupSet::default();
    let mut warnings = Warnings::default();
    if start_ns <= end_ns {
        for resolution in Resolution::ALL {
            let from = start_ns.saturating_sub(resolution.width_ns() - 1);
            read_range(conn, tenant, resolution, from, end_ns, &mut set, &mut warnings)?;
        }
    }
    Ok((set, warnings.0))
}

/// What one compaction step did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RollupCompaction {
    /// Minute rows merged away.
    pub minute_rows: usize,
    /// Hour rows written (new or merged into).
    pub hour_rows: usize,
    /// Minute rows older than the cutoff remain (the step stopped at its batch of hours).
    pub more: bool,
}

/// Merges minute rows of buckets before `cutoff_ns` (rounded down to an hour) into hour rows,
/// at most `max_hours` hours (from the oldest) per call.
pub(crate) fn compact(tx: &Transaction<'_>, tenant: &str, cutoff_ns: i64, max_hours: i64) -> Result<RollupCompaction, StoreError> {
    let cutoff = Resolution::Hour.bucket_start(cutoff_ns);
    let oldest: Option<i64> = tx.query_row(
        "SELECT MIN(m) FROM (
           SELECT MIN(bucket_start_ns) AS m FROM rollup_red WHERE tenant = ?1 AND resolution_s = 60
           UNION ALL SELECT MIN(bucket_start_ns) FROM rollup_levels WHERE tenant = ?1 AND resolution_s = 60
           UNION ALL SELECT MIN(bucket_start_ns) FROM rollup_edges WHERE tenant = ?1 AND resolution_s = 60)",
        params![tenant],
        |r| r.get(0),
    )?;
    let Some(oldest) = oldest.filter(|o| *o < cutoff) else { return Ok(RollupCompaction::default()) };
    let until = Resolution::Hour.bucket_start(oldest).saturating_add(max_hours.max(1).saturating_mul(Resolution::Hour.width_ns())).min(cutoff);
    let mut minutes = RollupSet::default();
    let mut warnings = Warnings::default();
    read_range(tx, tenant, Resolution::Minute, i64::MIN, until - 1, &mut minutes, &mut warnings)?;
    let mut minute_rows = 0;
    for table in ["rollup_red", "rollup_levels", "rollup_edges"] {
        minute_rows += tx.execute(
            &format!("DELETE FROM {table} WHERE tenant = ?1 AND resolution_s = 60 AND bucket_start_ns < ?2"),
            params![tenant, until],
        )?;
    }
    let hours = minutes.coarsened(Resolution::Hour);
    let hour_rows = hours.n_rows();
    insert(tx, tenant, &hours)?;
    Ok(RollupCompaction { minute_rows, hour_rows, more: until < cutoff })
}

#[cfg(test)]
mod tests {
    use super::*;
    use trawl_model::{Record, Span, SpanKind, StatusCode};

    const MIN: i64 = 60_000_000_000;

    fn items(n: usize, start_ns: i64) -> (Vec<Record>, Vec<Span>) {
        let records = (0..n)
            .map(|i| {
                let mut r = Record::new(start_ns + i as i64 * 7_000_000_000);
                r.service = "web".into();
                r.level = if i % 5 == 0 { Level::Error } else { Level::Info };
                r
            })
            .collect();
        let spans = (0..n)
            .flat_map(|i| {
                let start = start_ns + i as i64 * 7_000_000_000;
                let parent = Span {
                    trace_id: format!("t{i}"),
                    span_id: "a".into(),
                    parent_span_id: String::new(),
                    service: "web".into(),
                    environment: String::new(),
                    host: String::new(),
                    name: "GET /".into(),
                    kind: SpanKind::Server,
                    start_ns: start,
                    duration_ns: 1_000_000 * (i as i64 + 1),
                    status_code: if i % 4 == 0 { StatusCode::Error } else { StatusCode::Ok },
                    status_message: String::new(),
                    attributes: Vec::new(),
                    resource: Vec::new(),
                    events: Vec::new(),
                    links: Vec::new(),
                };
                let child = Span { span_id: "b".into(), parent_span_id: "a".into(), service: "api".into(), name: "rpc".into(), ..parent.clone() };
                [parent, child]
            })
            .collect();
        (records, spans)
    }

    fn open() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        conn
    }

    fn write(conn: &mut Connection, set: &RollupSet) {
        let tx = conn.transaction().unwrap();
        insert(&tx, "default", set).unwrap();
        tx.commit().unwrap();
    }

    #[test]
    fn rows_round_trip_and_merge_per_bucket() {
        let (records, spans) = items(40, 10 * MIN);
        let whole = RollupSet::from_items(&records, &spans);
        let mut conn = open();
        // Two buffers (the halves) land in the same buckets: rows merge.
        write(&mut conn, &RollupSet::from_items(&records[..20], &spans[..40]));
        write(&mut conn, &RollupSet::from_items(&records[20..], &spans[40..]));
        let (read_back, warnings) = read(&conn, "default", 0, i64::MAX).unwrap();
        assert!(warnings.is_empty());
        assert_eq!(read_back, whole);
        let (other_tenant, _) = read(&conn, "other", 0, i64::MAX).unwrap();
        assert!(other_tenant.is_empty());
        // A window reads the buckets overlapping it.
        let (window, _) = read(&conn, "default", 11 * MIN + 1, 12 * MIN).unwrap();
        let mut expected = whole.clone();
        expected.retain_window(11 * MIN + 1, 12 * MIN);
        assert_eq!(window, expected);
    }

    #[test]
    fn compaction_keeps_totals_and_leaves_recent_minutes() {
        let (records, spans) = items(2000, 0);
        let whole = RollupSet::from_items(&records, &spans);
        let mut conn = open();
        write(&mut conn, &whole);
        let cutoff = 2 * Resolution::Hour.width_ns() + 17 * MIN;
        let mut steps = 0;
        loop {
            let tx = conn.transaction().unwrap();
            let done = compact(&tx, "default", cutoff, 1).unwrap();
            tx.commit().unwrap();
            steps += 1;
            if !done.more {
                break;
            }
        }
        assert_eq!(steps, 2);
        let (read_back, warnings) = read(&conn, "default", i64::MIN, i64::MAX).unwrap();
        assert!(warnings.is_empty());
        let hour = Resolution::Hour.width_ns();
        assert!(read_back.red.keys().all(|k| (k.resolution == Resolution::Hour) == (k.bucket_start_ns < 2 * hour)));
        let (old, recent) = whole.clone().split_at(2 * hour);
        let mut expected = old.coarsened(Resolution::Hour);
        expected.merge(recent);
        assert_eq!(read_back, expected);
        // Nothing left to do.
        let tx = conn.transaction().unwrap();
        assert_eq!(compact(&tx, "default", cutoff, 1).unwrap(), RollupCompaction::default());
    }

    #[test]
    fn damaged_rows_are_reported_not_trusted() {
        let (records, spans) = items(3, 0);
        let mut conn = open();
        write(&mut conn, &RollupSet::from_items(&records, &spans));
        conn.execute("UPDATE rollup_red SET latency = x'ff00', requests = -4", []).unwrap();
        conn.execute("UPDATE rollup_edges SET resolution_s = 7", []).unwrap();
        let (set, warnings) = read(&conn, "default", 0, i64::MAX).unwrap();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(set.red.values().all(|v| v.requests == 0 && v.latency.is_empty() && v.errors > 0));
        assert!(set.edges.is_empty());
        // Merging a new buffer into a damaged row keeps going.
        write(&mut conn, &RollupSet::from_items(&records, &spans));
        let (set, _) = read(&conn, "default", 0, i64::MAX).unwrap();
        assert_eq!(set.red.values().map(|v| v.requests).sum::<u64>(), spans.len() as u64);
    }
}
