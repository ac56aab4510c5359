//! How a run ended. `exit_code.rs` decides what exit code says so.

use jiff::Timestamp;

use crate::planner::WaitReason;
use crate::state::FailingUser;

#[derive(Debug, Clone)]
pub(crate) enum RunOutcome {
    /// The rollout is complete.
    Done,
    /// Something must happen first; `waiting:` says what.
    Waiting {
        reason: WaitReason,
        step: String,
        detail: String,
        until: Option<Timestamp>,
    },
    /// A gate failed, a rollback ran, or a precondition needs a person.
    Halted {
        step: String,
        reason: String,
        failures: Vec<FailingUser>,
    },
    /// SIGINT or SIGTERM: stopped at a safe point; `apply` again resumes.
    Interrupted { signal: crate::signals::Signal },
}
