//! The report before a rollout starts: the dry-run, the same content as
//! `plan --format markdown` (summary, warnings, preflight with each fact's source, every step
//! and every user, back-out), plus the projected timeline.

use jiff::Timestamp;

use super::timeline::{self, Mark, Row};
use super::{Page, Pair, ReportError, pair};
use crate::dry_run::{
    BackOut, DryRun, Fact, Review, Source, SummaryRow, Warning, acceptance_text, day_time,
    duration_words, exception_text, gate_text, member_summary, status_text, zone_label,
};
use crate::planner::{MemberState, Severity, StepDetail};

pub(crate) struct FindingView {
    pub(crate) severity: &'static str,
    pub(crate) source: &'static str,
    pub(crate) message: String,
    pub(crate) users: Vec<String>,
    pub(crate) remedy: String,
}

pub(crate) struct DryStep {
    pub(crate) number: usize,
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) irreversible: bool,
    pub(crate) lines: Vec<Pair>,
    /// `(email, action)`.
    pub(crate) users: Vec<Pair>,
    pub(crate) timing: String,
    pub(crate) status: String,
}

pub(crate) struct DryView {
    pub(crate) banner: &'static str,
    pub(crate) description: String,
    pub(crate) summary: Vec<SummaryRow>,
    pub(crate) warnings: Vec<Warning>,
    pub(crate) findings: Vec<FindingView>,
    pub(crate) facts: Vec<Fact>,
    pub(crate) steps: Vec<DryStep>,
    pub(crate) back_out: Vec<BackOut>,
}

const BANNER: &str =
    "DRY RUN: `cutover plan` changes nothing; this is what `cutover apply` would do.";

/// The dry-run as the HTML report. `generated` is when the file was written.
pub(crate) fn dry_run(
    dry: &DryRun<'_>,
    generated: Timestamp,
    git_commit: &str,
) -> Result<String, ReportError> {
    let s = dry.schedule;
    let zone = dry.plan.display_zone();
    let review = Review::of(dry);
    let header = vec![
        pair("Plan", format!("{} ({})", dry.plan.name, dry.plan_file)),
        pair("Target", dry.target.clone()),
        pair(
            "Change",
            format!(
                "{:?} (Basic/NTLM) to {:?} (OAuth, tenant {})",
                s.from, s.to, dry.plan.to.tenant_id
            ),
        ),
        pair(
            "Digest approved",
            format!(
                "not yet: this dry-run's digest is {}; approve exactly it with `cutover apply {} --approved {}`",
                dry.digest, dry.plan_file, dry.digest
            ),
        ),
        pair("Git commit", git_commit.to_owned()),
        pair("As of", day_time(s.now, &zone)),
        pair("Generated at", day_time(generated, &zone)),
    ];
    let rows: Vec<Row> = s
        .steps
        .iter()
        .map(|step| Row {
            step: step.id.clone(),
            projected: step.start.zip(step.pass),
            marks: Vec::<Mark>::new(),
            zone: dry.zone_of(step),
        })
        .collect();
    let zone_words = zone_label(&zone, s.now);
    let page = Page {
        title: format!("cutover dry-run: {}", dry.plan.name),
        kind: "Dry-run",
        header,
        standing: if s.is_blocked() {
            "Blocked: preflight found something a person must fix first.".to_owned()
        } else {
            "Not started: this is what `cutover apply` would do.".to_owned()
        },
        timeline_svg: timeline::svg(&rows, &zone, &zone_words),
        timeline_rows: timeline::text_rows(&rows),
        zone: zone_words,
        dry: Some(DryView {
            banner: BANNER,
            description: dry.plan.description.clone(),
            summary: review.summary,
            warnings: review.warnings,
            findings: s
                .findings
                .iter()
                .map(|f| FindingView {
                    severity: match f.severity {
                        Severity::Blocking => "BLOCKING",
                        Severity::Warning => "Warning",
                        Severity::Info => "Info",
                    },
                    source: Source::of_finding(f.code).label(),
                    message: f.message.clone(),
                    users: f.users.iter().map(ToString::to_string).collect(),
                    remedy: f.remedy.clone().unwrap_or_default(),
                })
                .collect(),
            facts: review.facts,
            steps: steps(dry),
            back_out: review.back_out,
        }),
        steps: Vec::new(),
        disconnect: None,
        audit: None,
        css: super::CSS,
    };
    page.html()
}

fn steps(dry: &DryRun<'_>) -> Vec<DryStep> {
    let s = dry.schedule;
    s.steps
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let zone = dry.zone_of(step);
            let mut lines = Vec::new();
            let mut users = Vec::new();
            let (title, irreversible) = match &step.detail {
                StepDetail::Connect {
                    display_name,
                    tenant_id,
                    service_account,
                    adopt,
                } => {
                    let verb = if *adopt {
                        "Adopt the existing configuration"
                    } else {
                        "Create the OAuth configuration"
                    };
                    let account = service_account
                        .clone()
                        .unwrap_or_else(|| "the service account".to_owned());
                    lines.push(pair(
                        "What",
                        format!("{verb} for tenant {tenant_id} and authorize it, signed in as {account}"),
                    ));
                    (format!("Connect {display_name:?}"), false)
                }
                StepDetail::Move(detail) => {
                    lines.push(pair("Selector", detail.selector.clone()));
                    lines.push(pair(
                        "Gate",
                        gate_text(&detail.gate, detail.allowed_errors, detail.members.len()),
                    ));
                    if detail.approval {
                        lines.push(pair("Approval", format!("`{}`", dry.approve_command(&detail.step))));
                    }
                    if let Some(t) = detail.not_before {
                        lines.push(pair("Not before", dry.time(t.timestamp(), &zone)));
                    }
                    if let Some(w) = &detail.window {
                        lines.push(pair("Window", w.to_string()));
                    }
                    let summary = member_summary(detail);
                    if !summary.is_empty() {
                        lines.push(pair("Of the users", summary));
                    }
                    for note in &detail.notes {
                        lines.push(pair("Note", note.to_string()));
                    }
                    for exception in &detail.exceptions {
                        lines.push(pair("Exception", exception_text(exception, dry)));
                    }
                    for m in &detail.members {
                        let action = match m.state {
                            MemberState::Move => "enable OAuth, then disable Basic",
                            MemberState::FinishMove => "disable Basic (already on both)",
                            MemberState::OnTo => "verify only (already on OAuth)",
                            MemberState::Neither => "none (on neither configuration)",
                        };
                        users.push(pair(m.email.to_string(), action));
                    }
                    let wave = detail
                        .wave
                        .map(|(n, of)| format!(" (wave {n} of {of} of batch `{}`)", detail.step))
                        .unwrap_or_default();
                    (
                        format!("`{}`: {} user(s){wave}", step.id, detail.members.len()),
                        false,
                    )
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
                    lines.push(pair(
                        "What",
                        format!("Removes the credentials of {display_name:?}. This cannot be undone."),
                    ));
                    lines.push(pair(
                        "Runs only when",
                        format!("no user on the platform is left on {display_name:?} and every OAuth user syncs cleanly"),
                    ));
                    lines.push(pair("Quiet time", duration_words(*after)));
                    lines.push(pair(
                        "Approval",
                        if *approval {
                            format!("`{}`", dry.approve_command("disconnect"))
                        } else {
                            "NOT required (the plan says `approval = false`)".to_owned()
                        },
                    ));
                    if !stragglers.is_empty() {
                        let names: Vec<String> = stragglers.iter().map(ToString::to_string).collect();
                        lines.push(pair(
                            "Blocked by",
                            format!("{} user(s) in no step: {}", stragglers.len(), names.join(", ")),
                        ));
                    }
                    for exception in exceptions
                        .iter()
                        .filter(|e| !accepted.iter().any(|a| a.email == e.user.email))
                    {
                        lines.push(pair(
                            "Open exception",
                            format!("blocks unless fixed or accepted: {}", exception_text(exception, dry)),
                        ));
                    }
                    for acceptance in accepted {
                        lines.push(pair(
                            "Accepted",
                            format!(
                                "will stop syncing until fixed (moved to {:?} alone): {}",
                                s.to,
                                acceptance_text(acceptance, dry)
                            ),
                        ));
                    }
                    if !preexisting.is_empty() {
                        let names: Vec<String> =
                            preexisting.iter().map(|f| f.email.to_string()).collect();
                        lines.push(pair(
                            "Not blocking",
                            format!("{} pre-existing failure(s): {}", preexisting.len(), names.join(", ")),
                        ));
                    }
                    (format!("Disconnect {display_name:?}: IRREVERSIBLE"), true)
                }
            };
            let timing = match (step.start, step.pass) {
                (Some(start), Some(pass)) => format!(
                    "Earliest start {}; earliest pass {}.",
                    day_time(start, &zone),
                    day_time(pass, &zone)
                ),
                _ => String::new(),
            };
            DryStep {
                number: i + 1,
                id: step.id.clone(),
                title,
                irreversible,
                lines,
                users,
                timing,
                status: status_text(&step.status, dry, step),
            }
        })
        .collect()
}
