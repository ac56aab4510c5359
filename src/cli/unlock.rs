//! `cutover unlock PLAN --force`: remove a run lock nobody can release any more (recorded).

use std::path::Path;

use crate::clock::Clock;
use crate::exit_code::Exit;
use crate::state::os_user;

use super::{Output, load_or_report, open_store};

pub(crate) fn run(
    path: &Path,
    state_flag: Option<&Path>,
    force: bool,
    clock: Clock,
    out: &Output,
) -> Exit {
    let Some(plan) = load_or_report(path, out) else {
        return Exit::Invalid;
    };
    if !force {
        out.stderr(
            "error: `unlock` removes the lock even if its run is alive, which lets two runs collide; \
             pass --force if you are sure it is gone (a lock left by a dead process on this host is \
             taken over by `apply` on its own)\n",
        );
        return Exit::Invalid;
    }
    let mut store = match open_store(&plan, path, state_flag) {
        Ok(store) => store,
        Err(e) => {
            out.stderr(&format!("error: {e}\n"));
            return Exit::Failure;
        }
    };
    match store.force_unlock(&os_user(), clock.now()) {
        Ok(Some(holder)) => out.stdout(&format!(
            "removed the lock held by {holder} (recorded in the log)\n"
        )),
        Ok(None) => out.stdout("no lock was held\n"),
        Err(e) => {
            out.stderr(&format!("error: {e}\n"));
            return Exit::Failure;
        }
    }
    Exit::Done
}
