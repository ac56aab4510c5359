//! cutover: a declarative migration-plan runner.
//!
//! The binary's `main` calls [`main`]; everything else is crate-private. The pipeline is
//! plan (parse, validate) → planner → engine → target, with reporters rendering events.

// A file per type, named after it (`diagnostic/diagnostic.rs`): the house style.
#![allow(clippy::module_inception)]

mod api;
mod atomic_file;
mod cli;
mod clock;
mod diagnostic;
mod dry_run;
mod engine;
mod exit_code;
mod fnv_map;
mod git;
mod html_report;
mod http_target;
mod notify;
mod oauth;
mod plan;
mod planner;
mod platform;
mod precheck;
mod report;
mod retry;
mod sandbox;
mod serve;
mod signals;
mod signing;
mod sorted_search;
mod sqlite_file;
mod state;
mod target;
mod workdir;

/// Runs the command line and returns the process's exit code.
pub fn main() -> std::process::ExitCode {
    cli::run().terminate()
}
