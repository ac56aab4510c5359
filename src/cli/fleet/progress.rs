//! A fleet on a terminal: one live line per running plan (its name and its latest event, as a
//! log would say it), everything worth keeping printed above them. Off a terminal, plain lines
//! marked with the plan (`PlainReporter::with_prefix`) say the same.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::engine::{Event, EventSink};
use crate::report::{Reporter, describe};

/// The fleet's live lines.
pub(super) struct FleetProgress {
    pub(super) multi: MultiProgress,
    /// Plan names in bold: a terminal, and `NO_COLOR` unset.
    color: bool,
}

impl FleetProgress {
    pub(super) fn new(color: bool) -> Self {
        Self {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            color,
        }
    }

    /// A live line for one plan, removed when its run ends.
    pub(super) fn plan(&self, name: &str, from: &str, to: &str) -> PlanBar {
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template(if self.color {
                "{spinner} {prefix:.bold} {wide_msg}"
            } else {
                "{spinner} {prefix} {wide_msg}"
            })
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(name.to_owned());
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        PlanBar {
            bar,
            multi: self.multi.clone(),
            name: name.to_owned(),
            from: from.to_owned(),
            to: to.to_owned(),
        }
    }
}

/// One plan's live line: its latest event; moves, verdicts and waits are also kept above.
pub(super) struct PlanBar {
    bar: ProgressBar,
    multi: MultiProgress,
    name: String,
    from: String,
    to: String,
}

impl EventSink for PlanBar {
    fn event(&mut self, event: &Event) {
        let Some(line) = describe(event, &self.from, &self.to) else {
            return;
        };
        // A step's start and end, a halt and a wait are what a person scrolling back needs.
        let keep = matches!(
            event,
            Event::StepStarted { .. }
                | Event::GatePassed { .. }
                | Event::GateFailed { .. }
                | Event::Disconnected { .. }
                | Event::Halted { .. }
        );
        if keep {
            let _ = self.multi.println(format!("{}: {line}", self.name));
        }
        self.bar.set_message(line);
    }
}

impl Reporter for PlanBar {
    fn finish(&mut self) {
        self.bar.finish_and_clear();
    }
}
