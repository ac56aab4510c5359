//! Users as the platform reports them: attributes, enabled configurations, latest sync results.

use std::sync::Arc;

use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ConfigurationId, SyncResults};
use crate::plan::grammar::Email;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub(crate) struct PlatformUser {
    pub(crate) email: Email,
    // Shared: most users of a tenant have one of a few locations and group sets, and a reading
    // of a large tenant made (and freed) a copy of each per user. (Not a doc comment: those are
    // the API schema's descriptions.)
    pub(crate) location: Arc<str>,
    pub(crate) groups: Arc<[String]>,
    /// Ids of the configurations this user is enabled on.
    pub(crate) enabled: Vec<ConfigurationId>,
    /// The latest sync attempt per configuration id, for the configurations that have synced.
    pub(crate) sync: SyncResults,
}

impl PlatformUser {
    pub(crate) fn is_enabled_on(&self, configuration: &str) -> bool {
        self.enabled.iter().any(|c| *c == *configuration)
    }

    /// The latest sync attempt on `configuration`, if there has been one.
    pub(crate) fn sync(&self, configuration: &str) -> Option<&SyncResult> {
        self.sync.get(configuration)
    }

    /// Whether the user's latest attempt over `configuration` is a hard failure: an error or a
    /// warning, not throttling or a transient error (which say "try again", not "this user
    /// cannot sync").
    pub(crate) fn failing_on(&self, configuration: &str) -> bool {
        self.sync.get(configuration).is_some_and(|s| {
            matches!(s.outcome, SyncOutcome::Error | SyncOutcome::Warning) && !s.is_transient()
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum SyncOutcome {
    Ok,
    /// Data missing on one side, such as an email that is not the mailbox's primary address.
    /// The user does not sync.
    Warning,
    Error,
    /// Exchange asked the platform to back off; the attempt will be retried.
    Throttled,
}

impl SyncOutcome {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SyncOutcome::Ok => "ok",
            SyncOutcome::Warning => "warning",
            SyncOutcome::Error => "error",
            SyncOutcome::Throttled => "throttled",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub(crate) struct SyncResult {
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub(crate) at: Timestamp,
    pub(crate) outcome: SyncOutcome,
    /// The platform's own error text, shown to people as is.
    pub(crate) error: Option<String>,
    /// A machine code for the error, such as `ErrorAccessDenied`, when the platform gives one.
    pub(crate) code: Option<String>,
}

impl SyncResult {
    /// Throttling and transient errors mean "not yet known", not "broken".
    pub(crate) fn is_transient(&self) -> bool {
        match self.outcome {
            SyncOutcome::Throttled => true,
            SyncOutcome::Error => self
                .code
                .as_deref()
                .is_some_and(|c| TRANSIENT_CODES.contains(&c)),
            SyncOutcome::Ok | SyncOutcome::Warning => false,
        }
    }
}

/// Error codes that say "try again", not "this user cannot sync".
const TRANSIENT_CODES: &[&str] = &[
    "ErrorServerBusy",
    "ErrorTimeoutExpired",
    "ErrorInternalServerTransientError",
    "ServiceUnavailable",
];

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub(crate) struct UserPage {
    pub(crate) users: Vec<PlatformUser>,
    /// Present when more users follow: pass the last email as `after`.
    pub(crate) more: bool,
    /// Asked for with `cursors=true`: the `after` of each later page of the same size, in
    /// order, as the platform stood when it answered. A hint: a page asked for by one of them
    /// is still the exact page after that email, whatever changed since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) cursors: Option<Vec<String>>,
}
