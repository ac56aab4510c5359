//! Where a plan is applied.

use std::path::PathBuf;

use serde::Serialize;

use super::ApiAuth;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub(crate) enum TargetSpec {
    /// The embedded simulation of the platform.
    Sandbox { sandbox: SandboxRef },
    /// The platform's admin REST API.
    Http { url: String, auth: ApiAuth },
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum SandboxRef {
    /// A named scenario, kept in `<plan dir>/.cutover/sandbox-<scenario>.db`.
    Scenario(String),
    /// A sandbox file made by `cutover sandbox init`.
    File {
        /// As written in the plan.
        written: String,
        #[serde(skip)]
        path: PathBuf,
    },
}
