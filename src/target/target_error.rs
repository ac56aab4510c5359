//! Why a call to a platform failed, sorted by what the caller can do about it.

#[derive(Debug, thiserror::Error)]
pub(crate) enum TargetError {
    /// The platform could not be reached or did not answer; the call may or may not have
    /// taken effect.
    #[error("the platform did not answer: {0}")]
    Unreachable(String),
    /// The credentials were refused.
    #[error("the platform refused the credentials: {0}")]
    Unauthorized(String),
    /// The credentials lack a permission.
    #[error("the platform denied the request: {0}")]
    Forbidden(String),
    /// The request names something that does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The request conflicts with the platform's state (such as no free configuration slot).
    #[error("{0}")]
    Conflict(String),
    /// The platform's answer or state could not be understood.
    #[error("{0}")]
    Other(String),
}
