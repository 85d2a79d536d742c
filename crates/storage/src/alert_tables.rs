//! The alerting tables of the metastore: versioned objects (rules, contact points, policies,
//! silences), alert instances and their history, notification groups and the notification
//! outbox.
//!
//! The alerting crate owns the meaning of every `body` (JSON); this module owns the SQL, so the
//! metastore stays one place (and one schema to port). Everything one evaluation changes is
//! written by [`AlertTables::apply`] in one transaction: an instance's new state, its history,
//! the notifications it causes and the group state that says they were sent are stored
//! together, so a crash can neither lose a notification nor queue it twice.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

use crate::StoreError;

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS alert_objects (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    source TEXT NOT NULL,
    body TEXT NOT NULL,
    updated_at_ns INTEGER NOT NULL,
    PRIMARY KEY (kind, name)
);
CREATE TABLE IF NOT EXISTS alert_object_versions (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    source TEXT NOT NULL,
    body TEXT,
    changed_at_ns INTEGER NOT NULL,
    PRIMARY KEY (kind, name, version)
);
CREATE TABLE IF NOT EXISTS alert_instances (
    fingerprint TEXT PRIMARY KEY,
    rule TEXT NOT NULL,
    state TEXT NOT NULL,
    body TEXT NOT NULL,
    updated_at_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS alert_events (
    id INTEGER PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    rule TEXT NOT NULL,
    at_ns INTEGER NOT NULL,
    state TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alert_events_fp ON alert_events (fingerprint, at_ns);
CREATE INDEX IF NOT EXISTS alert_events_at ON alert_events (at_ns);
CREATE TABLE IF NOT EXISTS alert_groups (
    key TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    updated_at_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS alert_outbox (
    id TEXT PRIMARY KEY,
    contact_point TEXT NOT NULL,
    group_key TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_ns INTEGER NOT NULL,
    last_error TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at_ns INTEGER NOT NULL,
    updated_at_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS alert_outbox_due ON alert_outbox (state, next_attempt_ns);
CREATE INDEX IF NOT EXISTS alert_outbox_group ON alert_outbox (group_key, contact_point, state);
";

/// One stored object (a rule, contact point, policy tree or silence).
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectRow {
    pub kind: String,
    pub name: String,
    pub version: i64,
    /// `api`, or the file it was loaded from.
    pub source: String,
    pub body: String,
    pub updated_at_ns: i64,
}

/// One past version of an object; `body` is None for a deletion.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectVersionRow {
    pub version: i64,
    pub source: String,
    pub body: Option<String>,
    pub changed_at_ns: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InstanceRow {
    pub fingerprint: String,
    pub rule: String,
    pub state: String,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    pub fingerprint: String,
    pub rule: String,
    pub at_ns: i64,
    pub state: String,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    pub id: String,
    pub contact_point: String,
    pub group_key: String,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    pub attempts: i64,
    pub next_attempt_ns: i64,
    pub last_error: String,
    pub body: String,
    pub created_at_ns: i64,
    pub updated_at_ns: i64,
}

/// Everything one evaluation (or one dispatch) changes, written in one transaction.
#[derive(Debug, Default)]
pub struct AlertWrite {
    pub instances: Vec<InstanceRow>,
    pub deleted_instances: Vec<String>,
    pub events: Vec<EventRow>,
    /// (key, body); a body of None deletes the group.
    pub groups: Vec<(String, Option<String>)>,
    pub outbox: Vec<OutboxRow>,
}

impl AlertWrite {
    pub fn is_empty(&self) -> bool {
        self.instances.is_empty()
            && self.deleted_instances.is_empty()
            && self.events.is_empty()
            && self.groups.is_empty()
            && self.outbox.is_empty()
    }
}

/// A connection of its own to the metastore, for alerting: evaluations never wait for a flush,
/// and a flush never waits for alerting.
pub struct AlertTables {
    conn: Connection,
}

impl AlertTables {
    pub fn open(path: &Path) -> Result<AlertTables, StoreError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.execute_batch(SCHEMA)?;
        Ok(AlertTables { conn })
    }

    pub fn objects(&self, kind: &str) -> Result<Vec<ObjectRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT kind, name, version, source, body, updated_at_ns FROM alert_objects WHERE kind = ?1 ORDER BY name")?;
        let rows = stmt.query_map(params![kind], object_row)?.collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    pub fn object(&self, kind: &str, name: &str) -> Result<Option<ObjectRow>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT kind, name, version, source, body, updated_at_ns FROM alert_objects WHERE kind = ?1 AND name = ?2",
                params![kind, name],
                object_row,
            )
            .optional()?)
    }

    /// The versions of an object, newest first.
    pub fn object_versions(&self, kind: &str, name: &str, limit: usize) -> Result<Vec<ObjectVersionRow>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT version, source, body, changed_at_ns FROM alert_object_versions WHERE kind = ?1 AND name = ?2
             ORDER BY version DESC LIMIT ?3",
        )?;
        let rows = stmt
            .query_map(params![kind, name, limit as i64], |r| {
                Ok(ObjectVersionRow { version: r.get(0)?, source: r.get(1)?, body: r.get(2)?, changed_at_ns: r.get(3)? })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Replaces the objects of `kind` that come from `sources` (files) by `objects`, in one
    /// transaction: objects not in `objects` but from one of `sources` are deleted; unchanged
    /// bodies keep their version. Returns the names that changed.
    pub fn sync_objects(&mut self, kind: &str, is_managed: impl Fn(&str) -> bool, objects: &[(String, String, String)]) -> Result<Vec<String>, StoreError> {
        let now = trawl_model::now_ns();
        let tx = self.conn.transaction()?;
        let mut changed = Vec::new();
        let existing: Vec<ObjectRow> = {
            let mut stmt = tx.prepare("SELECT kind, name, version, source, body, updated_at_ns FROM alert_objects WHERE kind = ?1")?;
            let rows = stmt.query_map(params![kind], object_row)?.collect::<Result<Vec<_>, _>>()?;
            rows
        };
        for row in existing.iter().filter(|r| is_managed(&r.source)) {
            if !objects.iter().any(|(name, _, _)| *name == row.name) {
                delete_in(&tx, kind, &row.name, now)?;
                changed.push(row.name.clone());
            }
        }
        for (name, source, body) in objects {
            let current = existing.iter().find(|r| r.name == *name);
            if current.is_some_and(|c| c.body == *body && c.source == *source) {
                continue;
            }
            put_in(&tx, kind, name, source, body, now)?;
            changed.push(name.clone());
        }
        tx.commit()?;
        Ok(changed)
    }

    /// Creates or replaces an object; returns its new version.
    pub fn put_object(&mut self, kind: &str, name: &str, source: &str, body: &str) -> Result<i64, StoreError> {
        let tx = self.conn.transaction()?;
        let version = put_in(&tx, kind, name, source, body, trawl_model::now_ns())?;
        tx.commit()?;
        Ok(version)
    }

    /// True when something was deleted.
    pub fn delete_object(&mut self, kind: &str, name: &str) -> Result<bool, StoreError> {
        let tx = self.conn.transaction()?;
        let deleted = delete_in(&tx, kind, name, trawl_model::now_ns())?;
        tx.commit()?;
        Ok(deleted)
    }

    pub fn instances(&self) -> Result<Vec<InstanceRow>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT fingerprint, rule, state, body FROM alert_instances ORDER BY fingerprint")?;
        let rows = stmt
            .query_map([], |r| Ok(InstanceRow { fingerprint: r.get(0)?, rule: r.get(1)?, state: r.get(2)?, body: r.get(3)? }))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// History of one instance (or of every instance of a rule when `fingerprint` is None),
    /// newest first, at or after `since_ns`.
    pub fn events(&self, rule: Option<&str>, fingerprint: Option<&str>, since_ns: i64, limit: usize) -> Result<Vec<EventRow>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT fingerprint, rule, at_ns, state, body FROM alert_events
             WHERE at_ns >= ?1 AND (?2 IS NULL OR rule = ?2) AND (?3 IS NULL OR fingerprint = ?3)
             ORDER BY at_ns DESC, id DESC LIMIT ?4",
        )?;
        let rows = stmt
            .query_map(params![since_ns, rule, fingerprint, limit as i64], |r| {
                Ok(EventRow { fingerprint: r.get(0)?, rule: r.get(1)?, at_ns: r.get(2)?, state: r.get(3)?, body: r.get(4)? })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    pub fn groups(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT key, body FROM alert_groups ORDER BY key")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Writes everything of one evaluation or dispatch in one transaction.
    pub fn apply(&mut self, write: &AlertWrite) -> Result<(), StoreError> {
        if write.is_empty() {
            return Ok(());
        }
        let now = trawl_model::now_ns();
        let tx = self.conn.transaction()?;
        {
            let mut upsert = tx.prepare_cached(
                "INSERT INTO alert_instances (fingerprint, rule, state, body, updated_at_ns) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (fingerprint) DO UPDATE SET rule = excluded.rule, state = excluded.state, body = excluded.body,
                 updated_at_ns = excluded.updated_at_ns",
            )?;
            for i in &write.instances {
                upsert.execute(params![i.fingerprint, i.rule, i.state, i.body, now])?;
            }
            let mut delete = tx.prepare_cached("DELETE FROM alert_instances WHERE fingerprint = ?1")?;
            for fp in &write.deleted_instances {
                delete.execute(params![fp])?;
            }
            let mut event = tx.prepare_cached("INSERT INTO alert_events (fingerprint, rule, at_ns, state, body) VALUES (?1, ?2, ?3, ?4, ?5)")?;
            for e in &write.events {
                event.execute(params![e.fingerprint, e.rule, e.at_ns, e.state, e.body])?;
            }
            let mut group = tx.prepare_cached("INSERT OR REPLACE INTO alert_groups (key, body, updated_at_ns) VALUES (?1, ?2, ?3)")?;
            let mut drop_group = tx.prepare_cached("DELETE FROM alert_groups WHERE key = ?1")?;
            for (key, body) in &write.groups {
                match body {
                    Some(body) => group.execute(params![key, body, now])?,
                    None => drop_group.execute(params![key])?,
                };
            }
            let mut outbox = tx.prepare_cached(
                "INSERT OR IGNORE INTO alert_outbox (id, contact_point, group_key, state, attempts, next_attempt_ns, last_error, body,
                 created_at_ns, updated_at_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            for o in &write.outbox {
                outbox.execute(params![
                    o.id,
                    o.contact_point,
                    o.group_key,
                    o.state,
                    o.attempts,
                    o.next_attempt_ns,
                    o.last_error,
                    o.body,
                    o.created_at_ns,
                    o.updated_at_ns
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Pending notifications due at `now_ns`, oldest first; of each group and contact point only
    /// the oldest pending one, so a group's notifications reach a receiver in the order they were
    /// made (a resolve never overtakes the trigger it resolves while that one waits for a retry).
    pub fn due_outbox(&self, now_ns: i64, limit: usize) -> Result<Vec<OutboxRow>, StoreError> {
        self.outbox_where(
            "state = 'pending' AND next_attempt_ns <= ?1 AND NOT EXISTS (
                 SELECT 1 FROM alert_outbox AS earlier WHERE earlier.state = 'pending'
                 AND earlier.group_key = alert_outbox.group_key AND earlier.contact_point = alert_outbox.contact_point
                 AND earlier.rowid < alert_outbox.rowid)
             ORDER BY next_attempt_ns, rowid LIMIT ?2",
            params![now_ns, limit as i64],
        )
    }

    /// Takes due notifications for a delivery: they are not due again before `until_ns`, so a
    /// slow receiver's notifications do not fill the next rounds.
    pub fn lease_outbox(&mut self, ids: &[String], until_ns: i64) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached("UPDATE alert_outbox SET next_attempt_ns = ?2 WHERE id = ?1 AND state = 'pending'")?;
            for id in ids {
                stmt.execute(params![id, until_ns])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The newest notifications, any state.
    pub fn recent_outbox(&self, limit: usize) -> Result<Vec<OutboxRow>, StoreError> {
        self.outbox_where("1 = 1 ORDER BY created_at_ns DESC, id LIMIT ?1", params![limit as i64])
    }

    pub fn outbox_entry(&self, id: &str) -> Result<Option<OutboxRow>, StoreError> {
        Ok(self.outbox_where("id = ?1", params![id])?.pop())
    }

    /// Counts of notifications by state.
    pub fn outbox_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT state, COUNT(*) FROM alert_outbox GROUP BY state ORDER BY state")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn outbox_where(&self, condition: &str, params: impl rusqlite::Params) -> Result<Vec<OutboxRow>, StoreError> {
        let sql = format!(
            "SELECT id, contact_point, group_key, state, attempts, next_attempt_ns, last_error, body, created_at_ns, updated_at_ns
             FROM alert_outbox WHERE {condition}"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt
            .query_map(params, |r| {
                Ok(OutboxRow {
                    id: r.get(0)?,
                    contact_point: r.get(1)?,
                    group_key: r.get(2)?,
                    state: r.get(3)?,
                    attempts: r.get(4)?,
                    next_attempt_ns: r.get(5)?,
                    last_error: r.get(6)?,
                    body: r.get(7)?,
                    created_at_ns: r.get(8)?,
                    updated_at_ns: r.get(9)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Records a delivery attempt's outcome.
    pub fn update_outbox(&mut self, id: &str, state: &str, attempts: i64, next_attempt_ns: i64, last_error: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE alert_outbox SET state = ?2, attempts = ?3, next_attempt_ns = ?4, last_error = ?5, updated_at_ns = ?6 WHERE id = ?1",
            params![id, state, attempts, next_attempt_ns, last_error, trawl_model::now_ns()],
        )?;
        Ok(())
    }

    /// Drops history older than `history_before_ns`: events, delivered or failed
    /// notifications, and objects of the `transient` kinds (with their versions) last written
    /// before it.
    pub fn prune(&mut self, history_before_ns: i64, transient: &[&str]) -> Result<usize, StoreError> {
        let tx = self.conn.transaction()?;
        let mut removed = 0;
        for kind in transient {
            removed += tx.execute("DELETE FROM alert_objects WHERE kind = ?1 AND updated_at_ns < ?2", params![kind, history_before_ns])?;
            removed += tx.execute("DELETE FROM alert_object_versions WHERE kind = ?1 AND changed_at_ns < ?2", params![kind, history_before_ns])?;
        }
        // Past versions of objects that no longer exist (deleted rules, expired silences).
        removed += tx.execute(
            "DELETE FROM alert_object_versions WHERE changed_at_ns < ?1 AND NOT EXISTS
             (SELECT 1 FROM alert_objects o WHERE o.kind = alert_object_versions.kind AND o.name = alert_object_versions.name)",
            params![history_before_ns],
        )?;
        let mut n = tx.execute("DELETE FROM alert_events WHERE at_ns < ?1", params![history_before_ns])?;
        n += tx.execute("DELETE FROM alert_outbox WHERE state != 'pending' AND updated_at_ns < ?1", params![history_before_ns])?;
        tx.commit()?;
        Ok(n + removed)
    }
}

fn object_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ObjectRow> {
    Ok(ObjectRow { kind: r.get(0)?, name: r.get(1)?, version: r.get(2)?, source: r.get(3)?, body: r.get(4)?, updated_at_ns: r.get(5)? })
}

/// The next version number of an object: past versions count, so a re-created object never
/// reuses a version number.
fn next_version(tx: &rusqlite::Transaction<'_>, kind: &str, name: &str) -> Result<i64, StoreError> {
    Ok(tx.query_row(
        "SELECT COALESCE(MAX(version), 0) + 1 FROM alert_object_versions WHERE kind = ?1 AND name = ?2",
        params![kind, name],
        |r| r.get(0),
    )?)
}

fn put_in(tx: &rusqlite::Transaction<'_>, kind: &str, name: &str, source: &str, body: &str, now: i64) -> Result<i64, StoreError> {
    let version = next_version(tx, kind, name)?;
    tx.execute(
        "INSERT INTO alert_objects (kind, name, version, source, body, updated_at_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (kind, name) DO UPDATE SET version = excluded.version, source = excluded.source, body = excluded.body,
         updated_at_ns = excluded.updated_at_ns",
        params![kind, name, version, source, body, now],
    )?;
    tx.execute(
        "INSERT INTO alert_object_versions (kind, name, version, source, body, changed_at_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![kind, name, version, source, body, now],
    )?;
    Ok(version)
}

fn delete_in(tx: &rusqlite::Transaction<'_>, kind: &str, name: &str, now: i64) -> Result<bool, StoreError> {
    let Some(source) = tx
        .query_row("SELECT source FROM alert_objects WHERE kind = ?1 AND name = ?2", params![kind, name], |r| r.get::<_, String>(0))
        .optional()?
    else {
        return Ok(false);
    };
    let version = next_version(tx, kind, name)?;
    tx.execute("DELETE FROM alert_objects WHERE kind = ?1 AND name = ?2", params![kind, name])?;
    tx.execute(
        "INSERT INTO alert_object_versions (kind, name, version, source, body, changed_at_ns) VALUES (?1, ?2, ?3, ?4, NULL, ?5)",
        params![kind, name, version, source, now],
    )?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_versioned_and_synced_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = AlertTables::open(&dir.path().join("m.sqlite")).unwrap();
        assert_eq!(t.put_object("rule", "a", "api", "{\"x\":1}").unwrap(), 1);
        assert_eq!(t.put_object("rule", "a", "api", "{\"x\":2}").unwrap(), 2);
        let files = vec![("b".to_string(), "rules/x.yaml".to_string(), "{}".to_string())];
        let changed = t.sync_objects("rule", |s| s.starts_with("rules/"), &files).unwrap();
        assert_eq!(changed, vec!["b"]);
        // The same files again change nothing; an API object is never touched by a sync.
        assert!(t.sync_objects("rule", |s| s.starts_with("rules/"), &files).unwrap().is_empty());
        let changed = t.sync_objects("rule", |s| s.starts_with("rules/"), &[]).unwrap();
        assert_eq!(changed, vec!["b"]);
        assert_eq!(t.objects("rule").unwrap().iter().map(|o| o.name.as_str()).collect::<Vec<_>>(), ["a"]);
        assert!(t.delete_object("rule", "a").unwrap());
        assert!(!t.delete_object("rule", "a").unwrap());
        // Re-created, it continues the version count.
        assert_eq!(t.put_object("rule", "a", "api", "{}").unwrap(), 4);
        let versions = t.object_versions("rule", "a", 10).unwrap();
        assert_eq!(versions.iter().map(|v| v.version).collect::<Vec<_>>(), [4, 3, 2, 1]);
        assert_eq!(versions[1].body, None);
    }

    #[test]
    fn one_write_stores_instances_events_groups_and_the_outbox_together() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.sqlite");
        {
            let mut t = AlertTables::open(&path).unwrap();
            let write = AlertWrite {
                instances: vec![InstanceRow { fingerprint: "f".into(), rule: "r".into(), state: "firing".into(), body: "{}".into() }],
                events: vec![EventRow { fingerprint: "f".into(), rule: "r".into(), at_ns: 5, state: "firing".into(), body: "{}".into() }],
                groups: vec![("g".into(), Some("{}".into()))],
                outbox: vec![OutboxRow {
                    id: "n1".into(),
                    contact_point: "hook".into(),
                    group_key: "g".into(),
                    state: "pending".into(),
                    attempts: 0,
                    next_attempt_ns: 0,
                    last_error: String::new(),
                    body: "{\"결제\":1}".into(),
                    created_at_ns: 1,
                    updated_at_ns: 1,
                }],
                ..Default::default()
            };
            t.apply(&write).unwrap();
            // The same notification id twice is stored once.
            t.apply(&write).unwrap();
        }
        let mut t = AlertTables::open(&path).unwrap();
        assert_eq!(t.instances().unwrap().len(), 1);
        assert_eq!(t.events(Some("r"), None, 0, 10).unwrap().len(), 2);
        assert_eq!(t.groups().unwrap().len(), 1);
        // A later notification of the same group and receiver waits for the first.
        let mut later = t.recent_outbox(1).unwrap().remove(0);
        later.id = "n2".into();
        t.apply(&AlertWrite { outbox: vec![later], ..Default::default() }).unwrap();
        let due = t.due_outbox(10, 10).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].body, "{\"결제\":1}");
        assert_eq!(due[0].id, "n1");
        t.update_outbox("n1", "delivered", 1, 0, "").unwrap();
        assert_eq!(t.due_outbox(10, 10).unwrap().iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["n2"]);
        t.lease_outbox(&["n2".to_string()], 100).unwrap();
        assert!(t.due_outbox(10, 10).unwrap().is_empty());
        t.update_outbox("n2", "delivered", 1, 0, "").unwrap();
        assert_eq!(t.outbox_counts().unwrap(), vec![("delivered".to_string(), 2)]);
        t.prune(i64::MAX, &["thread"]).unwrap();
        assert!(t.recent_outbox(10).unwrap().is_empty());
    }
}
