//! The command line: arguments parsed once (`args.rs`), resolved into settings once
//! (`settings.rs`), a plan session opened once (`session.rs`), then one file per command.
//!
//! Every command returns `Result<Exit, CommandError>`; [`conclude`] prints the error and takes
//! its exit code from `exit_code.rs`.

mod accept;
mod apply;
mod approve;
mod args;
mod command_error;
mod completions;
mod engine_error;
mod fleet;
mod hold;
mod log;
mod log_filter;
mod log_verify;
mod notify;
mod output;
mod plan;
mod report;
mod reviewed_dry_runs;
mod rollback;
mod run_end;
mod run_notifications;
mod run_provenance;
mod sandbox;
mod schema;
mod session;
mod settings;
mod signoff;
mod state_migrate;
mod status;
mod status_live;
mod unlock;
mod validate;

use clap::Parser;

use crate::clock::Clock;
use crate::exit_code::Exit;

use args::{Cli, Command, NotifyCommand};
pub(crate) use args::{Format, PlanFormat};
pub(crate) use command_error::{CommandError, ErrorKind};
pub(crate) use output::Output;
pub(crate) use session::{Session, block_on};
use settings::{ApplySettings, GlobalSettings, LogSettings};

/// What a command's result means for the process: its exit code, or its error printed to
/// standard error and classified.
pub(crate) fn conclude(result: Result<Exit, CommandError>, out: &Output) -> Exit {
    match result {
        Ok(exit) => exit,
        Err(error) => {
            out.stderr(&error.render());
            Exit::from(error.kind)
        }
    }
}

/// Parses the arguments and runs the command.
pub(crate) fn run() -> Exit {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help and version to stdout with success; usage errors to stderr.
            let _ = e.print();
            return if e.use_stderr() {
                Exit::Invalid
            } else {
                Exit::Done
            };
        }
    };
    let out = Output::detect();
    let clock = match Clock::from_env() {
        Ok(clock) => clock,
        Err(e) => return conclude(Err(CommandError::invalid(e.to_string())), &out),
    };
    let global = GlobalSettings::resolve(&cli);
    let session = |path: &std::path::Path| Session::load(path, &global, clock, &out);
    let result = match cli.command {
        Command::Validate { plans, format } => Ok(validate::run(&plans, format, &out)),
        Command::Plan {
            plan,
            format,
            full,
            now,
        } => session(&plan).and_then(|s| plan::run(&s, format, full, now, &out)),
        Command::Apply {
            plan,
            until_blocked,
            yes,
            approved,
            format,
            poll_interval,
            reauthorize,
            open,
            require_clean_git,
        } => {
            let settings = ApplySettings::resolve(
                until_blocked,
                yes,
                approved,
                format,
                poll_interval,
                reauthorize,
                open,
                require_clean_git,
            );
            session(&plan).and_then(|s| apply::run(&s, &settings, &out))
        }
        Command::Approve {
            plan,
            step,
            digest,
            by,
            revoke,
            sign,
        } => session(&plan).and_then(|s| {
            let what = match (step, digest) {
                (_, Some(digest)) => approve::What::Digest(digest),
                (Some(step), None) => approve::What::Step(step),
                (None, None) => return Err(CommandError::invalid("name a step, or --digest")),
            };
            let request = approve::Request {
                what,
                by,
                revoke,
                sign,
            };
            approve::run(&s, request, &out)
        }),
        Command::Accept {
            plan,
            users,
            reason,
            by,
            revoke,
            sign,
        } => session(&plan).and_then(|s| {
            let request = accept::Request {
                emails: &users,
                reason: reason.as_deref(),
                by,
                revoke,
                sign,
            };
            accept::run(&s, request, &out)
        }),
        Command::Rollback { plan, batch } => {
            session(&plan).and_then(|s| rollback::run(&s, &batch, &out))
        }
        Command::Hold { plan, reason, by } => {
            session(&plan).and_then(|s| hold::hold(&s, &reason, by, &out))
        }
        Command::Release { plan, by } => session(&plan).and_then(|s| hold::release(&s, by, &out)),
        Command::Status {
            plan,
            format,
            live: false,
            stale_after,
        } => session(&plan).and_then(|s| status::run(&s, format, stale_after, &out)),
        Command::Status {
            plan,
            format,
            live: true,
            ..
        } => session(&plan).and_then(|s| status_live::run(&s, format, &out)),
        Command::Report { plan, output, now } => {
            session(&plan).and_then(|s| report::run(&s, output.as_deref(), now, &out))
        }
        Command::Log {
            plan,
            format,
            verify,
            head,
            step,
            user,
            since,
        } => {
            let settings = LogSettings {
                format,
                verify,
                head,
                step,
                user,
                since,
            };
            session(&plan).and_then(|s| log::run(&s, &settings, &out))
        }
        Command::Unlock { plan, force } => {
            session(&plan).and_then(|s| unlock::run(&s, force, &out))
        }
        Command::Schema {
            openapi,
            notification,
        } => Ok(schema::run(openapi, notification, &out)),
        Command::Notify(NotifyCommand::Test { plan, format }) => {
            session(&plan).and_then(|s| notify::test(&s, format, &out))
        }
        Command::Completions { shell } => Ok(completions::completions(shell, &out)),
        Command::Man { out_dir } => completions::man(out_dir.as_deref(), &out),
        Command::Sandbox(command) => sandbox::run(command, clock, &out),
        Command::Fleet(command) => fleet::run(command, &global, clock, &out),
        Command::State(args::StateCommand::Migrate { plan, from, to }) => {
            session(&plan).and_then(|s| state_migrate::run(&s, from.as_deref(), &to, &out))
        }
    };
    conclude(result, &out)
}
