//! What the state database remembers about a rollout, loaded as plain data for the planner.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

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
    /// Who started the rollout (the OS user of its first `apply`).
    pub(crate) started_by: Option<String>,
    /// The digest approved when the rollout started: checked by `--approved`, or approved
    /// beforehand with `cutover approve PLAN --digest`.
    pub(crate) approved_digest: Option<String>,
    /// The digest of the plan and platform the rollout started with.
    pub(crate) started_digest: Option<String>,
    /// Frozen membership of each pilot or batch (by its plan name), in email order.
    pub(crate) batches: BTreeMap<String, Arc<[Email]>>,
    /// Each started step (by id: `pilot`, `east`, `everyone-else#2`).
    pub(crate) steps: BTreeMap<String, StepRecord>,
    pub(crate) approvals: Vec<Approval>,
    pub(crate) hold: Option<Hold>,
    pub(crate) disconnected_at: Option<Timestamp>,
    /// When cutover last journaled a disconnect of `from`, whatever its outcome: only then can a
    /// `from` the platform shows disconnected be this rollout's own disconnect.
    pub(crate) disconnect_sent: Option<Timestamp>,
    /// The plan's canonical form when the rollout started (shared between loads while its
    /// stored text is unchanged).
    pub(crate) plan_at_start: Option<Arc<serde_json::Value>>,
    /// The plan as last accepted (edits to future steps are accepted and recorded).
    pub(crate) plan_accepted: Option<Arc<serde_json::Value>>,
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
    /// The members each started step (by id) left out on the pre-check's word: they stay on
    /// `from`, so the disconnect counts them as stragglers until fixed or accepted.
    pub(crate) skipped: BTreeMap<String, Vec<SkippedUser>>,
    /// Approvals and acceptances on record that do not count under the plan's
    /// `[change_control]` (unsigned, not verifying, or the requester's own), and why: set aside
    /// by `planner::enforce` and the signature check, so that reports can say so.
    pub(crate) discounted: Vec<Discounted>,
}

/// An approval or acceptance that does not count, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Discounted {
    pub(crate) what: Countable,
    pub(crate) why: String,
}

/// What an approval rule weighs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Countable {
    Approval(Approval),
    Acceptance(Acceptance),
}

impl RunState {
    /// The approvals of `step` (or of the batch it is a wave of) given after `since`.
    pub(crate) fn approvals_of<'a>(
        &'a self,
        step: &'a str,
        batch: &'a str,
        since: Option<Timestamp>,
    ) -> impl Iterator<Item = &'a Approval> {
        self.approvals
            .iter()
            .filter(move |a| (a.step == step || a.step == batch) && since.is_none_or(|s| a.at > s))
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
    /// Shared with every load that found them unchanged (see `frozen_members.rs`): a decision
    /// clones the state, and these are the tenant-sized part of it.
    pub(crate) members: Arc<[Email]>,
    pub(crate) preexisting: Arc<BTreeSet<Email>>,
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
    pub(crate) id: i64,
    pub(crate) email: Email,
    pub(crate) reason: String,
    pub(crate) by: String,
    pub(crate) os_user: String,
    pub(crate) at: Timestamp,
    /// The signer, when signed (`accept --sign`) and, once vetted, verified.
    pub(crate) principal: Option<String>,
    /// The SSH signature and the statement it signed (the plan's digest and every user the
    /// `accept` named), armored.
    #[serde(skip)]
    pub(crate) signed: Option<Signed>,
}

/// A signature as recorded, and the statement it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Signed {
    pub(crate) signature: String,
    pub(crate) statement: String,
}

impl Acceptance {
    /// Who accepted, for segregation of duties: the signer, else the OS user.
    pub(crate) fn identity(&self) -> &str {
        self.principal.as_deref().unwrap_or(&self.os_user)
    }
}

/// An approval in force: of a step (a step id, or a batch name for all its waves), of the
/// disconnect, or of the plan as edited (`plan`, by its digest), bound to the digest of what it
/// approved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Approval {
    pub(crate) id: i64,
    pub(crate) step: String,
    /// Who the approver said they were (`--by`).
    pub(crate) by: String,
    pub(crate) os_user: String,
    pub(crate) host: String,
    pub(crate) at: Timestamp,
    /// The digest of what was approved (the step as the plan had it, or the plan). `None` for
    /// an approval recorded by a release that did not bind them: it counts as it did then.
    pub(crate) digest: Option<String>,
    /// The signer, when the approval was signed (`approve --sign`).
    pub(crate) principal: Option<String>,
    /// The SSH signature over what was approved, armored.
    #[serde(skip)]
    pub(crate) signature: Option<String>,
}

impl Approval {
    /// Who approved, for segregation of duties: the signer, else the OS user.
    pub(crate) fn identity(&self) -> &str {
        self.principal.as_deref().unwrap_or(&self.os_user)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Hold {
    pub(crate) reason: String,
    pub(crate) by: String,
    pub(crate) at: Timestamp,
}
