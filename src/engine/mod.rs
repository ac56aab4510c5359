//! The engine: executes the planner's next action, journals it, and asks again, until the
//! rollout is done, must wait, or must halt.
//!
//! It never prints (it emits [`Event`]s into an [`EventSink`]), never decides *what* to do (the
//! planner does) and never picks an exit code (`exit_code.rs` does, from its [`RunOutcome`]); it
//! owns the loop, the journal discipline, waiting, and stopping safely.

mod authorization;
mod counted;
mod engine;
mod event;
mod execute;
mod journaled;
#[cfg(test)]
mod model_tests;
mod outcome;
mod reading;
mod rollback;
mod step_start;
mod wait;

pub(crate) use counted::Counted;
pub(crate) use engine::{Engine, EngineError, Settings};
pub(crate) use event::{Event, EventSink, StepSize};
pub(crate) use outcome::RunOutcome;
pub(crate) use rollback::RollbackRefused;
