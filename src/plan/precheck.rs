//! The mailbox-access pre-check: can the OAuth app reach each mailbox before it is switched?

use serde::Serialize;

use super::ClientCredentials;

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Precheck {
    /// Microsoft Graph's base URL, without a trailing slash.
    pub(crate) graph_url: String,
    pub(crate) credentials: ClientCredentials,
    pub(crate) on_denied: OnDenied,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum OnDenied {
    /// The step does not start while a member's mailbox is denied.
    Block,
    /// Denied members are left out of the step (they stay on `from`, listed).
    Skip,
}
