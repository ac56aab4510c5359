//! What one Microsoft Graph answer means for a mailbox: a verdict, a reason to try again, or a
//! reason the whole pre-check cannot go on. Pure, so every case is one line of a table test.

use std::time::Duration;

use http::StatusCode;

use super::{GraphAnswer, PrecheckError};
use crate::state::Access;

/// Graph's error codes for a user or mailbox that does not exist.
const MAILBOX_NOT_FOUND: &[&str] = &[
    "ErrorItemNotFound",
    "ErrorInvalidUser",
    "MailboxNotEnabledForRESTAPI",
    "ResourceNotFound",
    "Request_ResourceNotFound",
];

#[derive(Debug)]
pub(crate) enum Reading {
    Verdict(Access),
    /// A first 401: the token may have been revoked or expired early, so get a new one.
    RefreshToken,
    /// Throttled or a server error; `asked` is what `Retry-After` said.
    Retry {
        status: StatusCode,
        asked: Option<Duration>,
    },
    Fail(PrecheckError),
}

/// Reads `answer`. `refreshed`: a fresh token was already fetched for this mailbox. `app`
/// describes the app, for the messages that name it.
pub(crate) fn read(
    answer: &GraphAnswer,
    refreshed: bool,
    graph_url: &str,
    app: impl FnOnce() -> String,
) -> Reading {
    let code = answer.code.clone();
    match answer.status {
        s if s.is_success() => Reading::Verdict(Access::Allowed),
        StatusCode::FORBIDDEN if code == "ErrorAccessDenied" => Reading::Verdict(Access::Denied),
        // Only Graph's own words for "no such mailbox": a wrong `graph_url` or a proxy
        // answering 404 to everything must not pass every user.
        StatusCode::NOT_FOUND if MAILBOX_NOT_FOUND.contains(&code.as_str()) => {
            Reading::Verdict(Access::NoMailbox)
        }
        StatusCode::NOT_FOUND => Reading::Fail(PrecheckError::NotGraph {
            graph_url: graph_url.to_owned(),
            code,
        }),
        StatusCode::UNAUTHORIZED if !refreshed => Reading::RefreshToken,
        StatusCode::UNAUTHORIZED => Reading::Fail(PrecheckError::TokenRefused { app: app(), code }),
        StatusCode::FORBIDDEN => {
            Reading::Fail(PrecheckError::NoCalendarAccess { app: app(), code })
        }
        s if s == StatusCode::TOO_MANY_REQUESTS || s.is_server_error() => Reading::Retry {
            status: s,
            asked: answer.retry_after,
        },
        status => Reading::Fail(PrecheckError::Unexpected { status, code }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reading in a few words: the verdict, `refresh`, `retry <status> <asked>`, or the
    /// failure's message.
    fn words(reading: &Reading) -> String {
        match reading {
            Reading::Verdict(access) => access.as_str().to_owned(),
            Reading::RefreshToken => "refresh".to_owned(),
            Reading::Retry { status, asked } => format!("retry {} {asked:?}", status.as_u16()),
            Reading::Fail(e) => format!("fail: {e}"),
        }
    }

    #[test]
    fn every_answer_means_one_thing() {
        let app = "client c (secret from environment variable S)";
        #[rustfmt::skip]
        let cases: &[(u16, &str, Option<u64>, bool, &str)] = &[
            (200, "", None, false, "allowed"),
            (200, "", None, true, "allowed"),
            (403, "ErrorAccessDenied", None, false, "denied"),
            (403, "ErrorAccessDenied", None, true, "denied"),
            (404, "ErrorItemNotFound", None, false, "no_mailbox"),
            (404, "ErrorInvalidUser", None, false, "no_mailbox"),
            (404, "MailboxNotEnabledForRESTAPI", None, false, "no_mailbox"),
            (404, "ResourceNotFound", None, false, "no_mailbox"),
            (404, "Request_ResourceNotFound", None, false, "no_mailbox"),
            (404, "", None, false, "fail: Microsoft Graph at https://graph.example/v1.0 answered 404 (no Graph error code) for a calendar: is `graph_url` right?"),
            (404, "NotFound", None, false, "fail: Microsoft Graph at https://graph.example/v1.0 answered 404 (NotFound) for a calendar: is `graph_url` right?"),
            (401, "InvalidAuthenticationToken", None, false, "refresh"),
            (401, "InvalidAuthenticationToken", None, true, "fail: Microsoft Graph refused the app token of client c (secret from environment variable S) (InvalidAuthenticationToken)"),
            (403, "Authorization_RequestDenied", None, false, "fail: Microsoft Graph refused the app client c (secret from environment variable S) calendar access (Authorization_RequestDenied); grant it Calendars.Read as an application permission"),
            (429, "", Some(1), false, "retry 429 Some(1s)"),
            (429, "", None, true, "retry 429 None"),
            (500, "", None, false, "retry 500 None"),
            (503, "", Some(30), false, "retry 503 Some(30s)"),
            (504, "", None, false, "retry 504 None"),
            (400, "BadRequest", None, false, "fail: Microsoft Graph answered 400 Bad Request (BadRequest) for a calendar"),
            (302, "", None, false, "fail: Microsoft Graph answered 302 Found () for a calendar"),
        ];
        for &(status, code, asked, refreshed, expected) in cases {
            let answer = GraphAnswer {
                status: StatusCode::from_u16(status).expect("a status"),
                retry_after: asked.map(Duration::from_secs),
                code: code.to_owned(),
            };
            let reading = read(&answer, refreshed, "https://graph.example/v1.0", || {
                app.to_owned()
            });
            assert_eq!(
                words(&reading),
                expected,
                "{status} {code:?} refreshed={refreshed}"
            );
        }
    }
}
