//! Checking the app tokens `sandbox serve` is shown, the way a resource server does with opaque
//! tokens: it asks the identity provider's introspection endpoint (RFC 7662), authenticated as
//! the platform's own OAuth client, whether the token is active and for which audience.
//!
//! An active answer is remembered for a second at most, so a revoked token stops working at
//! once in practice and a busy client does not double every request.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_lc_rs::digest;
use serde::Deserialize;
use tokio::sync::{Mutex, OnceCell};

use crate::oauth::OAuthHttp;

/// How long an active answer is trusted without asking again.
const REMEMBER: Duration = Duration::from_secs(1);

/// Who a token was issued for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Audience {
    /// The platform's admin API.
    PlatformApi,
    /// Microsoft Graph (the calendar subset the sandbox serves).
    Graph,
}

impl Audience {
    fn uri(self) -> &'static str {
        match self {
            Audience::PlatformApi => "urn:cutover:platform-api",
            Audience::Graph => "https://graph.microsoft.com",
        }
    }
}

#[derive(Debug, Deserialize)]
struct Answer {
    active: bool,
    #[serde(default)]
    aud: Option<Audiences>,
    #[serde(default)]
    exp: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audiences {
    One(String),
    Many(Vec<String>),
}

impl Audiences {
    fn contains(&self, uri: &str) -> bool {
        match self {
            Audiences::One(a) => a == uri,
            Audiences::Many(all) => all.iter().any(|a| a == uri),
        }
    }
}

#[derive(Deserialize)]
struct Discovery {
    introspection_endpoint: Option<String>,
}

/// Why the identity provider could not say whether a token is good: the request is refused with
/// 503, not 401, since the token may well be.
#[derive(Debug, thiserror::Error)]
pub(crate) enum IntrospectionError {
    #[error("the identity provider's discovery document: {0}")]
    Discovery(String),
    #[error("the identity provider at {issuer} offers no introspection endpoint")]
    NoEndpoint { issuer: String },
    #[error("the introspection endpoint {endpoint} is not https:// (nor on this machine)")]
    InsecureEndpoint { endpoint: String },
    #[error("the identity provider's introspection endpoint could not be reached: {0}")]
    Unreachable(#[source] reqwest::Error),
    #[error("the identity provider refused to introspect a token ({0})")]
    Refused(reqwest::StatusCode),
    #[error("the introspection answer is not valid: {0}")]
    InvalidAnswer(#[source] reqwest::Error),
}

pub(crate) struct Introspector {
    issuer: String,
    client_id: String,
    client_secret: String,
    http: OAuthHttp,
    endpoint: OnceCell<String>,
    /// SHA-256 of a token → its audience and until when the answer holds. Hashes, so the
    /// server's memory holds no token it did not have to.
    remembered: Mutex<HashMap<Vec<u8>, (Audience, Instant)>>,
}

impl Introspector {
    pub(crate) fn new(issuer: &str, client_id: &str, client_secret: &str, http: OAuthHttp) -> Self {
        Self {
            issuer: issuer.trim_end_matches('/').to_owned(),
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            http,
            endpoint: OnceCell::new(),
            remembered: Mutex::new(HashMap::new()),
        }
    }

    async fn endpoint(&self) -> Result<&str, IntrospectionError> {
        self.endpoint
            .get_or_try_init(|| async {
                let url = format!("{}/.well-known/openid-configuration", self.issuer);
                let discovery: Discovery = self
                    .http
                    .get_json(&url)
                    .await
                    .map_err(|e| IntrospectionError::Discovery(e.to_string()))?;
                let endpoint = discovery.introspection_endpoint.ok_or_else(|| {
                    IntrospectionError::NoEndpoint {
                        issuer: self.issuer.clone(),
                    }
                })?;
                // The platform's client secret goes there.
                if !crate::plan::grammar::is_secure_url(&endpoint) {
                    return Err(IntrospectionError::InsecureEndpoint { endpoint });
                }
                Ok(endpoint)
            })
            .await
            .map(String::as_str)
    }

    /// Whether `token` is active and issued for `audience`. `Err` when the identity provider
    /// could not answer (the request is then refused with 503, not 401: the token may be good).
    pub(crate) async fn accepts(
        &self,
        token: &str,
        audience: Audience,
    ) -> Result<bool, IntrospectionError> {
        let key = digest::digest(&digest::SHA256, token.as_bytes())
            .as_ref()
            .to_vec();
        {
            let mut remembered = self.remembered.lock().await;
            let now = Instant::now();
            remembered.retain(|_, (_, until)| *until > now);
            if let Some((known, _)) = remembered.get(&key) {
                return Ok(*known == audience);
            }
        }
        let endpoint = self.endpoint().await?;
        let response = self
            .http
            .client()
            .post(endpoint)
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .form(&[("token", token)])
            .send()
            .await
            .map_err(IntrospectionError::Unreachable)?;
        if !response.status().is_success() {
            return Err(IntrospectionError::Refused(response.status()));
        }
        let answer: Answer = response
            .json()
            .await
            .map_err(IntrospectionError::InvalidAnswer)?;
        let now_s = jiff::Timestamp::now().as_second();
        let live = answer.active && answer.exp.is_none_or(|exp| exp > now_s);
        let issued_for = [Audience::PlatformApi, Audience::Graph]
            .into_iter()
            .find(|a| answer.aud.as_ref().is_some_and(|aud| aud.contains(a.uri())));
        match (live, issued_for) {
            (true, Some(issued_for)) => {
                let until = Instant::now() + REMEMBER;
                self.remembered
                    .lock()
                    .await
                    .insert(key, (issued_for, until));
                Ok(issued_for == audience)
            }
            _ => Ok(false),
        }
    }
}
