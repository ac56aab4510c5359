//! The run loop: observe, plan, do one thing, record it, repeat.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::sync::watch;

use super::{Event, RunOutcome, StepSize};
use crate::clock::Clock;
use crate::plan::grammar::Email;
use crate::plan::{OnFailure, Plan};
use crate::planner::{self, Action, Inputs, Schedule, Side, StepDetail, WaitReason};
use crate::precheck::{MailboxCheck, PrecheckError};
use crate::report::Reporter;
use crate::state::{FailingUser, MailboxAccess, StepPhase, StepRecord, Store, StoreError};
use crate::target::{
    AuthType, ConfigurationState, NewConfiguration, Observed, Target, TargetError, WriteResult,
    observe,
};

#[derive(Debug, thiserror::Error)]
pub(crate) enum EngineError {
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the plan or the platform changed since the dry-run approved as {approved}")]
    DigestMismatch {
        approved: String,
        current: Box<planner::Snapshot>,
        /// The digest the rollout started with, on a run after its first.
        started: Option<String>,
    },
    #[error("the plan was edited where the rollout already ran")]
    PlanEdited(Vec<String>),
    #[error(
        "the planner asked for the same action twice without progress ({0}); stopping rather than looping"
    )]
    NoProgress(String),
    #[error("the mailbox pre-check could not run: {0}")]
    Precheck(#[source] PrecheckError),
}

/// How a run behaves.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Do what is due and exit 4 at the first wait, instead of waiting in-process.
    pub(crate) until_blocked: bool,
    /// How often to look at the platform again while waiting for syncs or time.
    pub(crate) poll: Duration,
    /// `--approved DIGEST`, checked when the rollout starts.
    pub(crate) approved: Option<String>,
    /// Who runs it, for the audit trail.
    pub(crate) operator: String,
    /// `--reauthorize`: start a failed or wrong-account authorization over (once per run).
    pub(crate) reauthorize: bool,
    /// `--open`: open the authorization URL in the default browser.
    pub(crate) open_browser: bool,
}

pub(crate) struct Engine<'a, T: Target> {
    plan: &'a Plan,
    target: &'a T,
    target_name: String,
    store: &'a mut Store,
    clock: Clock,
    reporter: &'a mut dyn Reporter,
    settings: Settings,
    /// Becomes true on SIGINT or SIGTERM.
    stop: watch::Receiver<bool>,
    /// Time spent waiting for syncs and time, for the run summary.
    pub(crate) waited: Duration,
    /// The last bulk write the platform confirmed, user by user.
    confirmed: Option<ConfirmedWrite>,
    /// Asks Microsoft Graph about mailboxes, when the plan enables the pre-check.
    mailbox_check: Option<MailboxCheck>,
    /// What the pre-check saw during this run (a new run checks again: denials get fixed).
    mailboxes: MailboxAccess,
    /// The authorization URL last shown (empty: a pending authorization without one), so it is
    /// shown once, not at every poll; `None` while no authorization is pending.
    shown_url: Option<String>,
    /// Whether who authorized `to` has been said and recorded this run.
    authorization_noted: bool,
}

impl<'a, T: Target> Engine<'a, T> {
    #[allow(clippy::too_many_arguments)] // Each is a distinct collaborator of the run.
    pub(crate) fn new(
        plan: &'a Plan,
        target: &'a T,
        target_name: String,
        store: &'a mut Store,
        clock: Clock,
        reporter: &'a mut dyn Reporter,
        settings: Settings,
        stop: watch::Receiver<bool>,
        mailbox_check: Option<MailboxCheck>,
    ) -> Self {
        Self {
            plan,
            target,
            target_name,
            store,
            clock,
            reporter,
            settings,
            stop,
            waited: Duration::ZERO,
            confirmed: None,
            mailbox_check,
            mailboxes: MailboxAccess::default(),
            shown_url: None,
            authorization_noted: false,
        }
    }
}

/// A bulk write the platform answered for every user.
pub(crate) struct ConfirmedWrite {
    configuration: String,
    enabled: bool,
    users: Vec<Email>,
}

impl ConfirmedWrite {
    /// The reading as it is after this write.
    fn apply_to(self, observed: &mut Observed) {
        for email in &self.users {
            let Ok(index) = observed.users.binary_search_by(|u| u.email.cmp(email)) else {
                continue;
            };
            let user = &mut observed.users[index];
            let on = user.enabled.contains(&self.configuration);
            if self.enabled && !on {
                user.enabled.push(self.configuration.clone());
            } else if !self.enabled && on {
                user.enabled.retain(|c| *c != self.configuration);
                user.sync.remove(&self.configuration);
            }
        }
    }
}

impl<T: Target> Engine<'_, T> {
    pub(crate) async fn run(&mut self) -> Result<RunOutcome, EngineError> {
        let run_started = self.clock.now();
        let initial = self.store.load()?;
        let identity = self.target.whoami().await?;
        self.emit(Event::RunStarted {
            plan: self.plan.name.to_string(),
            target: self.target_name.clone(),
            account: format!("{} ({})", identity.account, identity.role),
            resumed: initial.started_at.is_some(),
        });
        let mut first = true;
        let mut digest = String::new();
        let mut last_action: Option<Action> = None;
        let mut repeats = 0;
        let mut reauthorized = false;
        // After a bulk write, the platform's own per-user answers say exactly what changed, so
        // the next decision can be made from the last reading patched with them instead of
        // reading every user again. Any other action, or a long run of writes, reads afresh.
        let mut cached: Option<Observed> = None;
        let mut writes_since_read = 0;
        loop {
            if *self.stop.borrow() {
                self.emit(Event::Interrupted);
                return Ok(RunOutcome::Interrupted);
            }
            let now = self.clock.now();
            let mut observed = match cached.take() {
                Some(observed) => observed,
                None => {
                    writes_since_read = 0;
                    observe(self.target).await?
                }
            };
            if !self.authorization_noted {
                self.note_authorization(&observed, now)?;
            }
            if first {
                let snapshot = planner::Snapshot::of(self.plan, &observed);
                digest = snapshot.digest();
                self.reconcile(now)?;
                let state = self.store.load()?;
                let edits = planner::edits(self.plan, &state);
                if !edits.refused.is_empty() {
                    return Err(EngineError::PlanEdited(edits.refused));
                }
                // The approved digest is the one the rollout starts with: checked against the
                // platform on the first run, against the recorded one on later runs (which need
                // not repeat it, but may not name another).
                if let Some(approved) = &self.settings.approved {
                    if Some(approved) != state.started_digest.as_ref().or(Some(&digest)) {
                        return Err(EngineError::DigestMismatch {
                            approved: approved.clone(),
                            current: Box::new(snapshot),
                            started: state.started_digest.clone(),
                        });
                    }
                }
                if edits.unrecorded {
                    let plan_json = serde_json::to_string(self.plan).unwrap_or_default();
                    self.store.accept_plan_change(
                        now,
                        &plan_json,
                        &edits.accepted,
                        &self.settings.operator,
                        &digest,
                    )?;
                }
                if state.started_at.is_none() {
                    let plan_json = serde_json::to_string(self.plan).unwrap_or_default();
                    self.store.start_rollout(
                        now,
                        &digest,
                        self.settings.approved.as_deref(),
                        &plan_json,
                        &self.settings.operator,
                    )?;
                }
            }
            let state = self.store.load()?;
            let reauthorize = self.settings.reauthorize && !reauthorized;
            let schedule = planner::plan(&Inputs {
                plan: self.plan,
                observed: &observed,
                state: &state,
                now,
                run_started: Some(run_started),
                reauthorize,
                mailboxes: self.mailbox_check.as_ref().map(|_| &self.mailboxes),
            });
            if first {
                self.emit(Event::Planned {
                    steps: step_sizes(&schedule),
                });
                first = false;
            }
            for step in &schedule.steps {
                if let Some(reading) = &step.reading {
                    let counted =
                        reading.clean.len() + reading.pending.len() + reading.failing.len();
                    self.emit(Event::GateReading {
                        step: step.id.clone(),
                        verified: reading.clean.len(),
                        counted,
                        failing: reading.failing.len(),
                        pending: reading.pending.len(),
                        soak_until: reading.soak_until,
                        timeout_at: reading.timeout_at,
                    });
                }
            }
            let action = schedule.next.clone();
            if matches!(action, Action::Authorize { restart: true }) {
                reauthorized = true;
            }
            // Every action but a wait changes something; seeing the same one again means the
            // platform did not take it. Retry a few times, then stop instead of spinning. (Re-
            // reading a pending authorization is a wait for a person, not a change.)
            // Re-reading an authorization known to be pending is a poll (it waited).
            let polls = matches!(action, Action::Wait { .. })
                || (matches!(action, Action::Authorize { restart: false })
                    && self.shown_url.is_some());
            if !polls && last_action.as_ref() == Some(&action) {
                repeats += 1;
                if repeats >= 3 {
                    return Err(EngineError::NoProgress(format!("{action:?}")));
                }
            } else {
                repeats = 0;
            }
            last_action = Some(action.clone());
            if let Some(outcome) = self
                .execute(action, &schedule, &observed, now, &digest)
                .await?
            {
                return Ok(outcome);
            }
            if let Some(write) = self.confirmed.take() {
                writes_since_read += 1;
                if writes_since_read < 50 {
                    write.apply_to(&mut observed);
                    cached = Some(observed);
                }
            }
        }
    }

    fn emit(&mut self, event: Event) {
        self.reporter.event(&event);
    }

    /// Says (once, and in the audit trail) who authorized `to`, when it became connected out of
    /// the engine's sight: an admin completing the sign-in while the engine waited or between
    /// runs.
    fn note_authorization(
        &mut self,
        observed: &Observed,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        let Some(to) = observed.configuration(&self.plan.to.display_name) else {
            return Ok(());
        };
        if to.state != ConfigurationState::Connected {
            return Ok(());
        }
        let account = to.authorized_account.clone();
        let recorded = self
            .store
            .audit_trail()?
            .into_iter()
            .rev()
            .find(|e| e.kind == "authorized")
            .map(|e| e.detail["account"].as_str().map(str::to_owned));
        if recorded.as_ref() != Some(&account) {
            let operator = self.settings.operator.clone();
            self.store.audit(
                now,
                "authorized",
                Some("connect"),
                &operator,
                None,
                &serde_json::json!({ "account": account }),
            )?;
            self.emit(Event::Authorized {
                name: to.display_name.clone(),
                account,
            });
        }
        self.authorization_noted = true;
        self.shown_url = None;
        Ok(())
    }

    /// Settles intents an interrupted run left without an outcome. The planner works from what
    /// the platform shows, so nothing is re-sent blindly: the intent is closed as read back.
    fn reconcile(&mut self, now: Timestamp) -> Result<(), EngineError> {
        for intent in self.store.in_doubt()? {
            let outcome = serde_json::json!({ "reconciled": "the run was interrupted; the platform's state was read back and the plan continues from it" });
            self.store.outcome(intent.id, now, &outcome)?;
            self.emit(Event::Reconciled {
                step: intent.step,
                action: intent.action,
                users: intent.users,
            });
        }
        Ok(())
    }

    fn configuration_id(&self, observed: &Observed, side: Side) -> Option<String> {
        let name = match side {
            Side::From => &self.plan.from.display_name,
            Side::To => &self.plan.to.display_name,
        };
        observed.configuration(name).map(|c| c.id.clone())
    }

    /// Executes one action. `Some` ends the run.
    async fn execute(
        &mut self,
        action: Action,
        schedule: &Schedule,
        observed: &Observed,
        now: Timestamp,
        digest: &str,
    ) -> Result<Option<RunOutcome>, EngineError> {
        let operator = self.settings.operator.clone();
        match action {
            Action::Finish => {
                self.emit(Event::Done);
                Ok(Some(RunOutcome::Done))
            }
            Action::Stop {
                step,
                reason,
                failures,
            } => {
                self.store.audit(
                    now,
                    "halted",
                    Some(&step),
                    &operator,
                    Some(digest),
                    &serde_json::json!({ "reason": reason, "failures": failures }),
                )?;
                self.emit(Event::Halted {
                    step: step.clone(),
                    reason: reason.clone(),
                    failures: failures.clone(),
                });
                Ok(Some(RunOutcome::Halted {
                    step,
                    reason,
                    failures,
                }))
            }
            Action::Wait {
                reason,
                step,
                until,
                detail,
            } => self.wait(reason, step, until, detail).await,
            Action::CreateConfiguration => {
                let to = &self.plan.to;
                let new = NewConfiguration {
                    display_name: to.display_name.clone(),
                    auth_type: AuthType::Oauth,
                    tenant_id: to.tenant_id.clone(),
                    exchange_version: to.exchange_version.clone(),
                    service_address: to.service_address.clone(),
                    login_hint: to.service_account.as_ref().map(ToString::to_string),
                };
                let intent = self.store.intent(
                    now,
                    Some("connect"),
                    "create_configuration",
                    Some(&to.display_name),
                    &[],
                )?;
                let created = self.target.create_configuration(&new).await;
                let outcome = match &created {
                    Ok(c) => serde_json::json!({ "id": c.id, "state": c.state.as_str() }),
                    Err(e) => serde_json::json!({ "error": e.to_string() }),
                };
                self.store.outcome(intent, self.clock.now(), &outcome)?;
                let created = created?;
                self.emit(Event::ConfigurationCreated {
                    name: created.display_name,
                });
                Ok(None)
            }
            Action::CheckMailboxes { step, users } => {
                let Some(check) = &self.mailbox_check else {
                    return Ok(None);
                };
                check
                    .check(&users, &mut self.mailboxes)
                    .await
                    .map_err(EngineError::Precheck)?;
                self.store.record_mailboxes(&self.mailboxes, &users)?;
                let denied = self.mailboxes.denied(&users);
                self.emit(Event::MailboxesChecked {
                    step,
                    checked: users.len(),
                    denied: planner::denied_users(denied),
                });
                Ok(None)
            }
            Action::Authorize { restart } => {
                let Some(id) = self.configuration_id(observed, Side::To) else {
                    return Ok(None);
                };
                // Re-reading a pending authorization changes nothing: journal only real calls.
                let journaled = restart || self.shown_url.is_none();
                let intent = if journaled {
                    Some(self.store.intent(
                        now,
                        Some("connect"),
                        if restart { "reauthorize" } else { "authorize" },
                        Some(&self.plan.to.display_name),
                        &[],
                    )?)
                } else {
                    None
                };
                if restart {
                    self.shown_url = None;
                }
                let authorization = self.target.authorization(&id, restart).await;
                let outcome = match &authorization {
                    Ok(a) => serde_json::json!({ "state": a.state.as_str(), "account": a.account }),
                    Err(e) => serde_json::json!({ "error": e.to_string() }),
                };
                if let Some(intent) = intent {
                    self.store.outcome(intent, self.clock.now(), &outcome)?;
                }
                let authorization = authorization?;
                let name = self.plan.to.display_name.clone();
                // Who signed in is said and recorded on the next reading (`note_authorization`).
                self.authorization_noted = false;
                match authorization.state {
                    ConfigurationState::Connected => {
                        self.shown_url = None;
                        Ok(None)
                    }
                    ConfigurationState::PendingAuthorization => {
                        // A new URL is shown; a missing one only when nothing was (the platform
                        // omits it while it exchanges a code it just received).
                        let show = match (&authorization.url, &self.shown_url) {
                            (Some(url), shown) => shown.as_deref() != Some(url.as_str()),
                            (None, shown) => shown.is_none(),
                        };
                        if show {
                            self.shown_url = Some(authorization.url.clone().unwrap_or_default());
                            self.emit(Event::AuthorizationPending {
                                name,
                                url: authorization.url.clone(),
                                account: self
                                    .plan
                                    .to
                                    .service_account
                                    .as_ref()
                                    .map(ToString::to_string),
                            });
                            if let (true, Some(url)) =
                                (self.settings.open_browser, &authorization.url)
                            {
                                if let Err(e) = open_browser(url) {
                                    self.emit(Event::Notice {
                                        message: format!("could not open a browser ({e}); open the URL above yourself"),
                                    });
                                }
                            }
                        }
                        let who =
                            self.plan.to.service_account.as_ref().map_or_else(
                                || "the service account".to_owned(),
                                ToString::to_string,
                            );
                        // The URL itself was printed once, with the checklist (and is in the
                        // JSON event); repeating it on every wait line only buries it.
                        let detail = if authorization.url.is_some() {
                            format!("an admin must sign in as {who} at the authorization URL above")
                        } else {
                            "waiting for an admin to authorize it on the platform".to_owned()
                        };
                        self.wait(
                            WaitReason::Authorization,
                            "connect".to_owned(),
                            None,
                            detail,
                        )
                        .await
                    }
                    // The planner reports the error on the next pass.
                    ConfigurationState::Error | ConfigurationState::Disconnected => {
                        self.shown_url = None;
                        Ok(None)
                    }
                }
            }
            Action::Start { step } => {
                self.start(&step, schedule, now, digest)?;
                Ok(None)
            }
            Action::Enable { step, side, users } => {
                self.switch(&step, side, true, &users, observed, now).await
            }
            Action::Disable { step, side, users } => {
                self.switch(&step, side, false, &users, observed, now).await
            }
            Action::Switched { step } => {
                let detail = serde_json::json!({});
                self.store.set_phase(
                    &step,
                    StepPhase::Verifying,
                    now,
                    Some(now),
                    None,
                    &operator,
                    digest,
                    &detail,
                )?;
                self.emit(Event::SwitchCompleted { step });
                Ok(None)
            }
            Action::Pass { step } => {
                self.store.set_phase(
                    &step,
                    StepPhase::Passed,
                    now,
                    None,
                    None,
                    &operator,
                    digest,
                    &serde_json::json!({}),
                )?;
                self.emit(Event::GatePassed { step });
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
                let detail = serde_json::json!({ "on_failure": on_failure, "failures": failures });
                self.store.set_phase(
                    &step,
                    phase,
                    now,
                    None,
                    Some(&failures),
                    &operator,
                    digest,
                    &detail,
                )?;
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
                if let Some(to) = self.configuration_id(observed, Side::To) {
                    let intent = self.store.intent(
                        now,
                        Some(&step),
                        "recheck",
                        Some(&self.plan.to.display_name),
                        &recheck,
                    )?;
                    let result = self.target.recheck(&to, &recheck).await;
                    let outcome = match &result {
                        Ok(()) => serde_json::json!({ "rechecked": recheck.len() }),
                        Err(e) => serde_json::json!({ "error": e.to_string() }),
                    };
                    self.store.outcome(intent, self.clock.now(), &outcome)?;
                    result?;
                }
                let detail = serde_json::json!({ "rechecked": recheck.iter().map(ToString::to_string).collect::<Vec<_>>() });
                self.store.set_phase(
                    &step,
                    StepPhase::Verifying,
                    now,
                    Some(now),
                    None,
                    &operator,
                    digest,
                    &detail,
                )?;
                self.emit(Event::Reopened {
                    step,
                    rechecked: recheck.len(),
                });
                Ok(None)
            }
            Action::Restart { step } => {
                self.store.set_phase(
                    &step,
                    StepPhase::Moving,
                    now,
                    None,
                    Some(&[]),
                    &operator,
                    digest,
                    &serde_json::json!({}),
                )?;
                self.emit(Event::Restarted { step });
                Ok(None)
            }
            Action::Disconnect => {
                let Some(from) = self.configuration_id(observed, Side::From) else {
                    return Ok(None);
                };
                let name = self.plan.from.display_name.clone();
                let intent =
                    self.store
                        .intent(now, Some("disconnect"), "disconnect", Some(&name), &[])?;
                let result = self.target.disconnect(&from).await;
                let outcome = match &result {
                    Ok(()) => serde_json::json!({ "disconnected": true }),
                    Err(e) => serde_json::json!({ "error": e.to_string() }),
                };
                self.store.outcome(intent, self.clock.now(), &outcome)?;
                result?;
                self.store
                    .record_disconnected(self.clock.now(), &operator, digest)?;
                self.emit(Event::Disconnected { name });
                Ok(None)
            }
            Action::RecordDisconnected => {
                self.store.record_disconnected(now, &operator, digest)?;
                self.emit(Event::Disconnected {
                    name: self.plan.from.display_name.clone(),
                });
                Ok(None)
            }
        }
    }

    /// Begins a step: freezes its members (and its batch's, for a first wave) with the users
    /// whose `from` sync already fails.
    fn start(
        &mut self,
        step: &str,
        schedule: &Schedule,
        now: Timestamp,
        digest: &str,
    ) -> Result<(), EngineError> {
        let Some(planned) = schedule.steps.iter().find(|s| s.id == step) else {
            return Ok(());
        };
        let StepDetail::Move(detail) = &planned.detail else {
            return Ok(());
        };
        let state = self.store.load()?;
        let batch_members: Option<Vec<Email>> =
            (!state.batches.contains_key(&detail.step)).then(|| {
                schedule
                    .steps
                    .iter()
                    .filter_map(|s| match &s.detail {
                        StepDetail::Move(d) if d.step == detail.step => {
                            Some(d.members.iter().map(|m| m.email.clone()))
                        }
                        _ => None,
                    })
                    .flatten()
                    .collect()
            });
        // With `on_denied = "skip"`, members whose mailbox the OAuth app may not open stay on
        // `from`, out of the step (the planner already stopped a blocking plan).
        let (skipped, members): (Vec<Email>, Vec<Email>) = detail
            .members
            .iter()
            .map(|m| m.email.clone())
            .partition(|e| self.mailbox_check.is_some() && self.mailboxes.is_denied(e));
        let record = StepRecord {
            id: step.to_owned(),
            batch: detail.step.clone(),
            // As the planner classified them from this same reading of the platform.
            preexisting: detail
                .preexisting
                .iter()
                .filter(|e| members.contains(e))
                .cloned()
                .collect(),
            members,
            phase: StepPhase::Moving,
            phase_at: now,
            started_at: now,
            judged_after: None,
            passed_at: None,
            failures: Vec::new(),
            definition: planner::step_definitions(self.plan).remove(&detail.step),
        };
        self.store.start_step(
            &record,
            batch_members.as_deref(),
            &self.settings.operator,
            digest,
        )?;
        self.emit(Event::StepStarted {
            step: step.to_owned(),
            members: record.members.clone(),
            preexisting: record.preexisting.len(),
            skipped,
        });
        Ok(())
    }

    /// One bulk write, journaled: intent, call, outcome.
    async fn switch(
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
        let name = match side {
            Side::From => self.plan.from.display_name.clone(),
            Side::To => self.plan.to.display_name.clone(),
        };
        let verb = if enabled { "enable" } else { "disable" };
        let intent = self
            .store
            .intent(now, Some(step), verb, Some(&name), users)?;
        let result = self.target.set_enabled(&id, users, enabled).await;
        let results = match result {
            Ok(results) => results,
            Err(e) => {
                self.store.outcome(
                    intent,
                    self.clock.now(),
                    &serde_json::json!({ "error": e.to_string() }),
                )?;
                return Err(e.into());
            }
        };
        let changed = results
            .iter()
            .filter(|r| r.result == WriteResult::Changed)
            .count();
        let unchanged = results
            .iter()
            .filter(|r| r.result == WriteResult::Unchanged)
            .count();
        let failed: Vec<FailingUser> = results
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
        let outcome =
            serde_json::json!({ "changed": changed, "unchanged": unchanged, "failed": failed });
        self.store.outcome(intent, self.clock.now(), &outcome)?;
        self.emit(Event::UsersSwitched {
            step: step.to_owned(),
            side,
            enabled,
            changed,
            unchanged,
            total: users.len(),
        });
        if failed.is_empty() {
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
            return Ok(None);
        }
        let reason = format!(
            "the platform refused to {verb} {name:?} for {} user(s)",
            failed.len()
        );
        self.emit(Event::Halted {
            step: step.to_owned(),
            reason: reason.clone(),
            failures: failed.clone(),
        });
        Ok(Some(RunOutcome::Halted {
            step: step.to_owned(),
            reason,
            failures: failed,
        }))
    }

    /// Waits in-process for time and syncs, or ends the run for a wait that needs a person or
    /// under `--until-blocked`.
    async fn wait(
        &mut self,
        reason: WaitReason,
        step: String,
        until: Option<Timestamp>,
        detail: String,
    ) -> Result<Option<RunOutcome>, EngineError> {
        let needs_person = matches!(reason, WaitReason::Approval | WaitReason::Hold);
        let outcome = RunOutcome::Waiting {
            reason,
            step: step.clone(),
            detail: detail.clone(),
            until,
        };
        if self.settings.until_blocked || needs_person {
            self.emit(Event::Waiting {
                reason,
                step,
                detail,
                until,
            });
            return Ok(Some(outcome));
        }
        self.emit(Event::Waiting {
            reason,
            step,
            detail,
            until,
        });
        let now = self.clock.now();
        let poll =
            SignedDuration::try_from(self.settings.poll).unwrap_or(SignedDuration::from_secs(1));
        let wake = until.map_or(now + poll, |u| u.min(now + poll)).max(now);
        let sleep = Duration::try_from(wake.duration_since(now)).unwrap_or(Duration::ZERO);
        let started = std::time::Instant::now();
        tokio::select! {
            () = tokio::time::sleep(sleep) => {}
            _ = self.stop.wait_for(|stop| *stop) => {}
        }
        self.waited += started.elapsed();
        Ok(None)
    }
}

/// Opens `url` in the desktop's default browser, without waiting for it. Only an `https://`
/// URL (or `http://` on loopback) is handed over: the platform chose it, and an opener would
/// as readily run a `file:` or custom-scheme URL.
fn open_browser(url: &str) -> std::io::Result<()> {
    if !crate::oauth::is_secure_url(url) {
        return Err(std::io::Error::other(
            "it opens only https:// URLs (or http:// on this machine)",
        ));
    }
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(drop)
}

fn step_sizes(schedule: &Schedule) -> Vec<StepSize> {
    schedule
        .steps
        .iter()
        .filter_map(|s| match &s.detail {
            StepDetail::Move(d) => Some(StepSize {
                step: s.id.clone(),
                users: d.members.len(),
            }),
            _ => None,
        })
        .collect()
}
