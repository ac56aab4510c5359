//! The run loop: observe, plan, do one thing, record it, repeat.

use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::watch;

use super::journaled::ConfirmedWrite;
use super::reading::{self, Reading, Refresh};
use super::{Event, EventSink, RunOutcome, StepSize};
use crate::clock::Clock;
use crate::plan::Plan;
use crate::planner::{self, Action, Inputs, Schedule, Side, StepDetail};
use crate::precheck::MailboxCheck;
use crate::signals::Signal;
use crate::signing::Signatures;
use crate::state::MailboxAccess;
use crate::state::{RunState, Store, StoreError};
use crate::target::{Observed, Target, TargetError};

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
    Precheck(#[source] crate::precheck::PrecheckError),
    #[error(transparent)]
    Rollback(#[from] super::RollbackRefused),
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
    /// `--yes`: the answer to the question before a real target's disconnect. Never an
    /// approval.
    pub(crate) yes: bool,
}

/// Asks a person at a terminal to confirm the irreversible step; `true` goes on.
pub(crate) type Confirm<'a> = Box<dyn FnMut(&str) -> bool + 'a>;

/// A bulk write answered for everyone stops being worth trusting over a fresh reading after
/// this many in a row: someone else may be changing the platform too.
const WRITES_PER_READING: usize = 50;

pub(crate) struct Engine<'a, T: Target> {
    pub(super) plan: &'a Plan,
    pub(super) target: &'a T,
    target_name: String,
    pub(super) store: &'a mut Store,
    pub(super) clock: Clock,
    sink: &'a mut dyn EventSink,
    pub(super) settings: Settings,
    /// The request to stop (SIGINT or SIGTERM), once one came.
    pub(super) stop: watch::Receiver<Option<Signal>>,
    /// Time spent waiting for syncs and time, for the run summary.
    pub(crate) waited: Duration,
    /// The digest this run works under: the plan and the platform as first read (see
    /// `planner::Snapshot`), recorded with every phase change.
    pub(super) digest: String,
    /// The last bulk write the platform confirmed, user by user.
    pub(super) confirmed: Option<ConfirmedWrite>,
    /// Asks Microsoft Graph about mailboxes, when the plan enables the pre-check.
    pub(super) mailbox_check: Option<MailboxCheck>,
    /// What the pre-check saw during this run (a new run checks again: denials get fixed).
    pub(super) mailboxes: MailboxAccess,
    /// The authorization URL last shown (empty: a pending authorization without one), so it is
    /// shown once, not at every poll; `None` while no authorization is pending.
    pub(super) shown_url: Option<String>,
    /// Whether who authorized `to` has been said and recorded this run.
    pub(super) authorization_noted: bool,
    /// On a terminal: asks before a real target's disconnect.
    pub(super) confirm: Option<Confirm<'a>>,
    /// The plan's approval signatures, checked once each (when it asks for them).
    signatures: Option<Signatures>,
    /// What the planner keeps of the whole tenant between decisions: this run's plan is fixed.
    memo: planner::Memo,
}

impl<'a, T: Target> Engine<'a, T> {
    #[allow(clippy::too_many_arguments)] // Each is a distinct collaborator of the run.
    pub(crate) fn new(
        plan: &'a Plan,
        target: &'a T,
        target_name: String,
        store: &'a mut Store,
        clock: Clock,
        sink: &'a mut dyn EventSink,
        settings: Settings,
        stop: watch::Receiver<Option<Signal>>,
        mailbox_check: Option<MailboxCheck>,
    ) -> Self {
        Self {
            plan,
            target,
            target_name,
            store,
            clock,
            sink,
            settings,
            stop,
            waited: Duration::ZERO,
            digest: String::new(),
            confirmed: None,
            mailbox_check,
            mailboxes: MailboxAccess::default(),
            shown_url: None,
            authorization_noted: false,
            confirm: None,
            signatures: Signatures::of(plan),
            memo: planner::Memo::default(),
        }
    }

    /// Asks `confirm` before a real target's disconnect (a person is at the terminal).
    pub(crate) fn with_confirmation(mut self, confirm: Confirm<'a>) -> Self {
        self.confirm = Some(confirm);
        self
    }
}

impl<T: Target> Engine<'_, T> {
    /// Runs the rollout from where its state stands until it is done, must wait, or must halt.
    pub(crate) async fn run(&mut self) -> Result<RunOutcome, EngineError> {
        let run_started = self.clock.now();
        let initial = self.load_state()?;
        let identity = self.target.whoami().await?;
        self.emit(Event::RunStarted {
            plan: self.plan.name.to_string(),
            target: self.target_name.clone(),
            account: format!("{} ({})", identity.account, identity.role),
            resumed: initial.started_at.is_some(),
        });
        let mut first = true;
        let mut last_action: Option<Action> = None;
        let mut repeats = 0;
        let mut reauthorized = false;
        // What the platform shows, read as each decision needs (see `reading.rs`): the whole
        // platform now, and later only what the next decision depends on.
        let mut reading: Option<Reading> = None;
        let mut refresh = Refresh::Nothing;
        let mut writes_since_read = 0;
        loop {
            // A signal is forwarded by a task of this same thread: let it run.
            tokio::task::yield_now().await;
            let stopped = *self.stop.borrow();
            if let Some(signal) = stopped {
                self.emit(Event::Interrupted);
                return Ok(RunOutcome::Interrupted { signal });
            }
            let mut current = match reading.take() {
                Some(current) => current,
                None => {
                    refresh = Refresh::Nothing;
                    Reading::full(self.target).await?
                }
            };
            if refresh == Refresh::Tenant {
                writes_since_read = 0;
            }
            current
                .refresh(
                    self.target,
                    std::mem::replace(&mut refresh, Refresh::Nothing),
                )
                .await?;
            let now = self.clock.now();
            if !self.authorization_noted {
                self.note_authorization(&current.observed, now)?;
            }
            if first {
                self.begin(&current.observed, now)?;
            }
            let state = self.load_state()?;
            let reauthorize = self.settings.reauthorize && !reauthorized;
            let schedule = planner::plan(&Inputs {
                plan: self.plan,
                observed: &current.observed,
                state: &state,
                now,
                run_started: Some(run_started),
                reauthorize,
                mailboxes: self.mailbox_check.as_ref().map(|_| &self.mailboxes),
                confirmed: self.settings.yes || self.confirm.is_some(),
                memo: Some(&self.memo),
            });
            if first {
                self.emit(Event::Planned {
                    steps: step_sizes(&schedule),
                });
                first = false;
            }
            let action = schedule.next.clone();
            if let Some(lacking) = current.lacks(&action, &schedule, &state, &self.settings) {
                // Decided on a reading that cannot carry it: read what it needs and decide again.
                refresh = lacking;
                reading = Some(current);
                continue;
            }
            self.emit_readings(&schedule);
            if matches!(action, Action::Authorize { restart: true }) {
                reauthorized = true;
            }
            // Every action but a wait changes something; seeing the same one again means the
            // platform did not take it. Retry a few times, then stop instead of spinning.
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
                .execute(action.clone(), &schedule, &current.observed, now)
                .await?
            {
                return Ok(outcome);
            }
            refresh = match self.confirmed.take() {
                // The platform's own per-user answers say exactly what changed, so the next
                // decision is made from the reading patched with them; a long run of writes
                // reads afresh (someone else may be changing the platform too).
                Some(write) => {
                    writes_since_read += 1;
                    write.apply_to(&mut current.observed);
                    if writes_since_read < WRITES_PER_READING {
                        Refresh::Nothing
                    } else {
                        Refresh::Tenant
                    }
                }
                None => after(&action, &state, &mut current),
            };
            reading = Some(current);
        }
    }

    /// What a run does once, on its first reading: settles in-doubt intents, refuses edits
    /// where the rollout ran, checks `--approved`, and records the rollout's start or an edit.
    fn begin(&mut self, observed: &Observed, now: Timestamp) -> Result<(), EngineError> {
        let snapshot = planner::Snapshot::of(self.plan, observed);
        self.digest = snapshot.digest();
        self.reconcile(now)?;
        let state = self.load_state()?;
        let edits = planner::edits(self.plan, &state);
        if !edits.refused.is_empty() {
            return Err(EngineError::PlanEdited(edits.refused));
        }
        // The approved digest is the one the rollout starts with: checked against the platform
        // until the rollout's first write, against the recorded one on later runs (which need
        // not repeat it, but may not name another).
        let started = state
            .started_digest
            .as_ref()
            .filter(|_| !edits.before_first_write);
        if let Some(approved) = &self.settings.approved {
            if approved != started.unwrap_or(&self.digest) {
                return Err(EngineError::DigestMismatch {
                    approved: approved.clone(),
                    current: Box::new(snapshot),
                    started: started.cloned(),
                });
            }
        }
        // Until the first write, what the rollout starts under is approved by `--approved`
        // (unless the plan counts only signed approvals) or by `cutover approve --digest` of
        // this very digest; read afresh every run, as a revocation or a changed platform undoes it.
        let start_approval = state.first_write_at.is_none().then(|| {
            planner::digest_approval(&state, &self.digest)
                .map(|_| self.digest.clone())
                .or_else(|| {
                    self.settings
                        .approved
                        .clone()
                        .filter(|_| !self.plan.change_control.signed())
                })
        });
        let plan_json = serde_json::to_string(self.plan).unwrap_or_default();
        if edits.unrecorded && edits.before_first_write {
            // Nothing ran: the edited plan is the rollout's, and an approval of the old one is
            // not an approval of it.
            self.store.restart_rollout(
                now,
                &self.digest,
                start_approval.clone().flatten().as_deref(),
                &plan_json,
                &edits.accepted,
                &self.settings.operator,
            )?;
        } else if edits.unrecorded && planner::plan_approval(self.plan, &state).is_some() {
            // The edit was approved by its digest: it is the rollout's plan from here on.
            self.store.accept_plan_change(
                now,
                &plan_json,
                &edits.accepted,
                &self.settings.operator,
                &self.digest,
            )?;
        }
        if state.started_at.is_none() {
            self.store.start_rollout(
                now,
                &self.digest,
                start_approval.clone().flatten().as_deref(),
                &plan_json,
                &self.settings.operator,
            )?;
        } else if let Some(approved) = start_approval {
            // The approval itself is on the audit trail (`approve`, or this run's command line);
            // this is the rollout taking it as its start.
            if approved != state.approved_digest {
                self.store.set_start_approval(approved.as_deref())?;
            }
        }
        Ok(())
    }

    /// The stored state with only the approvals and acceptances the plan's rules count.
    pub(super) fn load_state(&mut self) -> Result<RunState, StoreError> {
        let mut state = self.store.load()?;
        crate::signing::weigh(self.plan, self.signatures.as_mut(), &mut state);
        Ok(state)
    }

    pub(super) fn emit(&mut self, event: Event) {
        self.sink.event(&event);
    }

    fn emit_readings(&mut self, schedule: &Schedule) {
        for step in &schedule.steps {
            if let Some(reading) = &step.reading {
                let counted = reading.clean.len() + reading.pending.len() + reading.failing.len();
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
    }

    /// Settles intents an interrupted run left without an outcome. The planner works from what
    /// the platform shows, so nothing is re-sent blindly: the intent is closed as read back.
    fn reconcile(&mut self, now: Timestamp) -> Result<(), EngineError> {
        for intent in self.store.in_doubt()? {
            let outcome = serde_json::json!({ "reconciled": "the run was interrupted; the platform's state was read back and the plan continues from it" });
            self.store.outcome(intent.id, now, &outcome)?;
            self.emit(Event::Reconciled {
                step: intent.step,
                action: intent.action.to_string(),
                users: intent.users,
            });
        }
        Ok(())
    }

    pub(super) fn configuration_id(&self, observed: &Observed, side: Side) -> Option<String> {
        observed
            .configuration(self.display_name(side))
            .map(|c| c.id.clone())
    }

    pub(super) fn display_name(&self, side: Side) -> &str {
        match side {
            Side::From => &self.plan.from.display_name,
            Side::To => &self.plan.to.display_name,
        }
    }
}

/// What to read after `action`, which made no confirmed write.
fn after(action: &Action, state: &RunState, current: &mut Reading) -> Refresh {
    match action {
        Action::Wait { reason, step, .. } => reading::after_wait(*reason, step, state),
        // Changes to the store alone: the platform is as it was read.
        Action::Start { .. }
        | Action::Switched { .. }
        | Action::Fail { .. }
        | Action::Restart { .. }
        | Action::CloseExceptions { .. }
        | Action::CheckMailboxes { .. } => Refresh::Nothing,
        Action::Pass { .. } => {
            current.gate_passed();
            Refresh::Nothing
        }
        // What changed is a configuration (and after the disconnect nothing is left to decide).
        Action::CreateConfiguration | Action::Authorize { .. } | Action::Disconnect => {
            Refresh::Configurations
        }
        // A re-check changes what the gate or the exceptions will see: the next wait reads them.
        Action::RecheckExceptions { .. } | Action::Reopen { .. } => Refresh::Nothing,
        // A write the platform did not confirm user by user, or the disconnect: read it all.
        _ => Refresh::Tenant,
    }
}

fn step_sizes(schedule: &Schedule) -> Vec<StepSize> {
    schedule
        .steps
        .iter()
        .filter_map(|s| match &s.detail {
            StepDetail::Move(d) => Some(StepSize {
                step: s.id.clone(),
                users: d.members.len(),
                switched: d
                    .members
                    .iter()
                    .filter(|m| m.state == planner::MemberState::OnTo)
                    .count(),
                phase: s.phase,
            }),
            _ => None,
        })
        .collect()
}
