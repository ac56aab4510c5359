//! What people decided: approvals of steps, and holds (a change freeze) and their release —
//! each with its audit line, in one transaction.
//!
//! Written without the run lock (`approve`, `hold` and `release` never wait for a run). Whether
//! an approval still counts (its digest, its time) is the planner's to judge; the `approvals` and
//! `holds` tables are read in `load.rs`.

use jiff::Timestamp;
use rusqlite::params;

use super::{AuditKind, Store, StoreError, audit};

/// An approval to record.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NewApproval<'a> {
    pub(crate) step: &'a str,
    pub(crate) by: &'a str,
    pub(crate) os_user: &'a str,
    pub(crate) host: &'a str,
    pub(crate) at: Timestamp,
    pub(crate) digest: &'a str,
    /// The armored SSH signature and the principal it verified as.
    pub(crate) signed: Option<(&'a str, &'a str)>,
}

impl Store {
    /// Records an approval of `step` (a step id, a batch name for all its waves, `disconnect`,
    /// or `plan`), bound to `digest`, the digest of what was approved.
    pub(crate) fn approve(&mut self, approval: &NewApproval<'_>) -> Result<(), StoreError> {
        let NewApproval {
            step,
            by,
            os_user,
            host,
            at,
            digest,
            signed,
        } = *approval;
        let (signature, principal) = signed.map_or((None, None), |(s, p)| (Some(s), Some(p)));
        self.write(|tx| {
            tx.execute(
                "INSERT INTO approvals (step, by, os_user, host, at_ms, digest, signature, principal)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![step, by, os_user, host, at.as_millisecond(), digest, signature, principal],
            )?;
            let detail = serde_json::json!({
                "by": by, "os_user": os_user, "host": host, "signed_by": principal,
            });
            audit::insert(tx, at, AuditKind::Approved, Some(step), by, Some(digest), &detail)
        })
    }

    /// Withdraws the approvals of `step` given after `since` (those not acted on yet); returns
    /// how many there were.
    pub(crate) fn revoke_approvals(
        &mut self,
        step: &str,
        since: Option<Timestamp>,
        by: &str,
        now: Timestamp,
    ) -> Result<usize, StoreError> {
        let since = since.map_or(i64::MIN, |t| t.as_millisecond());
        self.write(|tx| {
            let revoked = tx.execute(
                "UPDATE approvals SET revoked_ms = ?3, revoked_by = ?4
                 WHERE step = ?1 AND at_ms > ?2 AND revoked_ms IS NULL",
                params![step, since, now.as_millisecond(), by],
            )?;
            let detail = serde_json::json!({ "revoked": revoked });
            audit::insert(
                tx,
                now,
                AuditKind::ApprovalRevoked,
                Some(step),
                by,
                None,
                &detail,
            )?;
            Ok(revoked)
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
