//! Microsoft Graph over HTTP, with reqwest: the transport behind [`GraphClient`].

use crate::oauth::{ClientBuildError, OAuthHttp};
use crate::plan::grammar::Email;
use crate::retry::retry_after;

use super::{GraphAnswer, GraphClient, GraphUnreachable};

pub(crate) struct HttpGraph {
    /// Graph's base URL, without a trailing slash.
    url: String,
    /// The OAuth client's settings suit Graph too: no redirects (a token must not follow one),
    /// and the same timeouts.
    http: OAuthHttp,
}

impl HttpGraph {
    pub(crate) fn new(graph_url: &str) -> Result<Self, ClientBuildError> {
        Ok(Self {
            url: graph_url.trim_end_matches('/').to_owned(),
            http: OAuthHttp::new()?,
        })
    }
}

impl GraphClient for HttpGraph {
    fn url(&self) -> &str {
        &self.url
    }

    async fn calendar(&self, email: &Email, token: &str) -> Result<GraphAnswer, GraphUnreachable> {
        let url = format!(
            "{}/users/{}/calendar",
            self.url,
            urlencode(&email.to_string())
        );
        let response = self
            .http
            .client()
            .get(&url)
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| GraphUnreachable {
                graph_url: self.url.clone(),
                why: without_url(&e),
            })?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
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
        Ok(GraphAnswer {
            status,
            retry_after,
            code,
        })
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
fn without_url(error: &reqwest::Error) -> &'static str {
    if error.is_connect() {
        "could not connect"
    } else if error.is_timeout() {
        "timed out"
    } else {
        "the request failed"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlencode_keeps_an_address_readable_and_escapes_the_rest() {
        for (segment, encoded) in [
            ("ana@x.example", "ana@x.example"),
            ("o'neil@x.example", "o%27neil@x.example"),
            ("a+b@x.example", "a%2Bb@x.example"),
            ("a/b", "a%2Fb"),
        ] {
            assert_eq!(urlencode(segment), encoded, "{segment}");
        }
    }
}
