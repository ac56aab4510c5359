//! `cutover sandbox …`: create, look at and disturb an embedded sandbox platform.
//!
//! Every command takes the sandbox as a file path, or as a plan file whose target is a sandbox
//! (`cutover sandbox deny-access plans/quickstart.toml carl.adams@contoso.example`).

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use crate::clock::Clock;
use crate::exit_code::Exit;
use crate::plan::grammar::Email;
use crate::plan::{SandboxRef, TargetSpec, load};
use crate::sandbox::{
    Fault, Inspection, SCENARIOS, SandboxError, SandboxFile, Scenario, ScenarioOptions,
};

use super::{Format, Output};

#[derive(Debug, Subcommand)]
pub(crate) enum SandboxCommand {
    /// Create a sandbox file from a scenario (the same command always gives the same tenant).
    Init {
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
    Scenarios,
    /// Print the whole platform state.
    Inspect {
        #[command(flatten)]
        sandbox: SandboxArg,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Put mailboxes outside the OAuth app's access policy: their OAuth syncs fail, access denied.
    DenyAccess(UsersArgs),
    /// Put mailboxes back inside the OAuth app's access policy.
    AllowAccess(UsersArgs),
    /// Throttle mailboxes (`--off` to stop).
    Throttle(ToggleUsersArgs),
    /// Make mailboxes sync six times less often (`--off` to stop).
    SlowSync(ToggleUsersArgs),
    /// Remove mailboxes: every configuration fails for them (`--off` to restore).
    RemoveMailbox(ToggleUsersArgs),
    /// Make users' emails not their mailbox's primary address: a warning, no sync (`--off` to fix).
    NotPrimary(ToggleUsersArgs),
    /// Revoke an OAuth configuration's grant: all its syncs fail (`--off` to restore).
    RevokeGrant {
        #[command(flatten)]
        sandbox: SandboxArg,
        /// The configuration's display name.
        #[arg(long, default_value = "OAuth")]
        configuration: String,
        #[arg(long)]
        off: bool,
    },
    /// Re-run the permission check now for users (default: every user whose latest sync failed).
    Recheck {
        #[command(flatten)]
        sandbox: SandboxArg,
        emails: Vec<String>,
    },
    /// Make the Nth write call from now fail as if the platform did not answer (for testing
    /// that a run resumes correctly).
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
    Serve {
        #[command(flatten)]
        sandbox: SandboxArg,
        /// The loopback address to listen on (port 0 picks a free one).
        #[arg(long, default_value = "127.0.0.1:8765")]
        listen: std::net::SocketAddr,
        /// The environment variable holding the bearer token clients must present.
        #[arg(long, default_value = "CUTOVER_SANDBOX_TOKEN")]
        token_env: String,
        /// Latency added to every request, such as `20ms`.
        #[arg(long, value_parser = parse_interval)]
        latency: Option<i64>,
        /// Requests per second served; beyond it, 429 with Retry-After.
        #[arg(long)]
        rate_limit: Option<u32>,
        /// Share of requests answered 500 or 503, from 0 to 1.
        #[arg(long, default_value_t = 0.0, value_parser = parse_share)]
        error_rate: f64,
        /// Share of requests whose connection is dropped, from 0 to 1.
        #[arg(long, default_value_t = 0.0, value_parser = parse_share)]
        drop_rate: f64,
        /// The most users one bulk call may carry.
        #[arg(long, default_value_t = 1000)]
        max_bulk: u32,
        /// Seed of the fault injection's random sequence.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[command(flatten)]
        identity: IdentityArgs,
    },
    /// Change how often users sync, such as `2s` or `100ms`.
    SetInterval {
        #[command(flatten)]
        sandbox: SandboxArg,
        #[arg(value_parser = parse_interval)]
        interval: i64,
    },
}

/// The identity provider `sandbox serve` uses, as the real platform uses Microsoft's.
#[derive(Debug, Args)]
pub(crate) struct IdentityArgs {
    /// The OpenID Connect issuer that authorizes OAuth configurations (the platform is its
    /// client) and vouches for app tokens. Without it, configurations authorize on their own.
    #[arg(long, value_name = "URL")]
    oauth_issuer: Option<String>,
    /// The platform's client id at the issuer.
    #[arg(long, default_value = "scheduling-platform", requires = "oauth_issuer")]
    oauth_client_id: String,
    /// The environment variable holding the platform's client secret at the issuer.
    #[arg(long, default_value = "CUTOVER_SANDBOX_OAUTH_SECRET")]
    oauth_client_secret_env: String,
    /// The environment variable holding the key the platform seals its OAuth tokens with.
    #[arg(long, default_value = "CUTOVER_SANDBOX_KEY")]
    key_env: String,
    /// Test fault: send the issuer a PKCE verifier that does not match the challenge.
    #[arg(long, hide = true)]
    wrong_pkce_verifier: bool,
}

#[derive(Debug, Args)]
pub(crate) struct SandboxArg {
    /// A sandbox file, or a plan whose target is a sandbox.
    #[arg(value_name = "SANDBOX")]
    path: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct UsersArgs {
    #[command(flatten)]
    sandbox: SandboxArg,
    #[arg(required = true, value_name = "EMAIL")]
    emails: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ToggleUsersArgs {
    #[command(flatten)]
    users: UsersArgs,
    /// Turn the fault off instead of on.
    #[arg(long)]
    off: bool,
}

pub(crate) fn parse_interval(text: &str) -> Result<i64, String> {
    let bad = || format!("{text:?} is not an interval such as \"2s\" or \"250ms\"");
    let (number, unit) = text
        .find(|c: char| !c.is_ascii_digit())
        .map_or((text, ""), |i| text.split_at(i));
    let n: i64 = number.parse().map_err(|_| bad())?;
    let ms = match unit {
        "ms" => n,
        "s" => n * 1_000,
        "m" => n * 60_000,
        _ => return Err(bad()),
    };
    if ms <= 0 { Err(bad()) } else { Ok(ms) }
}

pub(crate) fn run(command: SandboxCommand, clock: Clock, out: &Output) -> Exit {
    match execute(command, clock, out) {
        Ok(exit) => exit,
        Err(message) => {
            out.stderr(&format!("error: {message}\n"));
            Exit::Failure
        }
    }
}

fn execute(command: SandboxCommand, clock: Clock, out: &Output) -> Result<Exit, String> {
    let now = clock.now_ms();
    match command {
        SandboxCommand::Init {
            path,
            scenario,
            users,
            sync_interval,
        } => {
            let found = Scenario::find(&scenario).ok_or_else(|| {
                SandboxError::UnknownScenario {
                    name: scenario.clone(),
                    known: Scenario::names(),
                }
                .to_string()
            })?;
            found.check_users(users).map_err(|e| e.to_string())?;
            let options = ScenarioOptions {
                users,
                sync_interval_ms: sync_interval,
            };
            let tenant = found.tenant(options);
            let count = tenant.users.len();
            SandboxFile::create(&path, &tenant, found.name, now).map_err(|e| e.to_string())?;
            out.stdout(&format!(
                "created {}: scenario {:?}, {count} users, sync every {} ms\n",
                path.display(),
                found.name,
                tenant.sync_interval_ms
            ));
        }
        SandboxCommand::Scenarios => {
            for s in SCENARIOS {
                out.stdout(&format!("{:<14} {}\n", s.name, s.description));
            }
        }
        SandboxCommand::Inspect { sandbox, format } => {
            let file = open(&sandbox.path)?;
            let inspection = Inspection::of(&file, now).map_err(|e| e.to_string())?;
            match format {
                Format::Json => {
                    let text =
                        serde_json::to_string_pretty(&inspection).map_err(|e| e.to_string())?;
                    out.stdout(&format!("{text}\n"));
                }
                Format::Text => out.stdout(&inspection_text(&inspection)),
            }
        }
        SandboxCommand::DenyAccess(args) => user_fault(&args, Fault::DenyAccess, true, now, out)?,
        SandboxCommand::AllowAccess(args) => user_fault(&args, Fault::DenyAccess, false, now, out)?,
        SandboxCommand::Throttle(t) => user_fault(&t.users, Fault::Throttle, !t.off, now, out)?,
        SandboxCommand::SlowSync(t) => user_fault(&t.users, Fault::SlowSync, !t.off, now, out)?,
        SandboxCommand::RemoveMailbox(t) => {
            user_fault(&t.users, Fault::MailboxGone, !t.off, now, out)?
        }
        SandboxCommand::NotPrimary(t) => user_fault(&t.users, Fault::NotPrimary, !t.off, now, out)?,
        SandboxCommand::RevokeGrant {
            sandbox,
            configuration,
            off,
        } => {
            let mut file = open(&sandbox.path)?;
            file.set_configuration_fault(Fault::RevokedGrant, &configuration, !off, now)
                .map_err(|e| e.to_string())?;
            let state = if off { "restored" } else { "revoked" };
            out.stdout(&format!("{state} the OAuth grant of {configuration:?}\n"));
        }
        SandboxCommand::Recheck { sandbox, emails } => {
            let mut file = open(&sandbox.path)?;
            let users = file.all_users(now).map_err(|e| e.to_string())?;
            let wanted = parse_emails(&emails)?;
            let mut count = 0;
            for configuration in file.configurations().map_err(|e| e.to_string())? {
                let targets: Vec<Email> = users
                    .iter()
                    .filter(|u| u.is_enabled_on(&configuration.id))
                    .filter(|u| {
                        if wanted.is_empty() {
                            u.sync
                                .get(&configuration.id)
                                .is_some_and(|s| s.outcome != crate::target::SyncOutcome::Ok)
                        } else {
                            wanted.contains(&u.email)
                        }
                    })
                    .map(|u| u.email.clone())
                    .collect();
                count += targets.len();
                file.recheck(&configuration.id, &targets, now)
                    .map_err(|e| e.to_string())?;
            }
            out.stdout(&format!(
                "re-ran the permission check for {count} user configuration(s)\n"
            ));
        }
        SandboxCommand::FailCall {
            sandbox,
            at,
            after_commit,
        } => {
            let mut file = open(&sandbox.path)?;
            file.inject_failure(at, after_commit)
                .map_err(|e| e.to_string())?;
            let how = if after_commit {
                "after taking effect"
            } else {
                "before taking effect"
            };
            out.stdout(&format!("write call {at} from now will fail {how}\n"));
        }
        SandboxCommand::Serve {
            sandbox,
            listen,
            token_env,
            latency,
            rate_limit,
            error_rate,
            drop_rate,
            max_bulk,
            seed,
            identity,
        } => {
            let faults = crate::serve::Faults {
                latency: std::time::Duration::from_millis(
                    u64::try_from(latency.unwrap_or(0)).unwrap_or(0),
                ),
                rate_limit,
                error_rate,
                drop_rate,
                max_bulk: max_bulk.max(1),
                seed,
            };
            return serve(
                &sandbox.path,
                listen,
                &token_env,
                faults,
                &identity,
                clock,
                out,
            );
        }
        SandboxCommand::SetInterval { sandbox, interval } => {
            let mut file = open(&sandbox.path)?;
            file.set_sync_interval_ms(interval)
                .map_err(|e| e.to_string())?;
            out.stdout(&format!("users now sync every {interval} ms\n"));
        }
    }
    Ok(Exit::Done)
}

fn serve(
    path: &Path,
    listen: std::net::SocketAddr,
    token_env: &str,
    faults: crate::serve::Faults,
    identity: &IdentityArgs,
    clock: Clock,
    out: &Output,
) -> Result<Exit, String> {
    if !listen.ip().is_loopback() {
        return Err(format!(
            "the sandbox listens on loopback only; {listen} is not a loopback address"
        ));
    }
    let token = env_secret(token_env).map(|t| t.trim().to_owned());
    if token.is_none() && identity.oauth_issuer.is_none() {
        return Err(format!(
            "set {token_env} to the bearer token clients must present (--token-env names another variable), \
             or give --oauth-issuer so clients authenticate with app tokens"
        ));
    }
    let file = resolve(path)?;
    let target = crate::sandbox::SandboxTarget::open(&file, clock).map_err(|e| e.to_string())?;
    super::block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let address = listener.local_addr().map_err(|e| e.to_string())?;
        let identity = identity_provider(identity, &format!("http://{address}/oauth/callback"))?;
        out.stdout(&format!("listening on http://{address}\n"));
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        let shutdown = async move {
            #[cfg(unix)]
            {
                use tokio::signal::unix::{SignalKind, signal};
                match signal(SignalKind::terminate()) {
                    Ok(mut term) => tokio::select! { () = shutdown => {}, _ = term.recv() => {} },
                    Err(_) => shutdown.await,
                }
            }
            #[cfg(not(unix))]
            shutdown.await;
        };
        let options = crate::serve::ServeOptions {
            token,
            faults,
            identity,
        };
        let summary = crate::serve::serve(listener, target, options, shutdown)
            .await
            .map_err(|e| format!("the server stopped: {e}"))?;
        out.stdout(&format!("{summary}\n"));
        Ok::<(), String>(())
    })
    .map_err(|e| e.to_string())??;
    Ok(Exit::Done)
}

fn env_secret(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The identity provider from the flags, with its secrets read from the environment.
fn identity_provider(
    args: &IdentityArgs,
    redirect_uri: &str,
) -> Result<Option<crate::serve::IdentityProvider>, String> {
    let Some(issuer) = &args.oauth_issuer else {
        return Ok(None);
    };
    let url = reqwest::Url::parse(issuer)
        .map_err(|e| format!("--oauth-issuer {issuer:?} is not a URL: {e}"))?;
    if !crate::plan::grammar::is_secure_url(url.as_str()) {
        return Err(format!(
            "--oauth-issuer {issuer:?} must be an https:// URL (http:// only on this machine)"
        ));
    }
    let secret_env = &args.oauth_client_secret_env;
    let client_secret = env_secret(secret_env).ok_or_else(|| {
        format!("set {secret_env} to the platform's client secret at the identity provider")
    })?;
    let key_env = &args.key_env;
    let key = env_secret(key_env).ok_or_else(|| {
        format!(
            "set {key_env} to a key of at least 32 characters: the platform seals its OAuth tokens with it"
        )
    })?;
    if key.trim().chars().count() < 32 {
        return Err(format!("{key_env} must hold at least 32 characters"));
    }
    let vault = crate::serve::Vault::new(key.trim())?;
    let introspector =
        crate::serve::Introspector::new(issuer, &args.oauth_client_id, client_secret.trim())?;
    let oauth = crate::serve::PlatformOAuth::new(crate::serve::OAuthSettings {
        issuer: issuer.clone(),
        client_id: args.oauth_client_id.clone(),
        client_secret: client_secret.trim().to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        vault,
        wrong_verifier: args.wrong_pkce_verifier,
    })?;
    Ok(Some(crate::serve::IdentityProvider {
        oauth,
        introspector,
    }))
}

fn user_fault(
    args: &UsersArgs,
    fault: Fault,
    on: bool,
    now: i64,
    out: &Output,
) -> Result<(), String> {
    let mut file = open(&args.sandbox.path)?;
    let emails = parse_emails(&args.emails)?;
    file.set_user_fault(fault, &emails, on, now)
        .map_err(|e| e.to_string())?;
    let verb = match (fault, on) {
        (Fault::DenyAccess, true) => "denied OAuth access to",
        (Fault::DenyAccess, false) => "allowed OAuth access to",
        (_, true) => "turned on",
        (_, false) => "turned off",
    };
    let what = if matches!(fault, Fault::DenyAccess) {
        String::new()
    } else {
        format!(" {} for", fault.as_str())
    };
    out.stdout(&format!(
        "{verb}{what} {} mailbox(es) in {}\n",
        emails.len(),
        file.path().display()
    ));
    Ok(())
}

fn parse_share(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(share) if (0.0..=1.0).contains(&share) => Ok(share),
        _ => Err(format!("{text:?} is not a share from 0 to 1, such as 0.1")),
    }
}

fn parse_emails(emails: &[String]) -> Result<Vec<Email>, String> {
    emails
        .iter()
        .map(|e| Email::parse(e).map_err(|err| err.message))
        .collect()
}

/// A sandbox file path, or the sandbox of a plan file.
pub(crate) fn resolve(path: &Path) -> Result<PathBuf, String> {
    if path.extension().is_none_or(|x| x != "toml") {
        return Ok(path.to_path_buf());
    }
    let loaded = load(path).map_err(|e| {
        format!(
            "{}: {e} (run `cutover validate {}`)",
            path.display(),
            path.display()
        )
    })?;
    match &loaded.plan.target {
        TargetSpec::Sandbox {
            sandbox: SandboxRef::Scenario(name),
        } => {
            let dir = path.parent().unwrap_or(Path::new(""));
            Ok(crate::sandbox::scenario_path(
                &crate::workdir::path(dir),
                name,
            ))
        }
        TargetSpec::Sandbox {
            sandbox: SandboxRef::File { path, .. },
        } => Ok(path.clone()),
        TargetSpec::Http { .. } => {
            Err(format!("the target of {} is not a sandbox", path.display()))
        }
    }
}

fn open(path: &Path) -> Result<SandboxFile, String> {
    let resolved = resolve(path)?;
    SandboxFile::open(&resolved).map_err(|e| e.to_string())
}

fn inspection_text(i: &Inspection) -> String {
    let mut text = format!(
        "sandbox scenario {:?}, users sync every {} ms\n\nconfigurations:\n",
        i.scenario, i.sync_interval_ms
    );
    for c in &i.configurations {
        text.push_str(&format!(
            "  {:<12} {:<6} {:<22} {}\n",
            c.display_name,
            c.auth_type,
            c.state,
            c.authorized_account.as_deref().unwrap_or("")
        ));
    }
    let mut by_state: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for u in &i.users {
        *by_state
            .entry(if u.enabled.is_empty() {
                "(none)".to_owned()
            } else {
                u.enabled.join(" + ")
            })
            .or_default() += 1;
    }
    text.push_str(&format!("\nusers: {}\n", i.users.len()));
    for (state, count) in by_state {
        text.push_str(&format!("  {count:>6} on {state}\n"));
    }
    let failing: Vec<String> = i
        .users
        .iter()
        .flat_map(|u| {
            u.sync
                .iter()
                .filter(|(_, s)| s.outcome != "ok")
                .map(move |(c, s)| {
                    format!(
                        "  {} on {c}: {} {}",
                        u.email,
                        s.outcome,
                        s.error.as_deref().unwrap_or("")
                    )
                })
        })
        .collect();
    if !failing.is_empty() {
        text.push_str(&format!(
            "\nlatest syncs not ok: {}\n{}\n",
            failing.len(),
            failing.join("\n")
        ));
    }
    if !i.faults.is_empty() {
        text.push_str("\nactive faults:\n");
        for f in &i.faults {
            text.push_str(&format!(
                "  {} {}\n",
                f.fault,
                f.user
                    .as_deref()
                    .or(f.configuration.as_deref())
                    .unwrap_or("")
            ));
        }
    }
    let changed = i.writes.iter().filter(|w| w.changed).count();
    text.push_str(&format!(
        "\nwrites: {} ({changed} changed)\nviolations: {}\n",
        i.writes.len(),
        i.violations.len()
    ));
    for v in &i.violations {
        text.push_str(&format!("  {} {}: {}\n", v.at, v.kind, v.detail));
    }
    text
}
