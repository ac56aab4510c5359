//! What one Microsoft Graph answer means for a mailbox: a verdict in Graph's own words, or a
//! reason to try again. Pure, so every case is one line of a table test.
//!
//! Only Graph's documented codes decide `denied` and `not_found`; every other answer that is
//! not worth retrying is `unverified`, with what Graph said, so one user's odd answer is that
//! user's verdict and never stops the check of the others.

use std::time::Duration;

use http::StatusCode;

use super::GraphAnswer;
use crate::state::Access;

/// Graph's error codes for a user or mailbox that does not exist (404).
pub(crate) const NOT_FOUND: &[&str] = &[
    // The user exists, but has no Exchange Online mailbox Graph can reach: on-premises (in a
    // hybrid tenant), inactive, soft-deleted or unlicensed.
    "MailboxNotEnabledForRESTAPI",
    "ErrorInvalidUser",
    "ErrorNonExistentMailbox",
    "ErrorItemNotFound",
    "ResourceNotFound",
    "Request_ResourceNotFound",
];

/// Of those, the codes that say no user has this name: a user found by `mail` may still have a
/// mailbox.
pub(crate) const NO_SUCH_USER: &[&str] = &[
    "ErrorInvalidUser",
    "ResourceNotFound",
    "Request_ResourceNotFound",
];

/// A verdict without its time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Judged {
    pub(crate) access: Access,
    pub(crate) status: Option<u16>,
    pub(crate) code: String,
    pub(crate) message: String,
}

impl Judged {
    pub(crate) fn ok() -> Self {
        Self {
            access: Access::Ok,
            status: None,
            code: String::new(),
            message: String::new(),
        }
    }

    /// `access`, in the words of `answer` (or `fallback` when Graph said nothing).
    fn from(access: Access, answer: &GraphAnswer, fallback: &str) -> Self {
        Self {
            access,
            status: Some(answer.status.as_u16()),
            code: answer.code.clone(),
            message: if answer.message.is_empty() {
                fallback.to_owned()
            } else {
                answer.message.clone()
            },
        }
    }
}

#[derive(Debug)]
pub(crate) enum Reading {
    Verdict(Judged),
    /// A first 401: the token may have been revoked or expired early, so get a new one.
    RefreshToken,
    /// Throttled or a server error; `asked` is what `Retry-After` said.
    Retry {
        asked: Option<Duration>,
    },
}

/// Reads a calendar answer. `refreshed`: a fresh token was already fetched for this mailbox.
pub(crate) fn read(answer: &GraphAnswer, refreshed: bool) -> Reading {
    let code = answer.code.as_str();
    let verdict = |access, fallback: &str| Reading::Verdict(Judged::from(access, answer, fallback));
    match answer.status {
        s if s.is_success() => Reading::Verdict(Judged::ok()),
        StatusCode::FORBIDDEN if code == "ErrorAccessDenied" => {
            verdict(Access::Denied, "access denied")
        }
        // Only Graph's own words for "no such mailbox": a wrong `graph_url` or a proxy
        // answering 404 to everything must not pass for missing mailboxes.
        StatusCode::NOT_FOUND if NOT_FOUND.contains(&code) => verdict(Access::NotFound, ""),
        StatusCode::NOT_FOUND => verdict(
            Access::Unverified,
            "a 404 without Graph's error code: is `graph_url` Microsoft Graph's?",
        ),
        StatusCode::UNAUTHORIZED if !refreshed => Reading::RefreshToken,
        StatusCode::UNAUTHORIZED => verdict(
            Access::Unverified,
            "a freshly fetched app token was refused too",
        ),
        s if s == StatusCode::TOO_MANY_REQUESTS || s.is_server_error() => Reading::Retry {
            asked: answer.retry_after,
        },
        // 403 for another reason (the app has no calendar permission at all), 400 (a name
        // Graph cannot read), a redirect: this mailbox is not verified, and the words say why.
        _ => verdict(Access::Unverified, "an answer the pre-check does not know"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reading in a few words: `<verdict> <status> <code>: <message>`, `refresh`, or
    /// `retry <status> <asked>`.
    fn words(reading: &Reading) -> String {
        match reading {
            Reading::Verdict(j) => format!(
                "{} {} {}: {}",
                j.access.as_str(),
                j.status.map(|s| s.to_string()).unwrap_or_default(),
                j.code,
                j.message
            ),
            Reading::RefreshToken => "refresh".to_owned(),
            Reading::Retry { asked } => format!("retry {asked:?}"),
        }
    }

    /// Status, code, message, `Retry-After`, refreshed, and the reading in words.
    type Case = (
        u16,
        &'static str,
        &'static str,
        Option<u64>,
        bool,
        &'static str,
    );

    #[test]
    fn every_answer_means_one_thing() {
        #[rustfmt::skip]
        let cases: &[Case] = &[
            (200, "", "", None, false, "ok  : "),
            (200, "", "", None, true, "ok  : "),
            (403, "ErrorAccessDenied", "Access to OData is disabled.", None, false, "denied 403 ErrorAccessDenied: Access to OData is disabled."),
            (403, "ErrorAccessDenied", "", None, true, "denied 403 ErrorAccessDenied: access denied"),
            (404, "MailboxNotEnabledForRESTAPI", "The mailbox is either inactive, soft-deleted, or is hosted on-premise.", None, false,
                "not_found 404 MailboxNotEnabledForRESTAPI: The mailbox is either inactive, soft-deleted, or is hosted on-premise."),
            (404, "ErrorInvalidUser", "The requested user 'x' is invalid.", None, false, "not_found 404 ErrorInvalidUser: The requested user 'x' is invalid."),
            (404, "ResourceNotFound", "Resource could not be discovered.", None, false, "not_found 404 ResourceNotFound: Resource could not be discovered."),
            (404, "Request_ResourceNotFound", "", None, false, "not_found 404 Request_ResourceNotFound: "),
            (404, "ErrorItemNotFound", "", None, false, "not_found 404 ErrorItemNotFound: "),
            (404, "", "", None, false, "unverified 404 : a 404 without Graph's error code: is `graph_url` Microsoft Graph's?"),
            (404, "NotFound", "", None, false, "unverified 404 NotFound: a 404 without Graph's error code: is `graph_url` Microsoft Graph's?"),
            (401, "InvalidAuthenticationToken", "", None, false, "refresh"),
            (401, "InvalidAuthenticationToken", "Access token has expired.", None, true, "unverified 401 InvalidAuthenticationToken: Access token has expired."),
            (403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.", None, false,
                "unverified 403 Authorization_RequestDenied: Insufficient privileges to complete the operation."),
            (429, "ApplicationThrottled", "", Some(1), false, "retry Some(1s)"),
            (429, "", "", None, true, "retry None"),
            (500, "", "", None, false, "retry None"),
            (503, "", "", Some(30), false, "retry Some(30s)"),
            (504, "", "", None, false, "retry None"),
            (400, "BadRequest", "Invalid object identifier.", None, false, "unverified 400 BadRequest: Invalid object identifier."),
            (302, "", "", None, false, "unverified 302 : an answer the pre-check does not know"),
        ];
        for &(status, code, message, asked, refreshed, expected) in cases {
            let answer = GraphAnswer {
                status: StatusCode::from_u16(status).expect("a status"),
                retry_after: asked.map(Duration::from_secs),
                code: code.to_owned(),
                message: message.to_owned(),
                found: Vec::new(),
            };
            assert_eq!(
                words(&read(&answer, refreshed)),
                expected,
                "{status} {code:?} refreshed={refreshed}"
            );
        }
    }
}
