//! What an engine error means for the person who ran `apply` (or `rollback`): the error, its
//! kind (and so the exit code), and what to do about it.

use std::path::Path;

use crate::engine::EngineError;

use super::CommandError;

/// What an engine error means for the person who ran `apply`.
pub(crate) fn engine_error(error: EngineError, path: &Path) -> CommandError {
    match error {
        EngineError::DigestMismatch {
            approved,
            started: Some(started),
            ..
        } => CommandError::invalid(format!(
            "the approved digest {approved} does not match the digest this rollout started with ({started}); nothing was changed"
        ))
        .hint("a run after the first need not repeat --approved; if it does, it must name the digest the rollout started with"),
        EngineError::DigestMismatch {
            approved, current, ..
        } => {
            let mut error = CommandError::invalid(format!(
                "the approved digest {approved} does not match this plan and platform ({}); nothing was changed",
                current.digest()
            ));
            match super::reviewed_dry_runs::load_dry_run(path, &approved) {
                Some(reviewed) => {
                    error = error.hint("what changed since that dry-run:");
                    for change in reviewed.changes_to(&current) {
                        error = error.hint(format!("  {change}"));
                    }
                }
                None => {
                    error = error.hint(format!(
                        "(no copy of that dry-run is kept in {}; run `cutover plan` there to compare)",
                        super::reviewed_dry_runs::dry_run_dir(path).display()
                    ));
                }
            }
            error.hint(format!(
                "run `cutover plan {}` to see the plan as it is now, and have that digest approved",
                path.display()
            ))
        }
        EngineError::PlanEdited(changes) => {
            let mut error = CommandError::invalid(format!(
                "{} was edited where its rollout already ran; nothing was changed",
                path.display()
            ));
            for change in &changes {
                error = error.hint(format!("  {change}"));
            }
            error.hint(
                "a step that started keeps the definition it started with; undo these edits (changes to steps \
                 that have not started are fine), or start a new rollout under a new plan name",
            )
        }
        EngineError::Rollback(refused) => {
            use crate::engine::RollbackRefused;
            match refused {
                RollbackRefused::NotStarted { .. } => CommandError::invalid(refused.to_string()),
                RollbackRefused::Disconnected { .. } | RollbackRefused::FromNotConnected { .. } => {
                    CommandError::halted(refused.to_string())
                }
            }
        }
        e => CommandError::failure(e.to_string()).hint(format!(
            "the run stopped; its state is saved: `cutover apply {}` resumes",
            path.display()
        )),
    }
}
