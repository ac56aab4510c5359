//! `cutover apply PLAN`: run the plan, resuming where the last run stopped.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use tokio::sync::watch;

use crate::clock::Clock;
use crate::engine::{Counted, Engine, EngineError, Event, RunOutcome, Settings};
use crate::exit_code::Exit;
use crate::plan::Plan;
use crate::precheck::MailboxCheck;
use crate::report::{JsonReporter, PlainReporter, Reporter, TerminalReporter};
use crate::state::{FailingUser, StoreError, os_user};

use super::{Format, Output, block_on, load_or_report, open_store, open_target};

pub(crate) struct Options {
    pub(crate) until_blocked: bool,
    /// Confirmation prompts exist only for real platforms; a sandbox never asks.
    #[allow(dead_code)]
    // Read once prompts for the http target land; accepted now so scripts need not change.
    pub(crate) yes: bool,
    pub(crate) approved: Option<String>,
    pub(crate) format: Format,
    pub(crate) poll_ms: i64,
    pub(crate) reauthorize: bool,
    pub(crate) open: bool,
}

pub(crate) fn run(
    path: &Path,
    state_flag: Option<&Path>,
    options: &Options,
    clock: Clock,
    out: &Output,
) -> Exit {
    let Some(plan) = load_or_report(path, out) else {
        return Exit::Invalid;
    };
    let target = match open_target(&plan, path, clock) {
        Ok(target) => target,
        Err(message) => {
            out.stderr(&format!("error: {message}\n"));
            return Exit::Failure;
        }
    };
    // The pre-check's secret is read now, so a missing one stops the run before it starts.
    let mailbox_check = match plan.precheck.as_ref().map(|p| MailboxCheck::new(p, clock)) {
        Some(Ok(check)) => Some(check),
        Some(Err(message)) => {
            out.stderr(&format!("error: the mailbox pre-check: {message}\n"));
            return Exit::Failure;
        }
        None => None,
    };
    let mut store = match open_store(&plan, path, state_flag) {
        Ok(store) => store,
        Err(e) => {
            out.stderr(&format!("error: {e}\n"));
            return Exit::Failure;
        }
    };
    let operator = os_user();
    match store.lock("apply", &operator, clock.now()) {
        Ok(()) => {}
        Err(StoreError::Locked { holder, .. }) => {
            out.stderr(&format!(
                "error: another run holds the lock on this plan: {holder}\n\
                 wait for it to finish; if it is gone for good, `cutover unlock {} --force` (recorded)\n",
                path.display()
            ));
            return Exit::Locked;
        }
        Err(e) => {
            out.stderr(&format!("error: {e}\n"));
            return Exit::Failure;
        }
    }

    let mut reporter: Box<dyn Reporter> = match options.format {
        Format::Json => Box::new(JsonReporter::new(clock)),
        Format::Text if std::io::stderr().is_terminal() && std::io::stdout().is_terminal() => {
            Box::new(TerminalReporter::new(
                clock,
                &plan.from.display_name,
                &plan.to.display_name,
            ))
        }
        Format::Text => Box::new(PlainReporter::new(
            clock,
            &plan.from.display_name,
            &plan.to.display_name,
        )),
    };
    let settings = Settings {
        until_blocked: options.until_blocked,
        poll: Duration::from_millis(u64::try_from(options.poll_ms).unwrap_or(1_000)),
        approved: options.approved.clone(),
        operator,
        reauthorize: options.reauthorize,
        open_browser: options.open,
    };
    let started = std::time::Instant::now();
    let counted = Counted::new(&target.target);
    let result = block_on(async {
        let (stop_tx, stop) = watch::channel(false);
        let signals = tokio::spawn(async move {
            wait_for_signal().await;
            let _ = stop_tx.send(true);
        });
        let mut engine = Engine::new(
            &plan,
            &counted,
            target.description.clone(),
            &mut store,
            clock,
            reporter.as_mut(),
            settings,
            stop,
            mailbox_check,
        );
        let outcome = engine.run().await;
        signals.abort();
        (outcome, engine.waited)
    });
    let result = result.map(|(outcome, waited)| {
        reporter.event(&Event::RunEnded {
            elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            waiting_ms: u64::try_from(waited.as_millis()).unwrap_or(u64::MAX),
            calls: counted
                .calls()
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        });
        outcome
    });
    reporter.finish();
    let _ = store.unlock();
    let outcome = match result {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(EngineError::DigestMismatch {
            approved,
            started: Some(started),
            ..
        })) => {
            out.stderr(&format!(
                "error: the approved digest {approved} does not match the digest this rollout started with ({started}); nothing was changed\n\
                 a run after the first need not repeat --approved; if it does, it must name the digest the rollout started with\n"
            ));
            return Exit::Invalid;
        }
        Ok(Err(EngineError::DigestMismatch {
            approved, current, ..
        })) => {
            out.stderr(&format!(
                "error: the approved digest {approved} does not match this plan and platform ({}); nothing was changed\n",
                current.digest()
            ));
            match super::context::load_dry_run(path, &approved) {
                Some(reviewed) => {
                    out.stderr("what changed since that dry-run:\n");
                    for change in reviewed.changes_to(&current) {
                        out.stderr(&format!("  {change}\n"));
                    }
                }
                None => out.stderr(&format!(
                    "(no copy of that dry-run is kept in {}; run `cutover plan` there to compare)\n",
                    super::context::dry_run_dir(path).display()
                )),
            }
            out.stderr(&format!(
                "run `cutover plan {}` to see the plan as it is now, and have that digest approved\n",
                path.display()
            ));
            return Exit::Invalid;
        }
        Ok(Err(EngineError::PlanEdited(changes))) => {
            out.stderr(&format!(
                "error: {} was edited where its rollout already ran; nothing was changed\n",
                path.display()
            ));
            for change in &changes {
                out.stderr(&format!("  {change}\n"));
            }
            out.stderr(
                "a step that started keeps the definition it started with; undo these edits (changes to steps \
                 that have not started are fine), or start a new rollout under a new plan name\n",
            );
            return Exit::Invalid;
        }
        Ok(Err(e)) => {
            out.stderr(&format!(
                "error: {e}\nthe run stopped; its state is saved: `cutover apply {}` resumes\n",
                path.display()
            ));
            return Exit::Failure;
        }
        Err(message) => {
            out.stderr(&format!("error: {message}\n"));
            return Exit::Failure;
        }
    };
    if options.format == Format::Text {
        out.stdout(&final_report(&plan, path, &outcome));
    }
    Exit::from(&outcome)
}

/// What a person needs at the end of a run: why it halted (each user and the platform's
/// words), or what it waits for — always as the last line.
pub(crate) fn final_report(plan: &Plan, path: &Path, outcome: &RunOutcome) -> String {
    match outcome {
        RunOutcome::Done => "done: the rollout is complete\n".to_owned(),
        RunOutcome::Interrupted => {
            "interrupted: the state is saved; run the same command again to resume\n".to_owned()
        }
        RunOutcome::Halted {
            step,
            reason,
            failures,
        } => {
            let mut text = format!("\nHALTED at {step}: {reason}\n");
            text.push_str(&failure_table(plan, failures));
            text.push_str(&remedy(plan, path, step, reason));
            text.push_str(&format!("halted: {step}\n"));
            text
        }
        RunOutcome::Waiting {
            reason,
            step,
            detail,
            until,
        } => {
            let mut parts = Vec::new();
            if let Some(until) = until {
                parts.push(format!("until {}", plan.time(*until)));
            }
            if !detail.is_empty() {
                parts.push(detail.clone());
            }
            if *reason == crate::planner::WaitReason::Approval {
                let name = step.split('#').next().unwrap_or(step);
                parts.push(format!("run `cutover approve {} {name}`", path.display()));
            }
            format!("waiting: {} {step} {}\n", reason.as_str(), parts.join("; "))
        }
    }
}

fn failure_table(plan: &Plan, failures: &[FailingUser]) -> String {
    let mut text = String::new();
    for f in failures {
        let at =
            f.at.map(|t| format!(" (at {})", plan.time(t)))
                .unwrap_or_default();
        let error = f.error.as_deref().unwrap_or("");
        text.push_str(&format!(
            "  {:<40} {:<10} {error}{at}\n",
            f.email.to_string(),
            f.outcome
        ));
    }
    text
}

fn remedy(plan: &Plan, path: &Path, step: &str, reason: &str) -> String {
    let path = path.display();
    if reason.contains("gate failed") {
        format!(
            "These users sync over {:?} again until their OAuth problem is fixed (for access denied: add their \
             mailboxes to the OAuth app's access policy). Then run `cutover apply {path}`: it asks the platform \
             to re-check them and re-opens the gate.\n",
            plan.from.display_name
        )
    } else if reason.contains("rolled back") {
        format!(
            "Every user of `{step}` is back on {:?} alone. Fix the cause, then `cutover approve {path} {step}` and apply again.\n",
            plan.from.display_name
        )
    } else {
        String::new()
    }
}

/// SIGINT or SIGTERM, whichever comes first.
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
