//! Why the `http` target could not be set up. Errors from calls the target makes are
//! [`TargetError`](crate::target::TargetError)s; these come before any call.

use crate::oauth::{SecretError, TokenError};

#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpTargetError {
    #[error("the target url {url:?} is not a URL: {source}")]
    NotAUrl {
        url: String,
        /// reqwest names `Url` but not its parse error; oauth2 re-exports the same `url` crate.
        #[source]
        source: oauth2::url::ParseError,
    },
    #[error(
        "the target url {url} is plain http to a host that is not loopback; use https, \
         or pass --allow-insecure-http if this network is trusted"
    )]
    PlainHttp { url: String },
    /// The API token's reference points at nothing usable.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The client credentials' secret, or their token URL, is unusable.
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("cannot build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}
