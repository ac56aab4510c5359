//! The command line: arguments parsed once into commands, each command in its own file.

mod output;
mod schema;
mod validate;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::exit_code::Exit;

pub(crate) use output::Output;

/// cutover: a declarative migration-plan runner. Moves a scheduling platform's Exchange calendar
/// sync from a Basic/NTLM service account to OAuth, in reviewed, scheduled and gated batches.
#[derive(Debug, Parser)]
#[command(name = "cutover", version, about, long_about = None, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check plan files and report every error at once (exit 0 if all are valid, 2 if not).
    Validate {
        /// The plan files to check.
        #[arg(required = true, value_name = "PLAN")]
        plans: Vec<PathBuf>,
        /// `text` for people, `json` for editors and CI.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Print the plan file's JSON Schema (draft-07), for editors and TOML language servers.
    Schema,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    Text,
    Json,
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
    match cli.command {
        Command::Validate { plans, format } => validate::run(&plans, format, &out),
        Command::Schema => schema::run(&out),
    }
}
