//! Carrying out the one action the planner chose: at most one platform call, and the record of
//! what changed.

use jiff::Timestamp;
use serde_json::json;

use super::journaled::Call;
use super::{Engine, EngineError, Event, RunOutcome};
use crate::plan::OnFailure;
use crate::planner::{self, Action, Schedule, Side, StepDetail, WaitReason};
use crate::state::{AuditKind, FailingUser, JournalAction, StepPhase};
use crate::target::{AuthType, NewConfiguration, Observed, Target};

impl<T: Target> Engine<'_, T> {
    /// Executes one action. `Some` ends the run.
    pub(super) async fn execute(
        &mut self,
        action: Action,
        schedule: &Schedule,
        observed: &Observed,
        now: Timestamp,
    ) -> Result<Option<RunOutcome>, EngineError> {
        match action {
            Action::Finish => {
                self.emit(Event::Done);
                Ok(Some(RunOutcome::Done))
            }
            stop @ Action::Stop { .. } => self.execute_stop(stop).map(Some),
            Action::Wait {
                reason,
                step,
                until,
                detail,
            } => self.wait(reason, step, until, detail).await,
            Action::CreateConfiguration => self.create_configuration().await,
            Action::CheckMailboxes { step, users } => {
                self.check_mailboxes(step, &users).await?;
                Ok(None)
            }
            Action::Authorize { restart } => self.authorize(restart, observed).await,
            Action::Start { step } => {
                self.start(&step, schedule, now)?;
                Ok(None)
            }
            Action::Enable { step, side, users } => {
                self.switch(&step, side, true, &users, observed, now).await
            }
            Action::Disable { step, side, users } => {
                self.switch(&step, side, false, &users, observed, now).await
            }
            Action::Switched { step } => {
                self.set_phase(&step, StepPhase::Verifying, now, Some(now), None, json!({}))?;
                self.emit(Event::SwitchCompleted { step });
                Ok(None)
            }
            Action::Pass { step, exceptions } => {
                self.store.pass_step(
                    &step,
                    now,
                    &exceptions,
                    &self.settings.operator,
                    &self.digest,
                )?;
                self.emit(Event::GatePassed { step, exceptions });
                Ok(None)
            }
            Action::RecheckExceptions { users } => {
                self.recheck_exceptions(&users, observed).await?;
                Ok(None)
            }
            Action::CloseExceptions { step, users } => {
                self.store.close_exceptions(
                    &step,
                    &users,
                    now,
                    &self.settings.operator,
                    &self.digest,
                )?;
                self.emit(Event::ExceptionsClosed { step, users });
                Ok(None)
            }
            Action::Fail {
                step,
                on_failure,
                failures,
            } => {
                let phase = match on_failure {
                    OnFailure::Halt => StepPhase::Halted,
                    OnFailure::Rollback => StepPhase::RolledBack,
                };
                let detail = json!({ "on_failure": on_failure, "failures": failures });
                self.set_phase(&step, phase, now, None, Some(&failures), detail)?;
                let on_failure = match on_failure {
                    OnFailure::Halt => "halt",
                    OnFailure::Rollback => "rollback",
                };
                self.emit(Event::GateFailed {
                    step,
                    on_failure: on_failure.to_owned(),
                    failures,
                });
                Ok(None)
            }
            Action::Reopen { step, recheck } => {
                self.reopen(step, &recheck, observed, now).await?;
                Ok(None)
            }
            Action::Restart { step } => {
                self.set_phase(&step, StepPhase::Moving, now, None, Some(&[]), json!({}))?;
                self.emit(Event::Restarted { step });
                Ok(None)
            }
            Action::Disconnect => {
                let real = !matches!(self.plan.target, crate::plan::TargetSpec::Sandbox { .. });
                if let (true, false, Some(confirm)) = (real, self.settings.yes, &mut self.confirm) {
                    let question = format!(
                        "Disconnect {:?} now? Its credentials are removed and this cannot be undone.",
                        self.plan.from.display_name
                    );
                    if !confirm(&question) {
                        let detail = "it was not confirmed at the terminal".to_owned();
                        return self
                            .wait(
                                WaitReason::Confirmation,
                                "disconnect".to_owned(),
                                None,
                                detail,
                            )
                            .await;
                    }
                }
                self.disconnect(schedule, observed).await?;
                Ok(None)
            }
            Action::RecordDisconnected => {
                self.store.record_disconnected(
                    now,
                    &self.settings.operator,
                    &self.digest,
                    &json!({}),
                )?;
                self.emit(Event::Disconnected {
                    name: self.plan.from.display_name.clone(),
                    preexisting: Vec::new(),
                    accepted: Vec::new(),
                });
                Ok(None)
            }
        }
    }

    /// Every halt ends here: recorded in the audit trail, reported, and the run's outcome.
    pub(super) fn execute_stop(&mut self, stop: Action) -> Result<RunOutcome, EngineError> {
        let Action::Stop {
            step,
            reason,
            failures,
        } = stop
        else {
            return Err(EngineError::NoProgress(format!("{stop:?} is not a stop")));
        };
        self.store.audit(
            self.clock.now(),
            AuditKind::Halted,
            Some(&step),
            &self.settings.operator,
            Some(&self.digest),
            &json!({ "reason": reason, "failures": failures }),
        )?;
        self.emit(Event::Halted {
            step: step.clone(),
            reason: reason.clone(),
            failures: failures.clone(),
        });
        Ok(RunOutcome::Halted {
            step,
            reason,
            failures,
        })
    }

    /// Moves a step to `phase`, with its audit record, under this run's operator and digest.
    pub(super) fn set_phase(
        &mut self,
        step: &str,
        phase: StepPhase,
        now: Timestamp,
        judged_after: Option<Timestamp>,
        failures: Option<&[FailingUser]>,
        detail: serde_json::Value,
    ) -> Result<(), EngineError> {
        self.store.set_phase(
            step,
            phase,
            now,
            judged_after,
            failures,
            &self.settings.operator,
            &self.digest,
            &detail,
        )?;
        Ok(())
    }

    async fn create_configuration(&mut self) -> Result<Option<RunOutcome>, EngineError> {
        let to = &self.plan.to;
        let new = NewConfiguration {
            display_name: to.display_name.clone(),
            auth_type: AuthType::Oauth,
            tenant_id: to.tenant_id.clone(),
            exchange_version: to.exchange_version.clone(),
            service_address: to.service_address.clone(),
            login_hint: to.service_account.as_ref().map(ToString::to_string),
        };
        let target = self.target;
        let created = self
            .journaled(
                Call {
                    step: Some("connect"),
                    action: JournalAction::CreateConfiguration,
                    configuration: Some(&new.display_name),
                    users: &[],
                },
                target.create_configuration(&new),
                |c| json!({ "id": c.id, "state": c.state.as_str() }),
            )
            .await?;
        self.emit(Event::ConfigurationCreated {
            name: created.display_name,
        });
        Ok(None)
    }

    async fn check_mailboxes(
        &mut self,
        step: String,
        users: &[crate::plan::grammar::Email],
    ) -> Result<(), EngineError> {
        let Some(check) = &self.mailbox_check else {
            return Ok(());
        };
        check
            .check(users, &mut self.mailboxes)
            .await
            .map_err(EngineError::Precheck)?;
        self.store.record_mailboxes(&self.mailboxes, users)?;
        let uncleared = self.mailboxes.not_ok(users);
        self.emit(Event::MailboxesChecked {
            step,
            checked: users.len(),
            uncleared: planner::failing_users(uncleared),
        });
        Ok(())
    }

    /// A re-run after a halt: the platform re-checks the failed users now, and the gate judges
    /// only attempts made from here on.
    async fn reopen(
        &mut self,
        step: String,
        recheck: &[crate::plan::grammar::Email],
        observed: &Observed,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        if let Some(to) = self.configuration_id(observed, Side::To) {
            let target = self.target;
            let name = self.plan.to.display_name.clone();
            self.journaled(
                Call {
                    step: Some(&step),
                    action: JournalAction::Recheck,
                    configuration: Some(&name),
                    users: recheck,
                },
                target.recheck(&to, recheck),
                |()| json!({ "rechecked": recheck.len() }),
            )
            .await?;
        }
        let detail =
            json!({ "rechecked": recheck.iter().map(ToString::to_string).collect::<Vec<_>>() });
        self.set_phase(&step, StepPhase::Verifying, now, Some(now), None, detail)?;
        self.emit(Event::Reopened {
            step,
            rechecked: recheck.len(),
        });
        Ok(())
    }

    /// A run's one re-check of the users with open exceptions: the platform checks them now
    /// rather than at their next scheduled sync.
    async fn recheck_exceptions(
        &mut self,
        users: &[crate::plan::grammar::Email],
        observed: &Observed,
    ) -> Result<(), EngineError> {
        // Attempts from the moment of asking on answer it, whenever the call returns.
        let asked = self.clock.now();
        if let Some(to) = self.configuration_id(observed, Side::To) {
            let target = self.target;
            let name = self.plan.to.display_name.clone();
            self.journaled(
                Call {
                    step: None,
                    action: JournalAction::Recheck,
                    configuration: Some(&name),
                    users,
                },
                target.recheck(&to, users),
                |()| json!({ "rechecked": users.len(), "exceptions": true }),
            )
            .await?;
        }
        self.store.recheck_exceptions(users, asked)?;
        self.emit(Event::ExceptionsRechecked { users: users.len() });
        Ok(())
    }

    /// The irreversible step: disconnect `from`. Its record names who it excepted: the users
    /// already failing before their step, and those the board accepted.
    async fn disconnect(
        &mut self,
        schedule: &Schedule,
        observed: &Observed,
    ) -> Result<(), EngineError> {
        let Some(from) = self.configuration_id(observed, Side::From) else {
            return Ok(());
        };
        let name = self.plan.from.display_name.clone();
        let target = self.target;
        self.journaled(
            Call {
                step: Some("disconnect"),
                action: JournalAction::Disconnect,
                configuration: Some(&name),
                users: &[],
            },
            target.disconnect(&from),
            |()| json!({ "disconnected": true }),
        )
        .await?;
        let (preexisting, accepted) = schedule
            .steps
            .iter()
            .find_map(|s| match &s.detail {
                StepDetail::Disconnect {
                    preexisting,
                    accepted,
                    ..
                } => Some((
                    preexisting.clone(),
                    accepted.iter().map(|a| a.email.clone()).collect::<Vec<_>>(),
                )),
                _ => None,
            })
            .unwrap_or_default();
        self.store.record_disconnected(
            self.clock.now(),
            &self.settings.operator,
            &self.digest,
            &json!({ "preexisting": preexisting, "accepted": accepted }),
        )?;
        self.emit(Event::Disconnected {
            name,
            preexisting,
            accepted,
        });
        Ok(())
    }
}
