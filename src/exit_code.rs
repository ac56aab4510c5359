//! Exit codes: the contract with schedulers, CI and monitoring. Decided here and nowhere else.

use std::process::ExitCode;

/// What a cutover process tells whoever started it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Exit {
    /// The plan is complete, or the command did what it was asked.
    Done = 0,
    /// An unexpected error, or the platform could not be reached or read.
    Failure = 1,
    /// An invalid plan or invalid usage.
    Invalid = 2,
    /// Halted: a gate failed, a rollback ran, or a precondition needs a person.
    Halted = 3,
    /// Waiting for time, syncs or a person; see the `waiting:` line.
    Waiting = 4,
    /// Another run holds the plan's lock.
    Locked = 5,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}
