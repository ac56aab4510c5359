//! Errors as RFC 9457 problem details.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub(crate) const CONTENT_TYPE: &str = "application/problem+json";

/// An error the API answers with (`application/problem+json`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub(crate) struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) title: String,
    pub(crate) status: u16,
    pub(crate) detail: Option<String>,
}

impl Problem {
    pub(crate) fn new(
        status: u16,
        kind: &str,
        title: &str,
        detail: impl Into<Option<String>>,
    ) -> Self {
        Self {
            kind: format!("urn:cutover:problem:{kind}"),
            title: title.to_owned(),
            status,
            detail: detail.into(),
        }
    }
}
