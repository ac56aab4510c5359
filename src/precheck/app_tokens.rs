//! Where the pre-check gets its app tokens: a trait, so the refresh-once-on-401 logic can be
//! tested without an identity provider.

use crate::oauth::{TokenError, TokenSource};

pub(crate) trait AppTokens {
    /// A valid access token.
    async fn token(&self) -> Result<String, TokenError>;

    /// Forgets `refused` (Graph answered 401 to it), so the next `token()` is a fresh one.
    async fn invalidate(&self, refused: &str);

    /// Which app, and where its secret comes from (for messages; never the secret).
    fn describe(&self) -> String;
}

impl AppTokens for TokenSource {
    async fn token(&self) -> Result<String, TokenError> {
        TokenSource::token(self).await
    }

    async fn invalidate(&self, refused: &str) {
        TokenSource::invalidate(self, refused).await;
    }

    fn describe(&self) -> String {
        TokenSource::describe(self)
    }
}
