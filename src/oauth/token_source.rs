//! App tokens by OAuth 2.0 client credentials, cached until shortly before they expire, the
//! client proven by its secret or by a client assertion its certificate signs.

use std::time::{Duration, Instant};

use oauth2::basic::BasicClient;
use oauth2::{ClientId, ClientSecret, RequestTokenError, Scope, TokenResponse, TokenUrl};
use tokio::sync::Mutex;

use super::{ClientCertificate, OAuthHttp, TokenError, read_secret};
use crate::plan::{ClientCredential, ClientCredentials};

/// `client_assertion_type` for a JWT client assertion (RFC 7523).
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Refresh this long before a token expires, so a request never carries one that just did.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);

pub(crate) struct TokenSource {
    credentials: ClientCredentials,
    proof: Proof,
    http: OAuthHttp,
    cached: Mutex<Option<Cached>>,
}

/// How the client proves who it is.
enum Proof {
    Secret { secret: String, source: String },
    Certificate(ClientCertificate),
}

struct Cached {
    token: String,
    refresh_at: Instant,
}

impl TokenSource {
    /// Reads the client secret or certificate now (so a missing one is reported before anything
    /// starts).
    pub(crate) fn new(credentials: &ClientCredentials) -> Result<Self, TokenError> {
        let proof = match &credentials.credential {
            ClientCredential::ClientSecret(reference) => {
                let (secret, source) = read_secret(reference, "client secret")?;
                Proof::Secret { secret, source }
            }
            ClientCredential::Certificate(certificate) => {
                Proof::Certificate(ClientCertificate::load(certificate)?)
            }
        };
        Ok(Self {
            credentials: credentials.clone(),
            proof,
            http: OAuthHttp::new()?,
            cached: Mutex::new(None),
        })
    }

    /// Which client, and where its secret or certificate comes from, for messages.
    pub(crate) fn describe(&self) -> String {
        match &self.proof {
            Proof::Secret { source, .. } => format!(
                "client {} (secret from {source})",
                self.credentials.client_id
            ),
            Proof::Certificate(certificate) => format!(
                "client {} ({})",
                self.credentials.client_id,
                certificate.describe()
            ),
        }
    }

    /// A valid access token: the cached one, or a fresh one.
    pub(crate) async fn token(&self) -> Result<String, TokenError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref().filter(|c| Instant::now() < c.refresh_at) {
            return Ok(c.token.clone());
        }
        let fresh = self.fetch().await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    /// Forgets `refused` (after a 401), so the next `token()` fetches a new one. A token
    /// another request already replaced is kept: concurrent 401s fetch one new token, not many.
    pub(crate) async fn invalidate(&self, refused: &str) {
        let mut cached = self.cached.lock().await;
        if cached.as_ref().is_some_and(|c| c.token == refused) {
            *cached = None;
        }
    }

    async fn fetch(&self) -> Result<Cached, TokenError> {
        let token_url = TokenUrl::new(self.credentials.token_url.clone()).map_err(|source| {
            TokenError::InvalidTokenUrl {
                url: self.credentials.token_url.clone(),
                source,
            }
        })?;
        let mut client = BasicClient::new(ClientId::new(self.credentials.client_id.clone()))
            .set_token_uri(token_url);
        let assertion = match &self.proof {
            Proof::Secret { secret, .. } => {
                client = client.set_client_secret(ClientSecret::new(secret.clone()));
                None
            }
            // Signed afresh for every request: the real time, since the identity provider
            // checks `exp` against its own clock, not cutover's test clock.
            Proof::Certificate(certificate) => Some(certificate.assertion(
                &self.credentials.client_id,
                &self.credentials.token_url,
                jiff::Timestamp::now(),
            )?),
        };
        let mut request = client.exchange_client_credentials();
        if let Some(assertion) = assertion {
            request = request
                .add_extra_param("client_assertion_type", JWT_BEARER)
                .add_extra_param("client_assertion", assertion);
        }
        for scope in &self.credentials.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let response = request.request_async(&self.http).await.map_err(|e| {
            let url = self.credentials.token_url.clone();
            match e {
                RequestTokenError::ServerResponse(response) => TokenError::Refused {
                    url,
                    client: self.describe(),
                    code: response.error().to_string(),
                    description: response.error_description().cloned(),
                },
                RequestTokenError::Request(source) => TokenError::Unreachable { url, source },
                RequestTokenError::Parse(_, _) => TokenError::NotAToken { url },
                RequestTokenError::Other(message) => TokenError::Other { url, message },
            }
        })?;
        // A day at most: the identity provider's number must not overflow the clock.
        let lifetime = response
            .expires_in()
            .unwrap_or(Duration::from_secs(300))
            .min(Duration::from_secs(24 * 3600));
        let margin = REFRESH_MARGIN.min(lifetime / 2);
        Ok(Cached {
            token: response.access_token().secret().clone(),
            refresh_at: Instant::now() + lifetime - margin,
        })
    }
}
