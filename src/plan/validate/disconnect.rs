//! `[disconnect]`: the final, irreversible removal of the `from` configuration — its quiet time,
//! and a warning when a real platform would be disconnected without sign-off.
//!
//! When the disconnect may run, and whether stragglers block it, is the planner's to decide.

use crate::diagnostic::Diagnostic;
use crate::plan::TargetSpec;
use crate::plan::grammar::PlanDuration;
use crate::plan::plan::Disconnect;
use crate::plan::raw::RawDisconnect;

use super::validator::Validator;

impl Validator<'_> {
    /// `target` is `None` when it did not validate: no warning is guessed at then.
    pub(super) fn disconnect(
        &mut self,
        raw: RawDisconnect,
        target: Option<&TargetSpec>,
    ) -> Disconnect {
        let after = raw
            .after
            .as_ref()
            .and_then(|a| self.grammar(a, PlanDuration::parse, "plan::bad-duration"))
            .unwrap_or(PlanDuration::ZERO);
        let approval = raw.approval.as_ref().is_none_or(|a| *a.get_ref());
        if let (Some(a), Some(TargetSpec::Http { .. })) = (&raw.approval, target) {
            if !a.get_ref() {
                let warning = Diagnostic::warning(
                    "plan::unapproved-disconnect",
                    self.file,
                    a.span(),
                    "the final disconnect of a real platform will run without `cutover approve`",
                )
                .label("no sign-off before the irreversible step")
                .help(
                    "the disconnect removes the `from` credentials and cannot be undone; \
                     keep `approval = true` unless this plan runs against a sandbox",
                );
                self.diagnostics.push(warning);
            }
        }
        Disconnect { after, approval }
    }
}
