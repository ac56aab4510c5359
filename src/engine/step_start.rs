//! Beginning a step: its members are resolved and frozen in the state database, with the users
//! whose `from` sync was already failing, and left out (and recorded, with their verdict) the
//! ones the pre-check skips.

use std::collections::BTreeSet;

use jiff::Timestamp;

use super::{Engine, EngineError, Event};
use crate::plan::grammar::Email;
use crate::planner::{self, Schedule, StepDetail};
use crate::state::{SkippedUser, StepPhase, StepRecord};
use crate::target::Target;

impl<T: Target> Engine<'_, T> {
    /// Begins a step: freezes its members (and its batch's, for a first wave) with the users
    /// whose `from` sync already fails.
    pub(super) fn start(
        &mut self,
        step: &str,
        schedule: &Schedule,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        let Some(planned) = schedule.steps.iter().find(|s| s.id == step) else {
            return Ok(());
        };
        let StepDetail::Move(detail) = &planned.detail else {
            return Ok(());
        };
        let state = self.load_state()?;
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
        // With `on_denied` or `on_not_found = "skip"`, members the pre-check did not clear stay
        // on `from`, out of the step (the planner already stopped a blocking plan); pre-existing
        // failures Graph does not find are moved as any pre-existing failure is.
        let everyone: Vec<Email> = detail.members.iter().map(|m| m.email.clone()).collect();
        let skipped: Vec<SkippedUser> = match (&self.plan.precheck, &self.mailbox_check) {
            (Some(precheck), Some(_)) => {
                let preexisting = detail.preexisting.iter().cloned().collect();
                planner::uncleared(precheck, &self.mailboxes, &everyone, &preexisting)
                    .skipped
                    .into_iter()
                    .map(|(email, verdict)| SkippedUser { email, verdict })
                    .collect()
            }
            _ => Vec::new(),
        };
        let members: Vec<Email> = everyone
            .into_iter()
            .filter(|e| !skipped.iter().any(|s| &s.email == e))
            .collect();
        // Before the step's record: a crash between the two leaves a list the next start
        // rewrites, never a started step whose skipped users are lost.
        self.store.record_skipped(step, &skipped)?;
        let record = StepRecord {
            id: step.to_owned(),
            batch: detail.step.clone(),
            // As the planner classified them from this same reading of the platform.
            preexisting: detail
                .preexisting
                .iter()
                .filter(|e| members.contains(e))
                .cloned()
                .collect::<BTreeSet<_>>()
                .into(),
            members: members.into(),
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
            &self.digest,
        )?;
        self.emit(Event::StepStarted {
            step: step.to_owned(),
            members: record.members.to_vec(),
            preexisting: record.preexisting.len(),
            skipped: skipped.into_iter().map(|s| s.email).collect(),
        });
        Ok(())
    }
}
