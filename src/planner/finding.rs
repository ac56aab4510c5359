//! What preflight found on the platform: a problem, whether it blocks, and what to do.

use std::sync::Arc;

use serde::Serialize;

use crate::plan::grammar::Email;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Severity {
    /// Nothing may change until a person fixes this.
    Blocking,
    /// The rollout can start, but this will need attention (often before the disconnect).
    Warning,
    /// Worth knowing; not evidence that anything is wrong.
    Info,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Finding {
    pub(crate) severity: Severity,
    pub(crate) code: &'static str,
    pub(crate) message: String,
    /// The users it is about, by name, in email order; shared, since a list the planner keeps
    /// from one decision to the next (the users no step claims) can be the whole tenant.
    pub(crate) users: Arc<[Email]>,
    pub(crate) remedy: Option<String>,
}

impl Finding {
    pub(crate) fn new(severity: Severity, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            severity,
            code,
            message: message.into(),
            users: Arc::from([]),
            remedy: None,
        }
    }

    pub(crate) fn users(mut self, users: impl Into<Arc<[Email]>>) -> Self {
        self.users = users.into();
        self
    }

    pub(crate) fn remedy(mut self, remedy: impl Into<String>) -> Self {
        self.remedy = Some(remedy.into());
        self
    }
}
