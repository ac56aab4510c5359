//! What the engine knows of the platform between decisions, and reading only what the next
//! decision needs.
//!
//! A full read costs what the tenant costs. Reading it before every decision made a rollout
//! grow with the square of the tenant (every gate poll of every wave read every user), so a
//! reading is kept from one decision to the next and refreshed as the decision needs:
//!
//! - the whole platform when a run begins, when a batch starts (its membership is resolved from
//!   the whole tenant: `remaining`, attribute selectors, users someone moved by hand since the
//!   last read), before the disconnect (no one on the whole platform may still be on `from`),
//!   and before a halt or a wait that ends the run on a step not yet begun;
//! - during a gate, its step's members and the open exceptions (a bulk read by email), with the
//!   configurations: a poll costs what the step costs;
//! - before a later wave of a batch starts, its members (whose `from` sync may have started
//!   failing since the batch began);
//! - after a bulk write, nothing: the platform's per-user answers say what changed.
//!
//! This module decides what to read and patches the reading; the decisions are the planner's.

use std::collections::BTreeSet;

use super::Settings;
use crate::plan::grammar::Email;
use crate::planner::{Action, Schedule, StepDetail, WaitReason};
use crate::state::RunState;
use crate::target::{Observed, PlatformUser, Target, TargetError, observe};

/// The engine's reading of the platform, and how much of it was read since the last wait.
pub(super) struct Reading {
    pub(super) observed: Observed,
    fresh: Fresh,
}

/// What of a reading was read since the engine last waited (its own confirmed writes patched
/// in): what a decision may be trusted on.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fresh {
    Tenant,
    /// The configurations, this step's members and the open exceptions.
    Step(String),
    /// The configurations and the open exceptions.
    Exceptions,
}

/// What to read before the next decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Refresh {
    /// Nothing: the reading (patched with the engine's own writes) is current.
    Nothing,
    /// Every configuration and every user.
    Tenant,
    /// The configurations only (one was created or authorized).
    Configurations,
    /// The configurations, a step's members and the open exceptions' users.
    Step(String, Vec<Email>),
    /// The configurations and the open exceptions' users: a wait on time, not on syncs.
    Exceptions(Vec<Email>),
}

impl Reading {
    /// Reads the whole platform.
    pub(super) async fn full<T: Target>(target: &T) -> Result<Self, TargetError> {
        Ok(Self {
            observed: observe(target).await?,
            fresh: Fresh::Tenant,
        })
    }

    /// Brings the reading up to date as `refresh` says.
    pub(super) async fn refresh<T: Target>(
        &mut self,
        target: &T,
        refresh: Refresh,
    ) -> Result<(), TargetError> {
        let (fresh, users) = match refresh {
            Refresh::Nothing => return Ok(()),
            Refresh::Tenant => {
                *self = Self::full(target).await?;
                return Ok(());
            }
            Refresh::Configurations => (self.fresh.clone(), Vec::new()),
            Refresh::Step(step, users) => (Fresh::Step(step), users),
            Refresh::Exceptions(users) => (Fresh::Exceptions, users),
        };
        let list = target.configurations().await?;
        self.observed.configurations = list.configurations;
        self.observed.free_slots = list.free_slots;
        if !users.is_empty() {
            let found = target.users_by_email(&users).await?;
            patch(&mut self.observed, &users, found);
        }
        self.fresh = fresh;
        Ok(())
    }

    /// A gate passed: the next batch starts from a reading made after it.
    pub(super) fn gate_passed(&mut self) {
        if self.fresh == Fresh::Tenant {
            self.fresh = Fresh::Exceptions;
        }
    }

    /// What must be read before `action` may be taken on this reading; `None`: nothing.
    pub(super) fn lacks(
        &self,
        action: &Action,
        schedule: &Schedule,
        state: &RunState,
        settings: &Settings,
    ) -> Option<Refresh> {
        if self.fresh == Fresh::Tenant {
            return None;
        }
        match action {
            Action::Stop { .. } | Action::Disconnect | Action::RecordDisconnected => {
                Some(Refresh::Tenant)
            }
            Action::Start { step } => {
                let detail = schedule.steps.iter().find_map(|s| match &s.detail {
                    StepDetail::Move(d) if s.id == *step => Some(d),
                    _ => None,
                })?;
                if !state.batches.contains_key(&detail.step) {
                    return Some(Refresh::Tenant);
                }
                (self.fresh != Fresh::Step(step.clone())).then(|| {
                    let members = detail.members.iter().map(|m| m.email.clone());
                    Refresh::Step(step.clone(), with_exceptions(members, state))
                })
            }
            // What a person is told to act on is said from the whole platform, unless it is
            // about a gate under way, which its own poll has just read.
            Action::Wait { reason, step, .. }
                if ends_run(*reason, settings) && !state.steps.contains_key(step) =>
            {
                Some(Refresh::Tenant)
            }
            _ => None,
        }
    }
}

/// What to read after waiting on `step` for `reason`.
pub(super) fn after_wait(reason: WaitReason, step: &str, state: &RunState) -> Refresh {
    match state.steps.get(step) {
        Some(record) => Refresh::Step(
            step.to_owned(),
            with_exceptions(record.members.iter().cloned(), state),
        ),
        // The disconnect waits for every `to` user's sync: that is the whole platform.
        None if matches!(reason, WaitReason::Verification | WaitReason::Soak) => Refresh::Tenant,
        None => Refresh::Exceptions(with_exceptions(std::iter::empty(), state)),
    }
}

/// Whether a wait for `reason` ends the run instead of waiting in-process.
pub(super) fn ends_run(reason: WaitReason, settings: &Settings) -> bool {
    // An authorization is a sign-in that can happen while this run waits; the other waits for
    // a person (and a deliberate freeze) end the run.
    let ends = match reason {
        WaitReason::Authorization => false,
        WaitReason::Hold => true,
        other => other.needs_person(),
    };
    settings.until_blocked || ends
}

/// `users` and every user with an open exception: the exceptions heal whatever else waits.
fn with_exceptions(users: impl Iterator<Item = Email>, state: &RunState) -> Vec<Email> {
    let all: BTreeSet<Email> = users
        .chain(state.open_exceptions().map(|e| e.user.email.clone()))
        .collect();
    all.into_iter().collect()
}

/// Replaces what `observed` says of `asked` with what the platform answered (`found`): a user
/// asked for and not found is gone from the platform.
fn patch(observed: &mut Observed, asked: &[Email], found: Vec<PlatformUser>) {
    // By position, not by email: a poll answers for a whole step, and trees of emails cost a
    // string comparison per probe. The answer is in email order, as the reading is, so the
    // positions mostly come sorted already.
    let mut known: Vec<(usize, PlatformUser)> = Vec::with_capacity(found.len());
    let mut added = Vec::new();
    for user in found {
        match observed.position(&user.email) {
            Some(i) => known.push((i, user)),
            None => added.push(user),
        }
    }
    known.sort_by_key(|(i, _)| *i);
    known.dedup_by_key(|(i, _)| *i);
    let mut gone: Vec<usize> = asked
        .iter()
        .filter_map(|e| observed.position(e))
        .filter(|i| known.binary_search_by_key(i, |(k, _)| *k).is_err())
        .collect();
    gone.sort_unstable();
    gone.dedup();
    // Users read again in their places (a gate poll's usual answer) leave where everyone is
    // known; only users gone or new change that.
    let at: Vec<usize> = known.iter().map(|(i, _)| *i).collect();
    let mut reads = known.into_iter().peekable();
    observed.change_users_at(at, |i, user| {
        while reads.next_if(|(k, _)| *k < i).is_some() {}
        if let Some((_, read)) = reads.next_if(|(k, _)| *k == i) {
            *user = read;
        }
    });
    if gone.is_empty() && added.is_empty() {
        return;
    }
    observed.change_users(|users| {
        let mut i = 0;
        users.retain(|_| {
            i += 1;
            gone.binary_search(&(i - 1)).is_err()
        });
        // `change_users` puts them back in email order.
        users.extend(added);
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::SyncResults;

    fn user(name: &str, enabled: &[&str]) -> PlatformUser {
        PlatformUser {
            email: email(name),
            location: "East".into(),
            groups: Vec::new().into(),
            enabled: enabled.iter().map(|c| (*c).into()).collect(),
            sync: SyncResults::new(),
        }
    }

    fn email(name: &str) -> Email {
        Email::parse(&format!("{name}@x.io")).unwrap_or_else(|e| panic!("{name}: {}", e.message))
    }

    fn names(observed: &Observed) -> Vec<String> {
        observed
            .users()
            .iter()
            .map(|u| format!("{}:{}", u.email, u.enabled.join("+")))
            .collect()
    }

    #[test]
    fn a_patch_replaces_adds_and_removes_only_the_users_asked_for() {
        let mut observed = Observed::new(
            Vec::new(),
            0,
            vec![user("a", &["1"]), user("c", &["1"]), user("e", &["1"])],
        );
        // c moved, d appeared, e is gone; a was not asked about and stays as read.
        let asked = [email("c"), email("d"), email("e")];
        patch(
            &mut observed,
            &asked,
            vec![user("c", &["2"]), user("d", &["1"])],
        );
        assert_eq!(names(&observed), ["a@x.io:1", "c@x.io:2", "d@x.io:1"]);
    }
}
