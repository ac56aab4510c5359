//! `cutover accept PLAN EMAIL... --reason TEXT [--by NAME] [--revoke]`: the change board accepts
//! moving users without a clean OAuth sync (a departed employee, a mailbox due for deletion).
//! The disconnect moves them to `to` alone as its last moves. Signed, and by someone other
//! than who asked for the change, when the plan's `[change_control]` says so. Never takes the
//! run lock.

use std::path::PathBuf;

use crate::exit_code::Exit;
use crate::plan::grammar::Email;
use crate::signing::acceptance_statement;
use crate::state::{NewAcceptance, Signed, os_user};

use super::signoff::sign_off;
use super::{CommandError, Output, Session};

/// `cutover accept`'s request.
pub(crate) struct Request<'a> {
    pub(crate) emails: &'a [String],
    pub(crate) reason: Option<&'a str>,
    pub(crate) by: Option<String>,
    pub(crate) revoke: bool,
    /// The SSH key to sign with (`--sign`).
    pub(crate) sign: Option<PathBuf>,
}

pub(crate) fn run(
    session: &Session<'_>,
    request: Request<'_>,
    out: &Output,
) -> Result<Exit, CommandError> {
    let Request {
        emails,
        reason,
        by,
        revoke,
        sign,
    } = request;
    let mut users = Vec::with_capacity(emails.len());
    for text in emails {
        let email = Email::parse(text)
            .map_err(|e| CommandError::invalid(format!("{text:?} is not an email address: {e}")))?;
        if !users.contains(&email) {
            users.push(email);
        }
    }
    let now = session.clock.now();
    let mut store = session.open_store()?;
    let state = session.weigh(store.load()?);
    if state.disconnected_at.is_some() {
        return Err(CommandError::invalid(format!(
            "{:?} is already disconnected: an acceptance can no longer change anything",
            session.plan.from.display_name
        )));
    }
    let approved_before = crate::planner::approved(
        &session.plan,
        &state,
        "disconnect",
        "disconnect",
        state.acceptances_changed,
    );
    let names: Vec<String> = users.iter().map(ToString::to_string).collect();
    if revoke {
        let by = by.unwrap_or_else(os_user);
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
        let statement = acceptance_statement(
            session.plan.name.as_str(),
            &crate::planner::plan_digest(&session.plan),
            &names,
        );
        let signoff = sign_off(session, &state, &statement, sign.as_deref(), by, true)?;
        let signed = signoff.signed.as_ref().map(|(signature, principal)| {
            let signed = Signed {
                signature: signature.clone(),
                statement: statement.clone(),
            };
            (signed, principal.as_str())
        });
        store.accept(&NewAcceptance {
            users: &users,
            reason,
            by: &signoff.by,
            os_user: &signoff.os_user,
            host: &signoff.host,
            at: now,
            signed: signed.as_ref().map(|(s, p)| (s, *p)),
        })?;
        out.stdout(&format!(
            "accepted {} user(s) by {}: {}\n\
             the disconnect will move them to {:?} alone; they will stop syncing until their OAuth problem is fixed\n",
            users.len(),
            signoff.described(),
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
