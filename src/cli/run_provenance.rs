//! Which plan a run executes, on the record: the plan file's git commit and whether it (and the
//! CSV user files it names) are as committed, read before the run and written to the audit
//! trail as its `run_started` record once it holds the lock. A run that must execute a
//! committed plan (`apply --require-clean-git`, `[change_control] require_clean_git`) is
//! refused here, before anything is written. What git says is `git.rs`'s.

use std::path::{Path, PathBuf};

use jiff::Timestamp;

use crate::git::{NotClean, Provenance};
use crate::plan::{Plan, Selector};
use crate::state::{AuditKind, Store, StoreError};

use super::CommandError;

/// The plan's provenance: its file and its CSV user files.
pub(crate) fn provenance(plan: &Plan, path: &Path) -> Provenance {
    let files: Vec<PathBuf> = plan
        .pilot
        .iter()
        .chain(&plan.batches)
        .filter_map(|step| match &step.users {
            Selector::File { path, .. } => Some(path.clone()),
            _ => None,
        })
        .collect();
    Provenance::of(path, &files)
}

/// Refuses a plan that is not as committed when the flag (`required_by_flag`) or the plan asks
/// for a committed one: exit 2, nothing written.
pub(crate) fn require_clean(
    provenance: &Provenance,
    plan: &Plan,
    path: &Path,
    required_by_flag: bool,
) -> Result<(), CommandError> {
    if !required_by_flag && !plan.change_control.require_clean_git {
        return Ok(());
    }
    let rule = if required_by_flag {
        "`--require-clean-git`"
    } else {
        "the plan's `[change_control] require_clean_git = true`"
    };
    provenance.require_clean(path).map_err(|refusal| {
        let remedy = match &refusal {
            NotClean::Uncommitted { .. } => {
                "commit the plan and its user files (or undo the changes), then run apply again"
            }
            NotClean::NotARepository { .. } => {
                "keep the plan in a git repository and commit it, then run apply again"
            }
            NotClean::Unknown { .. } => {
                "make git work here (install it, or trust the repository), then run apply again"
            }
        };
        CommandError::invalid(format!("{refusal}; {rule} runs only a committed plan"))
            .hint(format!("{remedy}; nothing was done"))
    })
}

/// The run's first audit record: the command, the plan file, and its place in git.
pub(crate) fn record_start(
    store: &mut Store,
    now: Timestamp,
    command: &str,
    operator: &str,
    path: &Path,
    provenance: &Provenance,
) -> Result<(), StoreError> {
    let detail = serde_json::json!({
        "command": command,
        "plan": path.display().to_string(),
        "git": provenance,
    });
    store.audit(now, AuditKind::RunStarted, None, operator, None, &detail)
}
