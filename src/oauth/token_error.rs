//! Why an app token could not be had. Messages name the identity provider and the client, never
//! the secret.

use super::{CertificateError, ClientBuildError, OAuthHttpError, SecretError};

#[derive(Debug, thiserror::Error)]
pub(crate) enum TokenError {
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Certificate(#[from] CertificateError),
    #[error(transparent)]
    Client(#[from] ClientBuildError),
    #[error("the token URL {url} is not valid: {source}")]
    InvalidTokenUrl {
        url: String,
        #[source]
        source: oauth2::url::ParseError,
    },
    /// The identity provider answered with an OAuth error (`invalid_client`, say).
    #[error("the identity provider at {url} refused {client}: {code}{}", in_parentheses(.description))]
    Refused {
        url: String,
        /// Which client, and where its secret came from.
        client: String,
        code: String,
        description: Option<String>,
    },
    #[error("the identity provider at {url} could not be reached: {source}")]
    Unreachable {
        url: String,
        #[source]
        source: OAuthHttpError,
    },
    #[error("the identity provider at {url} gave an answer that is not a token")]
    NotAToken { url: String },
    #[error("getting a token from {url} failed: {message}")]
    Other { url: String, message: String },
}

fn in_parentheses(text: &Option<String>) -> String {
    text.as_deref()
        .map(|text| format!(" ({text})"))
        .unwrap_or_default()
}
