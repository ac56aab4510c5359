//! Why `sandbox serve` could not start, or stopped.

use std::net::SocketAddr;

use super::identity_provider::IdentityProviderError;
use crate::sandbox::SandboxError;

#[derive(Debug, thiserror::Error)]
pub(crate) enum ServeError {
    #[error("the sandbox listens on loopback only; {listen} is not a loopback address")]
    NotLoopback { listen: SocketAddr },
    #[error(
        "set {token_env} to the bearer token clients must present (--token-env names another variable), \
         or give --oauth-issuer so clients authenticate with app tokens"
    )]
    NoCredentials { token_env: String },
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    #[error("cannot listen on {listen}: {source}")]
    Listen {
        listen: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The listening socket has no address to print.
    #[error("{0}")]
    Address(#[source] std::io::Error),
    #[error(transparent)]
    IdentityProvider(#[from] IdentityProviderError),
    #[error("cannot handle SIGINT and SIGTERM: {0}")]
    Signals(#[source] std::io::Error),
    #[error("the server stopped: {0}")]
    Stopped(#[source] std::io::Error),
}
