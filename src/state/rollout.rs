//! A rollout's progress: its start, each step's start (freezing who is in it) and phases, an
//! accepted edit of the plan, and the final disconnect — each write with its audit line, in one
//! transaction.
//!
//! The `rollout`, `batches`, `steps` and `step_members` tables are written here and read in
//! `load.rs`. Which phase comes next is the planner's to decide; this only records it.

use jiff::Timestamp;
use rusqlite::params;

use super::{AuditKind, FailingUser, StepPhase, StepRecord, Store, StoreError, audit};
use crate::plan::grammar::Email;

impl Store {
    /// Records the rollout's start (its first `apply`) and the digest it ran against.
    pub(crate) fn start_rollout(
        &mut self,
        now: Timestamp,
        digest: &str,
        approved: Option<&str>,
        plan_json: &str,
        operator: &str,
    ) -> Result<(), StoreError> {
        self.plans.get_mut().forget();
        self.write(|tx| {
            tx.execute(
                "INSERT OR IGNORE INTO rollout (id, started_ms, digest, approved_digest, plan)
                 VALUES (1, ?1, ?2, ?3, ?4)",
                params![now.as_millisecond(), digest, approved, plan_json],
            )?;
            let detail = serde_json::json!({ "approved_digest": approved });
            audit::insert(
                tx,
                now,
                AuditKind::RolloutStarted,
                None,
                operator,
                Some(digest),
                &detail,
            )
        })
    }

    /// Begins a step: freezes its batch (the first time one of its waves starts) and its members.
    pub(crate) fn start_step(
        &mut self,
        record: &StepRecord,
        batch_members: Option<&[Email]>,
        operator: &str,
        digest: &str,
    ) -> Result<(), StoreError> {
        let now = record.started_at;
        let written = self.write(|tx| {
            // Each list travels as one JSON array to one statement: a statement per member
            // cost more than the rows.
            if let Some(batch) = batch_members {
                tx.prepare_cached(
                    "INSERT OR IGNORE INTO batches (name, position, email)
                     SELECT ?1, key, value FROM json_each(?2)",
                )?
                .execute(params![record.batch, emails_json(batch)?])?;
            }
            let seq: i64 = tx.query_row("SELECT COUNT(*) FROM steps", [], |r| r.get(0))?;
            let definition = record.definition.as_ref().map(ToString::to_string);
            tx.execute(
                "INSERT INTO steps (id, batch, seq, phase, phase_ms, started_ms, definition)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
                params![
                    record.id,
                    record.batch,
                    seq,
                    record.phase.as_str(),
                    now.as_millisecond(),
                    definition
                ],
            )?;
            tx.prepare_cached(
                "INSERT INTO step_members (step, position, email, preexisting)
                 SELECT ?1, key, value, value IN (SELECT value FROM json_each(?3))
                 FROM json_each(?2)",
            )?
            .execute(params![
                record.id,
                emails_json(record.members.iter())?,
                emails_json(record.preexisting.iter())?,
            ])?;
            let detail = serde_json::json!({
                "users": record.members.len(),
                "preexisting": record.preexisting.iter().map(ToString::to_string).collect::<Vec<_>>(),
            });
            audit::insert(
                tx,
                now,
                AuditKind::StepStarted,
                Some(&record.id),
                operator,
                Some(digest),
                &detail,
            )
        });
        let frozen = self.frozen.get_mut();
        match written {
            // What was just written, kept as a read would find it: reading every frozen list
            // back after each start cost what the tenant costs.
            Ok(()) => frozen.started(batch_members.map(|b| (record.batch.as_str(), b)), record),
            // Whether any of it reached the store is for a read to say.
            Err(_) => frozen.forget(),
        }
        written
    }

    /// Moves a step to a new phase, with the audit entry, in one transaction.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn set_phase(
        &mut self,
        step: &str,
        phase: StepPhase,
        now: Timestamp,
        judged_after: Option<Timestamp>,
        failures: Option<&[FailingUser]>,
        operator: &str,
        digest: &str,
        detail: &serde_json::Value,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            update_phase(tx, step, phase, now, judged_after, failures)?;
            audit::insert(
                tx,
                now,
                AuditKind::Step(phase),
                Some(step),
                operator,
                Some(digest),
                detail,
            )
        })
    }

    /// Passes a step's gate, opening its exceptions (the members it passed without), in one
    /// transaction with the audit line that names them.
    pub(crate) fn pass_step(
        &mut self,
        step: &str,
        now: Timestamp,
        exceptions: &[FailingUser],
        operator: &str,
        digest: &str,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            update_phase(tx, step, StepPhase::Passed, now, None, None)?;
            super::exceptions::open(tx, step, exceptions, now)?;
            let detail = if exceptions.is_empty() {
                serde_json::json!({})
            } else {
                serde_json::json!({ "exceptions": exceptions })
            };
            audit::insert(
                tx,
                now,
                AuditKind::Step(StepPhase::Passed),
                Some(step),
                operator,
                Some(digest),
                &detail,
            )
        })
    }

    /// Starts the rollout over from an edited plan, before anything was written to the
    /// platform: what it froze and the digest it was approved against are dropped with the
    /// plan they came from.
    pub(crate) fn restart_rollout(
        &mut self,
        now: Timestamp,
        digest: &str,
        approved: Option<&str>,
        plan_json: &str,
        changes: &[String],
        operator: &str,
    ) -> Result<(), StoreError> {
        self.frozen.get_mut().forget();
        self.plans.get_mut().forget();
        self.write(|tx| {
            // `WHERE true`: a bare DELETE takes SQLite's truncate path, which the update hook
            // that the PostgreSQL working copy relies on never sees.
            tx.execute_batch(
                "DELETE FROM steps WHERE true; DELETE FROM step_members WHERE true;
                 DELETE FROM batches WHERE true;",
            )?;
            tx.execute(
                "UPDATE rollout SET digest = ?1, approved_digest = ?2, plan = ?3, current_plan = NULL
                 WHERE id = 1",
                params![digest, approved, plan_json],
            )?;
            let detail = serde_json::json!({
                "changes": changes,
                "before_the_first_write": true,
                "approved_digest": approved,
            });
            audit::insert(
                tx,
                now,
                AuditKind::PlanChanged,
                None,
                operator,
                Some(digest),
                &detail,
            )
        })
    }

    /// Records the digest approved for the rollout's start (or none), until its first write.
    pub(crate) fn set_start_approval(&mut self, approved: Option<&str>) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "UPDATE rollout SET approved_digest = ?1 WHERE id = 1",
                [approved],
            )?;
            Ok(())
        })
    }

    /// Accepts an edit of the plan that touches only steps that have not started.
    pub(crate) fn accept_plan_change(
        &mut self,
        now: Timestamp,
        plan_json: &str,
        changes: &[String],
        operator: &str,
        digest: &str,
    ) -> Result<(), StoreError> {
        self.plans.get_mut().forget();
        self.write(|tx| {
            tx.execute(
                "UPDATE rollout SET current_plan = ?1 WHERE id = 1",
                [plan_json],
            )?;
            audit::insert(
                tx,
                now,
                AuditKind::PlanChanged,
                None,
                operator,
                Some(digest),
                &serde_json::json!({ "changes": changes }),
            )
        })
    }

    /// Records that `from` is disconnected: the rollout's last write.
    pub(crate) fn record_disconnected(
        &mut self,
        now: Timestamp,
        operator: &str,
        digest: &str,
        detail: &serde_json::Value,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "UPDATE rollout SET disconnected_ms = ?1 WHERE id = 1",
                [now.as_millisecond()],
            )?;
            audit::insert(
                tx,
                now,
                AuditKind::Disconnected,
                Some("disconnect"),
                operator,
                Some(digest),
                detail,
            )
        })
    }
}

/// Moves a step to `phase` (inside a write).
fn update_phase(
    tx: &rusqlite::Transaction<'_>,
    step: &str,
    phase: StepPhase,
    now: Timestamp,
    judged_after: Option<Timestamp>,
    failures: Option<&[FailingUser]>,
) -> rusqlite::Result<()> {
    let failures_json =
        failures.map(|f| serde_json::to_string(f).unwrap_or_else(|_| "[]".to_owned()));
    tx.execute(
        "UPDATE steps SET phase = ?2, phase_ms = ?3,
            judged_after_ms = COALESCE(?4, judged_after_ms),
            passed_ms = CASE WHEN ?2 = 'passed' THEN ?3 ELSE passed_ms END,
            failures = COALESCE(?5, failures)
         WHERE id = ?1",
        params![
            step,
            phase.as_str(),
            now.as_millisecond(),
            judged_after.map(|t| t.as_millisecond()),
            failures_json
        ],
    )?;
    Ok(())
}

/// A list of emails as the JSON array `json_each` reads.
fn emails_json<'e>(emails: impl IntoIterator<Item = &'e Email>) -> rusqlite::Result<String> {
    let emails: Vec<&str> = emails.into_iter().map(Email::as_str).collect();
    serde_json::to_string(&emails).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}
