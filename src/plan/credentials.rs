//! How cutover authenticates to the platform's API and to Microsoft Graph.

use serde::Serialize;

use super::SecretRef;

/// OAuth 2.0 client credentials (an app token from an identity provider).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ClientCredentials {
    pub(crate) token_url: String,
    pub(crate) client_id: String,
    /// `client_secret` or `certificate` in the canonical form, as in the plan.
    #[serde(flatten)]
    pub(crate) credential: ClientCredential,
    pub(crate) scopes: Vec<String>,
}

/// How the client proves who it is to the identity provider: a secret, or a certificate.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ClientCredential {
    /// A client secret, sent to the token endpoint.
    ClientSecret(SecretRef),
    /// A certificate whose private key signs a client assertion (`private_key_jwt`); the key
    /// never leaves cutover.
    Certificate(CertificateCredential),
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct CertificateCredential {
    /// The PEM certificate with its private key, or a PKCS#12 file.
    pub(crate) key: SecretRef,
    /// The PKCS#12 file's password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) password: Option<SecretRef>,
    pub(crate) algorithm: AssertionAlgorithm,
}

/// How the client assertion is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) enum AssertionAlgorithm {
    /// RSASSA-PSS with SHA-256, which Microsoft Entra ID recommends.
    PS256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
}

impl AssertionAlgorithm {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            AssertionAlgorithm::PS256 => "PS256",
            AssertionAlgorithm::RS256 => "RS256",
        }
    }
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
