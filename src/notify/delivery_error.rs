//! Why one delivery failed, in words safe to print, log and store: a reason names the channel's
//! secret reference, never the webhook URL, a password, or anything read from either.

use crate::oauth::SecretError;

/// A failed delivery's reason once redacted: what is printed, shown by `status` and stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, thiserror::Error)]
#[serde(transparent)]
#[error("{0}")]
pub(crate) struct Undelivered(pub(crate) String);

#[derive(Debug, thiserror::Error)]
pub(crate) enum DeliveryError {
    /// The secret reference points at nothing usable (its message names the reference only).
    #[error("{0}")]
    Secret(#[from] SecretError),
    #[error("the webhook URL ({source_name}) is not an http(s) URL")]
    NotAUrl { source_name: String },
    #[error(
        "the webhook URL ({source_name}) is plain http to a host that is not loopback; use https"
    )]
    InsecureUrl { source_name: String },
    #[error("cannot make an HTTP client: {0}")]
    Client(String),
    #[error("could not connect to the webhook's host")]
    Connect,
    #[error("timed out")]
    Timeout,
    #[error("the webhook answered HTTP {status}{}", detail(.body))]
    Status { status: u16, body: String },
    #[error("the webhook request failed: {0}")]
    Request(String),
    #[error("cannot build the email: {0}")]
    Message(String),
    #[error("SMTP: {0}")]
    Smtp(String),
    #[error("cannot start {program}: {reason}")]
    Spawn { program: String, reason: String },
    #[error("{program} did not finish within 10 s and was killed")]
    Killed { program: String },
    #[error("{program} exited with {status}{}", detail(.stderr))]
    Exited {
        program: String,
        status: String,
        stderr: String,
    },
    #[error("no time was left: all deliveries stop 10 s after they start")]
    Deadline,
}

fn detail(text: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    }
}

/// Removes secrets from a reason before anyone sees it: every value read for a delivery (the
/// webhook URL, its path, a password) is replaced by `***`, wherever a library's message
/// echoed it.
#[derive(Debug, Default)]
pub(crate) struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// Remembers a secret, and for a URL also its path and query, which some messages quote
    /// on their own.
    pub(crate) fn add(&mut self, secret: &str) {
        if secret.len() >= 4 {
            self.secrets.push(secret.to_owned());
        }
        if let Ok(url) = reqwest::Url::parse(secret) {
            let mut tail = url.path().to_owned();
            if let Some(query) = url.query() {
                tail.push('?');
                tail.push_str(query);
            }
            if tail.len() >= 8 {
                self.secrets.push(tail);
            }
            if let Some(query) = url.query().filter(|q| q.len() >= 8) {
                self.secrets.push(query.to_owned());
            }
        }
        // The longest first, so that a part never leaves the rest of a longer one showing.
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    pub(crate) fn clean(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in &self.secrets {
            text = text.replace(secret.as_str(), "***");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_and_its_parts_are_redacted() {
        let mut r = Redactor::default();
        r.add("https://hooks.example/services/T0/B0/s3cr3tT0k3n?sig=abcdefgh1234");
        for (text, expected) in [
            (
                "error for https://hooks.example/services/T0/B0/s3cr3tT0k3n?sig=abcdefgh1234 x",
                "error for *** x",
            ),
            (
                "POST /services/T0/B0/s3cr3tT0k3n?sig=abcdefgh1234",
                "POST ***",
            ),
            ("sig=abcdefgh1234 refused", "*** refused"),
            ("nothing secret", "nothing secret"),
        ] {
            assert_eq!(r.clean(text), expected);
        }
    }
}
