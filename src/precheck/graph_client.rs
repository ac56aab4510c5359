//! The seam between what a Microsoft Graph answer means for a mailbox (the pre-check's own
//! logic, [`read`](super::read)) and how the request travels ([`HttpGraph`](super::HttpGraph)),
//! so the logic can be tested against a fake Graph.

use std::time::Duration;

use http::StatusCode;

use crate::plan::grammar::Email;

/// The parts of Graph's answer the pre-check reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GraphAnswer {
    pub(crate) status: StatusCode,
    /// What `Retry-After` asked for, if anything readable.
    pub(crate) retry_after: Option<Duration>,
    /// Graph's `error.code`; empty when the body has none.
    pub(crate) code: String,
    /// Graph's `error.message`, shortened and on one line; empty when the body has none.
    pub(crate) message: String,
    /// For a user search: the ids of the users found (`value[].id`).
    pub(crate) found: Vec<String>,
}

impl GraphAnswer {
    pub(crate) fn new(status: StatusCode) -> Self {
        Self {
            status,
            retry_after: None,
            code: String::new(),
            message: String::new(),
            found: Vec::new(),
        }
    }
}

/// No answer at all. The words name Graph's base URL, never the user's mailbox.
#[derive(Debug, Clone, thiserror::Error)]
#[error("Microsoft Graph at {graph_url} could not be reached: {why}")]
pub(crate) struct GraphUnreachable {
    pub(crate) graph_url: String,
    pub(crate) why: &'static str,
}

pub(crate) trait GraphClient {
    /// Asks for the default calendar of `user` (a user principal name, or a user's id) with the
    /// app token `token`.
    async fn calendar(&self, user: &str, token: &str) -> Result<GraphAnswer, GraphUnreachable>;

    /// Looks for the users whose `mail` or one of whose `proxyAddresses` is `email`.
    async fn find_user(&self, email: &Email, token: &str) -> Result<GraphAnswer, GraphUnreachable>;
}
