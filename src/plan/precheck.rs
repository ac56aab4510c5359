//! The mailbox-access pre-check: can the OAuth app reach each mailbox before it is switched?

use serde::Serialize;

use super::ClientCredentials;

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Precheck {
    /// Microsoft Graph's base URL, without a trailing slash.
    pub(crate) graph_url: String,
    pub(crate) credentials: ClientCredentials,
    /// What a denied mailbox, or one nobody could verify, does to its step.
    pub(crate) on_denied: MailboxPolicy,
    // Left out of the canonical form at their defaults, so plans without them keep their
    // digests.
    /// What a mailbox Graph does not find does to its step.
    #[serde(skip_serializing_if = "MailboxPolicy::is_block")]
    pub(crate) on_not_found: MailboxPolicy,
    /// Look a user up by `mail` and `proxyAddresses` when their email is not their user
    /// principal name (needs `User.Read.All`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) resolve_by_mail: bool,
}

/// What a member whose mailbox the pre-check did not clear does to the step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum MailboxPolicy {
    /// The step does not start while such a member is in it.
    Block,
    /// Such members are left out of the step (they stay on `from`, listed, and hold up the
    /// disconnect until fixed or accepted).
    Skip,
}

impl MailboxPolicy {
    fn is_block(&self) -> bool {
        *self == MailboxPolicy::Block
    }
}
