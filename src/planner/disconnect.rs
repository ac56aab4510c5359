//! The final, irreversible disconnect of `from`: its approval, quiet time and preconditions
//! (nobody left on `from`, every `to` user syncing cleanly), and the remedy for each kind of
//! straggler.

use std::collections::BTreeSet;

use super::Inputs;
use super::action::Action;
use super::gate;
use super::planner::{Ids, hold, wait};
use super::schedule::{PlannedStep, StepDetail, WaitReason};
use crate::plan::grammar::Email;
use crate::plan::{Plan, Selector};
use crate::state::{FailingUser, RunState};
use crate::target::SyncOutcome;

/// Users listed because they are still enabled on `from`.
pub(super) fn still_on_from(users: Vec<Email>) -> Vec<FailingUser> {
    users
        .into_iter()
        .map(|email| FailingUser {
            email,
            outcome: "still_on_from".to_owned(),
            error: None,
            at: None,
        })
        .collect()
}

/// The final disconnect; `None` once done. Lists in `planned` the pre-existing failures it
/// excepts.
pub(super) fn disconnect(
    inputs: &Inputs<'_>,
    planned: &mut PlannedStep,
    ids: Ids<'_>,
) -> Option<Action> {
    let Inputs {
        plan,
        observed,
        state,
        now,
        ..
    } = *inputs;
    if state.disconnected_at.is_some() {
        return None;
    }
    // Every `to` user's latest attempt must be clean, except users whose `from` sync was already
    // failing when their step started: as in a gate, they are listed and hold nothing up,
    // whether their attempt failed, is transient or has not come yet.
    let preexisting: BTreeSet<Email> = state.preexisting();
    let mut excepted = Vec::new();
    let mut unclean = Vec::new();
    let mut pending = 0;
    for user in observed
        .users
        .iter()
        .filter(|u| ids.to.is_some_and(|to| u.is_enabled_on(to)))
    {
        let latest = ids.to.and_then(|to| user.sync.get(to));
        let failure = || crate::state::FailingUser {
            email: user.email.clone(),
            outcome: latest.map_or("pending", |s| s.outcome.as_str()).to_owned(),
            error: latest.and_then(|s| s.error.clone()),
            at: latest.map(|s| s.at),
        };
        match latest {
            Some(s) if s.outcome == SyncOutcome::Ok => {}
            _ if preexisting.contains(&user.email) => excepted.push(failure()),
            Some(s) if s.is_transient() => pending += 1,
            None => pending += 1,
            Some(_) => unclean.push(failure()),
        }
    }
    if let StepDetail::Disconnect {
        preexisting: listed,
        ..
    } = &mut planned.detail
    {
        *listed = excepted;
    }
    if plan.disconnect.approval && !state.approved("disconnect", "disconnect", None) {
        return wait(
            WaitReason::Approval,
            "disconnect",
            None,
            "needs `cutover approve`",
        );
    }
    if let Some(h) = hold(inputs, "disconnect") {
        return Some(h);
    }
    if let Some(quiet_until) = state
        .last_pass()
        .map(|t| gate::add(t, plan.disconnect.after))
        .filter(|t| *t > now)
    {
        return wait(WaitReason::After, "disconnect", Some(quiet_until), "");
    }
    let (Some(from), Some(_)) = (ids.from, ids.to) else {
        return Some(Action::Finish);
    };
    let stragglers: Vec<Email> = observed
        .users
        .iter()
        .filter(|u| u.is_enabled_on(from))
        .map(|u| u.email.clone())
        .collect();
    if !stragglers.is_empty() {
        return Some(Action::Stop {
            step: "disconnect".to_owned(),
            reason: stragglers_reason(plan, state, &stragglers),
            failures: still_on_from(stragglers),
        });
    }
    if !unclean.is_empty() {
        return Some(Action::Stop {
            step: "disconnect".to_owned(),
            reason: format!("{} OAuth user(s) are not syncing cleanly", unclean.len()),
            failures: unclean,
        });
    }
    if pending > 0 {
        return wait(
            WaitReason::Verification,
            "disconnect",
            None,
            format!("{pending} OAuth user(s) have no clean sync yet"),
        );
    }
    Some(Action::Disconnect)
}

/// Why users still on `from` block the disconnect, with the remedy for each kind of straggler:
/// a user in no step needs a step; a member of a step that already ran was put back on `from`
/// since, and cutover does not move a user twice.
pub(super) fn stragglers_reason(plan: &Plan, state: &RunState, stragglers: &[Email]) -> String {
    let from = &plan.from.display_name;
    let to = &plan.to.display_name;
    let mut ran: BTreeSet<&str> = BTreeSet::new();
    let mut in_steps = 0;
    for email in stragglers {
        if let Some(record) = state.steps.values().find(|r| r.members.contains(email)) {
            ran.insert(record.id.as_str());
            in_steps += 1;
        }
    }
    let unclaimed = stragglers.len() - in_steps;
    let mut remedies = Vec::new();
    if unclaimed > 0 {
        let remaining = plan
            .batches
            .iter()
            .find(|b| matches!(b.users, Selector::Remaining));
        remedies.push(match remaining {
            Some(batch) => format!(
                "{unclaimed} in no step (they came after `{}` took the remaining users): add them to a new batch before it",
                batch.name
            ),
            None => format!(
                "{unclaimed} in no step: add them to a batch (or end the plan with `users = \"remaining\"`)"
            ),
        });
    }
    if in_steps > 0 {
        let steps: Vec<String> = ran.iter().map(|s| format!("`{s}`")).collect();
        remedies.push(format!(
            "{in_steps} in {}, which already ran, enabled on {from:?} again since: move them by hand (enable {to:?}, then disable {from:?})",
            steps.join(", ")
        ));
    }
    format!(
        "{} user(s) are still enabled on {from:?}: {}; then apply again",
        stragglers.len(),
        remedies.join("; ")
    )
}
