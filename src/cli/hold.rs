//! `cutover hold PLAN --reason TEXT` and `cutover release PLAN`: a change freeze without editing
//! the plan. Neither takes the run lock.

use crate::exit_code::Exit;
use crate::state::os_user;

use super::{CommandError, Output, Session};

pub(crate) fn hold(
    session: &Session<'_>,
    reason: &str,
    by: Option<String>,
    out: &Output,
) -> Result<Exit, CommandError> {
    if reason.trim().is_empty() {
        return Err(CommandError::invalid(
            "a hold needs a reason others can read: --reason \"CAB freeze until Monday\"",
        ));
    }
    let by = by.unwrap_or_else(os_user);
    session
        .open_store()?
        .hold(reason.trim(), &by, session.clock.now())?;
    out.stdout(&format!(
        "held by {by}: {reason}; nothing new starts until `cutover release {}`\n",
        session.path.display()
    ));
    Ok(Exit::Done)
}

pub(crate) fn release(
    session: &Session<'_>,
    by: Option<String>,
    out: &Output,
) -> Result<Exit, CommandError> {
    let by = by.unwrap_or_else(os_user);
    match session.open_store()?.release(&by, session.clock.now())? {
        0 => out.stdout("there was no hold\n"),
        n => out.stdout(&format!("released {n} hold(s)\n")),
    }
    Ok(Exit::Done)
}
