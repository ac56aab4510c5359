//! The dry-run as JSON: a stable shape (`format_version` 1) for tools. Fields are only ever
//! added: `summary`, `warnings`, `facts`, `back_out` and `change_control` came with the
//! change-board review.

use serde::Serialize;

use super::DryRun;
use crate::planner::{Action, Finding, PlannedStep};

#[derive(Serialize)]
struct Document<'a> {
    format_version: u32,
    dry_run: bool,
    plan: PlanHeader<'a>,
    target: &'a str,
    as_of: String,
    digest: &'a str,
    /// `plan_and_platform` until the rollout's first write (`apply --approved` takes it), then
    /// `plan` (`approve --digest` takes it for an edit).
    digest_covers: &'static str,
    /// The plan's `[change_control]` rules in words (the definition has them as keys).
    change_control: Vec<String>,
    from: &'a str,
    to: &'a str,
    blocked: bool,
    findings: &'a [Finding],
    /// The summary table, first in the other formats.
    summary: &'a [super::SummaryRow],
    /// Every warning: the plan file's and preflight's.
    warnings: &'a [super::Warning],
    /// What the dry-run rests on, each fact with its source.
    facts: &'a [super::Fact],
    steps: &'a [PlannedStep],
    /// What `cutover rollback` does for each step, and what nothing undoes.
    back_out: &'a [super::BackOut],
    /// What the next `apply` would do first (the same action `status` shows).
    next: &'a Action,
}

#[derive(Serialize)]
struct PlanHeader<'a> {
    name: String,
    file: &'a str,
    description: &'a str,
    definition: &'a crate::plan::Plan,
}

pub(crate) fn render(dry: &DryRun<'_>) -> String {
    let mut out = Vec::new();
    // Writing into memory fails only as serializing does (never: every map has string keys).
    let _ = write(dry, &mut out);
    String::from_utf8(out).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}\n"))
}

/// The document, written as it is serialized: at a large tenant it runs to tens of megabytes,
/// which `cutover plan` then need not hold (and fault in) whole before printing.
pub(crate) fn write(
    dry: &DryRun<'_>,
    out: &mut (impl std::io::Write + ?Sized),
) -> std::io::Result<()> {
    let s = dry.schedule;
    let review = super::Review::of(dry);
    let document = Document {
        format_version: 1,
        dry_run: true,
        plan: PlanHeader {
            name: dry.plan.name.to_string(),
            file: &dry.plan_file,
            description: &dry.plan.description,
            definition: dry.plan,
        },
        target: &dry.target,
        as_of: s.now.to_string(),
        digest: dry.digest,
        digest_covers: if dry.digest_of_plan_alone {
            "plan"
        } else {
            "plan_and_platform"
        },
        change_control: dry.change_control(),
        from: &s.from,
        to: &s.to,
        blocked: s.is_blocked(),
        findings: &s.findings,
        summary: &review.summary,
        warnings: &review.warnings,
        facts: &review.facts,
        steps: &s.steps,
        back_out: &review.back_out,
        next: &s.next,
    };
    match serde_json::to_writer_pretty(&mut *out, &document) {
        Ok(()) => {}
        Err(e) if e.is_io() => return Err(e.into()),
        Err(e) => write!(out, "{{\"error\": \"{e}\"}}")?,
    }
    out.write_all(b"\n")?;
    out.flush()
}
