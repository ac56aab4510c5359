//! Disturbing a sandbox the way an Exchange admin, a revoked grant or a flaky network would:
//! user faults, `revoke-grant`, `recheck`, `fail-call`, `set-interval`.
//!
//! Each command opens the file, makes one change through `SandboxFile` and says what it did;
//! what a fault does to syncs is the sandbox's simulation, not decided here.

use crate::cli::{CommandError, Output};
use crate::plan::grammar::Email;
use crate::sandbox::Fault;
use crate::target::SyncOutcome;

use super::args::{SandboxArg, UsersArgs};
use super::resolve::open;

/// Turns a user fault on or off for the mailboxes given.
pub(super) fn user_fault(
    args: &UsersArgs,
    fault: Fault,
    on: bool,
    now: i64,
    out: &Output,
) -> Result<(), CommandError> {
    let mut file = open(&args.sandbox.path)?;
    let emails = parse_emails(&args.emails)?;
    file.set_user_fault(fault, &emails, on, now)?;
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

/// `sandbox revoke-grant`: an OAuth configuration's grant revoked, or (`off`) restored.
pub(super) fn revoke_grant(
    sandbox: &SandboxArg,
    configuration: &str,
    off: bool,
    now: i64,
    out: &Output,
) -> Result<(), CommandError> {
    let mut file = open(&sandbox.path)?;
    file.set_configuration_fault(Fault::RevokedGrant, configuration, !off, now)?;
    let state = if off { "restored" } else { "revoked" };
    out.stdout(&format!("{state} the OAuth grant of {configuration:?}\n"));
    Ok(())
}

/// `sandbox recheck`: the permission check re-run for the users given, or for every user whose
/// latest sync failed.
pub(super) fn recheck(
    sandbox: &SandboxArg,
    emails: &[String],
    now: i64,
    out: &Output,
) -> Result<(), CommandError> {
    let mut file = open(&sandbox.path)?;
    let users = file.all_users(now)?;
    let wanted = parse_emails(emails)?;
    let mut count = 0;
    for configuration in file.configurations()? {
        let targets: Vec<Email> = users
            .iter()
            .filter(|u| u.is_enabled_on(&configuration.id))
            .filter(|u| {
                if wanted.is_empty() {
                    u.sync(&configuration.id)
                        .is_some_and(|s| s.outcome != SyncOutcome::Ok)
                } else {
                    wanted.contains(&u.email)
                }
            })
            .map(|u| u.email.clone())
            .collect();
        count += targets.len();
        file.recheck(&configuration.id, &targets, now)?;
    }
    out.stdout(&format!(
        "re-ran the permission check for {count} user configuration(s)\n"
    ));
    Ok(())
}

/// `sandbox fail-call`: the `at`-th write call from now fails, before or after taking effect.
pub(super) fn fail_call(
    sandbox: &SandboxArg,
    at: u32,
    after_commit: bool,
    out: &Output,
) -> Result<(), CommandError> {
    let mut file = open(&sandbox.path)?;
    file.inject_failure(at, after_commit)?;
    let how = if after_commit {
        "after taking effect"
    } else {
        "before taking effect"
    };
    out.stdout(&format!("write call {at} from now will fail {how}\n"));
    Ok(())
}

/// `sandbox set-interval`: how often users sync from now on.
pub(super) fn set_interval(
    sandbox: &SandboxArg,
    interval_ms: i64,
    out: &Output,
) -> Result<(), CommandError> {
    let mut file = open(&sandbox.path)?;
    file.set_sync_interval_ms(interval_ms)?;
    out.stdout(&format!("users now sync every {interval_ms} ms\n"));
    Ok(())
}

fn parse_emails(emails: &[String]) -> Result<Vec<Email>, CommandError> {
    emails
        .iter()
        .map(|e| Email::parse(e).map_err(|err| CommandError::failure(err.message)))
        .collect()
}
