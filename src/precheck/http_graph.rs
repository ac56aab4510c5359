//! Microsoft Graph over HTTP, with reqwest: the transport behind [`GraphClient`].

use crate::oauth::{ClientBuildError, OAuthHttp};
use crate::plan::grammar::Email;
use crate::retry::retry_after;

use super::{GraphAnswer, GraphClient, GraphUnreachable};

/// The most of Graph's error message kept: enough to read, not enough to flood a report.
const MESSAGE_CHARS: usize = 300;

/// A body larger than this is not read for its error (Graph's errors are small).
const MAX_BODY: usize = 1 << 20;

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

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<GraphAnswer, GraphUnreachable> {
        let response = request.send().await.map_err(|e| GraphUnreachable {
            graph_url: self.url.clone(),
            why: without_url(&e),
        })?;
        let mut answer = GraphAnswer::new(response.status());
        answer.retry_after = retry_after(response.headers());
        let body = response.bytes().await.unwrap_or_default();
        if body.len() <= MAX_BODY {
            if let Ok(json) = serde_json::from_slice::<serde_json::Value>(&body) {
                let text = |pointer: &str| {
                    json.pointer(pointer)
                        .and_then(|v| v.as_str())
                        .map(one_line)
                        .unwrap_or_default()
                };
                answer.code = text("/error/code");
                answer.message = text("/error/message");
                answer.found = json
                    .get("value")
                    .and_then(|v| v.as_array())
                    .map(|users| {
                        users
                            .iter()
                            .filter_map(|u| u.get("id").and_then(|id| id.as_str()))
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default();
            }
        }
        Ok(answer)
    }
}

impl GraphClient for HttpGraph {
    async fn calendar(&self, user: &str, token: &str) -> Result<GraphAnswer, GraphUnreachable> {
        let url = format!("{}{}/calendar", self.url, user_path(user));
        self.send(self.http.client().get(&url).bearer_auth(token))
            .await
    }

    async fn find_user(&self, email: &Email, token: &str) -> Result<GraphAnswer, GraphUnreachable> {
        // OData string literals double their single quotes. `proxyAddresses/any` is an advanced
        // query: it needs `$count` and `ConsistencyLevel: eventual`.
        let address = email.to_string().replace('\'', "''");
        let filter = format!("mail eq '{address}' or proxyAddresses/any(p:p eq 'smtp:{address}')");
        let request = self
            .http
            .client()
            .get(format!("{}/users", self.url))
            .query(&[
                ("$filter", filter.as_str()),
                ("$select", "id,userPrincipalName"),
                ("$count", "true"),
            ])
            .header("ConsistencyLevel", "eventual")
            .bearer_auth(token);
        self.send(request).await
    }
}

/// `/users/{user}` as Graph requires it: a user principal name that starts with `$` goes in
/// parentheses and quotes (`/users('$adele@contoso.example')`), since `/users/$…` would read as
/// one of Graph's own `$` segments; quotes inside double.
pub(crate) fn user_path(user: &str) -> String {
    if user.starts_with('$') {
        format!("/users('{}')", urlencode(&user.replace('\'', "''"), b"$'"))
    } else {
        format!("/users/{}", urlencode(user, b""))
    }
}

/// A path segment with everything but unreserved characters, `@` and `keep` percent-encoded.
fn urlencode(segment: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric()
            || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'@')
            || keep.contains(&byte)
        {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A server's text made safe to show: one line, no control characters, not too long.
fn one_line(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let cleaned = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    match cleaned.char_indices().nth(MESSAGE_CHARS) {
        Some((at, _)) => format!("{}…", &cleaned[..at]),
        None => cleaned,
    }
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
    fn user_paths_are_encoded_as_graph_requires() {
        for (user, path) in [
            ("ana@x.example", "/users/ana@x.example"),
            ("o'neil@x.example", "/users/o%27neil@x.example"),
            ("a+b@x.example", "/users/a%2Bb@x.example"),
            ("a/b", "/users/a%2Fb"),
            ("$adele@x.example", "/users('$adele@x.example')"),
            ("$o'neil@x.example", "/users('$o''neil@x.example')"),
            ("$a b@x.example", "/users('$a%20b@x.example')"),
            (
                "7e5c1f5a-0000-4d2b-9d1c-2b7a4c0e9f11",
                "/users/7e5c1f5a-0000-4d2b-9d1c-2b7a4c0e9f11",
            ),
        ] {
            assert_eq!(user_path(user), path, "{user}");
        }
    }

    #[test]
    fn a_servers_message_is_shown_on_one_short_line() {
        assert_eq!(
            one_line("Access to OData\r\nis disabled.\u{7}"),
            "Access to OData is disabled."
        );
        let long = "x".repeat(400);
        assert_eq!(one_line(&long).chars().count(), MESSAGE_CHARS + 1);
    }
}
