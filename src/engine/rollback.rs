//! `cutover rollback`: a person moves a started batch back to `from` now. The steps are marked
//! rolled back, then the run goes on as any other, and the planner moves their members back.

use super::{Engine, EngineError, RunOutcome};
use crate::planner::{self, Side};
use crate::state::StepPhase;
use crate::target::{ConfigurationState, Target, observe};

/// Why a rollback cannot be done.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum RollbackRefused {
    #[error("{from:?} is disconnected; there is nothing to roll back to")]
    Disconnected { from: String },
    #[error("`{batch}` has not started (or is already rolled back); nothing to roll back")]
    NotStarted { batch: String },
    #[error("{from:?} is not connected; users cannot be moved back to it")]
    FromNotConnected { from: String },
}

/// What a rollback did: the steps it marked, and how the run that moved them back ended.
pub(crate) struct RolledBack {
    pub(crate) steps: Vec<String>,
    pub(crate) outcome: RunOutcome,
}

impl RolledBack {
    /// Whether the run ended on one of the rolled-back steps, waiting for its re-approval (or
    /// stopped there): the rollback itself is then complete.
    pub(crate) fn complete(&self) -> bool {
        let step = match &self.outcome {
            RunOutcome::Halted { step, .. }
            | RunOutcome::Waiting {
                step,
                reason: planner::WaitReason::Approval,
                ..
            } => step,
            _ => return false,
        };
        self.steps.iter().any(|s| s == step)
    }
}

impl<T: Target> Engine<'_, T> {
    /// Marks every started step of `batch` that is not rolled back yet as rolled back, then runs
    /// until their members are on `from` alone.
    pub(crate) async fn roll_back(&mut self, batch: &str) -> Result<RolledBack, EngineError> {
        let from = self.plan.from.display_name.clone();
        let state = self.load_state()?;
        if state.disconnected_at.is_some() {
            return Err(RollbackRefused::Disconnected { from }.into());
        }
        let steps: Vec<String> = state
            .steps
            .values()
            .filter(|s| s.batch == batch && s.phase != StepPhase::RolledBack)
            .map(|s| s.id.clone())
            .collect();
        if steps.is_empty() {
            return Err(RollbackRefused::NotStarted {
                batch: batch.to_owned(),
            }
            .into());
        }
        let observed = observe(self.target).await?;
        let connected = observed
            .configuration(self.display_name(Side::From))
            .is_some_and(|c| c.state == ConfigurationState::Connected);
        if !connected {
            return Err(RollbackRefused::FromNotConnected { from }.into());
        }
        let edits = planner::edits(self.plan, &state);
        if !edits.refused.is_empty() {
            return Err(EngineError::PlanEdited(edits.refused));
        }
        self.digest = planner::Snapshot::of(self.plan, &observed).digest();
        let now = self.clock.now();
        for step in &steps {
            let detail =
                serde_json::json!({ "requested_by": self.settings.operator, "manual": true });
            self.set_phase(step, StepPhase::RolledBack, now, None, Some(&[]), detail)?;
        }
        let outcome = self.run().await?;
        Ok(RolledBack { steps, outcome })
    }
}
