//! URLs in a plan, and where a secret may be sent: the admin API's base URL, the endpoints that
//! receive client secrets and tokens, and the Exchange service address.
//!
//! This owns the rules, not the requests: nothing here resolves a host or connects. Everything
//! that sends a secret, a token or a sign-in somewhere (the http target, OAuth, the sandbox's
//! server, the browser opener) asks [`is_secure_url`] first, so the rule is written once.

use super::GrammarError;

/// Whether secrets, tokens or a sign-in may travel to `url`: `https://`, or `http://` to this
/// machine (a test server).
pub(crate) fn is_secure_url(url: &str) -> bool {
    // reqwest's parser, so the host judged here is the host the HTTP client will dial.
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return false;
    };
    let loopback = matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    parsed.scheme() == "https" || (parsed.scheme() == "http" && loopback)
}

/// The admin API's base URL: `http(s)://host[:port][/path]`, with no credentials in it.
pub(crate) fn parse_api_url(text: &str) -> Result<String, GrammarError> {
    let help = "write the API's base URL, such as \"https://scheduling.example.org/api/admin/v1\"";
    let Some(rest) = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
    else {
        return Err(GrammarError::new(
            format!("\"{text}\" is not an http(s) URL"),
            help,
        ));
    };
    check_authority(text, rest, help)?;
    Ok(text.trim_end_matches('/').to_owned())
}

/// Where a client secret or a token travels (an identity provider, Graph): `https://`, or plain
/// `http://` on the loopback interface only (a test server on the same machine).
pub(crate) fn parse_secure_url(text: &str) -> Result<String, GrammarError> {
    let url = parse_api_url(text)?;
    if url.starts_with("http://") && !is_secure_url(&url) {
        return Err(GrammarError::new(
            "client secrets and tokens would travel in the clear over http://",
            "use the https:// URL (plain http:// is accepted only on 127.0.0.1 or localhost)",
        ));
    }
    Ok(url)
}

/// The Exchange service address: an `https://` URL.
pub(crate) fn parse_service_address(text: &str) -> Result<String, GrammarError> {
    let help = "write the EWS URL, such as \"https://outlook.office365.com/EWS/Exchange.asmx\"";
    let Some(rest) = text.strip_prefix("https://") else {
        let message = if text.starts_with("http://") {
            "the Exchange service address must use https://".to_owned()
        } else {
            format!("\"{text}\" is not an https URL")
        };
        return Err(GrammarError::new(message, help));
    };
    check_authority(text, rest, help)?;
    Ok(text.to_owned())
}

/// `rest` is `text` after its scheme. A plan is reviewed and committed, so a password in a URL
/// would be a secret in plain sight: it is refused, pointing at the user part.
fn check_authority(text: &str, rest: &str, help: &str) -> Result<(), GrammarError> {
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let start = text.len() - rest.len();
    if let Some(at) = authority.rfind('@') {
        return Err(GrammarError::new(
            "a URL in a plan cannot carry credentials",
            "remove the user and password from the URL; secrets belong in a reference such as `{ env = \"NAME\" }`",
        )
        .at(start..start + at));
    }
    let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
    if host.is_empty() || text.contains(char::is_whitespace) {
        return Err(GrammarError::new(format!("\"{text}\" has no host"), help));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure_urls() {
        for (url, secure) in [
            ("https://login.example/token", true),
            ("HTTPS://LOGIN.EXAMPLE/token", true),
            ("https://10.0.0.1:8443/token", true),
            ("http://127.0.0.1:8080/token", true),
            ("http://localhost/token", true),
            ("http://LOCALHOST:9/token", true),
            ("http://[::1]:9/token", true),
            ("http://login.example/token", false),
            ("http://127.0.0.1.nip.io/token", false),
            ("http://localhost.example/token", false),
            ("http://10.0.0.1/token", false),
            ("ftp://localhost/token", false),
            ("file:///etc/passwd", false),
            ("javascript:alert(1)", false),
            ("login.example/token", false),
            ("", false),
        ] {
            assert_eq!(is_secure_url(url), secure, "{url}");
        }
    }

    #[test]
    fn api_urls() {
        for (text, parsed, at) in [
            (
                "https://x.example/api/v1/",
                Some("https://x.example/api/v1"),
                None,
            ),
            ("https://x.example", Some("https://x.example"), None),
            ("http://127.0.0.1:8080", Some("http://127.0.0.1:8080"), None),
            ("http://x.example/api", Some("http://x.example/api"), None),
            ("ftp://x.example", None, None),
            ("x.example/api", None, None),
            ("https://", None, None),
            ("https://:8080/api", None, None),
            ("https://x.example/a b", None, None),
            ("https://admin:hunter2@x.example", None, Some(8..21)),
            ("https://admin@x.example/api", None, Some(8..13)),
        ] {
            let result = parse_api_url(text);
            assert_eq!(result.as_deref().ok(), parsed, "{text}");
            assert_eq!(result.err().and_then(|e| e.at), at, "{text}");
        }
    }

    #[test]
    fn secure_urls_in_a_plan() {
        for (text, parsed) in [
            (
                "https://login.example/token/",
                Some("https://login.example/token"),
            ),
            (
                "http://127.0.0.1:9000/token",
                Some("http://127.0.0.1:9000/token"),
            ),
            ("http://localhost/token", Some("http://localhost/token")),
            ("http://login.example/token", None),
            ("ftp://login.example/token", None),
            ("https://id:secret@login.example/token", None),
        ] {
            assert_eq!(parse_secure_url(text).as_deref().ok(), parsed, "{text}");
        }
    }

    #[test]
    fn service_addresses() {
        for (text, ok) in [
            ("https://outlook.office365.com/EWS/Exchange.asmx", true),
            ("https://mail.example", true),
            ("http://mail.example/EWS/Exchange.asmx", false),
            ("mail.example/EWS/Exchange.asmx", false),
            ("https://", false),
            ("https://svc:pw@mail.example/EWS/Exchange.asmx", false),
        ] {
            assert_eq!(parse_service_address(text).is_ok(), ok, "{text}");
        }
    }
}
