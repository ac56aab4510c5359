//! `cutover state migrate`: a rollout's state file moved to PostgreSQL whole — journal,
//! approvals, audit trail and all — and the file marked as moved.
//!
//! The file's run lock is held throughout, so no run is mid-way. Every row is copied with its
//! SQLite row id into the rollout's working copy in one write, so PostgreSQL receives it in one
//! transaction, and the audit chain is checked there to end at the file's own head before the
//! migration is recorded (which extends the chain) and the file marked. A migration stopped
//! between the two commits is finished by running it again: a destination that already holds
//! exactly the file's trail is only marked.

use std::path::Path;

use jiff::Timestamp;
use rusqlite::params;
use rusqlite::types::Value;

use super::postgres::PgLocation;
use super::{AuditKind, Store, StoreError, audit};

/// What moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Migrated {
    pub(crate) rows: usize,
    pub(crate) audit_records: u64,
    /// The audit chain's head after the move was recorded (`log --verify --head` takes it).
    pub(crate) head: Option<String>,
}

/// The tables not copied: the file's lock (held by this migration) and its moved marker.
const NOT_COPIED: [&str; 2] = ["lock", "moved"];

impl Store {
    /// Moves the rollout in the state file `from` (of `plan_name`) to `to`, keyed by
    /// `target`, and marks the file as moved there.
    pub(crate) fn migrate(
        from: &Path,
        to: &PgLocation,
        plan_name: &str,
        target: &str,
        operator: &str,
        now: Timestamp,
    ) -> Result<Migrated, StoreError> {
        let mut source = Store::open(from, plan_name)?;
        source.lock("state migrate", operator, now)?;
        let result = Self::copy_into(&source, to, plan_name, target, operator, now);
        if let Ok(migrated) = &result {
            let location = to.to_string();
            source.write(|tx| {
                tx.execute(
                    "INSERT INTO moved (id, location, at_ms, operator) VALUES (1, ?1, ?2, ?3)
                     ON CONFLICT (id) DO UPDATE SET location = ?1, at_ms = ?2, operator = ?3",
                    params![location, now.as_millisecond(), operator],
                )?;
                Ok(())
            })?;
            // The file's lock goes with its last write; it is only ever opened to say where
            // the rollout went.
            let _ = migrated;
        }
        source.unlock()?;
        result
    }

    fn copy_into(
        source: &Store,
        to: &PgLocation,
        plan_name: &str,
        target: &str,
        operator: &str,
        now: Timestamp,
    ) -> Result<Migrated, StoreError> {
        let mut dest = Store::open_postgres(to, plan_name, target, true)?.ok_or_else(|| {
            StoreError::Mirror {
                location: to.to_string(),
                source: super::postgres::MirrorError::NotPostgres,
            }
        })?;
        let source_head = source.audit_head()?;
        let dest_head = dest.audit_head()?;
        let already = dest_head.is_some() || !dest.load()?.steps.is_empty();
        if already {
            let done = dest.last_audit(AuditKind::StateMigrated)?.is_some()
                && dest.audit_trail()?.len() as u64
                    == source_head.as_ref().map_or(0, |h| h.records) + 1;
            if !done {
                return Err(StoreError::AlreadyThere {
                    location: dest.location(),
                });
            }
            let head = dest.audit_head()?;
            return Ok(Migrated {
                rows: 0,
                audit_records: head.as_ref().map_or(0, |h| h.records),
                head: head.map(|h| h.hash),
            });
        }
        dest.lock("state migrate", operator, now)?;
        let tables = dest.remote()?.tables.clone();
        let rows = source.connection()?;
        let copied = dest.write(|tx| {
            let mut copied = 0;
            for table in tables.iter().filter(|t| !NOT_COPIED.contains(&t.name.as_str())) {
                let columns: Vec<String> =
                    table.columns.iter().map(|c| format!("\"{}\"", c.name)).collect();
                let mut select = rows.prepare(&format!(
                    "SELECT rowid, {} FROM \"{}\" ORDER BY rowid",
                    columns.join(", "),
                    table.name
                ))?;
                let mut insert = tx.prepare(&format!(
                    "INSERT OR REPLACE INTO \"{}\" (rowid, {}) VALUES ({})",
                    table.name,
                    columns.join(", "),
                    vec!["?"; columns.len() + 1].join(", ")
                ))?;
                let mut found = select.query([])?;
                while let Some(row) = found.next()? {
                    let values = (0..=columns.len())
                        .map(|i| row.get::<_, Value>(i))
                        .collect::<rusqlite::Result<Vec<_>>>()?;
                    if table.name == "meta"
                        && matches!(values.get(1), Some(Value::Text(k)) if k == "format_version" || k == "plan_name")
                    {
                        continue;
                    }
                    insert.execute(rusqlite::params_from_iter(values))?;
                    copied += 1;
                }
            }
            Ok(copied)
        });
        let copied = match copied {
            Ok(copied) => copied,
            Err(e) => {
                let _ = dest.unlock();
                return Err(e);
            }
        };
        let verdict = dest.verify_audit_chain(None)?;
        let arrived = dest.audit_head()?;
        if !verdict.is_intact()
            || arrived.as_ref().map(|h| &h.hash) != source_head.as_ref().map(|h| &h.hash)
        {
            let _ = dest.unlock();
            return Err(StoreError::ChainChanged {
                location: dest.location(),
            });
        }
        let detail = serde_json::json!({
            "from": source.location(),
            "rows": copied,
            "head": source_head.as_ref().map(|h| h.hash.clone()),
        });
        dest.write(|tx| {
            audit::insert(
                tx,
                now,
                AuditKind::StateMigrated,
                None,
                operator,
                None,
                &detail,
            )
        })?;
        dest.unlock()?;
        let head = dest.audit_head()?;
        Ok(Migrated {
            rows: copied,
            audit_records: head.as_ref().map_or(0, |h| h.records),
            head: head.map(|h| h.hash),
        })
    }
}
