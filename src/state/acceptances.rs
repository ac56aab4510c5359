//! `cutover accept`: users the change board accepts moving without a clean OAuth sync (a
//! departed employee, a mailbox due for deletion). An acceptance is an approval like any other:
//! recorded with who, the OS user, host and time, audited, and revocable before the disconnect.

use jiff::Timestamp;
use rusqlite::{Connection, params};

use super::schema::time;
use super::{Acceptance, AuditKind, Store, StoreError, audit};
use crate::plan::grammar::Email;

impl Store {
    /// Accepts `users`, once each: accepting an accepted user again changes nothing.
    pub(crate) fn accept(
        &mut self,
        users: &[Email],
        reason: &str,
        by: &str,
        os_user: &str,
        host: &str,
        now: Timestamp,
    ) -> Result<usize, StoreError> {
        self.write(|tx| {
            let mut added = 0;
            for email in users {
                added += tx.execute(
                    "INSERT INTO acceptances (email, reason, by, os_user, host, at_ms)
                     SELECT ?1, ?2, ?3, ?4, ?5, ?6
                     WHERE NOT EXISTS (SELECT 1 FROM acceptances WHERE email = ?1 AND revoked_ms IS NULL)",
                    params![email.to_string(), reason, by, os_user, host, now.as_millisecond()],
                )?;
            }
            let emails: Vec<String> = users.iter().map(ToString::to_string).collect();
            let detail = serde_json::json!({
                "users": emails, "reason": reason, "os_user": os_user, "host": host,
            });
            audit::insert(tx, now, AuditKind::Accepted, Some("disconnect"), by, None, &detail)?;
            Ok(added)
        })
    }

    /// Withdraws the acceptance of `users`; returns how many were accepted.
    pub(crate) fn revoke_acceptances(
        &mut self,
        users: &[Email],
        by: &str,
        now: Timestamp,
    ) -> Result<usize, StoreError> {
        self.write(|tx| {
            let mut revoked = 0;
            for email in users {
                revoked += tx.execute(
                    "UPDATE acceptances SET revoked_ms = ?2, revoked_by = ?3
                     WHERE email = ?1 AND revoked_ms IS NULL",
                    params![email.to_string(), now.as_millisecond(), by],
                )?;
            }
            let emails: Vec<String> = users.iter().map(ToString::to_string).collect();
            let detail = serde_json::json!({ "users": emails, "revoked": revoked });
            audit::insert(
                tx,
                now,
                AuditKind::AcceptanceRevoked,
                Some("disconnect"),
                by,
                None,
                &detail,
            )?;
            Ok(revoked)
        })
    }
}

/// The acceptances in force, in the order given, and when any acceptance last changed.
pub(super) fn read(db: &Connection) -> rusqlite::Result<(Vec<Acceptance>, Option<Timestamp>)> {
    let mut statement = db.prepare(
        "SELECT email, reason, by, at_ms FROM acceptances WHERE revoked_ms IS NULL ORDER BY id",
    )?;
    let rows = statement.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, i64>(3)?,
        ))
    })?;
    let mut acceptances = Vec::new();
    for row in rows {
        let (email, reason, by, at) = row?;
        if let Ok(email) = Email::parse(&email) {
            acceptances.push(Acceptance {
                email,
                reason,
                by,
                at: time(at),
            });
        }
    }
    let changed: Option<i64> = db.query_row(
        "SELECT MAX(MAX(at_ms, COALESCE(revoked_ms, 0))) FROM acceptances",
        [],
        |r| r.get(0),
    )?;
    Ok((acceptances, changed.map(time)))
}
