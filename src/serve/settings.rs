//! What `sandbox serve` is asked to do, resolved from the command line: plain values, and the
//! names of the environment variables its secrets are read from (never the secrets).
//!
//! The command line builds these; [`super::Server::start`] reads the secrets and checks them.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::Faults;

/// `sandbox serve`'s settings.
#[derive(Debug)]
pub(crate) struct ServeSettings {
    /// The sandbox file to serve (a plan already resolved to its sandbox).
    pub(crate) sandbox: PathBuf,
    /// More sandbox files, each served at `/tenants/<name>/` as a multi-tenant platform would.
    pub(crate) tenants: Vec<(String, PathBuf)>,
    /// Where to listen; loopback only.
    pub(crate) listen: SocketAddr,
    /// The environment variable holding the bearer token clients must present.
    pub(crate) token_env: String,
    pub(crate) faults: Faults,
    /// The identity provider to use, as the real platform uses Microsoft's.
    pub(crate) identity: Option<IdentitySettings>,
}

/// The identity provider that authorizes OAuth configurations and vouches for app tokens.
#[derive(Debug)]
pub(crate) struct IdentitySettings {
    /// The OpenID Connect issuer, as given.
    pub(crate) issuer: String,
    /// The platform's client id at the issuer.
    pub(crate) client_id: String,
    /// The environment variable holding the platform's client secret at the issuer.
    pub(crate) client_secret_env: String,
    /// The environment variable holding the key the platform seals its OAuth tokens with.
    pub(crate) key_env: String,
    /// Test fault: send the issuer a PKCE verifier that does not match the challenge.
    pub(crate) wrong_pkce_verifier: bool,
}

/// A secret from the environment; unset and blank are the same: not given.
pub(super) fn secret_from_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}
