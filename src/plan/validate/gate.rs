//! Verification gates: the default `[gate]` and a step's own `gate` over it — durations, the
//! error threshold, what a failure does, and a soak that could never end before its timeout.
//!
//! Evaluating a gate against syncs is the planner's; this only builds the [`Gate`] values.

use std::ops::Range;

use toml::Spanned;

use crate::plan::grammar::{PlanDuration, Share};
use crate::plan::raw::{RawGate, RawThreshold};
use crate::plan::{Gate, OnFailure, Threshold};

use super::validator::Validator;

/// Where each gate key was written, so a conflict between them points at the right one.
#[derive(Debug, Default, Clone)]
struct GateSpans {
    soak: Option<Range<usize>>,
    timeout: Option<Range<usize>>,
    /// A duration that did not parse: comparing the other one with a default would mislead.
    broken: bool,
}

impl Validator<'_> {
    /// The plan's `[gate]` over the built-in defaults: the base of every step's gate.
    pub(super) fn default_gate(&mut self, raw: Option<Spanned<RawGate>>) -> Gate {
        let (gate, spans) = match raw {
            Some(g) => self.gate(&Gate::default(), g.into_inner()),
            None => (Gate::default(), GateSpans::default()),
        };
        self.check_gate(&gate, &spans, "the default gate");
        gate
    }

    /// Applies a gate table's keys over `base`.
    fn gate(&mut self, base: &Gate, raw: RawGate) -> (Gate, GateSpans) {
        let mut gate = *base;
        let mut spans = GateSpans::default();
        if let Some(soak) = &raw.soak {
            spans.soak = Some(soak.span());
            match self.grammar(soak, PlanDuration::parse, "plan::bad-duration") {
                Some(d) => gate.soak = d,
                None => spans.broken = true,
            }
        }
        if let Some(timeout) = &raw.timeout {
            spans.timeout = Some(timeout.span());
            let parsed = self.grammar(timeout, PlanDuration::parse, "plan::bad-duration");
            spans.broken |= parsed.is_none();
            if let Some(d) = parsed {
                if d.is_zero() {
                    self.error(
                        "plan::zero-timeout",
                        timeout.span(),
                        "a gate's timeout cannot be zero",
                        "here",
                        "give syncs time to happen: the platform pulls every ~5 minutes, up to 60; such as \"1h\"",
                    );
                }
                gate.timeout = d;
            }
        }
        if let Some(max) = raw.max_errors {
            let span = max.span();
            match max.into_inner() {
                RawThreshold::Count(n) => match u64::try_from(n) {
                    Ok(n) => gate.max_errors = Threshold::Count(n),
                    Err(_) => self.error(
                        "plan::out-of-range",
                        span,
                        "`max_errors` cannot be negative",
                        "here",
                        "use a count of users (0 or more) or a share such as \"2%\"",
                    ),
                },
                RawThreshold::Share(text) => {
                    let spanned = Spanned::new(span, text);
                    if let Some(share) = self.grammar(&spanned, Share::parse, "plan::bad-share") {
                        gate.max_errors = Threshold::Share(share);
                    }
                }
            }
        }
        if let Some(on_failure) = raw.on_failure {
            gate.on_failure = match on_failure.get_ref().as_str() {
                "rollback" => OnFailure::Rollback,
                _ => OnFailure::Halt,
            };
        }
        if let Some(count) = raw.count_preexisting {
            gate.count_preexisting = count.into_inner();
        }
        (gate, spans)
    }

    fn check_gate(&mut self, gate: &Gate, spans: &GateSpans, whose: &str) {
        if gate.soak > gate.timeout && !gate.timeout.is_zero() && !spans.broken {
            let Some(span) = spans.soak.clone().or_else(|| spans.timeout.clone()) else {
                return;
            };
            self.error(
                "plan::soak-after-timeout",
                span,
                format!(
                    "{whose} can never pass: its soak ({}) is longer than its timeout ({})",
                    gate.soak, gate.timeout
                ),
                "soak longer than timeout",
                "the gate fails at its timeout, so the soak must end before it; shorten `soak` or lengthen `timeout`",
            );
        }
    }

    pub(super) fn step_gate(
        &mut self,
        base: &Gate,
        raw: Option<Spanned<RawGate>>,
        step: &str,
    ) -> Gate {
        let Some(raw) = raw else { return *base };
        let (gate, spans) = self.gate(base, raw.into_inner());
        if spans.soak.is_some() || spans.timeout.is_some() {
            self.check_gate(&gate, &spans, &format!("the gate of `{step}`"));
        }
        gate
    }
}
