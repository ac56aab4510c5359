//! The dry-run: the planner's schedule rendered for a change board, as text, Markdown or JSON.
//!
//! Every rendering names every user of every step (text may fold long lists; Markdown and JSON
//! never do), every gate with its thresholds, the projected timeline in the plan's time zones,
//! what preflight found, and marks the disconnect as irreversible. Output depends only on its
//! inputs, so the same plan, platform state and `--now` give the same bytes.

mod json;
mod markdown;
mod review;
mod text;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::plan::grammar::PlanDuration;
use crate::plan::{Gate, OnFailure, Plan};
use crate::planner::{MemberState, MoveDetail, PlannedStep, Schedule, StepDetail, StepStatus};
use crate::state::{Acceptance, Exception};

pub(crate) use json::{render as json, write as write_json};
pub(crate) use markdown::render as markdown;
pub(crate) use review::{BackOut, Fact, Review, Source, SummaryRow, Warning, day_time, zone_label};
pub(crate) use text::render as text;

/// What a dry-run shows, besides the schedule itself.
pub(crate) struct DryRun<'a> {
    pub(crate) plan: &'a Plan,
    pub(crate) plan_file: String,
    pub(crate) target: String,
    pub(crate) schedule: &'a Schedule,
    pub(crate) digest: &'a str,
    /// The rollout has written to the platform: the digest covers the plan alone, and approves
    /// an edit (`approve --digest`) rather than the start (`apply --approved`).
    pub(crate) digest_of_plan_alone: bool,
    /// Text only: list every user instead of folding long lists.
    pub(crate) full: bool,
    /// The plan file's validation warnings: the document shows every one.
    pub(crate) warnings: &'a [crate::diagnostic::Diagnostic],
    /// The approvals recorded so far, for the summary table.
    pub(crate) approvals: &'a [crate::state::Approval],
}

impl DryRun<'_> {
    /// Whether this rollout already disconnected `from`.
    fn disconnected(&self) -> bool {
        self.schedule.steps.iter().any(|s| {
            matches!(s.detail, StepDetail::Disconnect { .. }) && s.status == StepStatus::Done
        })
    }

    /// The zone a step's times are shown in: its window's, else the plan's.
    pub(crate) fn zone_of(&self, step: &PlannedStep) -> TimeZone {
        match &step.detail {
            StepDetail::Move(detail) if detail.window.is_some() => detail
                .window
                .as_ref()
                .map_or_else(|| self.plan.display_zone(), |w| w.zone().clone()),
            _ => self.plan.display_zone(),
        }
    }

    pub(crate) fn time(&self, at: Timestamp, zone: &TimeZone) -> String {
        let zoned = at.to_zoned_datetime(zone.clone());
        let name = zone.iana_name().unwrap_or("");
        let text = zoned.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string();
        if name.is_empty() || name == "UTC" {
            text
        } else {
            format!("{text} {name}")
        }
    }

    /// How the digest is approved.
    fn digest_use(&self) -> String {
        let rules = &self.plan.change_control;
        let sign = if rules.signed() { " --sign KEY" } else { "" };
        if self.digest_of_plan_alone {
            format!(
                "the plan's digest (the rollout has started): approve an edit with `cutover approve {} --digest {}{sign}`",
                self.plan_file, self.digest
            )
        } else if rules.require_approved_digest && rules.signed() {
            // `--approved` cannot carry a signature, so it does not count here.
            format!(
                "nothing changes until this exact plan and tenant is approved with `cutover approve {} --digest {}{sign}`",
                self.plan_file, self.digest
            )
        } else if rules.require_approved_digest {
            format!(
                "nothing changes until this exact plan and tenant is approved with `cutover approve {} --digest {}` (or `cutover apply {} --approved {}`)",
                self.plan_file, self.digest, self.plan_file, self.digest
            )
        } else {
            format!(
                "approve this exact plan and tenant with `cutover apply {} --approved {}`",
                self.plan_file, self.digest
            )
        }
    }

    /// The plan's `[change_control]` rules, in words, for the reviewer: empty when none is on.
    pub(crate) fn change_control(&self) -> Vec<String> {
        let rules = &self.plan.change_control;
        let mut words = Vec::new();
        if rules.require_clean_git {
            words.push(
                "`apply` runs only while the plan file and its CSV user files are committed to git and unchanged".to_owned(),
            );
        }
        if rules.require_approved_digest {
            words
                .push("nothing is written until this dry-run is approved by its digest".to_owned());
        }
        if rules.four_eyes {
            words.push(
                "an approval or acceptance counts only from someone other than who started the rollout or approved its digest".to_owned(),
            );
        }
        if let Some(signers) = &rules.allowed_signers {
            words.push(format!(
                "an approval or acceptance counts only when signed (`--sign KEY`) by a key `{}` lists",
                signers.written
            ));
        }
        words
    }

    pub(crate) fn approve_command(&self, step: &str) -> String {
        format!("cutover approve {} {step}", self.plan_file)
    }
}

pub(crate) fn gate_text(gate: &Gate, allowed: u64, users: usize) -> String {
    let on_failure = match gate.on_failure {
        OnFailure::Halt => "halt (failing users sync over the old configuration again)",
        OnFailure::Rollback => "roll the step back",
    };
    let preexisting = if gate.count_preexisting {
        ", pre-existing failures counted"
    } else {
        ""
    };
    format!(
        "soak {}, timeout {}, max errors {} ({allowed} of {users} users), on failure: {on_failure}{preexisting}",
        gate.soak, gate.timeout, gate.max_errors
    )
}

pub(crate) fn member_summary(detail: &MoveDetail) -> String {
    let count = |state| detail.members.iter().filter(|m| m.state == state).count();
    let mut parts = Vec::new();
    for (state, words) in [
        (MemberState::FinishMove, "already on both (finish the move)"),
        (MemberState::OnTo, "already moved (verified only)"),
        (MemberState::Neither, "on neither configuration (not moved)"),
    ] {
        let n = count(state);
        if n > 0 {
            parts.push(format!("{n} {words}"));
        }
    }
    parts.join(", ")
}

pub(crate) fn status_text(status: &StepStatus, dry: &DryRun<'_>, step: &PlannedStep) -> String {
    let zone = dry.zone_of(step);
    match status {
        StepStatus::Done => "done".to_owned(),
        StepStatus::Due => "due now".to_owned(),
        StepStatus::Later => "after the steps before it".to_owned(),
        StepStatus::Blocked { reason } => format!("blocked: {reason}"),
        StepStatus::Waiting {
            reason,
            until,
            detail,
        } => {
            let when = until
                .map(|t| format!(" until {}", dry.time(t, &zone)))
                .unwrap_or_default();
            match reason {
                crate::planner::WaitReason::Approval => {
                    let step_name = match &step.detail {
                        StepDetail::Move(d) => d.step.clone(),
                        _ => step.id.clone(),
                    };
                    // An approval that no longer counts says why.
                    let why = if detail.contains("edited since") || detail.contains("changed since")
                    {
                        format!(" ({detail})")
                    } else {
                        String::new()
                    };
                    format!(
                        "waiting for approval: `{}`{why}",
                        dry.approve_command(&step_name)
                    )
                }
                other => format!("waiting ({}){when}", other.as_str()),
            }
        }
    }
}

/// One line for an exception: who, the platform's words, and whether it is still open.
pub(crate) fn exception_text(exception: &Exception, dry: &DryRun<'_>) -> String {
    let zone = dry.plan.display_zone();
    let error = exception.user.error.as_deref().unwrap_or("");
    let state = match exception.closed_at {
        Some(at) => format!("healed at {}", dry.time(at, &zone)),
        None => "open: keeps both configurations until its OAuth sync is clean".to_owned(),
    };
    format!(
        "{} {} {error} ({state})",
        exception.user.email, exception.user.outcome
    )
}

/// One line for an accepted user: who, why, and who accepted.
pub(crate) fn acceptance_text(acceptance: &Acceptance, dry: &DryRun<'_>) -> String {
    format!(
        "{}: \"{}\" (by {}, {})",
        acceptance.email,
        acceptance.reason,
        acceptance.by,
        dry.time(acceptance.at, &dry.plan.display_zone())
    )
}

pub(crate) fn duration_words(d: PlanDuration) -> String {
    if d.is_zero() {
        "no quiet time".to_owned()
    } else {
        format!("{d} of quiet time after the last batch passed")
    }
}
