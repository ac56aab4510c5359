//! The mailboxes as Microsoft Graph shows them to the OAuth app: open, outside the app's access
//! policy, or missing — what `sandbox serve`'s Graph subset answers the mailbox pre-check with.
//!
//! This module only reads: the users it looks up and the faults that decide the answer are
//! written by `fault_switches.rs` and the scenario. How a sync over such a mailbox goes is the
//! simulation's (`simulation.rs`).

use rusqlite::OptionalExtension;

use super::{Fault, SandboxError, SandboxFile};

/// A mailbox as the OAuth app sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mailbox {
    Open {
        name: String,
    },
    /// Outside the app's access policy.
    Denied,
    /// No such user.
    Missing,
    /// The user is there, their mailbox is not (removed, unlicensed, or on premises).
    Gone,
}

impl SandboxFile {
    /// Whether the OAuth app may open `email`'s mailbox now, by the tenant's access-policy data
    /// (`deny-access` faults) and whether the mailbox exists.
    pub(crate) fn mailbox(&self, email: &str, now_ms: i64) -> Result<Mailbox, SandboxError> {
        let name: Option<String> = self
            .connection()
            .query_row(
                "SELECT name FROM users WHERE email = ?1 COLLATE NOCASE",
                [email],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.db())?;
        let Some(name) = name else {
            return Ok(Mailbox::Missing);
        };
        let mut mailbox = Mailbox::Open { name };
        for (fault, user, _) in self.active_faults(now_ms)? {
            if !user.is_some_and(|u| u.eq_ignore_ascii_case(email)) {
                continue;
            }
            match fault {
                Fault::MailboxGone => return Ok(Mailbox::Gone),
                Fault::DenyAccess => mailbox = Mailbox::Denied,
                _ => {}
            }
        }
        Ok(mailbox)
    }
}
