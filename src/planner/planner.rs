//! `plan()`: the rollout's steps, their members, gates and statuses, and the one action due next.
//!
//! Every decision is made from three things: the plan, what the platform shows now, and what the
//! state database remembers. The engine executes `next` (at most one platform call), stores what
//! changed, and asks again; so a run killed anywhere resumes by asking again, and a user already
//! switched is never switched twice — the platform shows them switched.

use std::sync::Arc;

use jiff::Timestamp;

use super::action::Action;
use super::memo::Memo;
use super::schedule::{PlannedStep, Schedule, StepDetail, StepStatus, WaitReason};
use super::{
    connect, disconnect, ews_retirement, exceptions, membership, phase, preflight, timeline, waves,
};
use crate::plan::{Plan, Selector};
use crate::state::MailboxAccess;
use crate::state::{RunState, StepPhase};
use crate::target::Observed;

/// The most users one write action carries. Targets split it further as their API requires;
/// larger actions mean fewer full re-reads of the platform between writes.
pub(super) const MAX_WRITE_USERS: usize = 10_000;

/// What the planner plans from.
pub(crate) struct Inputs<'a> {
    pub(crate) plan: &'a Plan,
    pub(crate) observed: &'a Observed,
    pub(crate) state: &'a RunState,
    pub(crate) now: Timestamp,
    /// When the current `apply` began. `None` for a dry-run, which shows what the next `apply`
    /// would do.
    pub(crate) run_started: Option<Timestamp>,
    /// `apply --reauthorize`: start the authorization of `to` over if it failed or was given
    /// by the wrong account, instead of stopping.
    pub(crate) reauthorize: bool,
    /// What the mailbox pre-check has seen, when the plan enables it and it ran (`None` for a
    /// reading that does not run it, such as `status`).
    pub(crate) mailboxes: Option<&'a MailboxAccess>,
    /// Someone confirmed (`--yes`), or will be asked at the terminal, before a real target's
    /// disconnect that has no recorded approval.
    pub(crate) confirmed: bool,
    /// What an earlier decision of this run, on the same plan, worked out from the whole tenant
    /// (`None`: work everything out from these inputs alone).
    pub(crate) memo: Option<&'a Memo>,
}

pub(crate) fn plan(inputs: &Inputs<'_>) -> Schedule {
    let Inputs {
        plan,
        observed,
        state,
        now,
        ..
    } = *inputs;
    let from_id = observed
        .configuration(&plan.from.display_name)
        .map(|c| c.id.clone());
    // `to` as named: whether it may be adopted is preflight's to say.
    let named_to = observed
        .configuration(&plan.to.display_name)
        .map(|c| c.id.as_str());
    let placement = observed.placement(from_id.as_deref(), named_to);
    let resolution = membership::resolve(plan, observed, &placement, &state.batches, inputs.memo);
    let preflight = preflight::check(plan, observed, &resolution, &placement);
    let to_id = preflight.to.map(|c| c.id.clone());
    let mut findings = preflight::findings(inputs, preflight.findings, &resolution);

    let mut steps = vec![PlannedStep {
        id: "connect".to_owned(),
        detail: StepDetail::Connect {
            display_name: plan.to.display_name.clone(),
            tenant_id: plan.to.tenant_id.clone(),
            service_account: plan.to.service_account.as_ref().map(ToString::to_string),
            adopt: to_id.is_some(),
        },
        status: StepStatus::Later,
        start: None,
        pass: None,
        phase: None,
        reading: None,
    }];
    for (number, resolved) in resolution.steps.iter().enumerate() {
        let build = || waves::move_steps(resolved, observed, state, &placement, to_id.is_some());
        steps.extend(match inputs.memo {
            Some(memo) => memo.waves(number, to_id.is_some(), state, build),
            None => build(),
        });
    }
    let has_remaining = plan
        .batches
        .iter()
        .any(|b| matches!(b.users, Selector::Remaining));
    steps.push(PlannedStep {
        id: "disconnect".to_owned(),
        detail: StepDetail::Disconnect {
            display_name: plan.from.display_name.clone(),
            after: plan.disconnect.after,
            approval: plan.disconnect.approval,
            stragglers: if has_remaining {
                Arc::from([])
            } else {
                resolution.unclaimed_on_from.clone()
            },
            preexisting: Vec::new(),
            accepted: state.acceptances.clone(),
            exceptions: state.open_exceptions().cloned().collect(),
        },
        status: StepStatus::Later,
        start: None,
        pass: None,
        phase: None,
        reading: None,
    });

    findings.extend(ews_retirement::findings(plan, observed, state, &steps, now));
    // Most severe first, as preflight sorts its own.
    findings.sort_by_key(|f| f.severity);
    let ids = Ids {
        from: from_id.as_deref(),
        to: to_id.as_deref(),
    };
    let blocking: Vec<&str> = findings
        .iter()
        .filter(|f| f.severity == super::Severity::Blocking)
        .map(|f| f.message.as_str())
        .collect();
    let next = if state.disconnected_at.is_some() {
        mark_done(&mut steps, usize::MAX);
        Action::Finish
    } else if !blocking.is_empty() {
        // `from` shows disconnected: this rollout's own disconnect whose answer was lost, but
        // only if cutover ever sent one. Anything else is a person's doing and needs a person.
        if from_id.is_none()
            && state.disconnect_sent.is_some()
            && preflight::disconnected_from(plan, observed).is_some()
        {
            Action::RecordDisconnected
        } else {
            Action::Stop {
                step: "preflight".to_owned(),
                reason: format!("preflight needs a person: {}", blocking.join("; ")),
                failures: Vec::new(),
            }
        }
    } else if let Some(wait) = edit_awaiting_approval(inputs) {
        wait
    } else if let Some(wait) = start_awaiting_approval(inputs) {
        wait
    } else {
        decide(inputs, &mut steps, ids)
    };
    if let Action::Stop { reason, .. } = &next {
        if let Some(step) = steps.iter_mut().find(|s| s.status != StepStatus::Done) {
            step.status = StepStatus::Blocked {
                reason: reason.clone(),
            };
        }
    }
    timeline::project(&mut steps, now);
    Schedule {
        now,
        from: plan.from.display_name.clone(),
        to: plan.to.display_name.clone(),
        findings,
        steps,
        next,
    }
}

/// A running rollout's plan edited (in steps that have not run) since it was last approved:
/// nothing more happens until the edit is approved as a whole, by its digest.
fn edit_awaiting_approval(inputs: &Inputs<'_>) -> Option<Action> {
    let edits = edits(inputs);
    if !edits.unrecorded
        || edits.before_first_write
        || !edits.refused.is_empty()
        || super::approvals::plan_approval(inputs.plan, inputs.state).is_some()
    {
        return None;
    }
    let digest = super::approvals::plan_digest(inputs.plan);
    wait(
        WaitReason::Approval,
        super::approvals::PLAN_STEP,
        None,
        format!(
            "{digest}: edited since it was approved ({})",
            edits.since_approved.join("; ")
        ),
    )
}

/// The plan's edits since the rollout started (see `edits.rs`).
pub(super) fn edits(inputs: &Inputs<'_>) -> super::edits::PlanEdits {
    match inputs.memo {
        Some(memo) => memo.edits(inputs.plan, inputs.state),
        None => super::edits(inputs.plan, inputs.state),
    }
}

/// `[change_control] require_approved_digest`: nothing is written until the plan and the
/// platform as they are now were approved by their digest (`apply --approved`, or `cutover
/// approve PLAN --digest`).
fn start_awaiting_approval(inputs: &Inputs<'_>) -> Option<Action> {
    let state = inputs.state;
    // Before the digest: it is a digest of the whole platform, worth working out only when it
    // decides something.
    if !inputs.plan.change_control.require_approved_digest || state.first_write_at.is_some() {
        return None;
    }
    let approved = match inputs.run_started {
        // A run has settled what its start is approved by.
        Some(_) => state.approved_digest.is_some(),
        // A dry-run shows what the next `apply` would find: an approval of this digest.
        None => {
            state.approved_digest.is_some()
                || super::approvals::digest_approval(state, &dry_run_digest(inputs)).is_some()
        }
    };
    if approved {
        return None;
    }
    wait(
        WaitReason::Approval,
        super::approvals::PLAN_STEP,
        None,
        format!(
            "{}: [change_control] require_approved_digest: nothing changes until this dry-run is approved by its digest",
            dry_run_digest(inputs)
        ),
    )
}

fn dry_run_digest(inputs: &Inputs<'_>) -> String {
    super::Snapshot::of(inputs.plan, inputs.observed).digest()
}

/// The platform's ids of `from` and `to`, where they exist.
#[derive(Clone, Copy)]
pub(super) struct Ids<'a> {
    pub(super) from: Option<&'a str>,
    pub(super) to: Option<&'a str>,
}

fn mark_done(steps: &mut [PlannedStep], before: usize) {
    for step in steps.iter_mut().take(before) {
        step.status = StepStatus::Done;
    }
}

/// Walks the steps in order; the first that is not done decides the next action.
fn decide(inputs: &Inputs<'_>, steps: &mut [PlannedStep], ids: Ids<'_>) -> Action {
    // Every rolled-back step is moved back first, wherever it is in the plan: a rollback of a
    // batch's waves must not stop at the first wave's approval.
    if let (Some(from), Some(to)) = (ids.from, ids.to) {
        let rolled_back = inputs
            .state
            .steps
            .values()
            .filter(|r| r.phase == StepPhase::RolledBack);
        if let Some(action) = rolled_back
            .filter_map(|r| phase::undo(r, inputs.observed, from, to))
            .next()
        {
            let id = action_step(&action).unwrap_or_default().to_owned();
            // Moving users back is a move: under a hold it waits for the release.
            let action = hold(inputs, &id).unwrap_or(action);
            if let Some(step) = steps.iter_mut().find(|s| s.id == id) {
                step.status = status_of(&action);
            }
            return action;
        }
    }
    let next = walk(inputs, steps, ids);
    // Open exceptions of passed steps heal as their users' OAuth syncs come clean, whatever
    // else waits.
    exceptions::next(inputs, ids).unwrap_or(next)
}

/// The first step that is not done decides; the steps before it are marked done.
fn walk(inputs: &Inputs<'_>, steps: &mut [PlannedStep], ids: Ids<'_>) -> Action {
    for step in steps.iter_mut() {
        let action = match &step.detail {
            StepDetail::Connect { .. } => connect::connect(inputs),
            StepDetail::Move(_) => phase::move_step(inputs, step, ids),
            StepDetail::Disconnect { .. } => disconnect::disconnect(inputs, step, ids),
        };
        let Some(action) = action else {
            step.status = StepStatus::Done;
            continue;
        };
        step.status = status_of(&action);
        return action;
    }
    Action::Finish
}

/// What a step's next action says about it.
fn status_of(action: &Action) -> StepStatus {
    match action {
        Action::Wait {
            reason,
            until,
            detail,
            ..
        } => StepStatus::Waiting {
            reason: *reason,
            until: *until,
            detail: detail.clone(),
        },
        Action::Stop { reason, .. } => StepStatus::Blocked {
            reason: reason.clone(),
        },
        Action::Finish => StepStatus::Done,
        _ => StepStatus::Due,
    }
}

fn action_step(action: &Action) -> Option<&str> {
    match action {
        Action::Enable { step, .. } | Action::Disable { step, .. } => Some(step),
        _ => None,
    }
}

pub(super) fn wait(
    reason: WaitReason,
    step: &str,
    until: Option<Timestamp>,
    detail: impl Into<String>,
) -> Option<Action> {
    Some(Action::Wait {
        reason,
        step: step.to_owned(),
        until,
        detail: detail.into(),
    })
}

pub(super) fn hold(inputs: &Inputs<'_>, step: &str) -> Option<Action> {
    inputs.state.hold.as_ref().and_then(|h| {
        wait(
            WaitReason::Hold,
            step,
            None,
            format!("change freeze by {}: {}", h.by, h.reason),
        )
    })
}

// The scenarios are long; they live beside this file.
#[cfg(test)]
#[path = "planner_tests.rs"]
pub(super) mod tests;
