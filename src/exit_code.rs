//! Exit codes: the contract with schedulers, CI and monitoring. Decided here and nowhere else.

use std::process::ExitCode;

/// What a cutover process tells whoever started it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Exit {
    /// The plan is complete, or the command did what it was asked.
    Done = 0,
    /// An invalid plan or invalid usage.
    Invalid = 2,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}
