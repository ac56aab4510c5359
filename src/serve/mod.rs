//! `cutover sandbox serve`: a sandbox file behind the platform's admin API, over real sockets.
//!
//! It requires a bearer token and can be made hostile on purpose — added latency, a rate limit
//! answered with 429 and Retry-After, a share of 5xx answers, a share of dropped connections —
//! so the `http` target is tested and benchmarked under the conditions real APIs have. With an
//! identity provider it is also an OAuth client (connecting configurations) and a resource
//! server (accepting app tokens), and serves the Graph subset the mailbox pre-check calls.
//!
//! The command line resolves its arguments into [`ServeSettings`] and calls [`Server`]; reading
//! the secrets, setting up the identity provider and catching signals all happen here. The
//! sandbox itself is `crate::sandbox`'s.

mod admin_api;
mod bearer_auth;
mod faults;
mod graph;
mod hostile;
mod id_token;
mod identity_provider;
mod introspection;
mod oauth;
mod oauth_callback;
mod problem;
mod serve_error;
mod server;
mod settings;
mod vault;

pub(crate) use faults::Faults;
pub(crate) use serve_error::ServeError;
pub(crate) use server::Server;
/// For the target conformance suite, which serves a listener it bound itself.
#[cfg(test)]
pub(crate) use server::{ServeOptions, serve};
pub(crate) use settings::{IdentitySettings, ServeSettings};
