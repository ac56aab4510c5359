//! What the planner returns: the rollout's steps in order, each with its status and reason.

use std::sync::Arc;

use jiff::Timestamp;
use serde::Serialize;

use super::{Action, Finding, GateReading};
use crate::plan::grammar::{Email, PlanDuration, StartTime, Window};
use crate::plan::{Gate, StepKind};
use crate::state::{Acceptance, Exception, FailingUser, StepPhase};

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Schedule {
    pub(crate) now: Timestamp,
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) findings: Vec<Finding>,
    pub(crate) steps: Vec<PlannedStep>,
    /// What `apply` does next.
    pub(crate) next: Action,
}

impl Schedule {
    pub(crate) fn is_blocked(&self) -> bool {
        self.findings
            .iter()
            .any(|f| f.severity == super::Severity::Blocking)
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct PlannedStep {
    /// `connect`, `pilot`, a batch name, `<batch>#<n>` for a wave, or `disconnect`.
    pub(crate) id: String,
    pub(crate) detail: StepDetail,
    pub(crate) status: StepStatus,
    /// The earliest the step can start, as far as can be told now.
    pub(crate) start: Option<Timestamp>,
    /// The earliest its gate can pass (the disconnect: the earliest it can run).
    pub(crate) pass: Option<Timestamp>,
    /// Where a started step stands.
    pub(crate) phase: Option<StepPhase>,
    /// The gate's latest reading, for a step being verified.
    pub(crate) reading: Option<GateReading>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum StepDetail {
    /// Create (or adopt) the `to` configuration and have it authorized.
    Connect {
        display_name: String,
        tenant_id: String,
        service_account: Option<String>,
        /// An existing configuration with the plan's name that matches is adopted, not created.
        adopt: bool,
    },
    /// Switch users from `from` to `to`, then verify.
    Move(Box<MoveDetail>),
    /// Disconnect `from`. Irreversible.
    Disconnect {
        display_name: String,
        after: PlanDuration,
        approval: bool,
        /// Users still enabled on `from` who are in no step: they block it.
        stragglers: Arc<[Email]>,
        /// `to` users not syncing cleanly whose `from` sync was already failing when their step
        /// started: listed, not blocking. Known once the disconnect is the next step.
        preexisting: Vec<FailingUser>,
        /// Users the board accepted moving without a clean OAuth sync: the disconnect's last
        /// moves put them on `to` alone, and they will stop syncing until fixed.
        accepted: Vec<Acceptance>,
        /// Open exceptions: they block the disconnect unless fixed or accepted.
        exceptions: Vec<Exception>,
    },
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct MoveDetail {
    /// The pilot's or batch's name in the plan.
    pub(crate) step: String,
    pub(crate) kind: StepKind,
    /// `(n, of)` for a wave of a batch split by `max_size`.
    pub(crate) wave: Option<(usize, usize)>,
    /// The plan's selector, in words.
    pub(crate) selector: String,
    pub(crate) members: Members,
    pub(crate) gate: Gate,
    /// `max_errors` as a count of this step's users.
    pub(crate) allowed_errors: u64,
    pub(crate) approval: bool,
    pub(crate) not_before: Option<StartTime>,
    pub(crate) window: Option<Window>,
    /// Things a reviewer should know about the membership.
    pub(crate) notes: Vec<super::overlap_note::OverlapNote>,
    /// Members whose `from` sync is already failing (not counted by the gate).
    pub(crate) preexisting: Vec<Email>,
    /// The members its gate passed without (open or closed), once it passed.
    pub(crate) exceptions: Vec<Exception>,
}

/// A step's members, each with what the platform shows of them.
///
/// The emails are a range of a list the state or the resolution already holds, not copies: the
/// planner plans every step on every decision, and copying (or just counting references to) each
/// member's email touched memory per user of the tenant each time.
#[derive(Debug, Clone)]
pub(crate) struct Members {
    emails: Arc<[Email]>,
    start: usize,
    /// One per member, beside `emails[start..]`.
    states: Vec<MemberState>,
}

impl Members {
    /// `emails[start..start + states.len()]`, with their states. A range beyond `emails` (which
    /// the planner never builds) holds the members that exist.
    pub(crate) fn new(emails: Arc<[Email]>, start: usize, mut states: Vec<MemberState>) -> Self {
        states.truncate(emails.len().saturating_sub(start));
        Self {
            emails,
            start,
            states,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.states.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// In email order.
    pub(crate) fn emails(&self) -> &[Email] {
        self.emails
            .get(self.start..self.start + self.states.len())
            .unwrap_or_default()
    }

    pub(crate) fn iter(&self) -> impl ExactSizeIterator<Item = Member<'_>> + Clone {
        self.emails()
            .iter()
            .zip(&self.states)
            .map(|(email, &state)| Member { email, state })
    }
}

impl<'a> IntoIterator for &'a Members {
    type Item = Member<'a>;
    type IntoIter = Box<dyn ExactSizeIterator<Item = Member<'a>> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

impl Serialize for Members {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Member<'a> {
    pub(crate) email: &'a Email,
    pub(crate) state: MemberState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum MemberState {
    /// On `from` only: enable `to`, then disable `from`.
    Move,
    /// On both: disable `from` once `to` is proven.
    FinishMove,
    /// Already on `to` alone: only verified.
    OnTo,
    /// On neither configuration: reported, not moved.
    Neither,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub(crate) enum StepStatus {
    Done,
    /// Can run now.
    Due,
    /// Cannot run before something happens.
    Waiting {
        reason: WaitReason,
        until: Option<Timestamp>,
        /// What it waits for, in words (as the `waiting:` line says it).
        detail: String,
    },
    /// Runs after the steps before it.
    Later,
    /// Cannot run until a person fixes what preflight found.
    Blocked {
        reason: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum WaitReason {
    Approval,
    Authorization,
    /// A real target's irreversible disconnect without a recorded approval, run with nobody at
    /// the keyboard: `--yes` confirms it.
    Confirmation,
    Hold,
    NotBefore,
    Window,
    Soak,
    After,
    Verification,
}

impl WaitReason {
    /// Whether a person must act before anything more can happen (exit 6), rather than time,
    /// syncs or a deliberate freeze passing (exit 4).
    pub(crate) fn needs_person(self) -> bool {
        matches!(
            self,
            WaitReason::Approval | WaitReason::Authorization | WaitReason::Confirmation
        )
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            WaitReason::Approval => "approval",
            WaitReason::Authorization => "authorization",
            WaitReason::Confirmation => "confirmation",
            WaitReason::Hold => "hold",
            WaitReason::NotBefore => "not_before",
            WaitReason::Window => "window",
            WaitReason::Soak => "soak",
            WaitReason::After => "after",
            WaitReason::Verification => "verification",
        }
    }
}
