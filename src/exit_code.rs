//! Exit codes: the contract with schedulers, CI and monitoring. Decided here and nowhere else.

use std::process::ExitCode;

use crate::cli::ErrorKind;
use crate::engine::RunOutcome;
use crate::signals::Signal;

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
    /// Waiting for time, syncs or a hold; see the `waiting:` line.
    Waiting = 4,
    /// Another run holds the plan's lock.
    Locked = 5,
    /// Waiting for a person to act: an approval, an authorization, a confirmation; see the
    /// `waiting:` line.
    NeedsPerson = 6,
    /// Stopped at a safe point on SIGINT: the process ends by that signal (a shell sees 130).
    Interrupted = 130,
    /// Stopped at a safe point on SIGTERM: the process ends by that signal (a shell sees 143,
    /// systemd a clean stop).
    Terminated = 143,
}

impl Exit {
    /// Ends the process as `self` says: an exit code, or the signal it stopped for, delivered
    /// again with its default action so that whoever started the process sees the signal.
    pub(crate) fn terminate(self) -> ExitCode {
        match self {
            Exit::Interrupted => crate::signals::reraise(Signal::Interrupt),
            Exit::Terminated => crate::signals::reraise(Signal::Terminate),
            other => other.into(),
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

impl From<ErrorKind> for Exit {
    fn from(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::Failure => Exit::Failure,
            ErrorKind::Invalid => Exit::Invalid,
            ErrorKind::Halted => Exit::Halted,
            ErrorKind::Locked => Exit::Locked,
        }
    }
}

impl From<&RunOutcome> for Exit {
    fn from(outcome: &RunOutcome) -> Self {
        match outcome {
            RunOutcome::Done => Exit::Done,
            RunOutcome::Waiting { reason, .. } if reason.needs_person() => Exit::NeedsPerson,
            RunOutcome::Waiting { .. } => Exit::Waiting,
            RunOutcome::Halted { .. } => Exit::Halted,
            RunOutcome::Interrupted {
                signal: Signal::Interrupt,
            } => Exit::Interrupted,
            RunOutcome::Interrupted {
                signal: Signal::Terminate,
            } => Exit::Terminated,
        }
    }
}
