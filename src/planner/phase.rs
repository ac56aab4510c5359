//! A started step's phases: moving its members, verifying them at the gate, a halt and its
//! re-run, a rollback and its restart. Each phase decides the one action due next.
//!
//! Writes always enable `to` before disabling `from` (and `from` before `to` when moving back),
//! so no user is ever left with neither configuration.

use super::action::{Action, Side};
use super::disconnect::still_on_from;
use super::gate::{self, GateInput, GateReading, Verdict};
use super::planner::{Ids, MAX_WRITE_USERS, hold, wait};
use super::readiness::{mailbox_check, not_yet, start};
use super::schedule::{MemberState, MoveDetail, PlannedStep, StepDetail, WaitReason};
use super::{Inputs, approvals};
use crate::plan::grammar::Email;
use crate::state::{FailingUser, StepPhase, StepRecord};
use crate::target::Observed;

/// The next action of a pilot, batch or wave; `None` once its gate passed.
pub(super) fn move_step(
    inputs: &Inputs<'_>,
    planned: &mut PlannedStep,
    ids: Ids<'_>,
) -> Option<Action> {
    let StepDetail::Move(detail) = &planned.detail else {
        return None;
    };
    let id = planned.id.clone();
    let (Some(from), Some(to)) = (ids.from, ids.to) else {
        return Some(Action::Stop {
            step: id,
            reason: "the configurations are not both available".to_owned(),
            failures: Vec::new(),
        });
    };
    let Some(record) = inputs.state.steps.get(&id) else {
        return start(inputs, &id, detail);
    };
    let step = Step {
        inputs,
        record,
        detail,
        from,
        to,
    };
    match record.phase {
        StepPhase::Passed => None,
        StepPhase::Moving => Some(step.moving()),
        StepPhase::Verifying => {
            let (action, reading) = step.verifying();
            planned.reading = Some(reading);
            Some(action)
        }
        StepPhase::Halted => Some(step.halted()),
        StepPhase::RolledBack => step.rolled_back(),
    }
}

/// A started step, with what its phases decide from.
struct Step<'a> {
    inputs: &'a Inputs<'a>,
    record: &'a StepRecord,
    detail: &'a MoveDetail,
    /// The platform's ids of `from` and `to`.
    from: &'a str,
    to: &'a str,
}

impl Step<'_> {
    fn id(&self) -> String {
        self.record.id.clone()
    }

    fn on(&self, email: &Email, configuration: &str) -> bool {
        self.inputs
            .observed
            .user(email)
            .is_some_and(|u| u.is_enabled_on(configuration))
    }

    fn on_both(&self, email: &Email) -> bool {
        self.on(email, self.from) && self.on(email, self.to)
    }

    /// Members in `state`, at most one write's worth. The schedule classified every member
    /// (its `members` are this record's) from the same reading: looking each up again cost a
    /// hash per member per decision.
    fn members_in(&self, state: MemberState) -> impl Iterator<Item = Email> + '_ {
        self.detail
            .members
            .iter()
            .filter(move |m| m.state == state)
            .map(|m| m.email.clone())
    }

    /// Whether this run began before the phase did: then the phase's stop was this run's, and
    /// it is reported as it stands rather than acted on again.
    fn entered_this_run(&self) -> bool {
        self.inputs
            .run_started
            .is_some_and(|started| started <= self.record.phase_at)
    }

    /// Enable `to` for everyone still only on `from`; then disable `from` for those on both.
    fn moving(&self) -> Action {
        if let Some(h) = hold(self.inputs, &self.record.id) {
            return h;
        }
        let enable: Vec<Email> = self
            .members_in(MemberState::Move)
            .take(MAX_WRITE_USERS)
            .collect();
        if !enable.is_empty() {
            return Action::Enable {
                step: self.id(),
                side: Side::To,
                users: enable,
            };
        }
        let disable: Vec<Email> = self
            .members_in(MemberState::FinishMove)
            .take(MAX_WRITE_USERS)
            .collect();
        if !disable.is_empty() {
            return Action::Disable {
                step: self.id(),
                side: Side::From,
                users: disable,
            };
        }
        Action::Switched { step: self.id() }
    }

    /// Judges the gate on the members' OAuth syncs since the switch (or the re-run).
    fn verifying(&self) -> (Action, GateReading) {
        let inputs = self.inputs;
        let reading = gate::evaluate(&GateInput {
            members: &self.record.members,
            observed: inputs.observed,
            to_id: self.to,
            opened: self.record.judged_after.unwrap_or(self.record.phase_at),
            preexisting: &self.record.preexisting,
            gate: &self.detail.gate,
            allowed: self.detail.allowed_errors,
            now: inputs.now,
        });
        let action = match reading.verdict {
            Verdict::Fail => Action::Fail {
                step: self.id(),
                on_failure: self.detail.gate.on_failure,
                failures: reading.failures(),
            },
            _ => self.not_failed(&reading),
        };
        (action, reading)
    }

    fn not_failed(&self, reading: &GateReading) -> Action {
        let inputs = self.inputs;
        // A failing member syncs over `from` again as soon as it is seen, beside `to`, so their
        // calendar keeps syncing while the gate is open — under a hold too. Pre-existing
        // failures never go back: `from` was failing for them already.
        let restore: Vec<Email> = reading
            .failing
            .iter()
            .map(|f| f.email.clone())
            .filter(|e| !self.record.preexisting.contains(e))
            .filter(|e| self.on(e, self.to) && !self.on(e, self.from))
            .take(MAX_WRITE_USERS)
            .collect();
        if !restore.is_empty() {
            return Action::Enable {
                step: self.id(),
                side: Side::From,
                users: restore,
            };
        }
        // A user given `from` back (by a halt, or as a failing member), now syncing cleanly over
        // OAuth, finishes the move.
        let finish: Vec<Email> = reading
            .clean
            .iter()
            .filter(|e| self.on_both(e))
            .take(MAX_WRITE_USERS)
            .cloned()
            .collect();
        if !finish.is_empty() {
            return hold(inputs, &self.record.id).unwrap_or_else(|| Action::Disable {
                step: self.id(),
                side: Side::From,
                users: finish,
            });
        }
        // A step passes only once nobody in it is on both configurations but its exceptions
        // (failing members within the allowance): those are re-checked by every later run; a
        // user on both for any other reason could never be finished. A hold defers the
        // finishing writes, and with them the pass.
        let exceptions: Vec<FailingUser> = reading
            .failing
            .iter()
            .filter(|f| !self.record.preexisting.contains(&f.email))
            .cloned()
            .collect();
        let on_both: Vec<Email> = self
            .members_in(MemberState::FinishMove)
            .filter(|e| !exceptions.iter().any(|f| f.email == *e))
            .collect();
        if reading.verdict == Verdict::Pass && on_both.is_empty() {
            return Action::Pass {
                step: self.id(),
                exceptions,
            };
        }
        if reading.verdict == Verdict::Pass {
            // Everyone the gate counts is clean, so these are users it does not count (already
            // failing over `from` when the step started), enabled on `from` again by hand.
            // cutover will not move a user it cannot verify.
            let (from_name, to_name) =
                (&inputs.plan.from.display_name, &inputs.plan.to.display_name);
            return Action::Stop {
                step: self.id(),
                reason: format!(
                    "{} user(s) whose {from_name:?} sync was failing before the step are enabled on both {from_name:?} and {to_name:?}, and the gate cannot verify them; disable {from_name:?} for them on the platform, then apply again",
                    on_both.len(),
                ),
                failures: still_on_from(on_both),
            };
        }
        let counted = reading.clean.len() + reading.pending.len() + reading.failing.len();
        let detail = format!("{} of {counted} users verified", reading.clean.len());
        if inputs.now < reading.soak_until {
            Action::Wait {
                reason: WaitReason::Soak,
                step: self.id(),
                until: Some(reading.soak_until),
                detail,
            }
        } else {
            Action::Wait {
                reason: WaitReason::Verification,
                step: self.id(),
                until: None,
                detail: format!(
                    "{detail}; the gate times out at {}",
                    inputs.plan.time(reading.timeout_at)
                ),
            }
        }
    }

    /// Failing users keep syncing over `from` while the OAuth problem is fixed; a later run
    /// re-opens the gate.
    fn halted(&self) -> Action {
        let restore: Vec<Email> = self
            .record
            .failures
            .iter()
            .map(|f| f.email.clone())
            .filter(|e| self.on(e, self.to) && !self.on(e, self.from))
            .take(MAX_WRITE_USERS)
            .collect();
        if !restore.is_empty() {
            return Action::Enable {
                step: self.id(),
                side: Side::From,
                users: restore,
            };
        }
        if self.entered_this_run() {
            return Action::Stop {
                step: self.id(),
                reason: "the gate failed".to_owned(),
                failures: self.record.failures.clone(),
            };
        }
        // Re-opening the gate re-checks users on the platform: a hold defers it.
        if let Some(h) = hold(self.inputs, &self.record.id) {
            return h;
        }
        let recheck = self
            .record
            .failures
            .iter()
            .map(|f| f.email.clone())
            .collect();
        Action::Reopen {
            step: self.id(),
            recheck,
        }
    }

    /// Every member back on `from` alone; the step starts again only once approved.
    fn rolled_back(&self) -> Option<Action> {
        let inputs = self.inputs;
        if let Some(action) = undo(self.record, inputs.observed, self.from, self.to) {
            // Moving users back is a move: it waits for the hold's release.
            return hold(inputs, &self.record.id).or(Some(action));
        }
        let id = self.id();
        if approvals::approved(
            inputs.plan,
            inputs.state,
            &id,
            &self.record.batch,
            Some(self.record.phase_at),
        ) {
            // Starting again is a start: its hold, `not_before` and window apply.
            return not_yet(inputs, &id, self.detail)
                .or_else(|| mailbox_check(inputs, &id, &self.record.members, true))
                .or(Some(Action::Restart { step: id }));
        }
        if self.entered_this_run() {
            return Some(Action::Stop {
                step: id,
                reason: "the step was rolled back".to_owned(),
                failures: self.record.failures.clone(),
            });
        }
        wait(
            WaitReason::Approval,
            &id,
            None,
            format!(
                "rolled back at {}; it starts again only once approved",
                self.record.phase_at
            ),
        )
    }
}

/// The write that moves a rolled-back step's members back to `from` alone: `from` first, then
/// `to` off, so nobody is ever on neither. `None` once they all are.
pub(super) fn undo(
    record: &StepRecord,
    observed: &Observed,
    from: &str,
    to: &str,
) -> Option<Action> {
    let on = |email: &Email, configuration: &str| {
        observed
            .user(email)
            .is_some_and(|u| u.is_enabled_on(configuration))
    };
    let users = |keep: &dyn Fn(&Email) -> bool| -> Vec<Email> {
        record
            .members
            .iter()
            .filter(|e| keep(e))
            .take(MAX_WRITE_USERS)
            .cloned()
            .collect()
    };
    let restore = users(&|e| on(e, to) && !on(e, from));
    if !restore.is_empty() {
        return Some(Action::Enable {
            step: record.id.clone(),
            side: Side::From,
            users: restore,
        });
    }
    let remove = users(&|e| on(e, to) && on(e, from));
    if !remove.is_empty() {
        return Some(Action::Disable {
            step: record.id.clone(),
            side: Side::To,
            users: remove,
        });
    }
    None
}
