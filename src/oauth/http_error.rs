//! What can go wrong with cutover's OAuth HTTP client: building it, fetching a JSON document,
//! and a call the `oauth2` crate makes through it.

/// The HTTP client could not be built (its TLS configuration, say).
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client: {0}")]
pub(crate) struct ClientBuildError(#[source] pub(super) reqwest::Error);

/// A JSON document (a discovery document) could not be fetched.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    #[error("{url} did not answer in time")]
    Timeout {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("cannot reach {url}")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url} answered {status}")]
    Status {
        url: String,
        status: reqwest::StatusCode,
    },
    #[error("{url} did not answer with the expected JSON: {source}")]
    NotJson {
        url: String,
        #[source]
        source: reqwest::Error,
    },
}

/// A request the `oauth2` crate made failed. The words stay general: reqwest's own would name
/// the URL and add nothing a reader can act on.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OAuthHttpError {
    #[error("bad request: {0}")]
    BadRequest(#[source] reqwest::Error),
    #[error("could not connect")]
    Connect,
    #[error("the request failed")]
    Failed,
    #[error("the answer was cut off")]
    CutOff,
    #[error("bad response: {0}")]
    BadResponse(#[source] http::Error),
}
