//! `cutover apply PLAN`: run the plan, resuming where the last run stopped.

use std::io::IsTerminal;
use std::path::Path;

use tokio::sync::watch;

use crate::engine::{Counted, Engine, EngineError, Event, EventSink, RunOutcome, Settings};
use crate::exit_code::Exit;
use crate::plan::Plan;
use crate::report::{JsonReporter, PlainReporter, Reporter, TerminalReporter};
use crate::signals::Signals;
use crate::state::{FailingUser, os_user};

use super::settings::ApplySettings;
use super::{CommandError, Format, Output, Session, block_on};

pub(crate) fn run(
    session: &Session<'_>,
    settings: &ApplySettings,
    out: &Output,
) -> Result<Exit, CommandError> {
    let plan = &session.plan;
    let path = session.path.as_path();
    let clock = session.clock;
    let target = session.open_target()?;
    let mailbox_check = session.mailbox_check()?;
    let mut store = session.open_store()?;
    let operator = os_user();
    session.lock(&mut store, "apply", &operator)?;

    let mut reporter = reporter(plan, settings.format, clock);
    let engine_settings = Settings {
        until_blocked: settings.until_blocked,
        poll: settings.poll,
        approved: settings.approved.clone(),
        operator,
        reauthorize: settings.reauthorize,
    };
    let started = std::time::Instant::now();
    let counted = Counted::new(&target.target);
    let result = block_on(async {
        let (stop_tx, stop) = watch::channel(false);
        let signals = tokio::spawn(async move {
            if let Ok(mut signals) = Signals::install() {
                signals.recv().await;
                let _ = stop_tx.send(true);
            }
        });
        let mut sink = BrowserOpener {
            inner: reporter.as_mut(),
            open: settings.open,
        };
        let mut engine = Engine::new(
            plan,
            &counted,
            target.description.clone(),
            &mut store,
            clock,
            &mut sink,
            engine_settings,
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
    let outcome = result?.map_err(|e| engine_error(e, path))?;
    if settings.format == Format::Text {
        out.stdout(&final_report(plan, path, &outcome));
    }
    Ok(Exit::from(&outcome))
}

/// Bars on a terminal, plain lines in a log, or JSON.
fn reporter(plan: &Plan, format: Format, clock: crate::clock::Clock) -> Box<dyn Reporter> {
    let (from, to) = (&plan.from.display_name, &plan.to.display_name);
    match format {
        Format::Json => Box::new(JsonReporter::new(clock)),
        Format::Text if std::io::stderr().is_terminal() && std::io::stdout().is_terminal() => {
            Box::new(TerminalReporter::new(clock, from, to))
        }
        Format::Text => Box::new(PlainReporter::new(clock, from, to)),
    }
}

/// Opens the authorization URL in the desktop's browser when it is shown (`--open`); the
/// engine only says that there is one.
struct BrowserOpener<'a> {
    inner: &'a mut dyn Reporter,
    open: bool,
}

impl EventSink for BrowserOpener<'_> {
    fn event(&mut self, event: &Event) {
        self.inner.event(event);
        if let (true, Event::AuthorizationPending { url: Some(url), .. }) = (self.open, event) {
            if let Err(e) = open_browser(url) {
                self.inner.event(&Event::Notice {
                    message: format!("could not open a browser ({e}); open the URL above yourself"),
                });
            }
        }
    }
}

/// Opens `url` in the desktop's default browser, without waiting for it. Only an `https://`
/// URL (or `http://` on loopback) is handed over: the platform chose it, and an opener would
/// as readily run a `file:` or custom-scheme URL.
fn open_browser(url: &str) -> std::io::Result<()> {
    if !crate::plan::grammar::is_secure_url(url) {
        return Err(std::io::Error::other(
            "it opens only https:// URLs (or http:// on this machine)",
        ));
    }
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(drop)
}

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
