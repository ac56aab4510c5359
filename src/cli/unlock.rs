//! `cutover unlock PLAN --force`: remove a run lock nobody can release any more (recorded).

use crate::exit_code::Exit;
use crate::state::os_user;

use super::{CommandError, Output, Session};

pub(crate) fn run(session: &Session<'_>, force: bool, out: &Output) -> Result<Exit, CommandError> {
    if !force {
        return Err(CommandError::invalid(
            "`unlock` removes the lock even if its run is alive, which lets two runs collide; \
             pass --force if you are sure it is gone (a lock left by a dead process on this host is \
             taken over by `apply` on its own)",
        ));
    }
    let mut store = session.open_store()?;
    match store.force_unlock(&os_user(), session.clock.now())? {
        Some(holder) => out.stdout(&format!(
            "removed the lock held by {holder} (recorded in the log)\n"
        )),
        None => out.stdout("no lock was held\n"),
    }
    Ok(Exit::Done)
}
