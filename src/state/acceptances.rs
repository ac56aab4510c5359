//! `cutover accept`: users the change board accepts moving without a clean OAuth sync (a
//! departed employee, a mailbox due for deletion). An acceptance is an approval like any other:
//! recorded with who, the OS user, host and time, audited, and revocable before the disconnect.

use jiff::Timestamp;
use rusqlite::{Connection, params};

use super::schema::time;
use super::{Acceptance, AuditKind, Signed, Store, StoreError, audit};
use crate::plan::grammar::Email;

/// An acceptance to record.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NewAcceptance<'a> {
    pub(crate) users: &'a [Email],
    pub(crate) reason: &'a str,
    pub(crate) by: &'a str,
    pub(crate) os_user: &'a str,
    pub(crate) host: &'a str,
    pub(crate) at: Timestamp,
    /// The signature, the statement it covers, and the principal it verified as.
    pub(crate) signed: Option<(&'a Signed, &'a str)>,
}

impl Store {
    /// Accepts `users`, once each: accepting an accepted user again changes nothing, unless
    /// this acceptance is signed and theirs was not (a plan that asks for signatures counts only
    /// the signed one).
    pub(crate) fn accept(&mut self, acceptance: &NewAcceptance<'_>) -> Result<usize, StoreError> {
        let NewAcceptance {
            users,
            reason,
            by,
            os_user,
            host,
            at: now,
            signed,
        } = *acceptance;
        let (signature, statement, principal) = match signed {
            Some((s, p)) => (
                Some(s.signature.as_str()),
                Some(s.statement.as_str()),
                Some(p),
            ),
            None => (None, None, None),
        };
        self.write(|tx| {
            let mut added = 0;
            for email in users {
                added += tx.execute(
                    "INSERT INTO acceptances
                         (email, reason, by, os_user, host, at_ms, signature, statement, principal)
                     SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9
                     WHERE NOT EXISTS (SELECT 1 FROM acceptances WHERE email = ?1
                         AND revoked_ms IS NULL AND (signature IS NOT NULL OR ?7 IS NULL))",
                    params![
                        email.to_string(),
                        reason,
                        by,
                        os_user,
                        host,
                        now.as_millisecond(),
                        signature,
                        statement,
                        principal
                    ],
                )?;
            }
            let emails: Vec<String> = users.iter().map(ToString::to_string).collect();
            let detail = serde_json::json!({
                "users": emails, "reason": reason, "os_user": os_user, "host": host,
                "signed_by": principal,
            });
            audit::insert(
                tx,
                now,
                AuditKind::Accepted,
                Some("disconnect"),
                by,
                None,
                &detail,
            )?;
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
        "SELECT id, email, reason, by, os_user, at_ms, principal, signature, statement
         FROM acceptances WHERE revoked_ms IS NULL ORDER BY id",
    )?;
    let rows = statement.query_map([], |r| {
        let signed = match (
            r.get::<_, Option<String>>(7)?,
            r.get::<_, Option<String>>(8)?,
        ) {
            (Some(signature), Some(statement)) => Some(Signed {
                signature,
                statement,
            }),
            _ => None,
        };
        // An address that no longer parses (a hand-edited file) is dropped.
        let Ok(email) = Email::parse(&r.get::<_, String>(1)?) else {
            return Ok(None);
        };
        Ok(Some(Acceptance {
            id: r.get(0)?,
            email,
            reason: r.get(2)?,
            by: r.get(3)?,
            os_user: r.get(4)?,
            at: time(r.get(5)?),
            principal: r.get(6)?,
            signed,
        }))
    })?;
    let mut acceptances = Vec::new();
    for row in rows {
        acceptances.extend(row?);
    }
    let changed: Option<i64> = db.query_row(
        "SELECT MAX(MAX(at_ms, COALESCE(revoked_ms, 0))) FROM acceptances",
        [],
        |r| r.get(0),
    )?;
    Ok((acceptances, changed.map(time)))
}
