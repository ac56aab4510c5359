//! What the state database remembers about a rollout, loaded as plain data for the planner.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{MailboxAccess, SkippedUser};
use crate::plan::grammar::Email;

/// A rollout's memory: what started, who was frozen into which step, where each step stands,
/// and who approved what. Empty for a plan that never ran.
#[derive(Debug, Clone, Default)]
pub(crate) struct RunState {
    /// When the rollout's first `apply` began.
    pub(crate) started_at: Option<Timestamp>,
    /// The digest checked by `--approved` when the rollout started.
    pub(crate) approved_digest: Option<String>,
    /// The digest of the plan and platform the rollout started with.
    pub(crate) started_digest: Option<String>,
    /// Frozen membership of each pilot or batch (by its plan name), in email order.
    pub(crate) batches: BTreeMap<String, Vec<Email>>,
    /// Each started step (by id: `pilot`, `east`, `everyone-else#2`).
    pub(crate) steps: BTreeMap<String, StepRecord>,
    pub(crate) approvals: Vec<Approval>,
    pub(crate) hold: Option<Hold>,
    pub(crate) disconnected_at: Option<Timestamp>,
    /// When cutover last journaled a disconnect of `from`, whatever its outcome: only then can a
    /// `from` the platform shows disconnected be this rollout's own disconnect.
    pub(crate) disconnect_sent: Option<Timestamp>,
    /// The plan's canonical form when the rollout started.
    pub(crate) plan_at_start: Option<serde_json::Value>,
    /// The plan as last accepted (edits to future steps are accepted and recorded).
    pub(crate) plan_accepted: Option<serde_json::Value>,
    /// What the mailbox pre-check last saw, user by user.
    pub(crate) mailboxes: MailboxAccess,
    /// Every exception a gate made, open or closed, in the order they were made.
    pub(crate) exceptions: Vec<Exception>,
    /// The users the change board accepts moving without a clean OAuth sync (not revoked).
    pub(crate) acceptances: Vec<Acceptance>,
    /// The last `accept` or revocation: a disconnect approval from before it no longer counts
    /// (the disconnect moves the accepted users).
    pub(crate) acceptances_changed: Option<Timestamp>,
    /// When cutover first asked the platform to change something. Until then the plan may be
    /// edited freely.
    pub(crate) first_write_at: Option<Timestamp>,
    /// How the last run ended.
    pub(crate) last_run: Option<super::RunRecord>,
    /// Who holds the run lock now, if anyone (perhaps a process that died: `status` says so).
    pub(crate) lock_holder: Option<super::lock::Holder>,
    /// Every approval's who and when, for `status` (the planner needs only `approvals`).
    pub(crate) approval_records: Vec<ApprovalRecord>,
    /// The members each started step (by id) left out on the pre-check's word: they stay on
    /// `from`, so the disconnect counts them as stragglers until fixed or accepted.
    pub(crate) skipped: BTreeMap<String, Vec<SkippedUser>>,
}

/// An approval as recorded: by whom, from which OS user and host, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ApprovalRecord {
    pub(crate) step: String,
    pub(crate) by: String,
    pub(crate) os_user: String,
    pub(crate) host: String,
    pub(crate) at: Timestamp,
}

impl RunState {
    /// Whether `step` (or the batch it is a wave of) was approved after `since`.
    pub(crate) fn approved(&self, step: &str, batch: &str, since: Option<Timestamp>) -> bool {
        self.approvals
            .iter()
            .any(|a| (a.step == step || a.step == batch) && since.is_none_or(|s| a.at > s))
    }

    /// When the last step passed.
    pub(crate) fn last_pass(&self) -> Option<Timestamp> {
        self.steps.values().filter_map(|s| s.passed_at).max()
    }

    /// Exceptions whose user's OAuth sync has not been clean since.
    pub(crate) fn open_exceptions(&self) -> impl Iterator<Item = &Exception> {
        self.exceptions.iter().filter(|e| e.closed_at.is_none())
    }

    /// Every user a step left out on the pre-check's word, with the step's id and the verdict.
    pub(crate) fn skipped_users(&self) -> impl Iterator<Item = (&str, &SkippedUser)> {
        self.skipped
            .iter()
            .flat_map(|(step, users)| users.iter().map(move |u| (step.as_str(), u)))
    }

    /// Users whose `from` sync was already failing when their step started.
    pub(crate) fn preexisting(&self) -> BTreeSet<Email> {
        self.steps
            .values()
            .flat_map(|s| s.preexisting.iter().cloned())
            .collect()
    }
}

#[derive(Debug, Clone)]
pub(crate) struct StepRecord {
    pub(crate) id: String,
    /// The pilot's or batch's name in the plan.
    pub(crate) batch: String,
    pub(crate) members: Vec<Email>,
    pub(crate) preexisting: BTreeSet<Email>,
    pub(crate) phase: StepPhase,
    /// When the current phase began.
    pub(crate) phase_at: Timestamp,
    pub(crate) started_at: Timestamp,
    /// The gate counts only sync attempts after this (the switch, or the re-run after a halt).
    pub(crate) judged_after: Option<Timestamp>,
    pub(crate) passed_at: Option<Timestamp>,
    /// The users that failed the gate last time, with the platform's error text.
    pub(crate) failures: Vec<FailingUser>,
    /// The step's definition in the plan (canonical JSON) when it started: an edit to a step that
    /// already ran is refused.
    pub(crate) definition: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum StepPhase {
    /// Members frozen; switching them from `from` to `to`.
    Moving,
    /// Switched; the gate is judging their OAuth syncs.
    Verifying,
    Passed,
    /// The gate failed: failing users sync over `from` again; a re-run re-opens the gate.
    Halted,
    /// The gate failed (or an admin rolled back): every member is back on `from` alone.
    RolledBack,
}

impl StepPhase {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            StepPhase::Moving => "moving",
            StepPhase::Verifying => "verifying",
            StepPhase::Passed => "passed",
            StepPhase::Halted => "halted",
            StepPhase::RolledBack => "rolled_back",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        [
            StepPhase::Moving,
            StepPhase::Verifying,
            StepPhase::Passed,
            StepPhase::Halted,
            StepPhase::RolledBack,
        ]
        .into_iter()
        .find(|p| p.as_str() == text)
    }
}

/// A user the gate found failing, and why, in the platform's words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FailingUser {
    pub(crate) email: Email,
    /// `error`, `warning`, or `pending` (no clean attempt by the timeout).
    pub(crate) outcome: String,
    pub(crate) error: Option<String>,
    pub(crate) at: Option<Timestamp>,
}

/// A member a gate passed without: their OAuth sync failed within the gate's `max_errors`. They
/// keep both configurations (their calendar syncs over `from`) until their OAuth sync is clean;
/// then `from` is disabled for them and the exception closes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Exception {
    pub(crate) step: String,
    /// Who, and the platform's words for the failing attempt.
    pub(crate) user: FailingUser,
    pub(crate) opened_at: Timestamp,
    /// When a run last asked the platform to re-check them.
    pub(crate) rechecked_at: Option<Timestamp>,
    pub(crate) closed_at: Option<Timestamp>,
}

/// A user the change board accepts moving without a clean OAuth sync (`cutover accept`): the
/// disconnect moves them to `to` alone, and every report names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Acceptance {
    pub(crate) email: Email,
    pub(crate) reason: String,
    pub(crate) by: String,
    pub(crate) at: Timestamp,
}

#[derive(Debug, Clone)]
pub(crate) struct Approval {
    /// A step id, or a batch name (which covers its waves).
    pub(crate) step: String,
    pub(crate) at: Timestamp,
}

#[derive(Debug, Clone)]
pub(crate) struct Hold {
    pub(crate) reason: String,
    pub(crate) by: String,
    pub(crate) at: Timestamp,
}
