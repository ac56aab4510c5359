//! Progress bars on a terminal: one per step (users switched), its gate's state as the message,
//! every move and verdict as a line above the bars, and a live countdown while waiting.

use std::collections::HashMap;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::plain::describe;
use super::{Reporter, human_duration};
use crate::clock::Clock;
use crate::engine::{Event, EventSink};
use crate::planner::Side;
use crate::state::StepPhase;

pub(crate) struct TerminalReporter {
    clock: Clock,
    from: String,
    to: String,
    /// ANSI colour for what needs attention (a terminal, and `NO_COLOR` unset).
    color: bool,
    multi: MultiProgress,
    bars: HashMap<String, ProgressBar>,
    status: ProgressBar,
}

/// How a line is marked when colour is on.
#[derive(Clone, Copy)]
enum Tone {
    Alarm,
    Warning,
    Irreversible,
    Good,
}

impl TerminalReporter {
    pub(crate) fn new(clock: Clock, from: &str, to: &str, color: bool) -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let status = multi.add(ProgressBar::new_spinner());
        status.set_style(
            ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        Self {
            clock,
            from: from.to_owned(),
            to: to.to_owned(),
            color,
            multi,
            bars: HashMap::new(),
            status,
        }
    }

    fn print(&self, text: &str) {
        let _ = self.multi.println(text);
    }

    fn paint(&self, text: &str, tone: Option<Tone>) -> String {
        match (self.color, tone) {
            (true, Some(tone)) => paint(text, tone),
            _ => text.to_owned(),
        }
    }
}

fn paint(text: &str, tone: Tone) -> String {
    let code = match tone {
        Tone::Alarm => "1;31",
        Tone::Warning => "33",
        Tone::Irreversible => "1;35",
        Tone::Good => "32",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// What a line needs attention for, if anything.
fn tone(event: &Event) -> Option<Tone> {
    match event {
        Event::Halted { .. } | Event::GateFailed { .. } => Some(Tone::Alarm),
        Event::GatePassed { exceptions, .. } if !exceptions.is_empty() => Some(Tone::Warning),
        Event::Notice { .. } | Event::Reconciled { .. } | Event::Interrupted => Some(Tone::Warning),
        Event::Disconnected { .. } => Some(Tone::Irreversible),
        Event::Done => Some(Tone::Good),
        _ => None,
    }
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix:>18} [{bar:30}] {pos:>5}/{len:<5} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

impl EventSink for TerminalReporter {
    fn event(&mut self, event: &Event) {
        // Every move and verdict is a line above the bars; the bars and the status line carry
        // the rest.
        if !matches!(
            event,
            Event::Planned { .. } | Event::GateReading { .. } | Event::Waiting { .. }
        ) {
            if let Some(text) = describe(event, &self.from, &self.to) {
                let line = self.paint(&text, tone(event));
                self.print(&line);
            }
        }
        match event {
            Event::Planned { steps } => {
                for step in steps {
                    let bar = self
                        .multi
                        .insert_before(&self.status, ProgressBar::new(step.users as u64));
                    bar.set_style(bar_style());
                    bar.set_prefix(step.step.clone());
                    // A resumed run shows what earlier runs did.
                    match step.phase {
                        Some(StepPhase::Passed) => {
                            bar.set_position(step.users as u64);
                            bar.finish_with_message("done");
                        }
                        Some(StepPhase::Verifying | StepPhase::Halted) => {
                            bar.set_position(step.users as u64);
                            bar.set_message("switched; verifying");
                        }
                        Some(StepPhase::RolledBack) => bar.set_message("rolled back"),
                        Some(StepPhase::Moving) => {
                            bar.set_position(step.switched as u64);
                            bar.set_message("switching");
                        }
                        None => bar.set_message("pending"),
                    }
                    self.bars.insert(step.step.clone(), bar);
                }
            }
            Event::UsersSwitched {
                step,
                side: Side::To,
                enabled: true,
                total,
                ..
            } => {
                if let Some(bar) = self.bars.get(step) {
                    bar.inc(*total as u64);
                    bar.set_message(format!("switching to {:?}", self.to));
                }
            }
            Event::StepStarted { step, members, .. } => {
                if let Some(bar) = self.bars.get(step) {
                    bar.set_length(members.len() as u64);
                    bar.set_message("started");
                }
            }
            Event::SwitchCompleted { step } => {
                if let Some(bar) = self.bars.get(step) {
                    bar.set_position(bar.length().unwrap_or(0));
                    bar.set_message("switched; verifying");
                }
            }
            Event::GateReading {
                step,
                verified,
                counted,
                failing,
                ..
            } => {
                if let Some(bar) = self.bars.get(step) {
                    let failing = if *failing > 0 {
                        self.paint(&format!(", {failing} FAILING"), Some(Tone::Alarm))
                    } else {
                        String::new()
                    };
                    bar.set_message(format!("verified {verified}/{counted}{failing}"));
                }
            }
            Event::GatePassed { step, exceptions } => {
                if let Some(bar) = self.bars.get(step) {
                    if exceptions.is_empty() {
                        bar.finish_with_message("gate passed");
                    } else {
                        let text = format!("gate passed, {} exception(s)", exceptions.len());
                        bar.finish_with_message(self.paint(&text, Some(Tone::Warning)));
                    }
                }
            }
            Event::GateFailed { step, failures, .. } => {
                if let Some(bar) = self.bars.get(step) {
                    let text = format!("GATE FAILED ({} user(s))", failures.len());
                    bar.abandon_with_message(self.paint(&text, Some(Tone::Alarm)));
                }
            }
            Event::Restarted { step } => {
                if let Some(bar) = self.bars.get(step) {
                    bar.set_position(0);
                    bar.set_message("switching again");
                }
            }
            Event::Waiting {
                reason,
                step,
                detail,
                until,
            } => {
                let left = until
                    .map(|u| u.duration_since(self.clock.now()))
                    .filter(|left| !left.is_negative())
                    .map(|left| format!(" ({} left)", human_duration(left)))
                    .unwrap_or_default();
                let detail = if detail.is_empty() {
                    String::new()
                } else {
                    format!(": {detail}")
                };
                self.status.set_message(format!(
                    "{step}: waiting ({}){left}{detail}",
                    reason.as_str()
                ));
                self.status.tick();
            }
            _ => {}
        }
    }
}

impl Reporter for TerminalReporter {
    fn finish(&mut self) {
        self.status.finish_and_clear();
        for bar in self.bars.values() {
            if !bar.is_finished() {
                bar.abandon();
            }
        }
    }
}
