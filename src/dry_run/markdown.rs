//! The dry-run as Markdown, to paste into a change ticket. Lists are never folded.

use std::fmt::Write;

use super::{
    DryRun, Review, Source, acceptance_text, duration_words, exception_text, gate_text,
    member_summary, status_text,
};
use crate::planner::{MemberState, Severity, StepDetail};

const BANNER: &str =
    "> **DRY RUN**: `cutover plan` changes nothing; this is what `cutover apply` would do.";

pub(crate) fn render(dry: &DryRun<'_>) -> String {
    let mut out = String::new();
    let plan = dry.plan;
    let s = dry.schedule;
    let zone = plan.display_zone();
    let _ = writeln!(out, "{BANNER}\n");
    let _ = writeln!(out, "# Migration plan `{}`\n", plan.name);
    if !plan.description.is_empty() {
        let _ = writeln!(out, "{}\n", plan.description);
    }
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(out, "| Plan file | `{}` |", dry.plan_file);
    let _ = writeln!(out, "| Target | {} |", dry.target);
    let _ = writeln!(
        out,
        "| Change | \"{}\" (Basic/NTLM) to \"{}\" (OAuth, tenant `{}`) |",
        s.from, s.to, plan.to.tenant_id
    );
    let _ = writeln!(out, "| As of | {} |", dry.time(s.now, &zone));
    let _ = writeln!(out, "| Digest | `{}` |", dry.digest);
    let _ = writeln!(out, "| Approval | {} |", dry.digest_use());
    let rules = dry.change_control();
    if rules.is_empty() {
        let _ = writeln!(
            out,
            "| Change control | none (`[change_control]` sets none) |\n"
        );
    } else {
        let _ = writeln!(out, "| Change control | {} |\n", rules.join("; "));
    }

    let review = Review::of(dry);
    summary(&mut out, &review);
    warnings(&mut out, &review);
    let _ = writeln!(out, "## Preflight\n");
    if s.findings.is_empty() {
        let _ = writeln!(out, "No findings.");
    }
    for f in &s.findings {
        let label = match f.severity {
            Severity::Blocking => "**BLOCKING**",
            Severity::Warning => "**Warning**",
            Severity::Info => "Info",
        };
        let source = Source::of_finding(f.code).label();
        let _ = writeln!(out, "- {label} ({source}): {}", cell(&f.message));
        if !f.users.is_empty() {
            let users: Vec<String> = f.users.iter().map(|u| format!("`{u}`")).collect();
            let _ = writeln!(out, "  - Users: {}", users.join(", "));
        }
        if let Some(remedy) = &f.remedy {
            let _ = writeln!(out, "  - Fix: {remedy}");
        }
    }
    let _ = writeln!(out);
    facts(&mut out, &review);
    let _ = writeln!(
        out,
        "## Steps\n\nTimes are the earliest possible: syncs, approvals and windows can only delay them.\n"
    );
    for (i, step) in s.steps.iter().enumerate() {
        let zone = dry.zone_of(step);
        match &step.detail {
            StepDetail::Connect {
                display_name,
                tenant_id,
                service_account,
                adopt,
            } => {
                let _ = writeln!(out, "### {}. Connect \"{display_name}\"\n", i + 1);
                let verb = if *adopt {
                    "Adopt the existing configuration"
                } else {
                    "Create the OAuth configuration"
                };
                let account = service_account
                    .clone()
                    .unwrap_or_else(|| "the service account".to_owned());
                let _ = writeln!(
                    out,
                    "{verb} for tenant `{tenant_id}` and authorize it, signed in as `{account}`.\n"
                );
            }
            StepDetail::Move(detail) => {
                let wave = detail
                    .wave
                    .map(|(n, of)| format!(" (wave {n} of {of} of batch `{}`)", detail.step))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "### {}. `{}`: {} user(s){wave}\n",
                    i + 1,
                    step.id,
                    detail.members.len()
                );
                let _ = writeln!(out, "- Selector: {}", detail.selector);
                let _ = writeln!(
                    out,
                    "- Gate: {}",
                    gate_text(&detail.gate, detail.allowed_errors, detail.members.len())
                );
                if detail.approval {
                    let _ = writeln!(out, "- Approval: `{}`", dry.approve_command(&detail.step));
                }
                if let Some(t) = detail.not_before {
                    let _ = writeln!(out, "- Not before: {}", dry.time(t.timestamp(), &zone));
                }
                if let Some(w) = &detail.window {
                    let _ = writeln!(out, "- Window: {w}");
                }
                let summary = member_summary(detail);
                if !summary.is_empty() {
                    let _ = writeln!(out, "- Of the users: {summary}");
                }
                for note in &detail.notes {
                    let _ = writeln!(out, "- Note: {note}");
                }
                for exception in &detail.exceptions {
                    let _ = writeln!(out, "- Exception: {}", exception_text(exception, dry));
                }
                if !detail.members.is_empty() {
                    let _ = writeln!(out, "\n| # | User | Action |\n|---|---|---|");
                    for (n, m) in detail.members.iter().enumerate() {
                        let action = match m.state {
                            MemberState::Move => "enable OAuth, then disable Basic",
                            MemberState::FinishMove => "disable Basic (already on both)",
                            MemberState::OnTo => "verify only (already on OAuth)",
                            MemberState::Neither => "none (on neither configuration)",
                        };
                        let _ = writeln!(out, "| {} | `{}` | {action} |", n + 1, m.email);
                    }
                }
                let _ = writeln!(out);
            }
            StepDetail::Disconnect {
                display_name,
                after,
                approval,
                stragglers,
                preexisting,
                accepted,
                exceptions,
            } => {
                let _ = writeln!(
                    out,
                    "### {}. Disconnect \"{display_name}\": **IRREVERSIBLE**\n",
                    i + 1
                );
                let _ = writeln!(
                    out,
                    "Removes the credentials of \"{display_name}\". This cannot be undone.\n"
                );
                let _ = writeln!(
                    out,
                    "- Runs only when no user on the platform is left on \"{display_name}\" and every OAuth user syncs cleanly"
                );
                let _ = writeln!(out, "- Quiet time: {}", duration_words(*after));
                if *approval {
                    let _ = writeln!(out, "- Approval: `{}`", dry.approve_command("disconnect"));
                } else {
                    let _ = writeln!(
                        out,
                        "- Approval: **not required** (the plan says `approval = false`)"
                    );
                }
                if !stragglers.is_empty() {
                    let users: Vec<String> = stragglers.iter().map(|u| format!("`{u}`")).collect();
                    let _ = writeln!(
                        out,
                        "- Blocked by {} user(s) in no step: {}",
                        stragglers.len(),
                        users.join(", ")
                    );
                }
                for exception in exceptions
                    .iter()
                    .filter(|e| !accepted.iter().any(|a| a.email == e.user.email))
                {
                    let _ = writeln!(
                        out,
                        "- Blocked unless fixed or accepted (`cutover accept`), open exception: {}",
                        exception_text(exception, dry)
                    );
                }
                for acceptance in accepted {
                    let _ = writeln!(
                        out,
                        "- Accepted: will stop syncing until fixed (moved to \"{}\" alone as its last moves): {}",
                        s.to,
                        acceptance_text(acceptance, dry)
                    );
                }
                if !preexisting.is_empty() {
                    let users: Vec<String> = preexisting
                        .iter()
                        .map(|f| format!("`{}`", f.email))
                        .collect();
                    let _ = writeln!(
                        out,
                        "- Not blocking: {} pre-existing failure(s): {}",
                        preexisting.len(),
                        users.join(", ")
                    );
                }
                let _ = writeln!(out);
            }
        }
        if let (Some(start), Some(pass)) = (step.start, step.pass) {
            let _ = writeln!(
                out,
                "Earliest start {}; earliest pass {}.\n",
                dry.time(start, &zone),
                dry.time(pass, &zone)
            );
        }
        let _ = writeln!(out, "Status: {}.\n", status_text(&step.status, dry, step));
    }
    back_out(&mut out, &review);
    let _ = writeln!(out, "{BANNER}");
    out
}

/// A table cell's text: a `|` would end the cell, a newline the row.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn summary(out: &mut String, review: &Review) {
    let _ = writeln!(out, "## Summary\n");
    let _ = writeln!(
        out,
        "| Step | Users | Earliest start | Gate | Approval |\n|---|---|---|---|---|"
    );
    for row in &review.summary {
        let users = row.users.map_or_else(|| "-".to_owned(), |n| n.to_string());
        let _ = writeln!(
            out,
            "| `{}` | {users} | {} | {} | {} |",
            row.step,
            row.earliest_start_text,
            cell(&row.gate),
            cell(&row.approval)
        );
    }
    let _ = writeln!(out);
}

fn warnings(out: &mut String, review: &Review) {
    let _ = writeln!(out, "## Warnings\n");
    if review.warnings.is_empty() {
        let _ = writeln!(
            out,
            "None: the plan file has no warnings and preflight found nothing to warn about.\n"
        );
        return;
    }
    for w in &review.warnings {
        let severity = if w.severity == "blocking" {
            "**BLOCKING**"
        } else {
            "**Warning**"
        };
        let place = match &w.location {
            Some(at) => format!("plan file, `{at}`"),
            None => "preflight".to_owned(),
        };
        let _ = writeln!(
            out,
            "- {severity} ({place}, `{}`): {}",
            w.code,
            cell(&w.message)
        );
        if let Some(help) = &w.help {
            let _ = writeln!(out, "  - Fix: {}", cell(help));
        }
    }
    let _ = writeln!(out);
}

fn facts(out: &mut String, review: &Review) {
    let _ = writeln!(
        out,
        "### What this dry-run rests on\n\n| Fact | Source |\n|---|---|"
    );
    for f in &review.facts {
        let _ = writeln!(out, "| {} | {} |", cell(&f.fact), f.label);
    }
    let _ = writeln!(out);
}

fn back_out(out: &mut String, review: &Review) {
    let _ = writeln!(
        out,
        "## Back-out\n\nWhat `cutover rollback` does for each step, and what it cannot undo.\n"
    );
    for b in &review.back_out {
        let title = if b.reversible {
            format!("### `{}`", b.step)
        } else {
            format!("### `{}`: **cannot be backed out**", b.step)
        };
        let _ = writeln!(out, "{title}\n");
        if let Some(command) = &b.command {
            let _ = writeln!(out, "`{command}`\n");
        }
        for (n, line) in b.order.iter().enumerate() {
            let _ = writeln!(out, "{}. {line}", n + 1);
        }
        if !b.conditions.is_empty() {
            let _ = writeln!(out);
        }
        for line in &b.conditions {
            let _ = writeln!(out, "- {line}");
        }
        let _ = writeln!(out);
    }
}
