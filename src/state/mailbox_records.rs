//! The mailbox records: what the mailbox pre-check last saw of each user, kept for `status`,
//! which cannot ask Graph itself (`mailbox_checks`, present in every file since state format 2).
//!
//! Only the verdicts; asking Graph is the pre-check's (a run asks again rather than trust these:
//! denials get fixed), and what a verdict means for a step is the planner's.

use rusqlite::Connection;

// The one place the state module names where the verdict types live.
pub(super) use super::mailbox_access::{Access, MailboxAccess};

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
                    "INSERT INTO mailbox_checks (email, access, seen_ms) VALUES (?1, ?2, ?3)
                     ON CONFLICT (email) DO UPDATE SET access = ?2, seen_ms = ?3",
                    rusqlite::params![
                        email.to_string(),
                        verdict.access.as_str(),
                        verdict.seen_at.as_millisecond()
                    ],
                )?;
            }
            Ok(())
        })
    }
}

/// Every recorded verdict; one this cutover cannot read (an unknown access) is left out, as if
/// that user had never been checked.
pub(super) fn read(db: &Connection) -> rusqlite::Result<MailboxAccess> {
    let mut mailboxes = MailboxAccess::default();
    let mut statement = db.prepare("SELECT email, access, seen_ms FROM mailbox_checks")?;
    let rows = statement.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    for row in rows {
        let (email, access, seen_ms) = row?;
        if let (Ok(email), Some(access)) = (Email::parse(&email), Access::parse(&access)) {
            mailboxes.record(email, access, time(seen_ms));
        }
    }
    Ok(mailboxes)
}
