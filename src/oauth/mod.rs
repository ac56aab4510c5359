//! OAuth 2.0 plumbing cutover shares: reading secret references, the `oauth2` crate's HTTP
//! client over our reqwest, and app tokens by client credentials (cached and refreshed).
//!
//! Secrets and tokens live only in memory here: never printed, logged or stored.

mod http_client;
mod http_error;
mod secret;
mod token_error;
mod token_source;

pub(crate) use http_client::OAuthHttp;
pub(crate) use http_error::{ClientBuildError, FetchError, OAuthHttpError};
pub(crate) use secret::{SecretError, read_secret};
pub(crate) use token_error::TokenError;
pub(crate) use token_source::TokenSource;
