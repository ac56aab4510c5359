//! Why the mailbox pre-check could not check anyone. A mailbox Graph refuses, does not find or
//! answers oddly for is not an error: it is a verdict ([`Access`](crate::state::Access)), and
//! the others are still checked.

use crate::oauth::{ClientBuildError, TokenError};

#[derive(Debug, thiserror::Error)]
pub(crate) enum PrecheckError {
    #[error(transparent)]
    Client(#[from] ClientBuildError),
    /// No app token: the secret or certificate is missing, or the identity provider refused.
    /// Nobody can be checked without one.
    #[error(transparent)]
    Token(#[from] TokenError),
}
