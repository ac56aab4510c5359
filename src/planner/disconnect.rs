//! The final, irreversible disconnect of `from`: its approval, quiet time and preconditions
//! (nobody left on `from`, every `to` user syncing cleanly), and the remedy for each kind of
//! straggler.

use std::collections::BTreeSet;

use super::Inputs;
use super::action::{Action, Side};
use super::planner::{Ids, MAX_WRITE_USERS, hold, wait};
use super::schedule::{PlannedStep, StepDetail, WaitReason};
use super::{approvals, exceptions, gate};
use crate::plan::grammar::Email;
use crate::plan::{Plan, Selector, TargetSpec};
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

/// The final disconnect; `None` once done. Lists in `planned` who it excepts: pre-existing
/// failures, the users the board accepted, and the open exceptions.
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
    let accepted: BTreeSet<&Email> = state.acceptances.iter().map(|a| &a.email).collect();
    // An exception this run asked the platform to re-check has no verdict until the platform
    // has answered: neither a straggler nor unclean, but pending.
    let awaiting: BTreeSet<&Email> = match ids.to {
        Some(to) => state
            .open_exceptions()
            .filter(|e| exceptions::awaiting_recheck(e, observed, to))
            .map(|e| &e.user.email)
            .collect(),
        None => BTreeSet::new(),
    };
    // Every `to` user's latest attempt must be clean, except users whose `from` sync was already
    // failing when their step started (as in a gate, they are listed and hold nothing up,
    // whether their attempt failed, is transient or has not come yet) and the users the board
    // accepted moving without a clean sync.
    let preexisting: BTreeSet<Email> = state.preexisting();
    let mut excepted = Vec::new();
    let mut unclean = Vec::new();
    let mut pending = 0;
    for user in observed
        .users()
        .iter()
        .filter(|u| ids.to.is_some_and(|to| u.is_enabled_on(to)))
    {
        let latest = ids.to.and_then(|to| user.sync.get(to));
        let failure = || FailingUser {
            email: user.email.clone(),
            outcome: latest.map_or("pending", |s| s.outcome.as_str()).to_owned(),
            error: latest.and_then(|s| s.error.clone()),
            at: latest.map(|s| s.at),
        };
        match latest {
            Some(s) if s.outcome == SyncOutcome::Ok => {}
            _ if preexisting.contains(&user.email) => excepted.push(failure()),
            _ if accepted.contains(&user.email) => {}
            _ if awaiting.contains(&user.email) => pending += 1,
            Some(s) if s.is_transient() => pending += 1,
            None => pending += 1,
            Some(_) => unclean.push(failure()),
        }
    }
    if let StepDetail::Disconnect {
        preexisting: listed,
        accepted: listed_accepted,
        exceptions: listed_exceptions,
        ..
    } = &mut planned.detail
    {
        *listed = excepted;
        *listed_accepted = state.acceptances.clone();
        *listed_exceptions = state.open_exceptions().cloned().collect();
    }
    // The disconnect's approval covers the accepted users it moves: one given before the last
    // `accept` (or revocation) no longer counts.
    if plan.disconnect.approval {
        let since = state.acceptances_changed;
        let standing = approvals::standing(plan, state, "disconnect", "disconnect", since);
        if standing != approvals::Standing::Approved {
            let earlier = state
                .approvals_of("disconnect", "disconnect", None)
                .next()
                .is_some();
            let detail = if earlier {
                "the accepted users or the disconnect changed since it was approved; needs `cutover approve` again".to_owned()
            } else {
                approvals::wait_detail(&standing)
            };
            return wait(WaitReason::Approval, "disconnect", None, detail);
        }
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
    let (Some(from), Some(to)) = (ids.from, ids.to) else {
        return Some(Action::Finish);
    };
    let stragglers: Vec<Email> = observed
        .users()
        .iter()
        .filter(|u| u.is_enabled_on(from))
        .filter(|u| !accepted.contains(&u.email) && !awaiting.contains(&u.email))
        .map(|u| u.email.clone())
        .collect();
    if !stragglers.is_empty() {
        return Some(Action::Stop {
            step: "disconnect".to_owned(),
            reason: stragglers_reason(plan, state, &stragglers),
            failures: stragglers_failing(state, stragglers),
        });
    }
    if !unclean.is_empty() {
        return Some(Action::Stop {
            step: "disconnect".to_owned(),
            reason: format!(
                "{} OAuth user(s) are not syncing cleanly: fix them, or `cutover accept` them",
                unclean.len()
            ),
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
    // Its last moves: the accepted users go to `to` alone — `to` first, so nobody is ever on
    // neither.
    let on = |email: &Email, configuration: &str| {
        observed
            .user(email)
            .is_some_and(|u| u.is_enabled_on(configuration))
    };
    let moves = |keep: &dyn Fn(&Email) -> bool| -> Vec<Email> {
        state
            .acceptances
            .iter()
            .map(|a| a.email.clone())
            .filter(|e| observed.user(e).is_some() && keep(e))
            .take(MAX_WRITE_USERS)
            .collect()
    };
    let enable = moves(&|e| !on(e, to));
    if !enable.is_empty() {
        return Some(Action::Enable {
            step: "disconnect".to_owned(),
            side: Side::To,
            users: enable,
        });
    }
    let disable = moves(&|e| on(e, from));
    if !disable.is_empty() {
        return Some(Action::Disable {
            step: "disconnect".to_owned(),
            side: Side::From,
            users: disable,
        });
    }
    // With nobody at the keyboard, a recorded approval is the confirmation of the irreversible
    // step; a real target's disconnect without one waits for `--yes`.
    let real = !matches!(plan.target, TargetSpec::Sandbox { .. });
    if real && !plan.disconnect.approval && !inputs.confirmed {
        return wait(
            WaitReason::Confirmation,
            "disconnect",
            None,
            "the plan says `approval = false` and nobody is at a terminal to confirm it: run `cutover apply` with `--yes` to confirm the irreversible disconnect",
        );
    }
    Some(Action::Disconnect)
}

/// Stragglers as failing users: an open exception with the platform's error that made it, the
/// others as still on `from`.
fn stragglers_failing(state: &RunState, stragglers: Vec<Email>) -> Vec<FailingUser> {
    stragglers
        .into_iter()
        .map(
            |email| match state.open_exceptions().find(|e| e.user.email == email) {
                Some(exception) => exception.user.clone(),
                None => FailingUser {
                    email,
                    outcome: "still_on_from".to_owned(),
                    error: None,
                    at: None,
                },
            },
        )
        .collect()
}

/// Why users still on `from` block the disconnect, with the remedy for each kind of straggler:
/// a user in no step needs a step; a member of a step that already ran was put back on `from`
/// since, and cutover does not move a user twice.
pub(super) fn stragglers_reason(plan: &Plan, state: &RunState, stragglers: &[Email]) -> String {
    let from = &plan.from.display_name;
    let to = &plan.to.display_name;
    let mut ran: BTreeSet<&str> = BTreeSet::new();
    let mut in_steps = 0;
    let mut exceptions = 0;
    let mut skipped = 0;
    for email in stragglers {
        if state.open_exceptions().any(|e| e.user.email == *email) {
            exceptions += 1;
        } else if state.skipped_users().any(|(_, u)| u.email == *email) {
            skipped += 1;
        } else if let Some(record) = state.steps.values().find(|r| r.members.contains(email)) {
            ran.insert(record.id.as_str());
            in_steps += 1;
        }
    }
    let unclaimed = stragglers.len() - in_steps - exceptions - skipped;
    let mut remedies = Vec::new();
    if exceptions > 0 {
        remedies.push(format!(
            "{exceptions} whose OAuth sync still fails (their step's exceptions; they sync over {from:?} meanwhile): fix their mailbox (for access denied: bring it into the OAuth app's access policy) and the next run re-checks them and finishes their move, or `cutover accept` them to move them regardless"
        ));
    }
    if let Some(remedy) = super::precheck_verdicts::skipped_remedy(state, stragglers) {
        remedies.push(remedy);
    }
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
