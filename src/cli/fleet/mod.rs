//! `cutover fleet apply | plan | status PLAN...`: many tenants' plans from one command, for
//! managed-service providers and platform vendors.
//!
//! Each plan is what it would be alone: its own session, its own state store opened the way
//! `apply` opens it, its own run lock. The fleet only adds running them side by side
//! (`pool.rs`), sharing one request budget per platform (`crate::http_target::Limiters`),
//! marking each line with its plan (`lines.rs`, `progress.rs`) and one exit code for all of
//! them (`exit.rs`). Which files make the fleet is `plan_files.rs`.

mod apply;
mod exit;
mod lines;
mod plan;
mod plan_files;
mod pool;
mod progress;
mod status;
mod summary;

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};

use super::args::Format;
use super::sandbox::parse_interval;
use super::settings::GlobalSettings;
use super::{CommandError, Output, Session};
use crate::clock::Clock;
use crate::exit_code::Exit;
use crate::state::StateLocation;
use exit::PlanResult;

#[derive(Debug, Subcommand)]
pub(crate) enum FleetCommand {
    /// Run many plans at once, each under its own lock: a plan another process or host is
    /// running is skipped (it counts as waiting, exit 4), so several hosts can share the work.
    #[command(
        after_help = "Example:\n  cutover fleet apply tenants/ --until-blocked --concurrency 16   # from cron, on each host\n  cutover fleet apply tenants/acme.toml tenants/globex.toml\n\nExit code: the most urgent of the plans' — 2, then 3, 1, 6, 4, 0."
    )]
    Apply {
        /// Plan files, or folders: a folder stands for its `*.toml` files and those of its
        /// subfolders (`tenants/acme/plan.toml`).
        #[arg(required = true, value_name = "PLAN")]
        plans: Vec<PathBuf>,
        /// How many plans run at once.
        #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=1024))]
        concurrency: u16,
        /// Run each plan until it is done or must wait, then leave it (4 for time, syncs, a hold
        /// or a plan run elsewhere; 6 for a person), as `apply --until-blocked` does.
        #[arg(long)]
        until_blocked: bool,
        /// Confirm real targets' disconnects whose plans say `approval = false` (never an
        /// approval; a fleet never prompts).
        #[arg(long)]
        yes: bool,
        /// `text` (a line per plan on a terminal, plain lines marked `plan: ` otherwise) or
        /// `json` (one object per event, each with its `plan`).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// How often each plan looks at its platform again while waiting, such as `2s`.
        #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_interval)]
        poll_interval: i64,
        /// Run only plans committed to git (each plan is checked as `apply` checks it).
        #[arg(long)]
        require_clean_git: bool,
        /// The most requests per second this process sends to one platform (plans whose API
        /// is on the same scheme, host and port share it). With H hosts running the fleet,
        /// give each a little under the platform's limit ÷ H. Unset: the budget adapts to the
        /// platform's 429s.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        rate_limit: Option<u32>,
    },
    /// One dry-run document for the change board: a summary table, then each plan's dry-run.
    #[command(
        after_help = "Example:\n  cutover fleet plan tenants/ --format markdown > CHG-2001.md"
    )]
    Plan {
        /// Plan files, or folders of them (as `fleet apply` takes them).
        #[arg(required = true, value_name = "PLAN")]
        plans: Vec<PathBuf>,
        /// `text`, `markdown` for a change ticket, or `json` for tools.
        #[arg(long, value_enum, default_value_t = FleetPlanFormat::Text)]
        format: FleetPlanFormat,
        /// List every user in text output instead of folding long lists.
        #[arg(long)]
        full: bool,
        /// Plan as of this RFC 3339 time instead of now (for reproducible output).
        #[arg(long, value_name = "TIME")]
        now: Option<jiff::Timestamp>,
    },
    /// Where every plan stands, in one table, from the state alone (no credentials, no network).
    #[command(
        after_help = "Example:\n  cutover fleet status tenants/ --format json | jq '.plans[]'"
    )]
    Status {
        /// Plan files, or folders of them (as `fleet apply` takes them).
        #[arg(required = true, value_name = "PLAN")]
        plans: Vec<PathBuf>,
        /// `text` for people, `json` for monitoring.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

/// `cutover fleet plan`'s formats (HTML is one page per plan: `cutover report`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum FleetPlanFormat {
    Text,
    Markdown,
    Json,
}

pub(crate) fn run(
    command: FleetCommand,
    global: &GlobalSettings,
    clock: Clock,
    out: &Output,
) -> Result<Exit, CommandError> {
    // One state file cannot hold many plans' state; one PostgreSQL database can (each rollout
    // keyed by plan name and target), and is what lets several hosts share a fleet. Each plan
    // opens its own store, as `apply` does.
    if let Some(given) = &global.state {
        if let StateLocation::File(_) = StateLocation::parse(given)? {
            return Err(CommandError::invalid(
                "`--state` (or CUTOVER_STATE) names one plan's state file; a fleet keeps each plan's state beside it, or all of them on PostgreSQL",
            )
            .hint("unset it (each plan's state is `.cutover/<name>.state.db` beside the plan), or give a postgres:// URL"));
        }
    }
    match command {
        FleetCommand::Apply {
            plans,
            concurrency,
            until_blocked,
            yes,
            format,
            poll_interval,
            require_clean_git,
            rate_limit,
        } => {
            let files = plan_files::expand(&plans)?;
            let settings = super::settings::ApplySettings::resolve(
                until_blocked,
                yes,
                None,
                format,
                poll_interval,
                false,
                false,
                require_clean_git,
            );
            let fleet = apply::FleetSettings {
                concurrency: usize::from(concurrency),
                rate_limit,
            };
            apply::run(&files, &fleet, &settings, global, clock, out)
        }
        FleetCommand::Plan {
            plans,
            format,
            full,
            now,
        } => {
            let files = plan_files::expand(&plans)?;
            Ok(plan::run(&files, format, full, now, global, clock, out))
        }
        FleetCommand::Status { plans, format } => {
            let files = plan_files::expand(&plans)?;
            Ok(status::run(&files, format, global, clock, out))
        }
    }
}

/// The plans that can run, and the results of those that cannot, each with its place in the
/// order given.
type Loaded<'a> = (Vec<(usize, Session<'a>)>, Vec<(usize, PlanResult)>);

/// The fleet's plans loaded, each as `apply` loads it (diagnostics printed as `validate` prints
/// them), numbered in the order given; those that cannot run are already results: an invalid
/// plan, or a second plan of a name the fleet already has (one name is one rollout's state).
fn load<'a>(
    files: &[PathBuf],
    global: &'a GlobalSettings,
    clock: Clock,
    out: &Output,
) -> Loaded<'a> {
    let mut sessions = Vec::new();
    let mut refused = Vec::new();
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    for (index, file) in files.iter().enumerate() {
        let shown = file.display().to_string();
        let refuse = |error: CommandError| {
            out.stderr(&error.render());
            PlanResult {
                name: shown.clone(),
                file: shown.clone(),
                exit: Exit::from(error.kind),
                line: format!("error: {error}"),
            }
        };
        match Session::load(file, global, clock, out) {
            Ok(session) => {
                let name = session.plan.name.to_string();
                if let Some(first) = names.get(&name) {
                    let error = CommandError::invalid(format!(
                        "{shown}: the plan name {name:?} is already {first}'s; every plan of a fleet needs its own name"
                    ));
                    refused.push((index, refuse(error)));
                } else {
                    names.insert(name, shown.clone());
                    sessions.push((index, session));
                }
            }
            Err(error) => refused.push((index, refuse(error))),
        }
    }
    (sessions, refused)
}

/// One `T` per plan in the order given: `refused` made from each plan that could not load,
/// `each` from each that did.
fn in_order<T>(
    (sessions, refused): Loaded<'_>,
    refused_as: impl Fn(PlanResult) -> T,
    mut each: impl FnMut(&Session<'_>) -> T,
) -> Vec<T> {
    let mut all: Vec<(usize, T)> = refused
        .into_iter()
        .map(|(index, result)| (index, refused_as(result)))
        .collect();
    all.extend(
        sessions
            .iter()
            .map(|(index, session)| (*index, each(session))),
    );
    all.sort_by_key(|(index, _)| *index);
    all.into_iter().map(|(_, t)| t).collect()
}
