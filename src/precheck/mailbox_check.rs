//! Asking Microsoft Graph for each user's calendar with the OAuth app's own token.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::StatusCode;

use super::{Access, MailboxAccess};
use crate::clock::Clock;
use crate::oauth::TokenSource;
use crate::plan::Precheck;
use crate::plan::grammar::Email;

/// Graph allows 4 concurrent requests per app and mailbox; across mailboxes a few at once keeps
/// the check quick without provoking throttling.
const CONCURRENCY: usize = 8;

/// Graph's error codes for a user or mailbox that does not exist.
const MAILBOX_NOT_FOUND: &[&str] = &[
    "ErrorItemNotFound",
    "ErrorInvalidUser",
    "MailboxNotEnabledForRESTAPI",
    "ResourceNotFound",
    "Request_ResourceNotFound",
];

/// How many times one user's check is tried before the pre-check gives up.
const ATTEMPTS: u32 = 5;

pub(crate) struct MailboxCheck {
    graph_url: String,
    tokens: TokenSource,
    http: reqwest::Client,
    clock: Clock,
}

impl MailboxCheck {
    /// Reads the client secret now, so a missing one is reported before anything starts.
    pub(crate) fn new(precheck: &Precheck, clock: Clock) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self {
            graph_url: precheck.graph_url.trim_end_matches('/').to_owned(),
            tokens: TokenSource::new(&precheck.credentials)?,
            http,
            clock,
        })
    }

    /// Checks every user in `users` and records what Graph said into `into`.
    pub(crate) async fn check(
        &self,
        users: &[Email],
        into: &mut MailboxAccess,
    ) -> Result<(), String> {
        let mut answers = futures_util::stream::iter(users.iter().cloned())
            .map(|email| async move {
                let access = self.one(&email).await;
                (email, access)
            })
            .buffer_unordered(CONCURRENCY);
        while let Some((email, access)) = answers.next().await {
            // To the second: when it was seen matters, not the nanosecond.
            let seen_at = jiff::Timestamp::from_second(self.clock.now().as_second())
                .unwrap_or_else(|_| self.clock.now());
            into.record(email, access?, seen_at);
        }
        Ok(())
    }

    async fn one(&self, email: &Email) -> Result<Access, String> {
        let url = format!(
            "{}/users/{}/calendar",
            self.graph_url,
            urlencode(&email.to_string())
        );
        let mut refreshed = false;
        let mut last = String::new();
        let mut backoff = Duration::from_millis(200);
        for _ in 0..ATTEMPTS {
            let token = self.tokens.token().await?;
            let response = match self.http.get(&url).bearer_auth(&token).send().await {
                Ok(response) => response,
                Err(e) => {
                    last = format!(
                        "Microsoft Graph at {} could not be reached: {}",
                        self.graph_url,
                        without_url(&e)
                    );
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    continue;
                }
            };
            let status = response.status();
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let code = response
                .json::<serde_json::Value>()
                .await
                .ok()
                .and_then(|body| {
                    body.pointer("/error/code")
                        .and_then(|c| c.as_str())
                        .map(str::to_owned)
                })
                .unwrap_or_default();
            match status {
                s if s.is_success() => return Ok(Access::Allowed),
                StatusCode::FORBIDDEN if code == "ErrorAccessDenied" => return Ok(Access::Denied),
                // Only Graph's own words for "no such mailbox": a wrong `graph_url` or a proxy
                // answering 404 to everything must not pass every user.
                StatusCode::NOT_FOUND if MAILBOX_NOT_FOUND.contains(&code.as_str()) => {
                    return Ok(Access::NoMailbox);
                }
                StatusCode::NOT_FOUND => {
                    return Err(format!(
                        "Microsoft Graph at {} answered 404 ({}) for a calendar: is `graph_url` right?",
                        self.graph_url,
                        if code.is_empty() {
                            "no Graph error code"
                        } else {
                            code.as_str()
                        }
                    ));
                }
                StatusCode::UNAUTHORIZED if !refreshed => {
                    self.tokens.invalidate(&token).await;
                    refreshed = true;
                }
                StatusCode::UNAUTHORIZED => {
                    return Err(format!(
                        "Microsoft Graph refused the app token of {} ({code})",
                        self.tokens.describe()
                    ));
                }
                StatusCode::FORBIDDEN => {
                    return Err(format!(
                        "Microsoft Graph refused the app {} calendar access ({code}); grant it Calendars.Read as an application permission",
                        self.tokens.describe()
                    ));
                }
                s if s == StatusCode::TOO_MANY_REQUESTS || s.is_server_error() => {
                    last = format!("Microsoft Graph answered {s}");
                    // Graph sometimes says 1 second every time: keep a floor that grows, and a
                    // ceiling, so one answer cannot park the run for hours.
                    let pause = retry_after
                        .unwrap_or(backoff)
                        .max(backoff)
                        .min(Duration::from_secs(120));
                    tokio::time::sleep(pause).await;
                    backoff *= 2;
                }
                s => {
                    return Err(format!(
                        "Microsoft Graph answered {s} ({code}) for a calendar"
                    ));
                }
            }
        }
        Err(format!(
            "the mailbox pre-check gave up after {ATTEMPTS} attempts: {last}"
        ))
    }
}

/// A path segment with everything but unreserved characters percent-encoded.
fn urlencode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'@') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A reqwest error's words without its URL (which names a user's mailbox; the message is
/// about the connection).
fn without_url(error: &reqwest::Error) -> String {
    if error.is_connect() {
        "could not connect".to_owned()
    } else if error.is_timeout() {
        "timed out".to_owned()
    } else {
        "the request failed".to_owned()
    }
}
