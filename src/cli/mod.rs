//! The command line: arguments parsed once into commands, each command in its own file.

mod output;
mod plan;
mod sandbox;
mod schema;
mod validate;

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand, ValueEnum};

use crate::clock::Clock;
use crate::exit_code::Exit;
use crate::plan::{SandboxRef, TargetSpec};
use crate::sandbox::SandboxTarget;

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
    /// Show exactly what `apply` would do, for review (the dry-run). Changes nothing.
    Plan {
        plan: PathBuf,
        /// `text` for a terminal or log, `markdown` for a change ticket, `json` for tools.
        #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
        format: PlanFormat,
        /// List every user in text output instead of folding long lists.
        #[arg(long)]
        full: bool,
        /// Plan as of this RFC 3339 time instead of now (for reproducible output).
        #[arg(long, value_name = "TIME")]
        now: Option<jiff::Timestamp>,
    },
    /// Print the plan file's JSON Schema (draft-07), for editors and TOML language servers.
    Schema,
    /// Create, inspect and disturb an embedded sandbox platform.
    #[command(subcommand)]
    Sandbox(sandbox::SandboxCommand),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum PlanFormat {
    Text,
    Markdown,
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
    let clock = match Clock::from_env() {
        Ok(clock) => clock,
        Err(e) => {
            out.stderr(&format!("error: {e}\n"));
            return Exit::Invalid;
        }
    };
    match cli.command {
        Command::Validate { plans, format } => validate::run(&plans, format, &out),
        Command::Plan {
            plan: path,
            format,
            full,
            now,
        } => plan::run(&path, format, full, now, clock, &out),
        Command::Schema => schema::run(&out),
        Command::Sandbox(command) => sandbox::run(command, clock, &out),
    }
}

/// Loads a plan for a command that needs a valid one; on failure prints the diagnostics as
/// `validate` would and returns `None` (the caller exits 2).
pub(crate) fn load_or_report(path: &Path, out: &Output) -> Option<crate::plan::Plan> {
    match crate::plan::load(path) {
        Ok(loaded) => {
            validate::print_diagnostics(&loaded.warnings, out);
            Some(loaded.plan)
        }
        Err(crate::plan::LoadError::Invalid { diagnostics }) => {
            validate::print_diagnostics(&diagnostics, out);
            let errors = diagnostics.iter().filter(|d| d.is_error()).count();
            out.stderr(&format!(
                "invalid: {}: {errors} error(s); nothing was done\n",
                path.display()
            ));
            None
        }
        Err(e) => {
            out.stderr(&format!("error: {e}\n"));
            None
        }
    }
}

/// A plan's target, opened, with words for it.
pub(crate) struct OpenedTarget {
    pub(crate) target: SandboxTarget,
    pub(crate) description: String,
}

/// Opens the platform a plan names. A scenario sandbox is created on first use.
pub(crate) fn open_target(
    plan: &crate::plan::Plan,
    path: &Path,
    clock: Clock,
) -> Result<OpenedTarget, String> {
    let dir = plan::plan_dir(path);
    match &plan.target {
        TargetSpec::Sandbox {
            sandbox: SandboxRef::Scenario(name),
        } => {
            let workdir = crate::workdir::path(&dir);
            let target =
                SandboxTarget::scenario(&workdir, name, clock).map_err(|e| e.to_string())?;
            let file = crate::sandbox::scenario_path(&workdir, name);
            Ok(OpenedTarget {
                target,
                description: format!("sandbox {name:?} ({})", file.display()),
            })
        }
        TargetSpec::Sandbox {
            sandbox:
                SandboxRef::File {
                    path: file,
                    written,
                },
        } => {
            let target = SandboxTarget::open(file, clock).map_err(|e| e.to_string())?;
            Ok(OpenedTarget {
                target,
                description: format!("sandbox file {written}"),
            })
        }
        TargetSpec::Http { url, .. } => Err(format!(
            "the http target ({url}) is not available in this build of cutover yet; use a sandbox target"
        )),
    }
}

/// Runs a future on a single-threaded runtime: cutover's concurrency is I/O, not CPU.
pub(crate) fn block_on<F: std::future::Future>(future: F) -> F::Output {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(future),
        Err(e) => panic!("cannot start the async runtime: {e}"),
    }
}
