//! The platform's admin API contract: the wire types and the OpenAPI document describing them.
//!
//! `cutover sandbox serve` serves this contract and the `http` target speaks it, both from these
//! types, so the two cannot drift; `schemas/platform-api.openapi.json` is generated from them.
//! Paths are relative to the plan's `url`.

mod openapi;
mod problem;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plan::grammar::Email;
use crate::target::{PlatformUser, UserWrite};

pub(crate) use openapi::openapi_text;
pub(crate) use problem::{CONTENT_TYPE as PROBLEM_CONTENT_TYPE, Problem};

/// The largest page of users the API returns.
pub(crate) const MAX_PAGE: usize = 1_000;

/// A list of users a bulk call is about.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UsersBody {
    pub(crate) users: Vec<Email>,
}

/// One result per user of a bulk write, in request order.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub(crate) struct WriteResults {
    pub(crate) results: Vec<UserWrite>,
}

/// `POST /users/query` answer: the users asked about that the platform has, in email order.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub(crate) struct FoundUsers {
    pub(crate) users: Vec<PlatformUser>,
}

/// `GET /users` query.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UsersQuery {
    /// Return users whose email sorts after this one.
    pub(crate) after: Option<String>,
    /// At most this many users (1 to 1000; default 1000).
    pub(crate) limit: Option<u32>,
    /// Also say where every later page of this size begins (`cursors` in the answer), so a
    /// client can ask for them all at once instead of one after another.
    pub(crate) cursors: Option<bool>,
}
