//! The one thing to do next: what the planner hands the engine (and the dry-run shows).

use jiff::Timestamp;
use serde::Serialize;

use super::WaitReason;
use crate::plan::OnFailure;
use crate::plan::grammar::Email;
use crate::state::FailingUser;

/// Which of the plan's two configurations a write is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Side {
    From,
    To,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub(crate) enum Action {
    /// Create the `to` configuration.
    CreateConfiguration,
    /// Start or re-read the authorization of `to`; `restart` abandons a failed or
    /// wrong-account one (`apply --reauthorize`).
    Authorize { restart: bool },
    /// Ask Microsoft Graph whether the OAuth app can open these members' mailboxes, before the
    /// step starts (`[precheck] mailbox_access`).
    CheckMailboxes { step: String, users: Vec<Email> },
    /// Freeze the step's members and begin it.
    Start { step: String },
    /// Enable a configuration for users (one bulk call).
    Enable {
        step: String,
        side: Side,
        users: Vec<Email>,
    },
    /// Disable a configuration for users (one bulk call).
    Disable {
        step: String,
        side: Side,
        users: Vec<Email>,
    },
    /// Every member is switched: the gate starts judging.
    Switched { step: String },
    /// The gate passed, with these members as its exceptions: their OAuth sync failed within
    /// `max_errors`, and they keep both configurations until it is clean.
    Pass {
        step: String,
        exceptions: Vec<FailingUser>,
    },
    /// Ask the platform to re-check users with open exceptions now (once per run).
    RecheckExceptions { users: Vec<Email> },
    /// These exceptions' OAuth sync is clean and `from` is off for them: close them.
    CloseExceptions { step: String, users: Vec<Email> },
    /// The gate failed: record it and begin the plan's `on_failure`.
    Fail {
        step: String,
        on_failure: OnFailure,
        failures: Vec<FailingUser>,
    },
    /// A re-run after a halt: ask the platform to re-check these users, then judge again.
    Reopen { step: String, recheck: Vec<Email> },
    /// A rolled-back step was approved again: switch its members once more.
    Restart { step: String },
    /// Disconnect `from`. Irreversible.
    Disconnect,
    /// The platform shows `from` disconnected: record it (a disconnect whose outcome was lost).
    RecordDisconnected,
    /// Nothing can happen before this.
    Wait {
        reason: WaitReason,
        step: String,
        until: Option<Timestamp>,
        detail: String,
    },
    /// A person must act; the run stops (exit 3).
    Stop {
        step: String,
        reason: String,
        failures: Vec<FailingUser>,
    },
    /// The rollout is complete.
    Finish,
}

/// The stop for a bulk write the platform refused for some users: a person must look at them
/// before the step can go on (the rest of the write took effect, and a re-run resumes it).
pub(crate) fn refused_write(
    step: &str,
    verb: &str,
    configuration: &str,
    failures: Vec<FailingUser>,
) -> Action {
    Action::Stop {
        step: step.to_owned(),
        reason: format!(
            "the platform refused to {verb} {configuration:?} for {} user(s)",
            failures.len()
        ),
        failures,
    }
}
