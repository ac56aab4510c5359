//! The identity provider `sandbox serve` uses, as the real platform uses Microsoft's: the OAuth
//! client that connects configurations and the introspector that checks app tokens, set up from
//! [`IdentitySettings`] with the secrets read from the environment.
//!
//! This module owns the setup and its checks (the issuer is a URL safe to send a secret to, the
//! client secret and the sealing key are there and long enough). What the two do once set up is
//! `oauth.rs`'s and `introspection.rs`'s.

use super::introspection::Introspector;
use super::oauth::{OAuthSettings, PlatformOAuth};
use super::settings::{IdentitySettings, secret_from_env};
use super::vault::{Vault, VaultError};
use crate::oauth::OAuthHttp;

/// The key must be long enough that sealing is not the weak point; it is hashed to 256 bits.
const MIN_KEY_CHARS: usize = 32;

pub(crate) struct IdentityProvider {
    pub(super) oauth: PlatformOAuth,
    pub(super) introspector: Introspector,
}

/// Why the identity provider could not be set up; nothing is served then.
#[derive(Debug, thiserror::Error)]
pub(crate) enum IdentityProviderError {
    #[error("--oauth-issuer {issuer:?} is not a URL: {source}")]
    NotAUrl {
        issuer: String,
        #[source]
        source: oauth2::url::ParseError,
    },
    #[error("--oauth-issuer {issuer:?} must be an https:// URL (http:// only on this machine)")]
    Insecure { issuer: String },
    #[error("set {env} to the platform's client secret at the identity provider")]
    NoClientSecret { env: String },
    #[error(
        "set {env} to a key of at least 32 characters: the platform seals its OAuth tokens with it"
    )]
    NoKey { env: String },
    #[error("{env} must hold at least 32 characters")]
    ShortKey { env: String },
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// The HTTP client for the identity provider could not be built.
    #[error("{0}")]
    HttpClient(String),
}

impl IdentityProvider {
    /// Sets the identity provider up; `redirect_uri` is where it sends the admin's browser back
    /// (`http://<listen>/oauth/callback`). Nothing is asked of it yet: the discovery document is
    /// read on first use, so the identity provider may start after the platform.
    pub(crate) fn new(
        settings: &IdentitySettings,
        redirect_uri: &str,
    ) -> Result<Self, IdentityProviderError> {
        let issuer = &settings.issuer;
        let url = reqwest::Url::parse(issuer).map_err(|source| IdentityProviderError::NotAUrl {
            issuer: issuer.clone(),
            source,
        })?;
        if !crate::plan::grammar::is_secure_url(url.as_str()) {
            return Err(IdentityProviderError::Insecure {
                issuer: issuer.clone(),
            });
        }
        let client_secret = secret_from_env(&settings.client_secret_env).ok_or_else(|| {
            IdentityProviderError::NoClientSecret {
                env: settings.client_secret_env.clone(),
            }
        })?;
        let client_secret = client_secret.trim();
        let key_env = &settings.key_env;
        let key = secret_from_env(key_env).ok_or_else(|| IdentityProviderError::NoKey {
            env: key_env.clone(),
        })?;
        if key.trim().chars().count() < MIN_KEY_CHARS {
            return Err(IdentityProviderError::ShortKey {
                env: key_env.clone(),
            });
        }
        let vault = Vault::new(key.trim())?;
        // One client for both: the same timeouts, no redirects, one connection pool.
        let http =
            OAuthHttp::new().map_err(|e| IdentityProviderError::HttpClient(e.to_string()))?;
        let introspector =
            Introspector::new(issuer, &settings.client_id, client_secret, http.clone());
        let oauth = PlatformOAuth::new(
            OAuthSettings {
                issuer: issuer.clone(),
                client_id: settings.client_id.clone(),
                client_secret: client_secret.to_owned(),
                redirect_uri: redirect_uri.to_owned(),
                vault,
                wrong_verifier: settings.wrong_pkce_verifier,
            },
            http,
        );
        Ok(Self {
            oauth,
            introspector,
        })
    }
}
