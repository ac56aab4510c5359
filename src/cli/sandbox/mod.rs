//! `cutover sandbox …`: create, look at and disturb an embedded sandbox platform, or serve it.
//!
//! Every command takes the sandbox as a file path, or as a plan file whose target is a sandbox
//! (`cutover sandbox deny-access plans/quickstart.toml carl.adams@contoso.example`). This folder
//! only parses arguments and resolves them: making and inspecting a sandbox is `tenant.rs`,
//! disturbing one `controls.rs`, serving one `serve.rs` (over `crate::serve`).

mod args;
mod controls;
mod resolve;
mod serve;
mod tenant;

use std::path::PathBuf;

use clap::Subcommand;

use crate::cli::{CommandError, Format, Output};
use crate::clock::Clock;
use crate::exit_code::Exit;
use crate::sandbox::Fault;

pub(crate) use args::parse_interval;
use args::{SandboxArg, ToggleUsersArgs, UsersArgs};
use serve::ServeArgs;

#[derive(Debug, Subcommand)]
pub(crate) enum SandboxCommand {
    /// Create a sandbox file from a scenario (the same command always gives the same tenant).
    #[command(after_help = "Example:\n  cutover sandbox init tenant.db --scenario demo --users 48")]
    Init {
        /// Where to write the sandbox file.
        path: PathBuf,
        /// The scenario to start from (`cutover sandbox scenarios` lists them).
        #[arg(long, default_value = "demo")]
        scenario: String,
        /// How many users the tenant has.
        #[arg(long)]
        users: Option<usize>,
        /// How often each user syncs, such as `2s` or `50ms`.
        #[arg(long, value_parser = parse_interval)]
        sync_interval: Option<i64>,
    },
    /// List the scenarios `init` can start from.
    #[command(after_help = "Example:\n  cutover sandbox scenarios")]
    Scenarios,
    /// Print the whole platform state.
    #[command(
        after_help = "Example:\n  cutover sandbox inspect tenant.db --format json | jq '.users[0]'"
    )]
    Inspect {
        #[command(flatten)]
        sandbox: SandboxArg,
        /// `text` for people, `json` (a stable shape) for tools.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Put mailboxes outside the OAuth app's access policy: their OAuth syncs fail, access denied.
    #[command(after_help = "Example:\n  cutover sandbox deny-access tenant.db ana@contoso.example")]
    DenyAccess(UsersArgs),
    /// Put mailboxes back inside the OAuth app's access policy.
    #[command(
        after_help = "Example:\n  cutover sandbox allow-access tenant.db ana@contoso.example"
    )]
    AllowAccess(UsersArgs),
    /// Throttle mailboxes (`--off` to stop).
    #[command(
        after_help = "Example:\n  cutover sandbox throttle tenant.db ana@contoso.example\n  cutover sandbox throttle tenant.db ana@contoso.example --off"
    )]
    Throttle(ToggleUsersArgs),
    /// Make mailboxes sync six times less often (`--off` to stop).
    #[command(after_help = "Example:\n  cutover sandbox slow-sync tenant.db ben@contoso.example")]
    SlowSync(ToggleUsersArgs),
    /// Remove mailboxes: every configuration fails for them (`--off` to restore).
    #[command(
        after_help = "Example:\n  cutover sandbox remove-mailbox tenant.db carl@contoso.example"
    )]
    RemoveMailbox(ToggleUsersArgs),
    /// Make users' emails not their mailbox's primary address: a warning, no sync (`--off` to fix).
    #[command(
        after_help = "Example:\n  cutover sandbox not-primary tenant.db dina@contoso.example"
    )]
    NotPrimary(ToggleUsersArgs),
    /// Revoke an OAuth configuration's grant: all its syncs fail (`--off` to restore).
    #[command(
        after_help = "Example:\n  cutover sandbox revoke-grant tenant.db --configuration OAuth"
    )]
    RevokeGrant {
        #[command(flatten)]
        sandbox: SandboxArg,
        /// The configuration's display name.
        #[arg(long, default_value = "OAuth")]
        configuration: String,
        /// Restore the grant instead of revoking it.
        #[arg(long)]
        off: bool,
    },
    /// Re-run the permission check now for users (default: every user whose latest sync failed).
    #[command(
        after_help = "Example:\n  cutover sandbox recheck tenant.db\n  cutover sandbox recheck tenant.db ana@contoso.example"
    )]
    Recheck {
        #[command(flatten)]
        sandbox: SandboxArg,
        /// The users to re-check (default: every user whose latest sync failed).
        #[arg(value_name = "EMAIL")]
        emails: Vec<String>,
    },
    /// Make the Nth write call from now fail as if the platform did not answer (for testing
    /// that a run resumes correctly).
    #[command(after_help = "Example:\n  cutover sandbox fail-call tenant.db --at 3 --after-commit")]
    FailCall {
        #[command(flatten)]
        sandbox: SandboxArg,
        /// Which write call from now fails (1 = the next one).
        #[arg(long, default_value_t = 1)]
        at: u32,
        /// Let the call take effect and lose only its answer.
        #[arg(long)]
        after_commit: bool,
    },
    /// Serve the sandbox over the platform's admin API (the `http` target's contract) on
    /// loopback, optionally hostile. Prints `listening on http://ADDRESS` first.
    #[command(
        after_help = "Example:\n  CUTOVER_SANDBOX_TOKEN=dev-token cutover sandbox serve tenant.db --listen 127.0.0.1:8765\n  cutover sandbox serve root.db --tenant acme=acme.db --tenant globex=globex.db --rate-limit 200"
    )]
    Serve(ServeArgs),
    /// Change how often users sync, such as `2s` or `100ms`.
    #[command(after_help = "Example:\n  cutover sandbox set-interval tenant.db 100ms")]
    SetInterval {
        #[command(flatten)]
        sandbox: SandboxArg,
        /// How often each user syncs, such as `2s` or `100ms`.
        #[arg(value_parser = parse_interval)]
        interval: i64,
    },
}

/// Runs a `sandbox` command. Every failure exits 1, usage errors included, as it always has.
pub(crate) fn run(
    command: SandboxCommand,
    clock: Clock,
    out: &Output,
) -> Result<Exit, CommandError> {
    let now = clock.now_ms();
    match command {
        SandboxCommand::Init {
            path,
            scenario,
            users,
            sync_interval,
        } => tenant::init(&path, &scenario, users, sync_interval, now, out)?,
        SandboxCommand::Scenarios => tenant::scenarios(out),
        SandboxCommand::Inspect { sandbox, format } => tenant::inspect(&sandbox, format, now, out)?,
        SandboxCommand::DenyAccess(args) => {
            controls::user_fault(&args, Fault::DenyAccess, true, now, out)?
        }
        SandboxCommand::AllowAccess(args) => {
            controls::user_fault(&args, Fault::DenyAccess, false, now, out)?
        }
        SandboxCommand::Throttle(t) => {
            controls::user_fault(&t.users, Fault::Throttle, !t.off, now, out)?
        }
        SandboxCommand::SlowSync(t) => {
            controls::user_fault(&t.users, Fault::SlowSync, !t.off, now, out)?
        }
        SandboxCommand::RemoveMailbox(t) => {
            controls::user_fault(&t.users, Fault::MailboxGone, !t.off, now, out)?
        }
        SandboxCommand::NotPrimary(t) => {
            controls::user_fault(&t.users, Fault::NotPrimary, !t.off, now, out)?
        }
        SandboxCommand::RevokeGrant {
            sandbox,
            configuration,
            off,
        } => controls::revoke_grant(&sandbox, &configuration, off, now, out)?,
        SandboxCommand::Recheck { sandbox, emails } => {
            controls::recheck(&sandbox, &emails, now, out)?
        }
        SandboxCommand::FailCall {
            sandbox,
            at,
            after_commit,
        } => controls::fail_call(&sandbox, at, after_commit, out)?,
        SandboxCommand::Serve(args) => serve::run(args, clock, out)?,
        SandboxCommand::SetInterval { sandbox, interval } => {
            controls::set_interval(&sandbox, interval, out)?
        }
    }
    Ok(Exit::Done)
}
