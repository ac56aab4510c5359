//! `cutover rollback PLAN --batch NAME`: move a started batch back to `from`, now.

use std::time::Duration;

use tokio::sync::watch;

use crate::engine::{Engine, Settings};
use crate::exit_code::Exit;
use crate::report::PlainReporter;
use crate::state::os_user;

use super::{CommandError, Output, Session, block_on};

pub(crate) fn run(session: &Session<'_>, batch: &str, out: &Output) -> Result<Exit, CommandError> {
    let plan = &session.plan;
    if !plan
        .pilot
        .iter()
        .chain(&plan.batches)
        .any(|s| s.name.as_str() == batch)
    {
        return Err(CommandError::invalid(format!(
            "the plan has no batch `{batch}`"
        )));
    }
    let target = session.open_target()?;
    // The rest of the plan goes on after the rollback, so a step it starts is pre-checked too.
    let mailbox_check = session.mailbox_check()?;
    let provenance = super::run_provenance::provenance(plan, &session.path);
    let mut store = session.open_store()?;
    let operator = os_user();
    session.lock(&mut store, "rollback", &operator)?;
    // On the record like any run; a rollback is never refused for an uncommitted plan.
    if let Err(e) = super::run_provenance::record_start(
        &mut store,
        session.clock.now(),
        "rollback",
        &operator,
        &session.path,
        &provenance,
    ) {
        let _ = store.unlock();
        return Err(e.into());
    }
    let mut reporter = PlainReporter::new(
        session.clock,
        &plan.from.display_name,
        &plan.to.display_name,
    );
    let settings = Settings {
        until_blocked: true,
        poll: Duration::from_secs(1),
        approved: None,
        operator,
        reauthorize: false,
        yes: false,
    };
    let result = block_on(async {
        let (_stop_tx, stop) = watch::channel(None);
        let mut engine = Engine::new(
            plan,
            &target.target,
            target.description.clone(),
            &mut store,
            session.clock,
            &mut reporter,
            settings,
            stop,
            mailbox_check,
        );
        engine.roll_back(batch).await
    });
    let _ = store.unlock();
    let rolled_back = result?.map_err(|e| super::engine_error::engine_error(e, &session.path))?;
    if rolled_back.complete() {
        out.stdout(&format!(
            "rolled back {}: every user is back on {:?} alone; `cutover approve {} {batch}` lets it start again\n",
            rolled_back.steps.join(", "),
            plan.from.display_name,
            session.path.display()
        ));
        return Ok(Exit::Done);
    }
    out.stdout(&super::run_end::final_report(
        plan,
        &session.path,
        &rolled_back.outcome,
    ));
    Ok(Exit::from(&rolled_back.outcome))
}
