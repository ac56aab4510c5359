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
pub(crate) use plain::{PlainReporter, describe};
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

/// A duration for people: its two largest units, such as `2d 3h`, `5m 20s` or `45s`.
pub(crate) fn human_duration(duration: jiff::SignedDuration) -> String {
    let total = duration.as_secs().max(0);
    let units = [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)];
    let mut parts = Vec::new();
    let mut rest = total;
    for (unit, seconds) in units {
        let n = rest / seconds;
        if n > 0 || (parts.is_empty() && unit == "s") {
            parts.push(format!("{n}{unit}"));
            rest -= n * seconds;
        }
        if parts.len() == 2 || (!parts.is_empty() && rest == 0) {
            break;
        }
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_their_two_largest_units() {
        for (seconds, words) in [
            (0, "0s"),
            (45, "45s"),
            (320, "5m 20s"),
            (3_600, "1h"),
            (3_660, "1h 1m"),
            (289_950, "3d 8h"),
            (86_400 * 2 + 3_600 * 3 + 59, "2d 3h"),
            (-5, "0s"),
        ] {
            assert_eq!(
                human_duration(jiff::SignedDuration::from_secs(seconds)),
                words,
                "{seconds}"
            );
        }
    }
}
