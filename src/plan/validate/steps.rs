//! The pilot and the `[[batch]]` steps: names (unique, not reserved), `remaining` only in the
//! last batch, schedules (`not_before`, `window`), `max_size`, and each step's gate.
//!
//! Who a step moves, and that no user is in two steps, is checked in `users.rs`.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::ops::Range;

use toml::Spanned;

use crate::plan::grammar::{StartTime, StepName, Window};
use crate::plan::raw::{RawBatch, RawPilot, RawUsers};
use crate::plan::{Gate, Step, StepKind};

use super::validator::Validator;

impl Validator<'_> {
    pub(super) fn pilot(&mut self, raw: Spanned<RawPilot>, base: &Gate) -> Option<Step> {
        let raw = raw.into_inner();
        let users = raw.users.and_then(|u| {
            if matches!(u.get_ref(), RawUsers::Remaining) {
                self.error(
                    "plan::remaining-in-pilot",
                    u.span(),
                    "the pilot cannot be \"remaining\"",
                    "here",
                    "the pilot is a small first group: list a few users, or use `{ group = \"...\" }`",
                );
                return None;
            }
            self.users(u, "pilot")
        });
        let gate = self.step_gate(base, raw.gate, "pilot");
        Some(Step {
            name: StepName::parse("pilot").ok()?,
            kind: StepKind::Pilot,
            users: users?,
            approval: raw.approval.is_some_and(Spanned::into_inner),
            not_before: None,
            window: None,
            max_size: None,
            gate,
        })
    }

    /// Every batch in file order; a batch that is wrong is reported and left out.
    pub(super) fn batches(
        &mut self,
        raw: Option<Spanned<Vec<Spanned<RawBatch>>>>,
        base: &Gate,
    ) -> Vec<Step> {
        let raw = raw.map(Spanned::into_inner).unwrap_or_default();
        let count = raw.len();
        let mut names: HashMap<String, Range<usize>> = HashMap::new();
        let mut batches = Vec::new();
        for (i, batch) in raw.into_iter().enumerate() {
            if let Some(step) = self.batch(batch, base, i + 1 == count, &mut names) {
                batches.push(step);
            }
        }
        batches
    }

    fn batch(
        &mut self,
        raw: Spanned<RawBatch>,
        base: &Gate,
        is_last: bool,
        names: &mut HashMap<String, Range<usize>>,
    ) -> Option<Step> {
        let raw = raw.into_inner();
        let name = raw.name.as_ref().and_then(|n| {
            let name = self.grammar(n, StepName::parse, "plan::bad-name")?;
            if matches!(name.as_str(), "pilot" | "disconnect") {
                self.error(
                    "plan::reserved-name",
                    n.span(),
                    format!("`{name}` is reserved for the {name} step"),
                    "reserved",
                    "give the batch another name, such as \"first-wave\"",
                );
                return None;
            }
            if let Some(first) = names.get(name.as_str()) {
                let (line, column) = self.file.line_column(first.start);
                self.error(
                    "plan::duplicate-batch",
                    n.span(),
                    format!("two batches are named `{name}` (the first at line {line}, column {column})"),
                    "used again here",
                    "batch names are how `approve` and `rollback` pick a batch; make each one unique",
                );
                return None;
            }
            names.insert(name.as_str().to_owned(), n.span());
            Some(name)
        });
        let step_label = name
            .as_ref()
            .map_or_else(|| "this batch".to_owned(), |n| format!("batch `{n}`"));
        let step_id = raw
            .name
            .as_ref()
            .map_or_else(|| "this batch".to_owned(), |n| n.get_ref().clone());

        let users = raw.users.and_then(|u| {
            if matches!(u.get_ref(), RawUsers::Remaining) && !is_last {
                self.error(
                    "plan::remaining-not-last",
                    u.span(),
                    format!("only the last batch can take the \"remaining\" users, and {step_label} is not last"),
                    "not the last batch",
                    "move this batch to the end of the file, or list its users",
                );
                return None;
            }
            self.users(u, &step_id)
        });
        let not_before = raw
            .not_before
            .as_ref()
            .and_then(|t| self.grammar(t, StartTime::parse, "plan::bad-time"));
        let window = raw
            .window
            .as_ref()
            .and_then(|w| self.grammar(w, Window::parse, "plan::bad-window"));
        let max_size = raw.max_size.as_ref().and_then(|m| {
            let n = u32::try_from(*m.get_ref()).ok().and_then(NonZeroU32::new);
            if n.is_none() {
                self.error(
                    "plan::out-of-range",
                    m.span(),
                    "`max_size` must be at least 1",
                    "here",
                    "the largest number of users switched in one gated wave, such as 200",
                );
            }
            n
        });
        let gate = self.step_gate(base, raw.gate, &step_id);
        let complete = raw.not_before.is_none() == not_before.is_none()
            && raw.window.is_none() == window.is_none()
            && raw.max_size.is_none() == max_size.is_none();
        complete.then_some(())?;
        Some(Step {
            name: name?,
            kind: StepKind::Batch,
            users: users?,
            approval: raw.approval.is_some_and(Spanned::into_inner),
            not_before,
            window,
            max_size,
            gate,
        })
    }
}
