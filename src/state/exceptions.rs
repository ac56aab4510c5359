//! A gate's exceptions: members it passed without, within its `max_errors`. Opened when the step
//! passes (`rollout.rs` writes them with the pass, in one transaction), re-checked by later runs,
//! closed once the user's OAuth sync is clean and `from` is disabled for them.

use jiff::Timestamp;
use rusqlite::{Connection, Transaction, params};

use super::schema::time;
use super::{AuditKind, Exception, FailingUser, Store, StoreError, audit};
use crate::plan::grammar::Email;

impl Store {
    /// Records that the platform was asked to re-check these users' open exceptions now.
    pub(crate) fn recheck_exceptions(
        &mut self,
        users: &[Email],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            for email in users {
                tx.execute(
                    "UPDATE exceptions SET rechecked_ms = ?2 WHERE email = ?1 AND closed_ms IS NULL",
                    params![email.to_string(), now.as_millisecond()],
                )?;
            }
            Ok(())
        })
    }

    /// Closes `step`'s exceptions for `users`: their OAuth sync is clean and `from` is off.
    pub(crate) fn close_exceptions(
        &mut self,
        step: &str,
        users: &[Email],
        now: Timestamp,
        operator: &str,
        digest: &str,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            for email in users {
                tx.execute(
                    "UPDATE exceptions SET closed_ms = ?3
                     WHERE step = ?1 AND email = ?2 AND closed_ms IS NULL",
                    params![step, email.to_string(), now.as_millisecond()],
                )?;
            }
            let users: Vec<String> = users.iter().map(ToString::to_string).collect();
            audit::insert(
                tx,
                now,
                AuditKind::ExceptionClosed,
                Some(step),
                operator,
                Some(digest),
                &serde_json::json!({ "users": users }),
            )
        })
    }
}

/// Opens `step`'s exceptions (inside the transaction that passes it). A step passed again after
/// a rollback replaces what its earlier pass left.
pub(super) fn open(
    tx: &Transaction<'_>,
    step: &str,
    users: &[FailingUser],
    now: Timestamp,
) -> rusqlite::Result<()> {
    tx.execute("DELETE FROM exceptions WHERE step = ?1", [step])?;
    for user in users {
        tx.execute(
            "INSERT INTO exceptions (step, email, outcome, error, seen_ms, opened_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                step,
                user.email.to_string(),
                user.outcome,
                user.error,
                user.at.map(|t| t.as_millisecond()),
                now.as_millisecond()
            ],
        )?;
    }
    Ok(())
}

/// Every exception, in the order they were opened.
pub(super) fn read(db: &Connection) -> rusqlite::Result<Vec<Exception>> {
    let mut statement = db.prepare(
        "SELECT step, email, outcome, error, seen_ms, opened_ms, rechecked_ms, closed_ms
         FROM exceptions ORDER BY opened_ms, step, email",
    )?;
    let rows = statement.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, Option<i64>>(4)?,
            r.get::<_, i64>(5)?,
            r.get::<_, Option<i64>>(6)?,
            r.get::<_, Option<i64>>(7)?,
        ))
    })?;
    let mut exceptions = Vec::new();
    for row in rows {
        let (step, email, outcome, error, seen, opened, rechecked, closed) = row?;
        let Ok(email) = Email::parse(&email) else {
            continue;
        };
        exceptions.push(Exception {
            step,
            user: FailingUser {
                email,
                outcome,
                error,
                at: seen.map(time),
            },
            opened_at: time(opened),
            rechecked_at: rechecked.map(time),
            closed_at: closed.map(time),
        });
    }
    Ok(exceptions)
}
