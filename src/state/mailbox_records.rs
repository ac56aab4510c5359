//! The mailbox records: what the mailbox pre-check last saw of each user, in Graph's words,
//! kept for `status`, which cannot ask Graph itself (`mailbox_checks`, present in every file
//! since state format 2, with Graph's status, code and message since format 4).
//!
//! Only the verdicts; asking Graph is the pre-check's (a run asks again rather than trust these:
//! denials get fixed), and what a verdict means for a step is the planner's.

use rusqlite::Connection;

// The one place the state module names where the verdict types live.
pub(super) use super::mailbox_access::{Access, MailboxAccess, Verdict};

use super::schema::time;
use super::{Store, StoreError};
use crate::plan::grammar::Email;

impl Store {
    /// What the mailbox pre-check saw of `users`, for `status` (a run checks again: denials get
    /// fixed). Only those just checked are written, not everything seen so far.
    pub(crate) fn record_mailboxes(
        &mut self,
        seen: &MailboxAccess,
        users: &[Email],
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            for (email, verdict) in seen.verdicts_of(users) {
                tx.execute(
                    "INSERT INTO mailbox_checks (email, access, seen_ms, status, code, message)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (email) DO UPDATE
                     SET access = ?2, seen_ms = ?3, status = ?4, code = ?5, message = ?6",
                    rusqlite::params![
                        email.to_string(),
                        verdict.access.as_str(),
                        verdict.seen_at.as_millisecond(),
                        verdict.status,
                        verdict.code,
                        verdict.message,
                    ],
                )?;
            }
            Ok(())
        })
    }
}

/// A verdict from the columns `access, seen_ms, status, code, message`; `None` for an access this
/// cutover cannot read.
pub(super) fn verdict_of(
    access: &str,
    seen_ms: i64,
    status: Option<i64>,
    code: String,
    message: String,
) -> Option<Verdict> {
    Some(Verdict {
        access: Access::parse(access)?,
        seen_at: time(seen_ms),
        status: status.and_then(|s| u16::try_from(s).ok()),
        code,
        message,
    })
}

/// Every recorded verdict; one this cutover cannot read (an unknown access) is left out, as if
/// that user had never been checked.
pub(super) fn read(db: &Connection) -> rusqlite::Result<MailboxAccess> {
    let mut mailboxes = MailboxAccess::default();
    let mut statement =
        db.prepare("SELECT email, access, seen_ms, status, code, message FROM mailbox_checks")?;
    let rows = statement.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, Option<i64>>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, String>(5)?,
        ))
    })?;
    for row in rows {
        let (email, access, seen_ms, status, code, message) = row?;
        if let (Ok(email), Some(verdict)) = (
            Email::parse(&email),
            verdict_of(&access, seen_ms, status, code, message),
        ) {
            mailboxes.record_verdict(email, verdict);
        }
    }
    Ok(mailboxes)
}
