//! `cutover rollback PLAN --batch NAME`: move a started batch back to `from`, now.

use std::path::Path;
use std::time::Duration;

use tokio::sync::watch;

use crate::clock::Clock;
use crate::engine::{Engine, RunOutcome, Settings};
use crate::exit_code::Exit;
use crate::planner::WaitReason;
use crate::precheck::MailboxCheck;
use crate::report::PlainReporter;
use crate::state::{StepPhase, StoreError, os_user};
use crate::target::{ConfigurationState, Target};

use super::{Output, block_on, load_or_report, open_store, open_target};

pub(crate) fn run(
    path: &Path,
    state_flag: Option<&Path>,
    batch: &str,
    clock: Clock,
    out: &Output,
) -> Exit {
    let Some(plan) = load_or_report(path, out) else {
        return Exit::Invalid;
    };
    if !plan
        .pilot
        .iter()
        .chain(&plan.batches)
        .any(|s| s.name.as_str() == batch)
    {
        out.stderr(&format!("error: the plan has no batch `{batch}`\n"));
        return Exit::Invalid;
    }
    let target = match open_target(&plan, path, clock) {
        Ok(t) => t,
        Err(message) => {
            out.stderr(&format!("error: {message}\n"));
            return Exit::Failure;
        }
    };
    let mut store = match open_store(&plan, path, state_flag) {
        Ok(store) => store,
        Err(e) => {
            out.stderr(&format!("error: {e}\n"));
            return Exit::Failure;
        }
    };
    let operator = os_user();
    if let Err(e) = store.lock("rollback", &operator, clock.now()) {
        out.stderr(&format!("error: {e}\n"));
        return if matches!(e, StoreError::Locked { .. }) {
            Exit::Locked
        } else {
            Exit::Failure
        };
    }
    let exit = roll_back(
        &plan,
        path,
        batch,
        &target.target,
        &target.description,
        &mut store,
        &operator,
        clock,
        out,
    );
    let _ = store.unlock();
    exit
}

#[allow(clippy::too_many_arguments)]
fn roll_back<T: Target>(
    plan: &crate::plan::Plan,
    path: &Path,
    batch: &str,
    target: &T,
    target_name: &str,
    store: &mut crate::state::Store,
    operator: &str,
    clock: Clock,
    out: &Output,
) -> Exit {
    let state = match store.load() {
        Ok(state) => state,
        Err(e) => {
            out.stderr(&format!("error: {e}\n"));
            return Exit::Failure;
        }
    };
    if state.disconnected_at.is_some() {
        out.stderr(&format!(
            "error: {:?} is disconnected; there is nothing to roll back to\n",
            plan.from.display_name
        ));
        return Exit::Halted;
    }
    let steps: Vec<String> = state
        .steps
        .values()
        .filter(|s| s.batch == batch && s.phase != StepPhase::RolledBack)
        .map(|s| s.id.clone())
        .collect();
    if steps.is_empty() {
        out.stderr(&format!(
            "error: `{batch}` has not started (or is already rolled back); nothing to roll back\n"
        ));
        return Exit::Invalid;
    }
    let connected = block_on(target.configurations())
        .ok()
        .and_then(Result::ok)
        .is_some_and(|list| {
            list.configurations.iter().any(|c| {
                c.state == ConfigurationState::Connected
                    && c.display_name.eq_ignore_ascii_case(&plan.from.display_name)
            })
        });
    if !connected {
        out.stderr(&format!(
            "error: {:?} is not connected; users cannot be moved back to it\n",
            plan.from.display_name
        ));
        return Exit::Halted;
    }
    let now = clock.now();
    for step in &steps {
        let detail = serde_json::json!({ "requested_by": operator, "manual": true });
        if let Err(e) = store.set_phase(
            step,
            StepPhase::RolledBack,
            now,
            None,
            Some(&[]),
            operator,
            "",
            &detail,
        ) {
            out.stderr(&format!("error: {e}\n"));
            return Exit::Failure;
        }
    }
    let mut reporter = PlainReporter::new(clock, &plan.from.display_name, &plan.to.display_name);
    let settings = Settings {
        until_blocked: true,
        poll: Duration::from_secs(1),
        approved: None,
        operator: operator.to_owned(),
        reauthorize: false,
        open_browser: false,
    };
    // The rest of the plan goes on after the rollback, so a step it starts is pre-checked too.
    let mailbox_check = match plan.precheck.as_ref().map(|p| MailboxCheck::new(p, clock)) {
        Some(Ok(check)) => Some(check),
        Some(Err(message)) => {
            out.stderr(&format!("error: the mailbox pre-check: {message}\n"));
            return Exit::Failure;
        }
        None => None,
    };
    let result = block_on(async {
        let (_stop_tx, stop) = watch::channel(false);
        let mut engine = Engine::new(
            plan,
            target,
            target_name.to_owned(),
            store,
            clock,
            &mut reporter,
            settings,
            stop,
            mailbox_check,
        );
        engine.run().await
    });
    let rolled_back = |step: &str| steps.iter().any(|s| s == step);
    match result {
        Ok(Ok(
            RunOutcome::Halted { step, .. }
            | RunOutcome::Waiting {
                step,
                reason: WaitReason::Approval,
                ..
            },
        )) if rolled_back(&step) => {
            out.stdout(&format!(
                "rolled back {}: every user is back on {:?} alone; `cutover approve {} {batch}` lets it start again\n",
                steps.join(", "),
                plan.from.display_name,
                path.display()
            ));
            Exit::Done
        }
        Ok(Ok(outcome)) => {
            out.stdout(&super::apply::final_report(plan, path, &outcome));
            Exit::from(&outcome)
        }
        Ok(Err(e)) => {
            out.stderr(&format!("error: {e}\n"));
            Exit::Failure
        }
        Err(message) => {
            out.stderr(&format!("error: {message}\n"));
            Exit::Failure
        }
    }
}
