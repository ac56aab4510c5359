//! `cutover state migrate PLAN [--from FILE] --to URL`: move a rollout's state file to
//! PostgreSQL (the work is [`crate::state::Store::migrate`]'s; this resolves where from and to,
//! and says what moved).

use std::path::Path;

use crate::exit_code::Exit;
use crate::state::{StateLocation, Store, os_user, target_key};

use super::{CommandError, Output, Session};

pub(crate) fn run(
    session: &Session<'_>,
    from: Option<&Path>,
    to: &str,
    out: &Output,
) -> Result<Exit, CommandError> {
    let from = match from {
        Some(path) => path.to_path_buf(),
        None => match session.state_location()? {
            StateLocation::File(path) => path,
            StateLocation::Postgres(pg) => {
                return Err(CommandError::invalid(format!(
                    "the plan's state is already on PostgreSQL ({pg}): give the state file with --from"
                )));
            }
        },
    };
    let to = match StateLocation::parse(Path::new(to))? {
        StateLocation::Postgres(pg) => pg,
        StateLocation::File(_) => {
            return Err(CommandError::invalid(
                "--to must be a postgres:// URL (state files are copied as files)",
            ));
        }
    };
    if !from.exists() {
        return Err(CommandError::invalid(format!(
            "no state file at {}: this plan never ran there",
            from.display()
        )));
    }
    let migrated = Store::migrate(
        &from,
        &to,
        session.plan.name.as_str(),
        &target_key(&session.plan.target),
        &os_user(),
        session.clock.now(),
    )?;
    out.stdout(&format!(
        "moved {} row(s) from {} to {to}; the audit trail verifies there ({} record(s), head {})\n\
         {} is marked as moved: point --state (or CUTOVER_STATE) at {to}\n",
        migrated.rows,
        from.display(),
        migrated.audit_records,
        migrated.head.as_deref().unwrap_or("none"),
        from.display(),
    ));
    Ok(Exit::Done)
}
