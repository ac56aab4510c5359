//! `cutover sandbox serve`: a sandbox file behind the platform's admin API, over real sockets.
//!
//! It requires a bearer token and can be made hostile on purpose — added latency, a rate limit
//! answered with 429 and Retry-After, a share of 5xx answers, a share of dropped connections —
//! so the `http` target is tested and benchmarked under the conditions real APIs have.

mod faults;
mod introspection;
mod oauth;
mod server;
mod vault;

pub(crate) use faults::Faults;
pub(crate) use introspection::Introspector;
pub(crate) use oauth::{OAuthSettings, PlatformOAuth};
pub(crate) use server::{IdentityProvider, ServeOptions, serve};
pub(crate) use vault::Vault;
