//! The webhook channel: one HTTP POST of JSON to a URL read from its secret reference, `https`
//! or plain `http` to loopback, no redirects followed, bounded by the delivery's deadline.

use serde_json::Value;
use tokio::time::Instant;

use super::delivery_error::{DeliveryError, Redactor};
use crate::plan::SecretRef;

/// Posts `body` to the URL `url` refers to. The URL goes into `redactor` as soon as it is read.
pub(crate) async fn post(
    client: &reqwest::Client,
    url: &SecretRef,
    body: &Value,
    deadline: Instant,
    redactor: &mut Redactor,
) -> Result<(), DeliveryError> {
    let (text, source_name) = crate::oauth::read_secret(url, "webhook URL")?;
    redactor.add(&text);
    let parsed = reqwest::Url::parse(&text).map_err(|_| DeliveryError::NotAUrl {
        source_name: source_name.clone(),
    })?;
    match parsed.scheme() {
        "https" => {}
        "http" if is_loopback_url(&parsed) => {}
        "http" => return Err(DeliveryError::InsecureUrl { source_name }),
        _ => return Err(DeliveryError::NotAUrl { source_name }),
    }
    let remaining = deadline.saturating_duration_since(Instant::now());
    if remaining.is_zero() {
        return Err(DeliveryError::Deadline);
    }
    let response = client
        .post(parsed)
        .timeout(remaining)
        .json(body)
        .send()
        .await
        .map_err(classify)?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    // A receiver's own words help (Slack says `invalid_token`, `channel_is_archived`); a
    // short piece of them is enough.
    let body = tokio::time::timeout_at(deadline, response.text())
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    Err(DeliveryError::Status {
        status: status.as_u16(),
        body: super::notification::shorten(body.trim(), 200),
    })
}

fn is_loopback_url(url: &reqwest::Url) -> bool {
    url.host_str().is_some_and(crate::plan::is_loopback_host)
}

/// A reqwest error as a reason without its URL.
fn classify(error: reqwest::Error) -> DeliveryError {
    if error.is_timeout() {
        DeliveryError::Timeout
    } else if error.is_connect() {
        DeliveryError::Connect
    } else {
        DeliveryError::Request(error.without_url().to_string())
    }
}
