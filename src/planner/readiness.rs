//! Whether a step may start: its approval, the hold, `not_before`, the window, and the mailbox
//! pre-check of its members.

use super::action::Action;
use super::membership;
use super::planner::{hold, wait};
use super::precheck_verdicts;
use super::schedule::{MoveDetail, WaitReason};
use super::{Inputs, approvals};
use crate::plan::Plan;
use crate::plan::grammar::Email;
use crate::state::RunState;
use crate::target::Observed;

/// A step not started yet: its approval, the hold, `not_before` and the window decide when.
pub(super) fn start(inputs: &Inputs<'_>, id: &str, detail: &MoveDetail) -> Option<Action> {
    if detail.approval {
        let standing = approvals::standing(inputs.plan, inputs.state, id, &detail.step, None);
        if standing != approvals::Standing::Approved {
            return wait(
                WaitReason::Approval,
                id,
                None,
                approvals::wait_detail(&standing),
            );
        }
    }
    not_yet(inputs, id, detail)
        .or_else(|| {
            let members: Vec<Email> = detail.members.iter().map(|m| m.email.clone()).collect();
            mailbox_check(inputs, id, &members, false)
        })
        .or_else(|| {
            Some(Action::Start {
                step: id.to_owned(),
            })
        })
}

/// Why an approved step may not start (or start again) now: the hold, `not_before`, the window.
pub(super) fn not_yet(inputs: &Inputs<'_>, id: &str, detail: &MoveDetail) -> Option<Action> {
    let now = inputs.now;
    if let Some(h) = hold(inputs, id) {
        return Some(h);
    }
    if let Some(at) = detail
        .not_before
        .map(|t| t.timestamp())
        .filter(|t| *t > now)
    {
        return wait(WaitReason::NotBefore, id, Some(at), "");
    }
    if let Some(window) = &detail.window {
        match window.next_open(now) {
            Some(open) if open > now => {
                return wait(WaitReason::Window, id, Some(open), format!("{window}"));
            }
            None => {
                return wait(
                    WaitReason::Window,
                    id,
                    None,
                    format!("{window} never opens"),
                );
            }
            _ => {}
        }
    }
    None
}

/// The mailbox pre-check before a step starts, or starts again after a rollback: `None` when
/// every member's mailbox is cleared (or may be left out, or is a pre-existing failure), when the
/// plan does not check, or when the reading does not run the check.
pub(super) fn mailbox_check(
    inputs: &Inputs<'_>,
    id: &str,
    members: &[Email],
    restart: bool,
) -> Option<Action> {
    let (Some(precheck), Some(mailboxes)) = (&inputs.plan.precheck, inputs.mailboxes) else {
        return None;
    };
    let unchecked = mailboxes.unchecked(members);
    if !unchecked.is_empty() {
        return Some(Action::CheckMailboxes {
            step: id.to_owned(),
            users: unchecked,
        });
    }
    let preexisting = precheck_verdicts::failing_on_from(inputs.plan, inputs.observed, members);
    let uncleared = precheck_verdicts::uncleared(precheck, mailboxes, members, &preexisting);
    let (reason, users) = precheck_verdicts::stop_reason(&uncleared, members.len(), restart)?;
    Some(Action::Stop {
        step: id.to_owned(),
        reason,
        failures: precheck_verdicts::failing_users(users),
    })
}

/// Every member of the steps that have not started, in step order: who the mailbox pre-check
/// has yet to clear.
pub(crate) fn unstarted_members(plan: &Plan, observed: &Observed, state: &RunState) -> Vec<Email> {
    let from_id = observed
        .configuration(&plan.from.display_name)
        .map(|c| c.id.clone());
    let placement = observed.placement(from_id.as_deref(), None);
    membership::resolve(plan, observed, &placement, &state.batches, None)
        .steps
        .into_iter()
        .filter(|r| !state.batches.contains_key(r.step.name.as_str()))
        .flat_map(|r| r.members.to_vec())
        .collect()
}
