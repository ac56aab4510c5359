//! `cutover fleet apply PLAN...`: every plan run as `apply` runs it — its own session, store,
//! lock, engine and final report — at most `--concurrency` at once, in one process.
//!
//! What the fleet adds: a plan whose lock another process holds is skipped at once (never
//! waited for), so hosts running the same fleet share the work; one SIGINT/SIGTERM handler for
//! every run; plans on one platform share one request budget; and a summary with one exit code.

use std::io::IsTerminal;
use std::path::PathBuf;

use tokio::sync::watch;

use super::exit::{PlanResult, fleet_exit};
use super::lines::PlanLines;
use super::progress::FleetProgress;
use super::{pool, summary};
use crate::cli::apply::{run_with, runtime};
use crate::cli::output::Lines;
use crate::cli::settings::{ApplySettings, GlobalSettings};
use crate::cli::{CommandError, ErrorKind, Format, Output, Session};
use crate::clock::Clock;
use crate::exit_code::Exit;
use crate::http_target::Limiters;
use crate::report::{JsonReporter, PlainReporter, Reporter};
use crate::signals::{Signal, Signals};

/// What `fleet apply` adds to each plan's `apply` settings.
pub(super) struct FleetSettings {
    /// How many plans run at once.
    pub(super) concurrency: usize,
    /// Requests per second per platform, for the whole process.
    pub(super) rate_limit: Option<u32>,
}

pub(super) fn run(
    files: &[PathBuf],
    fleet: &FleetSettings,
    settings: &ApplySettings,
    global: &GlobalSettings,
    clock: Clock,
    out: &Output,
) -> Result<Exit, CommandError> {
    // Before any plan takes its lock, as `apply` does: from here on a signal stops every run at
    // its next safe point, each lock is given back and each state saved.
    let stop = stop_on_signal()?;
    let global = GlobalSettings {
        limiters: Some(Limiters::with_rate(fleet.rate_limit)),
        ..global.clone()
    };
    let (sessions, mut results) = super::load(files, &global, clock, out);
    let terminal = settings.format == Format::Text
        && std::io::stderr().is_terminal()
        && std::io::stdout().is_terminal();
    let progress = terminal.then(|| FleetProgress::new(out.color));
    let ran = pool::each(sessions, fleet.concurrency, |(index, session)| {
        (
            index,
            run_plan(&session, settings, &stop, progress.as_ref(), out),
        )
    });
    results.extend(ran);
    results.sort_by_key(|(index, _)| *index);
    let results: Vec<PlanResult> = results.into_iter().map(|(_, r)| r).collect();
    let exit = fleet_exit(results.iter().map(|r| r.exit));
    match settings.format {
        Format::Text => out.stdout(&out.paint_report(&summary::text(&results, exit))),
        Format::Json => out.stdout(&format!("{}\n", summary::json(&results, exit, clock))),
    }
    Ok(exit)
}

/// A watch that says when SIGINT or SIGTERM came, for every plan's engine. Its handlers live on
/// a runtime of their own, on a thread that ends with the process.
fn stop_on_signal() -> Result<watch::Receiver<Option<Signal>>, CommandError> {
    let signal_runtime = runtime()?;
    let entered = signal_runtime.enter();
    let mut signals = Signals::install()
        .map_err(|e| CommandError::failure(format!("cannot handle SIGINT and SIGTERM: {e}")))?;
    drop(entered);
    let (stop_tx, stop) = watch::channel(None);
    std::thread::Builder::new()
        .name("signals".to_owned())
        .spawn(move || {
            signal_runtime.block_on(async move {
                let signal = signals.recv().await;
                let _ = stop_tx.send(Some(signal));
            });
        })
        .map_err(|e| CommandError::failure(format!("cannot start the signal thread: {e}")))?;
    Ok(stop)
}

/// One plan's run, as `apply --until-blocked` (or `apply`) would do it, its lines marked.
fn run_plan(
    session: &Session<'_>,
    settings: &ApplySettings,
    stop: &watch::Receiver<Option<Signal>>,
    progress: Option<&FleetProgress>,
    out: &Output,
) -> PlanResult {
    let name = session.plan.name.to_string();
    let mut result = PlanResult {
        name: name.clone(),
        file: session.path.display().to_string(),
        exit: Exit::Done,
        line: String::new(),
    };
    // A stop requested while this plan was queued: it does not start.
    if let Some(signal) = *stop.borrow() {
        result.exit = match signal {
            Signal::Interrupt => Exit::Interrupted,
            Signal::Terminate => Exit::Terminated,
        };
        result.line = format!("not started: stopped by {}", signal.name());
        return result;
    }
    let lines = PlanLines::new(out, &name, progress.map(|p| p.multi.clone()));
    let (from, to) = (
        session.plan.from.display_name.as_str(),
        session.plan.to.display_name.as_str(),
    );
    let mut reporter: Box<dyn Reporter> = match (settings.format, progress) {
        (Format::Json, _) => Box::new(JsonReporter::for_plan(session.clock, &name)),
        (Format::Text, Some(progress)) => Box::new(progress.plan(&name, from, to)),
        (Format::Text, None) => {
            Box::new(PlainReporter::new(session.clock, from, to).with_prefix(&format!("{name}: ")))
        }
    };
    let ran = runtime().and_then(|runtime| {
        // No prompts: several plans cannot share one terminal's questions; the recorded
        // disconnect approval (or `--yes`) is the confirmation, as with no terminal.
        run_with(
            session,
            settings,
            &runtime,
            stop.clone(),
            reporter.as_mut(),
            &lines,
            false,
        )
    });
    reporter.finish();
    match ran {
        Ok(ran) => {
            result.exit = ran.exit;
            result.line = ran.line;
        }
        // Another process (here or on another host) runs this plan: leave it to that one.
        Err(error) if error.kind == ErrorKind::Locked => {
            result.exit = Exit::Locked;
            result.line = format!("skipped: {error}");
            if settings.format == Format::Text {
                lines.stdout(&format!("{}\n", result.line));
            }
        }
        Err(error) => {
            lines.stderr(&error.render());
            result.exit = Exit::from(error.kind);
            result.line = format!("error: {error}");
        }
    }
    result
}
