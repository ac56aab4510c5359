//! The embedded sandbox: a realistic simulation of the scheduling platform in one SQLite file.
//!
//! It models what the engine relies on — configurations in a fixed number of slots, per-user
//! enabled checkboxes, interval sync computed from the clock (no background worker), faults an
//! Exchange admin could cause, permission re-checks — and records every write it receives and
//! every invariant a client violates. It is the default target of the quick start and the test
//! bed of the engine. This module owns the file and the simulation; the [`Target`] impl is in
//! `sandbox_target.rs`, the command-line controls in `crate::cli::sandbox`, serving it over HTTP
//! in `crate::serve`.
//!
//! [`SandboxFile`] is one type whose `impl` is spread over a file per concept: `sandbox_file.rs`
//! (creating and opening it; `file_format.rs` its tables and upgrades), `configurations.rs`,
//! `assignments.rs`, `users.rs` (reading users back; the sync itself is `simulation.rs`'s),
//! `oauth_sessions.rs`, `fault_switches.rs`, `mailbox.rs` and `write_ledger.rs`.
//!
//! [`Target`]: crate::target::Target

mod assignments;
mod configurations;
mod fault;
mod fault_switches;
mod file_format;
mod inspect;
mod mailbox;
mod oauth_sessions;
mod sandbox_error;
mod sandbox_file;
mod sandbox_target;
mod scenario;
mod simulation;
mod users;
mod write_ledger;

pub(crate) use fault::Fault;
pub(crate) use inspect::Inspection;
pub(crate) use mailbox::Mailbox;
pub(crate) use oauth_sessions::CLAIMED;
pub(crate) use sandbox_error::SandboxError;
pub(crate) use sandbox_file::SandboxFile;
pub(crate) use sandbox_target::{SandboxTarget, scenario_path};
pub(crate) use scenario::{SCENARIOS, Scenario, ScenarioOptions};
