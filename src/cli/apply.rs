//! `cutover apply PLAN`: run the plan, resuming where the last run stopped.

use std::io::IsTerminal;

use tokio::sync::watch;

use crate::engine::{Counted, Engine, Event, EventSink, RunOutcome, Settings};
use crate::exit_code::Exit;
use crate::notify::Notifier;
use crate::plan::Plan;
use crate::report::{JsonReporter, PlainReporter, Reporter, TerminalReporter};
use crate::signals::Signals;
use crate::state::{RunEnd, RunRecord, host_name, os_user};

use super::engine_error::engine_error;
use super::output::Lines;
use super::run_end::{final_report, recorded};
use super::run_notifications::{Noticed, notifications};
use super::run_provenance;
use super::settings::ApplySettings;
use super::{CommandError, Format, Output, Session};

pub(crate) fn run(
    session: &Session<'_>,
    settings: &ApplySettings,
    out: &Output,
) -> Result<Exit, CommandError> {
    // The runtime and the signal handlers come first: from here on SIGINT and SIGTERM stop the
    // run at its next safe point instead of killing it, so the lock taken below is always given
    // back and the state is always saved.
    let runtime = runtime()?;
    let entered = runtime.enter();
    let mut signals = Signals::install()
        .map_err(|e| CommandError::failure(format!("cannot handle SIGINT and SIGTERM: {e}")))?;
    let (stop_tx, stop) = watch::channel(None);
    let forward = runtime.spawn(async move {
        let signal = signals.recv().await;
        let _ = stop_tx.send(Some(signal));
    });
    drop(entered);
    let mut reporter = reporter(&session.plan, settings.format, session.clock, out.color);
    // With a person at the terminal, the disconnect of a real target is asked for.
    let prompt = std::io::stdin().is_terminal();
    let result = run_with(
        session,
        settings,
        &runtime,
        stop,
        reporter.as_mut(),
        out,
        prompt,
    );
    forward.abort();
    result.map(|ran| ran.exit)
}

/// The runtime a run's engine lives on: one thread, since cutover's concurrency is I/O.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, CommandError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CommandError::failure(format!("cannot start the async runtime: {e}")))
}

/// One plan's run, with the signal handlers already in place (`stop` says when one came): the
/// lock, the engine, the record of how it ended, notifications, the final report in `lines`.
/// `apply` runs one; `fleet apply` runs many at once, each on its own thread and runtime.
pub(crate) fn run_with(
    session: &Session<'_>,
    settings: &ApplySettings,
    runtime: &tokio::runtime::Runtime,
    stop: watch::Receiver<Option<crate::signals::Signal>>,
    reporter: &mut dyn Reporter,
    out: &dyn Lines,
    prompt: bool,
) -> Result<Ran, CommandError> {
    let plan = &session.plan;
    let path = session.path.as_path();
    let clock = session.clock;
    // Which plan this run executes, in git. A plan that must be committed and is not is
    // refused before anything at all is written, the state file included.
    let provenance = run_provenance::provenance(plan, path);
    run_provenance::require_clean(&provenance, plan, path, settings.require_clean_git)?;

    let mut store = session.open_store()?;
    let operator = os_user();
    session.lock(&mut store, "apply", &operator)?;
    let started_at = clock.now();
    if let Err(e) = run_provenance::record_start(
        &mut store,
        started_at,
        "apply",
        &operator,
        path,
        &provenance,
    ) {
        let _ = store.unlock();
        return Err(e.into());
    }

    let mut noticed = Noticed::default();
    let result = execute(
        session,
        settings,
        runtime,
        stop,
        &mut store,
        &operator,
        &mut *reporter,
        &mut noticed,
        prompt,
    );
    reporter.finish();
    let (exit, end) = match &result {
        Ok(outcome) => (Exit::from(outcome), recorded(outcome)),
        Err(error) => (
            Exit::from(error.kind),
            RunEnd::Error {
                message: error.to_string(),
            },
        ),
    };
    // How this run ended is what `status` reports from the state alone (best effort: the run's
    // own result matters more than its record, and a store that failed has said why).
    let _ = store.record_run(&RunRecord {
        command: "apply".to_owned(),
        started_at,
        ended_at: clock.now(),
        operator,
        host: host_name(),
        pid: std::process::id(),
        exit_code: exit as i32,
        end,
    });
    // The audit chain's head once the run has recorded all it will: printed last, sent with
    // the notifications, so a copy of it lives outside the state file.
    let head = store.audit_head().ok().flatten();
    // After the run's platform actions: who must hear of what it found. Bounded in time, and
    // never a reason for the run to fail.
    let notifier = Notifier::new(plan, &session.plan_dir());
    if !notifier.channels().is_empty() {
        let chain_head = head.as_ref().map(|h| h.hash.as_str());
        let current = notifications(plan, path, &result, &noticed, chain_head, clock.now());
        let report = runtime.block_on(notifier.notify(&mut store, &current, clock.now()));
        for result in &report.results {
            match &result.outcome {
                Ok(()) if settings.format == Format::Text => out.stdout(&format!(
                    "notify: {} {} to {}\n",
                    result.decision.as_str(),
                    result.event_key,
                    result.channel
                )),
                Ok(()) => {}
                Err(reason) => out.stderr(&format!(
                    "warning: notification {} to {} not delivered ({reason}); it is retried on a later run\n",
                    result.event_key, result.channel
                )),
            }
        }
        for problem in &report.problems {
            out.stderr(&format!("warning: {problem}\n"));
        }
    }
    let _ = store.unlock();
    if let (Format::Text, Some(head)) = (settings.format, &head) {
        out.stdout(&format!(
            "audit chain head: {} (record {})\n",
            head.hash, head.record
        ));
    }
    let outcome = result?;
    let report = final_report(plan, path, &outcome);
    if settings.format == Format::Text {
        out.stdout(&out.paint_report(&report));
    }
    let line = report.lines().last().unwrap_or_default().to_owned();
    Ok(Ran { exit, line })
}

/// How one plan's run ended: its exit code and the last line of its final report (`done: …`,
/// `waiting: …`, `halted: …`).
pub(crate) struct Ran {
    pub(crate) exit: Exit,
    pub(crate) line: String,
}

/// The run itself, once the lock is held: its platform, its engine, its end.
#[allow(clippy::too_many_arguments)] // The run's collaborators, each distinct.
fn execute(
    session: &Session<'_>,
    settings: &ApplySettings,
    runtime: &tokio::runtime::Runtime,
    stop: watch::Receiver<Option<crate::signals::Signal>>,
    store: &mut crate::state::Store,
    operator: &str,
    reporter: &mut dyn Reporter,
    noticed: &mut Noticed,
    prompt: bool,
) -> Result<RunOutcome, CommandError> {
    let plan = &session.plan;
    let clock = session.clock;
    let target = session.open_target()?;
    let mailbox_check = session.mailbox_check()?;
    let engine_settings = Settings {
        until_blocked: settings.until_blocked,
        poll: settings.poll,
        approved: settings.approved.clone(),
        operator: operator.to_owned(),
        reauthorize: settings.reauthorize,
        yes: settings.yes,
    };
    let started = std::time::Instant::now();
    let counted = Counted::new(&target.target);
    let (result, waited) = runtime.block_on(async {
        let mut sink = RunSink {
            reporter: &mut *reporter,
            noticed: &mut *noticed,
            open: settings.open,
        };
        let mut engine = Engine::new(
            plan,
            &counted,
            target.description.clone(),
            store,
            clock,
            &mut sink,
            engine_settings,
            stop,
            mailbox_check,
        );
        // A person at the terminal is asked before a real target's disconnect (`--yes`
        // answers for them); with no terminal, cutover never prompts.
        if prompt && !settings.yes {
            engine = engine.with_confirmation(Box::new(ask));
        }
        let outcome = engine.run().await;
        (outcome, engine.waited)
    });
    reporter.event(&Event::RunEnded {
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        waiting_ms: u64::try_from(waited.as_millis()).unwrap_or(u64::MAX),
        calls: counted
            .calls()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        chain_head: store.audit_head().ok().flatten().map(|h| h.hash),
    });
    result.map_err(|e| engine_error(e, &session.path))
}

/// Asks on the terminal; only `yes` goes on.
fn ask(question: &str) -> bool {
    use std::io::Write;
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "{question} Type yes to go on: ");
    let _ = err.flush();
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).is_ok() && answer.trim().eq_ignore_ascii_case("yes")
}

/// Bars on a terminal, plain lines in a log, or JSON.
pub(crate) fn reporter(
    plan: &Plan,
    format: Format,
    clock: crate::clock::Clock,
    color: bool,
) -> Box<dyn Reporter> {
    let (from, to) = (&plan.from.display_name, &plan.to.display_name);
    match format {
        Format::Json => Box::new(JsonReporter::new(clock)),
        Format::Text if std::io::stderr().is_terminal() && std::io::stdout().is_terminal() => {
            Box::new(TerminalReporter::new(clock, from, to, color))
        }
        Format::Text => Box::new(PlainReporter::new(clock, from, to)),
    }
}

/// Where a run's events go: the reporter, what notifications will name, and — when the
/// authorization URL is shown and `--open` asks for it — the desktop's browser (the engine
/// only says that there is a URL).
struct RunSink<'a> {
    reporter: &'a mut dyn Reporter,
    noticed: &'a mut Noticed,
    open: bool,
}

impl EventSink for RunSink<'_> {
    fn event(&mut self, event: &Event) {
        self.reporter.event(event);
        self.noticed.event(event);
        if let (true, Event::AuthorizationPending { url: Some(url), .. }) = (self.open, event) {
            if let Err(e) = open_browser(url) {
                self.reporter.event(&Event::Notice {
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
