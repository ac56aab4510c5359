//! The command line's shape: every subcommand, argument and flag, as clap parses them. Nothing
//! here is acted on; `settings.rs` resolves it into what each command needs.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use super::sandbox;

/// A duration in the plan's grammar (`90s`, `10m`, `1h30m`, `7d`).
fn parse_duration(text: &str) -> Result<jiff::SignedDuration, crate::plan::grammar::GrammarError> {
    let duration = crate::plan::grammar::PlanDuration::parse(text)?;
    // The grammar caps a duration at 366 days, far inside `i64` seconds.
    let seconds = i64::try_from(duration.seconds()).unwrap_or(i64::MAX);
    Ok(jiff::SignedDuration::from_secs(seconds))
}

/// cutover: a declarative migration-plan runner. Moves a scheduling platform's Exchange calendar
/// sync from a Basic/NTLM service account to OAuth, in reviewed, scheduled and gated batches.
#[derive(Debug, Parser)]
#[command(name = "cutover", version, about, long_about = None, propagate_version = true)]
pub(crate) struct Cli {
    /// The state file (default: `.cutover/<plan name>.state.db` beside the plan), or a
    /// `postgres://user@host/db` URL (no password in it: PGPASSWORD or PGPASSFILE). Point it
    /// somewhere durable when the runner is ephemeral.
    #[arg(long, global = true, env = "CUTOVER_STATE", value_name = "PATH|URL")]
    pub(crate) state: Option<PathBuf>,
    /// Allow an `http://` target URL to a host that is not loopback (a trusted network only).
    #[arg(long, global = true)]
    pub(crate) allow_insecure_http: bool,
    /// The most requests in flight to the platform's API at once (default: adapts, up to 32,
    /// halving whenever the platform throttles).
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub(crate) max_concurrency: Option<u16>,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Check plan files and report every error at once (exit 0 if all are valid, 2 if not).
    #[command(
        after_help = "Example:\n  cutover validate plans/contoso.toml\n  cutover validate --format json plans/*.toml"
    )]
    Validate {
        /// The plan files to check.
        #[arg(required = true, value_name = "PLAN")]
        plans: Vec<PathBuf>,
        /// `text` for people, `json` for editors and CI.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Show exactly what `apply` would do, for review (the dry-run). Changes nothing.
    #[command(
        after_help = "Example:\n  cutover plan plans/contoso.toml --format markdown > CHG-1234.md"
    )]
    Plan {
        /// The plan file.
        plan: PathBuf,
        /// `text` for a terminal or log, `markdown` for a change ticket, `json` for tools,
        /// `html` for one self-contained page to attach or print.
        #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
        format: PlanFormat,
        /// List every user in text output instead of folding long lists.
        #[arg(long)]
        full: bool,
        /// Plan as of this RFC 3339 time instead of now (for reproducible output).
        #[arg(long, value_name = "TIME")]
        now: Option<jiff::Timestamp>,
    },
    /// Run the plan: connect, pilot, batches, disconnect. Resumes where the last run stopped.
    #[command(
        after_help = "Example:\n  cutover apply plans/quickstart.toml\n  cutover apply plans/contoso.toml --until-blocked   # from cron, a timer or CI"
    )]
    Apply {
        /// The plan file.
        plan: PathBuf,
        /// Do what is due now and exit at the first wait, with a `waiting:` line: 4 for time,
        /// syncs or a hold, 6 for a person (for cron, systemd timers and CI schedules).
        #[arg(long)]
        until_blocked: bool,
        /// Confirm a real target's disconnect: answers the prompt on a terminal, and is needed
        /// with no terminal when the plan's disconnect has `approval = false`. Never an approval.
        #[arg(long)]
        yes: bool,
        /// The digest of the dry-run the change board approved; checked when the rollout starts.
        #[arg(long, value_name = "DIGEST")]
        approved: Option<String>,
        /// `text` (progress bars on a terminal, plain lines otherwise) or `json` (one object per
        /// event).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// How often to look at the platform again while waiting, such as `2s` or `500ms`.
        #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = sandbox::parse_interval)]
        poll_interval: i64,
        /// Start the OAuth authorization of the new configuration over, when it failed or was
        /// given by the wrong account.
        #[arg(long)]
        reauthorize: bool,
        /// Open the authorization URL in the default browser.
        #[arg(long)]
        open: bool,
        /// Run only a plan committed to git: refuse (exit 2, before anything is written) when
        /// the plan file or a CSV user file it names has uncommitted changes, is untracked, or
        /// is outside a git repository. Also `[change_control] require_clean_git = true`.
        #[arg(long)]
        require_clean_git: bool,
    },
    /// Record an approval of a step (`pilot`, a batch, `<batch>#<n>`, or `disconnect`).
    #[command(
        after_help = "Example:\n  cutover approve plans/contoso.toml east --by \"CAB-1234 (J. Doe)\""
    )]
    Approve {
        /// The plan file.
        plan: PathBuf,
        /// The step to approve: `pilot`, a batch's name (all its waves), `<batch>#<n>`, or
        /// `disconnect`.
        #[arg(required_unless_present = "digest", conflicts_with = "digest")]
        step: Option<String>,
        /// Approve the plan as a whole by the digest `cutover plan` printed: an edit of a running
        /// rollout, or (with `require_approved_digest`) the dry-run before the first change.
        #[arg(long, value_name = "DIGEST")]
        digest: Option<String>,
        /// Who approves (default: the OS user).
        #[arg(long)]
        by: Option<String>,
        /// Withdraw the approval instead, while it has not been acted on.
        #[arg(long)]
        revoke: bool,
        /// Sign the approval with this SSH key (a private key, or the .pub of one ssh-agent
        /// holds): required when the plan names `[change_control] allowed_signers`.
        #[arg(long, value_name = "KEY", conflicts_with = "revoke")]
        sign: Option<PathBuf>,
    },
    /// Accept moving users without a clean OAuth sync: the disconnect moves them to the new
    /// configuration alone, and they stop syncing until fixed (recorded; `--revoke` undoes it).
    #[command(
        after_help = "Example:\n  cutover accept plans/contoso.toml jo.leaver@contoso.example --reason \"left on 2026-11-30 (HR-5521)\" --by \"CAB-1234\""
    )]
    Accept {
        /// The plan file.
        plan: PathBuf,
        /// The users' emails.
        #[arg(required = true, value_name = "EMAIL")]
        users: Vec<String>,
        /// Why the board accepts them (required to accept).
        #[arg(long, required_unless_present = "revoke")]
        reason: Option<String>,
        /// Who accepts (default: the OS user).
        #[arg(long)]
        by: Option<String>,
        /// Withdraw their acceptance instead.
        #[arg(long)]
        revoke: bool,
        /// Sign the acceptance with this SSH key (a private key, or the .pub of one ssh-agent
        /// holds): required when the plan names `[change_control] allowed_signers`.
        #[arg(long, value_name = "KEY", conflicts_with = "revoke")]
        sign: Option<PathBuf>,
    },
    /// Move a started batch back to the old configuration (while it is still connected).
    #[command(after_help = "Example:\n  cutover rollback plans/contoso.toml --batch east")]
    Rollback {
        /// The plan file.
        plan: PathBuf,
        /// The batch to move back (every wave of it that started).
        #[arg(long, value_name = "NAME")]
        batch: String,
    },
    /// Freeze the rollout: nothing new starts until `release`.
    #[command(
        after_help = "Example:\n  cutover hold plans/contoso.toml --reason \"CAB freeze until Monday\""
    )]
    Hold {
        /// The plan file.
        plan: PathBuf,
        /// Why, for whoever finds the rollout held (shown by `status` and in the audit trail).
        #[arg(long)]
        reason: String,
        /// Who holds it (default: the OS user).
        #[arg(long)]
        by: Option<String>,
    },
    /// End a hold.
    #[command(after_help = "Example:\n  cutover release plans/contoso.toml")]
    Release {
        /// The plan file.
        plan: PathBuf,
        /// Who releases it (default: the OS user).
        #[arg(long)]
        by: Option<String>,
    },
    /// Where the rollout stands, from the state alone (no credentials, no network); the exit code
    /// says it too (0 done, 3 halted, 4 waiting for time, 6 waiting for a person).
    #[command(after_help = "Example:\n  cutover status plans/contoso.toml; echo \"exit $?\"")]
    Status {
        /// The plan file.
        plan: PathBuf,
        /// `text` for people, `json` for monitoring.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Also read the platform (with the plan's credentials) and show today's view, exiting
        /// as the `apply` that would run now.
        #[arg(long)]
        live: bool,
        /// Exit 1 when no run has ended for longer than this (such as `1h` or `2d`): the
        /// scheduler that should run `apply` is not running.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        stale_after: Option<jiff::SignedDuration>,
    },
    /// Write the rollout report: one self-contained HTML file (no script, nothing fetched) to
    /// attach to the change ticket or print. Before the rollout starts it is the dry-run.
    #[command(after_help = "Example:\n  cutover report plans/contoso.toml -o CHG-1234-report.html")]
    Report {
        /// The plan file.
        plan: PathBuf,
        /// Write the report here instead of to standard output.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
        /// Report as of this RFC 3339 time instead of now (for reproducible output).
        #[arg(long, value_name = "TIME")]
        now: Option<jiff::Timestamp>,
    },
    /// The audit trail: every step, gate, approval, hold and unlock, with time and operator,
    /// and which users each platform write touched. `--verify` checks its hash chain.
    #[command(
        after_help = "Example:\n  cutover log plans/contoso.toml --format json | jq .\n  cutover log plans/contoso.toml --user ana@contoso.example --since 2d\n  cutover log plans/contoso.toml --format csv > audit.csv\n  cutover log plans/contoso.toml --verify --head sha256:…   # exit 1 if broken"
    )]
    Log {
        /// The plan file.
        plan: PathBuf,
        /// `text` for people, `json` (one object per line) for tools, `csv` for spreadsheets.
        #[arg(long, value_enum, default_value_t = LogFormat::Text)]
        format: LogFormat,
        /// Check the audit trail's hash chain instead of listing it: exit 0 when it is whole,
        /// 1 when a record was changed, removed or added (the first broken one is named).
        #[arg(long, conflicts_with_all = ["step", "user", "since"])]
        verify: bool,
        /// With `--verify`: also check that the chain passes through this head, kept from an
        /// earlier run (`apply` prints it; notifications carry it), so a rewritten chain fails.
        #[arg(long, value_name = "HASH", requires = "verify", value_parser = crate::state::ChainHash::parse)]
        head: Option<crate::state::ChainHash>,
        /// Only this step's records: a batch (and its waves), `<batch>#<n>`, `pilot`,
        /// `disconnect`.
        #[arg(long, value_name = "NAME")]
        step: Option<String>,
        /// Only this user's moves, and the records that name them.
        #[arg(long, value_name = "EMAIL", value_parser = super::log_filter::parse_user)]
        user: Option<crate::plan::grammar::Email>,
        /// Only records from this RFC 3339 time on, or from this long ago (`2d`, `1h30m`).
        #[arg(long, value_name = "TIME|DURATION", value_parser = super::log_filter::Since::parse)]
        since: Option<super::log_filter::Since>,
    },
    /// Remove a run lock left by a process that can no longer release it (recorded).
    #[command(after_help = "Example:\n  cutover unlock plans/contoso.toml --force")]
    Unlock {
        /// The plan file.
        plan: PathBuf,
        /// Required: removing a live run's lock lets two runs collide.
        #[arg(long)]
        force: bool,
    },
    /// Print the plan file's JSON Schema (draft-07), for editors and TOML language servers.
    #[command(
        after_help = "Example:\n  cutover schema > schemas/plan.schema.json\n  cutover schema --notification"
    )]
    Schema {
        /// Print the OpenAPI document of the platform's admin API instead.
        #[arg(long, conflicts_with = "notification")]
        openapi: bool,
        /// Print the JSON Schema of the notifications `json` webhooks and commands receive.
        #[arg(long)]
        notification: bool,
    },
    /// Notification channels (`[[notify]]`): check that each one reaches someone.
    #[command(subcommand)]
    Notify(NotifyCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(
        after_help = "Example:\n  cutover completions bash > /etc/bash_completion.d/cutover\n  cutover completions zsh > \"${fpath[1]}/_cutover\""
    )]
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page, cutover(1); with `--out-dir`, write one page per command.
    #[command(
        after_help = "Example:\n  cutover man | man -l -\n  cutover man --out-dir /usr/local/share/man/man1"
    )]
    Man {
        /// Write `cutover.1`, `cutover-apply.1`, … into this folder instead of printing.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
    /// Create, inspect and disturb an embedded sandbox platform.
    #[command(subcommand)]
    Sandbox(sandbox::SandboxCommand),
    /// Many tenants' plans at once: `apply` them side by side (several hosts may share the
    /// work), one dry-run document for them, one status table.
    #[command(subcommand)]
    Fleet(super::fleet::FleetCommand),
    /// Where a rollout's state lives: move it from a state file to PostgreSQL.
    #[command(subcommand)]
    State(StateCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum StateCommand {
    /// Move a plan's rollout (journal, approvals, audit trail) from its state file to
    /// PostgreSQL, and mark the file as moved (a run pointed at it then exits 2 naming the URL).
    #[command(
        after_help = "Example:\n  PGPASSFILE=~/.pgpass cutover state migrate plans/contoso.toml \\\n    --from plans/.cutover/contoso.state.db --to postgres://cutover@db.example/ops"
    )]
    Migrate {
        /// The plan file (its name and target key the rollout on PostgreSQL).
        plan: PathBuf,
        /// The state file (default: the plan's, as `--state` or the default location name it).
        #[arg(long, value_name = "FILE")]
        from: Option<PathBuf>,
        /// The PostgreSQL database: `postgres://user@host[:port]/db[?sslmode=…&schema=…]`.
        #[arg(long, value_name = "URL")]
        to: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum NotifyCommand {
    /// Send a test message to every `[[notify]]` channel and report each result (exit 0 if
    /// every channel took it, 1 otherwise). Records nothing.
    #[command(
        after_help = "Example:\n  CUTOVER_SLACK_WEBHOOK=https://hooks.slack.com/… cutover notify test plans/contoso.toml"
    )]
    Test {
        /// The plan whose channels to test.
        plan: PathBuf,
        /// `text` for people, `json` for tools.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    Text,
    Json,
}

/// `cutover log`'s formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    Text,
    Json,
    Csv,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum PlanFormat {
    Text,
    Markdown,
    Json,
    /// The dry-run as one self-contained HTML file (as `cutover report` writes before a start).
    Html,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Every command (and subcommand) with the path of names that reaches it.
    fn commands() -> Vec<(String, clap::Command)> {
        let mut root = Cli::command();
        root.build();
        let mut found = Vec::new();
        let mut stack = vec![("cutover".to_owned(), root)];
        while let Some((path, command)) = stack.pop() {
            for sub in command.get_subcommands() {
                if sub.get_name() != "help" {
                    stack.push((format!("{path} {}", sub.get_name()), sub.clone()));
                }
            }
            found.push((path, command));
        }
        found
    }

    #[test]
    fn every_argument_has_help_and_every_command_an_example() {
        let mut missing = Vec::new();
        for (path, command) in commands() {
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if arg.is_hide_set() || id == "help" || id == "version" {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path}: argument `{id}` has no help"));
                }
            }
            if command.get_about().is_none() {
                missing.push(format!("{path}: no about"));
            }
            let leaf = !command.has_subcommands();
            let example = command
                .get_after_help()
                .or(command.get_after_long_help())
                .is_some_and(|h| h.to_string().contains("Example"));
            if leaf && !example {
                missing.push(format!("{path}: no example (`after_help`)"));
            }
        }
        assert!(missing.is_empty(), "{}", missing.join("\n"));
    }
}
