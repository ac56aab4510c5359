//! The users a step left out on the mailbox pre-check's word (`on_denied` or `on_not_found` =
//! `"skip"`), each with the verdict that left them out (`skipped_users`, state format 4).
//!
//! They stay on `from`, so the disconnect counts them as stragglers until their mailbox is fixed
//! and they are moved, or they are accepted; `plan` and `status` name them with Graph's words.
//! Which users a step skips is the planner's and the engine's; this file only keeps the list.

use std::collections::BTreeMap;

use rusqlite::Connection;

use super::mailbox_records::{Verdict, verdict_of};
use super::{Store, StoreError};
use crate::plan::grammar::Email;

/// A member a step left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct SkippedUser {
    pub(crate) email: Email,
    pub(crate) verdict: Verdict,
}

impl Store {
    /// The users `step` leaves out as it starts, replacing what an interrupted earlier start of
    /// the same step wrote. Written before the step's own record, so a crash between the two
    /// leaves a list the next start rewrites, never a started step with its skips lost.
    pub(crate) fn record_skipped(
        &mut self,
        step: &str,
        skipped: &[SkippedUser],
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute("DELETE FROM skipped_users WHERE step = ?1", [step])?;
            for user in skipped {
                let v = &user.verdict;
                tx.execute(
                    "INSERT INTO skipped_users (step, email, access, status, code, message, seen_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    rusqlite::params![
                        step,
                        user.email.to_string(),
                        v.access.as_str(),
                        v.status,
                        v.code,
                        v.message,
                        v.seen_at.as_millisecond(),
                    ],
                )?;
            }
            Ok(())
        })
    }
}

/// The skipped users of every step that started (by step id), in email order.
pub(super) fn read(db: &Connection) -> rusqlite::Result<BTreeMap<String, Vec<SkippedUser>>> {
    let mut skipped: BTreeMap<String, Vec<SkippedUser>> = BTreeMap::new();
    let mut statement = db.prepare(
        "SELECT s.step, s.email, s.access, s.seen_ms, s.status, s.code, s.message
         FROM skipped_users s JOIN steps ON steps.id = s.step
         ORDER BY s.step, s.email",
    )?;
    let rows = statement.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, Option<i64>>(4)?,
            r.get::<_, String>(5)?,
            r.get::<_, String>(6)?,
        ))
    })?;
    for row in rows {
        let (step, email, access, seen_ms, status, code, message) = row?;
        if let (Ok(email), Some(verdict)) = (
            Email::parse(&email),
            verdict_of(&access, seen_ms, status, code, message),
        ) {
            skipped
                .entry(step)
                .or_default()
                .push(SkippedUser { email, verdict });
        }
    }
    Ok(skipped)
}
