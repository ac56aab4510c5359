//! OAuth 2.0 plumbing cutover shares: reading secret references, the `oauth2` crate's HTTP
//! client over our reqwest, and app tokens by client credentials (cached and refreshed).
//!
//! Secrets and tokens live only in memory here: never printed, logged or stored.

mod http_client;
mod secret;
mod token_source;

pub(crate) use http_client::OAuthHttp;
pub(crate) use secret::read_secret;
pub(crate) use token_source::TokenSource;
