//! The semantic pass: a [`RawPlan`] becomes a [`Plan`], or every reason it cannot.
//!
//! By the time this runs, the structural pass has reported and pruned every value of the wrong
//! shape, so a `None` here means "already reported" and is skipped quietly. What this pass adds is
//! meaning: the grammars inside strings, references between sections (duplicate users, unique
//! batch names, `remaining` last), CSV files, and the warnings a reviewer would raise. It is
//! static: it reads CSV files the plan names, and never the environment, secrets, network or clock.
//!
//! This file owns the order of the sections, which is the order their diagnostics appear in.
//! Each section is checked in a file named after it, as methods on the one [`Validator`] they
//! share; the grammars inside strings belong to [`super::grammar`], not here.

mod change_control;
mod configurations;
mod credentials;
mod disconnect;
mod gate;
mod notify;
mod precheck;
mod steps;
mod target;
mod users;
mod validator;

use std::path::Path;
use std::sync::Arc;

use toml::Spanned;

use crate::diagnostic::{Diagnostic, SourceFile};

use super::grammar::StepName;
use super::plan::{Plan, Validated};
use super::raw::RawPlan;
use validator::Validator;

/// Builds the typed plan. Returns `None` when any error was reported (by this pass or earlier);
/// the diagnostics say why.
pub(super) fn validate(
    raw: RawPlan,
    file: &Arc<SourceFile>,
    plan_path: &Path,
    pruned: &[String],
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Plan> {
    let dir = plan_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut v = Validator::new(file, &dir, pruned, diagnostics);

    let name = raw
        .name
        .as_ref()
        .and_then(|n| v.grammar(n, StepName::parse, "plan::bad-name"));
    let description = raw.description.map(Spanned::into_inner).unwrap_or_default();
    let target = raw
        .target
        .map(Spanned::into_inner)
        .and_then(|t| v.target(t));
    let from = raw
        .from
        .map(Spanned::into_inner)
        .and_then(configurations::from);
    let to = raw
        .to
        .map(Spanned::into_inner)
        .and_then(|t| v.to(t, from.as_ref()));
    let gate = v.default_gate(raw.gate);
    let pilot = raw.pilot.and_then(|p| v.pilot(p, &gate));
    let batches = v.batches(raw.batch, &gate);
    let precheck = match raw.precheck {
        Some(p) => {
            let span = p.span();
            v.precheck(p.into_inner(), span)
        }
        None => Some(None),
    };
    let disconnect = raw
        .disconnect
        .map(|d| v.disconnect(d.into_inner(), target.as_ref()));
    let notify = v.notify(raw.notify);
    let change_control = v.change_control(raw.change_control);

    if v.any_error() {
        return None;
    }
    Some(Plan {
        name: name?,
        description,
        target: target?,
        from: from?,
        to: to?,
        gate,
        pilot,
        batches,
        disconnect: disconnect?,
        precheck: precheck?,
        notify,
        change_control,
        _validated: Validated(()),
    })
}
