//! A passed step's exceptions heal: each run asks the platform once to re-check their users, and
//! as a user's OAuth sync comes clean, `from` is disabled for them and the exception closes.
//!
//! Under a hold nothing is re-checked or moved. An exception that does not heal is the
//! disconnect's to judge (`disconnect.rs`): fixed, or accepted, before `from` goes.

use super::Inputs;
use super::action::{Action, Side};
use super::planner::{Ids, MAX_WRITE_USERS};
use crate::plan::grammar::Email;
use crate::state::Exception;
use crate::target::{Observed, SyncOutcome};

/// What healing the open exceptions needs next, if anything.
pub(super) fn next(inputs: &Inputs<'_>, ids: Ids<'_>) -> Option<Action> {
    let (Some(from), Some(to)) = (ids.from, ids.to) else {
        return None;
    };
    let state = inputs.state;
    if state.hold.is_some() || state.disconnected_at.is_some() {
        return None;
    }
    let observed = inputs.observed;
    let on = |email: &Email, configuration: &str| {
        observed
            .user(email)
            .is_some_and(|u| u.is_enabled_on(configuration))
    };
    let open: Vec<&Exception> = state
        .open_exceptions()
        .filter(|e| on(&e.user.email, to))
        .collect();
    // The first step with healed users goes first: `from` off for them, then the exception
    // closes once the platform shows them on `to` alone.
    if let Some(first) = open.iter().find(|e| healed(e, observed, to)) {
        let step = &first.step;
        let healed_here: Vec<Email> = open
            .iter()
            .filter(|e| e.step == *step && healed(e, observed, to))
            .map(|e| e.user.email.clone())
            .take(MAX_WRITE_USERS)
            .collect();
        let (still_on_from, off): (Vec<Email>, Vec<Email>) =
            healed_here.into_iter().partition(|e| on(e, from));
        return Some(if still_on_from.is_empty() {
            Action::CloseExceptions {
                step: step.clone(),
                users: off,
            }
        } else {
            Action::Disable {
                step: step.clone(),
                side: Side::From,
                users: still_on_from,
            }
        });
    }
    // Once per run (not in a dry-run): the platform re-checks them now rather than at their
    // next scheduled sync.
    let started = inputs.run_started?;
    let recheck: Vec<Email> = open
        .iter()
        .filter(|e| e.rechecked_at.is_none_or(|at| at < started))
        .map(|e| e.user.email.clone())
        .take(MAX_WRITE_USERS)
        .collect();
    (!recheck.is_empty()).then_some(Action::RecheckExceptions { users: recheck })
}

/// Whether the exception's user has had a clean OAuth sync since it opened.
pub(super) fn healed(exception: &Exception, observed: &Observed, to: &str) -> bool {
    observed
        .user(&exception.user.email)
        .and_then(|u| u.sync.get(to))
        .is_some_and(|s| s.outcome == SyncOutcome::Ok && s.at > exception.opened_at)
}

/// Whether the platform has yet to answer this run's re-check of the exception's user: no OAuth
/// attempt since it was asked.
pub(super) fn awaiting_recheck(exception: &Exception, observed: &Observed, to: &str) -> bool {
    let Some(asked) = exception.rechecked_at else {
        return false;
    };
    observed
        .user(&exception.user.email)
        .and_then(|u| u.sync.get(to))
        .is_none_or(|s| s.at < asked)
}
