//! The dry-run as JSON: a stable shape (`format_version` 1) for tools.

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
    from: &'a str,
    to: &'a str,
    blocked: bool,
    findings: &'a [Finding],
    steps: &'a [PlannedStep],
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
    let s = dry.schedule;
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
        from: &s.from,
        to: &s.to,
        blocked: s.is_blocked(),
        findings: &s.findings,
        steps: &s.steps,
        next: &s.next,
    };
    let mut text = serde_json::to_string_pretty(&document)
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}
