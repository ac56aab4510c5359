//! How a run ended, and the exit code that says so.

use jiff::Timestamp;

use crate::exit_code::Exit;
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
    Interrupted,
}

impl RunOutcome {
    pub(crate) fn exit(&self) -> Exit {
        match self {
            RunOutcome::Done => Exit::Done,
            RunOutcome::Waiting { .. } => Exit::Waiting,
            RunOutcome::Halted { .. } => Exit::Halted,
            RunOutcome::Interrupted => Exit::Failure,
        }
    }
}
