//! `cutover accept PLAN EMAIL... --reason TEXT [--by NAME] [--revoke]`: the change board accepts
//! moving users without a clean OAuth sync (a departed employee, a mailbox due for deletion).
//! The disconnect moves them to `to` alone as its last moves. Never takes the run lock.

use crate::exit_code::Exit;
use crate::plan::grammar::Email;
use crate::state::{host_name, os_user};

use super::{CommandError, Output, Session};

pub(crate) fn run(
    session: &Session<'_>,
    emails: &[String],
    reason: Option<&str>,
    by: Option<String>,
    revoke: bool,
    out: &Output,
) -> Result<Exit, CommandError> {
    let mut users = Vec::with_capacity(emails.len());
    for text in emails {
        let email = Email::parse(text)
            .map_err(|e| CommandError::invalid(format!("{text:?} is not an email address: {e}")))?;
        if !users.contains(&email) {
            users.push(email);
        }
    }
    let os_user = os_user();
    let by = by.unwrap_or_else(|| os_user.clone());
    let now = session.clock.now();
    let mut store = session.open_store()?;
    let state = store.load()?;
    if state.disconnected_at.is_some() {
        return Err(CommandError::invalid(format!(
            "{:?} is already disconnected: an acceptance can no longer change anything",
            session.plan.from.display_name
        )));
    }
    let approved_before = state.approved("disconnect", "disconnect", state.acceptances_changed);
    let names: Vec<String> = users.iter().map(ToString::to_string).collect();
    if revoke {
        let revoked = store.revoke_acceptances(&users, &by, now)?;
        out.stdout(&format!(
            "revoked the acceptance of {revoked} of {} user(s) by {by}: {}\n",
            users.len(),
            names.join(", ")
        ));
    } else {
        let reason = reason.map(str::trim).unwrap_or_default();
        if reason.is_empty() {
            return Err(CommandError::invalid(
                "an acceptance needs a reason the change board can read: --reason \"left the company on 2026-11-30\"",
            ));
        }
        store.accept(&users, reason, &by, &os_user, &host_name(), now)?;
        out.stdout(&format!(
            "accepted {} user(s) by {by} ({os_user} on {}): {}\n\
             the disconnect will move them to {:?} alone; they will stop syncing until their OAuth problem is fixed\n",
            users.len(),
            host_name(),
            names.join(", "),
            session.plan.to.display_name
        ));
    }
    if approved_before && session.plan.disconnect.approval {
        out.stdout(&format!(
            "the disconnect's approval covered the accepted users as they were: approve it again with `cutover approve {} disconnect`\n",
            session.path.display()
        ));
    }
    Ok(Exit::Done)
}
