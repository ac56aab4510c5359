//! Progress bars on a terminal: one per step (users switched), its gate's state as the message,
//! and a live countdown line while waiting.

use std::collections::HashMap;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Reporter;
use super::plain::describe;
use crate::clock::Clock;
use crate::engine::{Event, EventSink};
use crate::planner::Side;

pub(crate) struct TerminalReporter {
    clock: Clock,
    from: String,
    to: String,
    multi: MultiProgress,
    bars: HashMap<String, ProgressBar>,
    status: ProgressBar,
}

impl TerminalReporter {
    pub(crate) fn new(clock: Clock, from: &str, to: &str) -> Self {
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
            multi,
            bars: HashMap::new(),
            status,
        }
    }

    fn print(&self, text: &str) {
        let _ = self.multi.println(text);
    }
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix:>18} [{bar:30}] {pos:>5}/{len:<5} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

impl EventSink for TerminalReporter {
    fn event(&mut self, event: &Event) {
        match event {
            Event::Planned { steps } => {
                for step in steps {
                    let bar = self
                        .multi
                        .insert_before(&self.status, ProgressBar::new(step.users as u64));
                    bar.set_style(bar_style());
                    bar.set_prefix(step.step.clone());
                    bar.set_message("pending");
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
                        format!(", {failing} FAILING")
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
                        bar.finish_with_message(format!(
                            "gate passed, {} exception(s)",
                            exceptions.len()
                        ));
                    }
                }
                if !exceptions.is_empty() {
                    if let Some(text) = describe(event, &self.from, &self.to) {
                        self.print(&text);
                    }
                }
            }
            Event::GateFailed { step, failures, .. } => {
                if let Some(bar) = self.bars.get(step) {
                    bar.abandon_with_message(format!("GATE FAILED ({} user(s))", failures.len()));
                }
            }
            Event::Waiting {
                reason,
                step,
                detail,
                until,
            } => {
                let left = until
                    .and_then(|u| {
                        let seconds = u.duration_since(self.clock.now()).as_secs();
                        (seconds >= 0).then(|| format!(" ({seconds}s left)"))
                    })
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
            other => {
                if let Some(text) = describe(other, &self.from, &self.to) {
                    self.print(&text);
                }
            }
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
