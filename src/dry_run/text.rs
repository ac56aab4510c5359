//! The dry-run as plain text: for a terminal, a log, or a ticket.

use std::fmt::Write;

use super::{
    DryRun, Review, Source, acceptance_text, duration_words, exception_text, gate_text,
    member_summary, status_text,
};
use crate::plan::grammar::Email;
use crate::planner::{Severity, StepDetail};
use crate::state::Exception;

/// Where a step's details start.
const INDENT: &str = "       ";

/// How many users a folded list shows before "and N more".
const FOLD: usize = 8;

/// How many users an overlap note shows before "and N more": a long list reads in text as a long
/// list of diagnostics does (the first 50, and a count of the rest). At a large tenant two
/// attribute batches overlap by tens of thousands, which made the note most of the document.
const NOTE_FOLD: usize = 50;

const BANNER: &str =
    "DRY RUN: cutover plan changes nothing; this is what `cutover apply` would do.";

pub(crate) fn render(dry: &DryRun<'_>) -> String {
    let mut out = String::new();
    let plan = dry.plan;
    let s = dry.schedule;
    let zone = plan.display_zone();
    let _ = writeln!(out, "{BANNER}\n");
    let _ = writeln!(out, "Plan     {} ({})", plan.name, dry.plan_file);
    if !plan.description.is_empty() {
        let _ = writeln!(out, "         {}", plan.description);
    }
    let _ = writeln!(out, "Target   {}", dry.target);
    let _ = writeln!(
        out,
        "Change   {:?} (Basic/NTLM) -> {:?} (OAuth, tenant {})",
        s.from, s.to, plan.to.tenant_id
    );
    let _ = writeln!(out, "As of    {}", dry.time(s.now, &zone));
    let _ = writeln!(out, "Digest   {}", dry.digest);
    let _ = writeln!(out, "         {}", dry.digest_use());
    for (i, rule) in dry.change_control().iter().enumerate() {
        let label = if i == 0 { "Controls" } else { "" };
        let _ = writeln!(out, "{label:<8} {rule}");
    }

    let review = Review::of(dry);
    summary(&mut out, &review);
    warnings(&mut out, &review);
    let _ = writeln!(out, "\nPreflight");
    if s.findings.is_empty() {
        let _ = writeln!(out, "  ok        no findings");
    }
    for f in &s.findings {
        let label = match f.severity {
            Severity::Blocking => "BLOCKING",
            Severity::Warning => "warning",
            Severity::Info => "info",
        };
        let source = Source::of_finding(f.code).label();
        let _ = writeln!(out, "  {label:<9} {} ({source})", f.message);
        if !f.users.is_empty() {
            let _ = writeln!(
                out,
                "            {}",
                fold(f.users.iter().map(Email::as_str), dry.full)
            );
        }
        if let Some(remedy) = &f.remedy {
            let _ = writeln!(out, "            fix: {remedy}");
        }
    }

    let _ = writeln!(out, "  rests on:");
    for f in review.facts.iter().filter(|f| f.code.is_none()) {
        let _ = writeln!(out, "            {} ({})", f.fact, f.label);
    }
    let _ = writeln!(
        out,
        "\nSteps (times are the earliest possible: syncs, approvals and windows can only delay them)"
    );
    for (i, step) in s.steps.iter().enumerate() {
        let zone = dry.zone_of(step);
        let number = format!("{}.", i + 1);
        match &step.detail {
            StepDetail::Connect {
                display_name,
                tenant_id,
                service_account,
                adopt,
            } => {
                let account = service_account
                    .clone()
                    .unwrap_or_else(|| "the service account".to_owned());
                let what = if *adopt {
                    format!(
                        "Adopt the existing {display_name:?} (tenant {tenant_id}) and make sure it is authorized by {account}"
                    )
                } else {
                    format!(
                        "Create {display_name:?} (OAuth, tenant {tenant_id}) and authorize it, signed in as {account}"
                    )
                };
                let _ = writeln!(out, "  {number} connect\n{INDENT}{what}");
            }
            StepDetail::Move(detail) => {
                let kind = if detail.wave.is_some() {
                    format!(
                        "wave {} of {} of batch `{}`, ",
                        detail.wave.map_or(0, |w| w.0),
                        detail.wave.map_or(0, |w| w.1),
                        detail.step
                    )
                } else {
                    String::new()
                };
                let _ = writeln!(
                    out,
                    "  {number} {}\n{INDENT}{} user(s): {kind}{}",
                    step.id,
                    detail.members.len(),
                    detail.selector
                );
                let emails = detail.members.emails();
                if !emails.is_empty() {
                    let emails = emails.iter().map(Email::as_str);
                    let _ = writeln!(out, "{INDENT}{}", fold(emails, dry.full));
                }
                let summary = member_summary(detail);
                if !summary.is_empty() {
                    let _ = writeln!(out, "{INDENT}of whom {summary}");
                }
                for note in &detail.notes {
                    let shown = (!dry.full).then_some(NOTE_FOLD);
                    let _ = writeln!(out, "{INDENT}note: {}", note.folded(shown));
                }
                for exception in &detail.exceptions {
                    let _ = writeln!(out, "{INDENT}exception: {}", exception_text(exception, dry));
                }
                let _ = writeln!(
                    out,
                    "{INDENT}gate: {}",
                    gate_text(&detail.gate, detail.allowed_errors, detail.members.len())
                );
                let mut when = Vec::new();
                if detail.approval {
                    when.push(format!(
                        "approval (`{}`)",
                        dry.approve_command(&detail.step)
                    ));
                }
                if let Some(t) = detail.not_before {
                    when.push(format!("not before {}", dry.time(t.timestamp(), &zone)));
                }
                if let Some(w) = &detail.window {
                    when.push(format!("inside the window {w}"));
                }
                if !when.is_empty() {
                    let _ = writeln!(out, "{INDENT}starts only with: {}", when.join("; "));
                }
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
                    "  {number} disconnect\n{INDENT}IRREVERSIBLE: disconnect {display_name:?}; its credentials are removed and cannot be restored"
                );
                let approval = if *approval {
                    format!("approval (`{}`)", dry.approve_command("disconnect"))
                } else {
                    "NO approval (the plan says `approval = false`)".to_owned()
                };
                let _ = writeln!(
                    out,
                    "{INDENT}runs only with: no user on the platform left on {display_name:?}, every OAuth user syncing cleanly, {}, {approval}",
                    duration_words(*after)
                );
                if !stragglers.is_empty() {
                    let _ = writeln!(
                        out,
                        "{INDENT}blocked by {} user(s) in no step: {}",
                        stragglers.len(),
                        fold(stragglers.iter().map(Email::as_str), dry.full)
                    );
                }
                let blocking: Vec<&Exception> = exceptions
                    .iter()
                    .filter(|e| !accepted.iter().any(|a| a.email == e.user.email))
                    .collect();
                if !blocking.is_empty() {
                    let _ = writeln!(
                        out,
                        "{INDENT}blocked by {} open exception(s) unless fixed or accepted (`cutover accept`):",
                        blocking.len()
                    );
                    for exception in blocking {
                        let _ = writeln!(out, "{INDENT}  {}", exception_text(exception, dry));
                    }
                }
                if !accepted.is_empty() {
                    let _ = writeln!(
                        out,
                        "{INDENT}accepted: {} user(s) will stop syncing until fixed (moved to {:?} alone as its last moves):",
                        accepted.len(),
                        s.to
                    );
                    for acceptance in accepted {
                        let _ = writeln!(out, "{INDENT}  {}", acceptance_text(acceptance, dry));
                    }
                }
                if !preexisting.is_empty() {
                    let _ = writeln!(
                        out,
                        "{INDENT}not blocking: {} pre-existing failure(s): {}",
                        preexisting.len(),
                        fold(preexisting.iter().map(|f| f.email.as_str()), dry.full)
                    );
                }
            }
        }
        if let (Some(start), Some(pass)) = (step.start, step.pass) {
            let timing = match &step.detail {
                StepDetail::Move(_) => format!(
                    "earliest start {}, earliest pass {}",
                    dry.time(start, &zone),
                    dry.time(pass, &zone)
                ),
                _ => format!("earliest {}", dry.time(start, &zone)),
            };
            let _ = writeln!(out, "{INDENT}{timing}");
        }
        let _ = writeln!(
            out,
            "{INDENT}status: {}",
            status_text(&step.status, dry, step)
        );
    }
    back_out(&mut out, &review);
    let _ = writeln!(out, "\n{BANNER}");
    out
}

fn summary(out: &mut String, review: &Review) {
    let _ = writeln!(out, "\nSummary");
    let width = review
        .summary
        .iter()
        .map(|r| r.step.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let start_width = review
        .summary
        .iter()
        .map(|r| r.earliest_start_text.len())
        .max()
        .unwrap_or(14)
        .max(14);
    let _ = writeln!(
        out,
        "  {:<width$}  {:>5}  {:<start_width$}  gate; approval",
        "step", "users", "earliest start"
    );
    for row in &review.summary {
        let users = row.users.map_or_else(|| "-".to_owned(), |n| n.to_string());
        let _ = writeln!(
            out,
            "  {:<width$}  {users:>5}  {:<start_width$}  {}; approval {}",
            row.step, row.earliest_start_text, row.gate, row.approval
        );
    }
}

fn warnings(out: &mut String, review: &Review) {
    let _ = writeln!(out, "\nWarnings");
    if review.warnings.is_empty() {
        let _ = writeln!(out, "  none");
    }
    for w in &review.warnings {
        let place = match &w.location {
            Some(at) => format!("plan {at}"),
            None => "preflight".to_owned(),
        };
        let severity = if w.severity == "blocking" {
            "BLOCKING"
        } else {
            "warning"
        };
        let _ = writeln!(out, "  {severity:<9} {} [{place}, {}]", w.message, w.code);
        if let Some(help) = &w.help {
            let _ = writeln!(out, "            fix: {help}");
        }
    }
}

fn back_out(out: &mut String, review: &Review) {
    let _ = writeln!(
        out,
        "\nBack-out (what `cutover rollback` does for each step)"
    );
    for b in &review.back_out {
        let head = if b.reversible {
            b.command
                .clone()
                .unwrap_or_else(|| "(nothing to undo)".to_owned())
        } else {
            "IRREVERSIBLE: cannot be backed out".to_owned()
        };
        let _ = writeln!(out, "  {:<18} {head}", b.step);
        for (n, line) in b.order.iter().enumerate() {
            let _ = writeln!(out, "{INDENT}{}. {line}", n + 1);
        }
        for line in &b.conditions {
            let _ = writeln!(out, "{INDENT}- {line}");
        }
    }
}

/// The first `FOLD` items and how many more, or all of them: only those shown are read (a
/// step's list at a large tenant runs to thousands).
fn fold<'a>(items: impl ExactSizeIterator<Item = &'a str>, full: bool) -> String {
    let count = items.len();
    let shown = if full || count <= FOLD + 2 {
        count
    } else {
        FOLD
    };
    let mut text = String::new();
    for (n, item) in items.take(shown).enumerate() {
        if n > 0 {
            text.push_str(", ");
        }
        text.push_str(item);
    }
    if shown < count {
        let _ = write!(text, ", and {} more (--full lists them all)", count - shown);
    }
    text
}
