//! The engine: executes the planner's next action, journals it, and asks again, until the
//! rollout is done, must wait, or must halt.
//!
//! It never prints (it emits [`Event`]s to a reporter) and never decides *what* to do (the
//! planner does); it owns the loop, the journal discipline, waiting, and stopping safely.

mod counted;
mod engine;
mod event;
mod outcome;

pub(crate) use counted::Counted;
pub(crate) use engine::{Engine, EngineError, Settings};
pub(crate) use event::{Event, StepSize};
pub(crate) use outcome::RunOutcome;
