//! Every platform write, journaled: the intent is recorded before the call and its outcome after,
//! each in its own transaction, so a run killed in between leaves an in-doubt mark that the
//! next run settles by reading the platform back.

use std::future::Future;

use jiff::Timestamp;

use super::{Engine, EngineError, Event, RunOutcome};
use crate::plan::grammar::Email;
use crate::planner::{self, Side};
use crate::state::{FailingUser, JournalAction};
use crate::target::{Observed, Target, TargetError, UserWrite, WriteResult};

/// A bulk write the platform answered for every user.
pub(crate) struct ConfirmedWrite {
    configuration: String,
    enabled: bool,
    users: Vec<Email>,
}

impl ConfirmedWrite {
    /// The reading as it is after this write.
    pub(super) fn apply_to(self, observed: &mut Observed) {
        let at: Vec<usize> = self
            .users
            .iter()
            .filter_map(|email| observed.position(email))
            .collect();
        observed.change_users_at(at, |_, user| {
            let on = user.is_enabled_on(&self.configuration);
            if self.enabled && !on {
                user.enabled.push(self.configuration.as_str().into());
            } else if !self.enabled && on {
                user.enabled.retain(|c| *c != self.configuration);
                user.sync.remove(&self.configuration);
            }
        });
    }
}

/// One journaled call: what it is, for the journal.
pub(super) struct Call<'u> {
    pub(super) step: Option<&'u str>,
    pub(super) action: JournalAction,
    pub(super) configuration: Option<&'u str>,
    pub(super) users: &'u [Email],
}

impl<T: Target> Engine<'_, T> {
    /// Journals `call`'s intent, makes it, and journals its outcome (`describe` of the answer,
    /// or the error) before handing the answer back.
    pub(super) async fn journaled<R>(
        &mut self,
        call: Call<'_>,
        request: impl Future<Output = Result<R, TargetError>>,
        describe: impl FnOnce(&R) -> serde_json::Value,
    ) -> Result<R, EngineError> {
        let now = self.clock.now();
        let intent =
            self.store
                .intent(now, call.step, call.action, call.configuration, call.users)?;
        let answer = request.await;
        let outcome = match &answer {
            Ok(answer) => describe(answer),
            Err(e) => serde_json::json!({ "error": e.to_string() }),
        };
        self.store.outcome(intent, self.clock.now(), &outcome)?;
        Ok(answer?)
    }

    /// One bulk write of `side` for `users`. Users the platform refused halt the run, as any
    /// other halt does.
    pub(super) async fn switch(
        &mut self,
        step: &str,
        side: Side,
        enabled: bool,
        users: &[Email],
        observed: &Observed,
        now: Timestamp,
    ) -> Result<Option<RunOutcome>, EngineError> {
        let Some(id) = self.configuration_id(observed, side) else {
            return Ok(None);
        };
        let name = self.display_name(side).to_owned();
        let action = JournalAction::switch(enabled);
        let verb = action.as_str();
        let target = self.target;
        let results: Vec<UserWrite> = self
            .journaled(
                Call {
                    step: Some(step),
                    action,
                    configuration: Some(&name),
                    users,
                },
                target.set_enabled(&id, users, enabled),
                |results| {
                    let (changed, unchanged, failed) = tally(results, now);
                    // Who was already so, by name, so `cutover log` can say for each user
                    // whether this write changed them (the rest of those not failed were).
                    let unchanged_users: Vec<&Email> = results
                        .iter()
                        .filter(|r| r.result == WriteResult::Unchanged)
                        .map(|r| &r.email)
                        .collect();
                    serde_json::json!({
                        "changed": changed,
                        "unchanged": unchanged,
                        "failed": failed,
                        "unchanged_users": unchanged_users,
                    })
                },
            )
            .await?;
        let (changed, unchanged, failed) = tally(&results, now);
        self.emit(Event::UsersSwitched {
            step: step.to_owned(),
            side,
            enabled,
            changed,
            unchanged,
            total: users.len(),
        });
        if !failed.is_empty() {
            let refused = planner::refused_write(step, verb, &name, failed);
            return self.execute_stop(refused).map(Some);
        }
        let users = results
            .into_iter()
            .filter(|r| matches!(r.result, WriteResult::Changed | WriteResult::Unchanged))
            .map(|r| r.email)
            .collect();
        self.confirmed = Some(ConfirmedWrite {
            configuration: id,
            enabled,
            users,
        });
        Ok(None)
    }
}

/// How many users a bulk write changed, found already so, and could not write (with why).
fn tally(results: &[UserWrite], now: Timestamp) -> (usize, usize, Vec<FailingUser>) {
    let changed = results
        .iter()
        .filter(|r| r.result == WriteResult::Changed)
        .count();
    let unchanged = results
        .iter()
        .filter(|r| r.result == WriteResult::Unchanged)
        .count();
    let failed = results
        .iter()
        .filter_map(|r| match &r.result {
            WriteResult::Failed(reason) => Some((r.email.clone(), reason.clone())),
            WriteResult::NotFound => Some((
                r.email.clone(),
                "the platform no longer has this user".to_owned(),
            )),
            _ => None,
        })
        .map(|(email, reason)| FailingUser {
            email,
            outcome: "write_failed".to_owned(),
            error: Some(reason),
            at: Some(now),
        })
        .collect();
    (changed, unchanged, failed)
}
