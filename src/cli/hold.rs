//! `cutover hold PLAN --reason TEXT` and `cutover release PLAN`: a change freeze without editing
//! the plan. Neither takes the run lock.

use std::path::Path;

use crate::clock::Clock;
use crate::exit_code::Exit;
use crate::state::os_user;

use super::{Output, load_or_report, open_store};

pub(crate) fn hold(
    path: &Path,
    state_flag: Option<&Path>,
    reason: &str,
    by: Option<String>,
    clock: Clock,
    out: &Output,
) -> Exit {
    let Some(plan) = load_or_report(path, out) else {
        return Exit::Invalid;
    };
    if reason.trim().is_empty() {
        out.stderr(
            "error: a hold needs a reason others can read: --reason \"CAB freeze until Monday\"\n",
        );
        return Exit::Invalid;
    }
    let by = by.unwrap_or_else(os_user);
    let result = open_store(&plan, path, state_flag)
        .and_then(|mut store| store.hold(reason.trim(), &by, clock.now()));
    match result {
        Ok(()) => {
            out.stdout(&format!(
                "held by {by}: {reason}; nothing new starts until `cutover release {}`\n",
                path.display()
            ));
            Exit::Done
        }
        Err(e) => {
            out.stderr(&format!("error: {e}\n"));
            Exit::Failure
        }
    }
}

pub(crate) fn release(
    path: &Path,
    state_flag: Option<&Path>,
    by: Option<String>,
    clock: Clock,
    out: &Output,
) -> Exit {
    let Some(plan) = load_or_report(path, out) else {
        return Exit::Invalid;
    };
    let by = by.unwrap_or_else(os_user);
    match open_store(&plan, path, state_flag).and_then(|mut store| store.release(&by, clock.now()))
    {
        Ok(0) => {
            out.stdout("there was no hold\n");
            Exit::Done
        }
        Ok(n) => {
            out.stdout(&format!("released {n} hold(s)\n"));
            Exit::Done
        }
        Err(e) => {
            out.stderr(&format!("error: {e}\n"));
            Exit::Failure
        }
    }
}
