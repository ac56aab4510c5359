//! Waiting: in-process for time and syncs, or ending the run for a wait that needs a person (or
//! under `--until-blocked`, for whichever wait comes first).

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use super::{Engine, EngineError, Event, RunOutcome};
use crate::planner::WaitReason;
use crate::target::Target;

impl<T: Target> Engine<'_, T> {
    /// Waits until `until` or the next poll, whichever is sooner (`None` keeps going), or
    /// returns the run's outcome when it must not wait here.
    pub(super) async fn wait(
        &mut self,
        reason: WaitReason,
        step: String,
        until: Option<Timestamp>,
        detail: String,
    ) -> Result<Option<RunOutcome>, EngineError> {
        let ends_run = super::reading::ends_run(reason, &self.settings);
        self.emit(Event::Waiting {
            reason,
            step: step.clone(),
            detail: detail.clone(),
            until,
        });
        if ends_run {
            return Ok(Some(RunOutcome::Waiting {
                reason,
                step,
                detail,
                until,
            }));
        }
        let now = self.clock.now();
        let poll =
            SignedDuration::try_from(self.settings.poll).unwrap_or(SignedDuration::from_secs(1));
        let wake = until.map_or(now + poll, |u| u.min(now + poll)).max(now);
        let sleep = Duration::try_from(wake.duration_since(now)).unwrap_or(Duration::ZERO);
        let started = std::time::Instant::now();
        tokio::select! {
            () = tokio::time::sleep(sleep) => {}
            _ = self.stop.wait_for(Option::is_some) => {}
        }
        self.waited += started.elapsed();
        Ok(None)
    }
}
