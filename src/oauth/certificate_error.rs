//! Why a certificate credential cannot be used. Messages name where it came from, never its
//! contents or its password.

use super::SecretError;

#[derive(Debug, thiserror::Error)]
pub(crate) enum CertificateError {
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("the certificate from {source_words} cannot be used: {why}")]
    Unreadable { source_words: String, why: String },
    #[error("the certificate password is not text")]
    PasswordNotText,
    #[error("signing the client assertion failed")]
    Signing,
}
