//! Reporters: the engine's events, rendered for whoever watches.
//!
//! A terminal gets progress bars; a log (cron, CI) gets one plain line per event; `--format
//! json` gets one JSON object per event. The engine knows none of them: it emits into the
//! [`EventSink`] it defines, which every [`Reporter`] is.

mod json;
mod plain;
mod terminal;

use crate::clock::Clock;
use crate::engine::EventSink;

pub(crate) use json::JsonReporter;
pub(crate) use plain::PlainReporter;
pub(crate) use terminal::TerminalReporter;

/// An [`EventSink`] for people: it may hold lines back (a progress bar) until the run ends.
pub(crate) trait Reporter: EventSink {
    /// Called once when the run ends, before the final report is printed.
    fn finish(&mut self) {}
}

/// Writes a line to stdout. A reader that went away (`| head`) must not crash the run: the
/// rollout's state matters more than its log.
fn write_stdout(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// The time prefix of a plain line.
fn stamp(clock: &Clock) -> String {
    clock.now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}
