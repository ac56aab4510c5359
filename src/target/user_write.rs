//! The result of a bulk write, per user.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plan::grammar::Email;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub(crate) struct UserWrite {
    pub(crate) email: Email,
    pub(crate) result: WriteResult,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "result", content = "error")]
pub(crate) enum WriteResult {
    Changed,
    /// Already in the requested state: an idempotent re-send.
    Unchanged,
    NotFound,
    Failed(String),
}
