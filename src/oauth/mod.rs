//! OAuth 2.0 plumbing cutover shares: reading secret references, the `oauth2` crate's HTTP
//! client over our reqwest, and app tokens by client credentials (cached and refreshed), proven
//! with a client secret or a certificate (`client_certificate.rs`: PEM or PKCS#12, read with
//! `der.rs`, `x509.rs` and `pkcs12.rs`, signed with aws-lc-rs).
//!
//! Secrets, private keys and tokens live only in memory here: never printed, logged or stored.

mod certificate_error;
mod certificate_expiry;
mod client_certificate;
mod der;
mod http_client;
mod http_error;
mod pkcs12;
mod secret;
mod token_error;
mod token_source;
mod x509;

pub(crate) use certificate_error::CertificateError;
pub(crate) use certificate_expiry::{WARN_BEFORE_DAYS, expiring};
pub(crate) use client_certificate::ClientCertificate;
pub(crate) use http_client::OAuthHttp;
pub(crate) use http_error::{ClientBuildError, FetchError, OAuthHttpError};
pub(crate) use secret::{SecretError, read_secret, read_secret_bytes};
pub(crate) use token_error::TokenError;
pub(crate) use token_source::TokenSource;
