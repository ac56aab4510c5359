//! One exit code for a fleet: the most urgent of its plans'. A scheduler or a monitor watching
//! many tenants needs to know first that a plan is broken (2), then that one halted (3), failed
//! (1), waits for a person (6), waits for time (4), and only then that all are done (0).
//!
//! A plan another process holds counts as waiting (4), not as locked (5): on several hosts
//! sharing a fleet, a plan run elsewhere is normal, not an incident. A stop request (SIGINT,
//! SIGTERM) outranks everything: the process ends by that signal, as `apply` does.

use crate::exit_code::Exit;

/// How one plan of a fleet ended, for the summary and the exit code.
#[derive(Debug, Clone)]
pub(super) struct PlanResult {
    /// The plan's name, or its file when it could not be loaded.
    pub(super) name: String,
    pub(super) file: String,
    pub(super) exit: Exit,
    /// The plan's last line: `done: …`, `waiting: …`, `halted: …`, `skipped: …`, `error: …`.
    pub(super) line: String,
}

/// What `exit` counts as in a fleet.
pub(super) fn counted(exit: Exit) -> Exit {
    match exit {
        Exit::Locked => Exit::Waiting,
        other => other,
    }
}

/// How urgent an exit code is; the fleet exits with the most urgent of its plans'.
fn urgency(exit: Exit) -> u8 {
    match counted(exit) {
        Exit::Interrupted | Exit::Terminated => 7,
        Exit::Invalid => 6,
        Exit::Halted => 5,
        Exit::Failure => 4,
        Exit::NeedsPerson => 3,
        Exit::Waiting | Exit::Locked => 2,
        Exit::Done => 1,
    }
}

/// The fleet's exit code: the most urgent of `exits` (0 for none).
pub(super) fn fleet_exit(exits: impl IntoIterator<Item = Exit>) -> Exit {
    exits
        .into_iter()
        .map(counted)
        .max_by_key(|e| urgency(*e))
        .unwrap_or(Exit::Done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Exit::*;

    #[test]
    fn the_most_urgent_plan_decides() {
        for (exits, expected) in [
            (vec![], Done),
            (vec![Done, Done], Done),
            (vec![Done, Halted], Halted),
            (vec![Done, Invalid, Halted], Invalid),
            (vec![Failure, Halted], Halted),
            (vec![NeedsPerson, Failure], Failure),
            (vec![Waiting, NeedsPerson], NeedsPerson),
            (vec![Done, Waiting], Waiting),
            (vec![Done, Locked], Waiting),
            (vec![Locked, NeedsPerson], NeedsPerson),
            (vec![Invalid, Terminated], Terminated),
        ] {
            assert_eq!(fleet_exit(exits.clone()), expected, "{exits:?}");
        }
    }
}
