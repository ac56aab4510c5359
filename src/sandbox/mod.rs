//! The embedded sandbox: a realistic simulation of the scheduling platform in one SQLite file.
//!
//! It models what the engine relies on — configurations in a fixed number of slots, per-user
//! enabled checkboxes, interval sync computed from the clock (no background worker), faults an
//! Exchange admin could cause, permission re-checks — and records every write it receives and
//! every invariant a client violates. It is the default target of the quick start and the test
//! bed of the engine. This module owns the file and the simulation; the [`Target`] impl is in
//! `sandbox_target.rs`, the command-line controls in `crate::cli::sandbox`.
//!
//! [`Target`]: crate::target::Target

mod fault;
mod inspect;
mod sandbox_error;
mod sandbox_file;
mod sandbox_target;
mod scenario;
mod simulation;

pub(crate) use fault::Fault;
pub(crate) use inspect::Inspection;
pub(crate) use sandbox_error::SandboxError;
pub(crate) use sandbox_file::{CLAIMED, Mailbox, SandboxFile};
pub(crate) use sandbox_target::{SandboxTarget, scenario_path};
pub(crate) use scenario::{SCENARIOS, Scenario, ScenarioOptions};
