//! What people decided: approvals of steps, and holds (a change freeze) and their release —
//! each with its audit line, in one transaction.
//!
//! Written without the run lock (`approve`, `hold` and `release` never wait for a run). Whether
//! an approval still counts (its digest, its time) is the planner's to judge; the `approvals` and
//! `holds` tables are read in `load.rs`.

use jiff::Timestamp;
use rusqlite::params;

use super::{AuditKind, Store, StoreError, audit};

impl Store {
    /// Records an approval of `step` (a step id, or a batch name for all its waves).
    pub(crate) fn approve(
        &mut self,
        step: &str,
        by: &str,
        os_user: &str,
        host: &str,
        now: Timestamp,
        digest: Option<&str>,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO approvals (step, by, os_user, host, at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![step, by, os_user, host, now.as_millisecond()],
            )?;
            let detail = serde_json::json!({ "by": by, "os_user": os_user, "host": host });
            audit::insert(tx, now, AuditKind::Approved, Some(step), by, digest, &detail)
        })
    }

    pub(crate) fn hold(
        &mut self,
        reason: &str,
        by: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO holds (reason, by, at_ms) VALUES (?1, ?2, ?3)",
                params![reason, by, now.as_millisecond()],
            )?;
            audit::insert(
                tx,
                now,
                AuditKind::Hold,
                None,
                by,
                None,
                &serde_json::json!({ "reason": reason }),
            )
        })
    }

    /// Releases every active hold; returns how many there were.
    pub(crate) fn release(&mut self, by: &str, now: Timestamp) -> Result<usize, StoreError> {
        self.write(|tx| {
            let released = tx.execute(
                "UPDATE holds SET released_ms = ?1, released_by = ?2 WHERE released_ms IS NULL",
                params![now.as_millisecond(), by],
            )?;
            audit::insert(
                tx,
                now,
                AuditKind::Release,
                None,
                by,
                None,
                &serde_json::json!({ "holds": released }),
            )?;
            Ok(released)
        })
    }
}
