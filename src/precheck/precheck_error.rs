//! Why the mailbox pre-check could not say whether mailboxes are reachable. A denied mailbox is
//! not an error: it is a verdict ([`Access::Denied`](crate::state::Access)).

use http::StatusCode;

use super::GraphUnreachable;
use crate::oauth::{ClientBuildError, TokenError};

#[derive(Debug, thiserror::Error)]
pub(crate) enum PrecheckError {
    #[error(transparent)]
    Client(#[from] ClientBuildError),
    /// No app token: the client secret is missing, or the identity provider refused.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// A 404 without Graph's words for "no such mailbox": likely not Graph at all.
    #[error(
        "Microsoft Graph at {graph_url} answered 404 ({}) for a calendar: is `graph_url` right?",
        if code.is_empty() { "no Graph error code" } else { code }
    )]
    NotGraph { graph_url: String, code: String },
    /// 401 again with a token fetched just now.
    #[error("Microsoft Graph refused the app token of {app} ({code})")]
    TokenRefused { app: String, code: String },
    /// 403 for another reason than the mailbox's access policy: the app lacks the permission.
    #[error(
        "Microsoft Graph refused the app {app} calendar access ({code}); grant it Calendars.Read as an application permission"
    )]
    NoCalendarAccess { app: String, code: String },
    #[error("Microsoft Graph answered {status} ({code}) for a calendar")]
    Unexpected { status: StatusCode, code: String },
    #[error("the mailbox pre-check gave up after {attempts} attempts: {}", last_words(.last))]
    GaveUp {
        attempts: u32,
        /// What the last attempt worth retrying met (none when every attempt refreshed a token).
        last: Option<Transient>,
    },
}

/// An answer worth another try.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Transient {
    #[error(transparent)]
    Unreachable(#[from] GraphUnreachable),
    /// 429 or a server error.
    #[error("Microsoft Graph answered {0}")]
    Answered(StatusCode),
}

fn last_words(last: &Option<Transient>) -> String {
    last.as_ref().map(ToString::to_string).unwrap_or_default()
}
