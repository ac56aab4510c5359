//! How cutover authenticates to the platform's API and to Microsoft Graph.

use serde::Serialize;

use super::SecretRef;

/// OAuth 2.0 client credentials (an app token from an identity provider).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ClientCredentials {
    pub(crate) token_url: String,
    pub(crate) client_id: String,
    pub(crate) client_secret: SecretRef,
    pub(crate) scopes: Vec<String>,
}

/// How the `http` target proves who it is.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ApiAuth {
    /// A bearer token kept where the reference says.
    Token(SecretRef),
    /// App tokens from an identity provider, cached and refreshed.
    ClientCredentials(ClientCredentials),
}
