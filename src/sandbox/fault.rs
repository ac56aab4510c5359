//! Faults: what can go wrong for a user or a configuration, as scenario data.
//!
//! Each fault is active over a time range, so an attempt is judged by the faults of its own
//! moment: allowing access again does not clean up an attempt that already failed.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Fault {
    /// The mailbox is outside the OAuth app's access policy: OAuth syncs fail, access denied.
    DenyAccess,
    /// Exchange throttles this mailbox: attempts come back throttled.
    Throttle,
    /// Syncs for this user come six times less often.
    SlowSync,
    /// The mailbox no longer exists: every configuration fails for it.
    MailboxGone,
    /// The user's email is not the mailbox's primary address: a warning, no sync.
    NotPrimary,
    /// The OAuth configuration's grant was revoked: every OAuth sync fails.
    RevokedGrant,
}

impl Fault {
    pub(crate) const ALL: [Fault; 6] = [
        Fault::DenyAccess,
        Fault::Throttle,
        Fault::SlowSync,
        Fault::MailboxGone,
        Fault::NotPrimary,
        Fault::RevokedGrant,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Fault::DenyAccess => "deny_access",
            Fault::Throttle => "throttle",
            Fault::SlowSync => "slow_sync",
            Fault::MailboxGone => "mailbox_gone",
            Fault::NotPrimary => "not_primary",
            Fault::RevokedGrant => "revoked_grant",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == text)
    }
}
