//! What a change board signs off, beyond the steps themselves, in one shape for every format
//! (text, Markdown, JSON, HTML): the summary table, every warning, what each preflight fact
//! rests on, and how each step is backed out.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;

use super::DryRun;
use crate::diagnostic;
use crate::plan::{OnFailure, Selector};
use crate::planner::{Finding, MemberState, PlannedStep, Severity, StepDetail};

/// Where a fact in the dry-run comes from: what a reviewer may rely on, and what can still
/// change before the step runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Source {
    /// Observed on the platform (or Microsoft Graph) as this dry-run ran.
    Platform,
    /// Decided again, against the platform as it is then, when the step starts (or runs).
    StepStart,
    /// Not known in advance: taken for granted here.
    Assumed,
    /// Recorded by earlier runs of this rollout in its state file.
    StateFile,
    /// Read from a file the plan names (a certificate).
    PlanFiles,
}

impl Source {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Source::Platform => "read from the platform",
            Source::StepStart => "resolved when the step starts",
            Source::Assumed => "assumed",
            Source::StateFile => "read from the state file",
            Source::PlanFiles => "read from the plan's files",
        }
    }

    /// What a preflight finding rests on, by its code.
    pub(crate) fn of_finding(code: &str) -> Self {
        match code {
            "plan-edited" | "plan-changed" | "skipped-by-precheck" => Source::StateFile,
            "certificate-expiring" => Source::PlanFiles,
            "ews-ended" | "ews-retirement" => Source::Assumed,
            c if c.starts_with("mailbox-") => Source::StepStart,
            _ => Source::Platform,
        }
    }
}

/// One row of the summary table.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SummaryRow {
    pub(crate) step: String,
    /// `None` for the connect and the disconnect, which move nobody.
    pub(crate) users: Option<usize>,
    pub(crate) earliest_start: Option<Timestamp>,
    /// The earliest start with its weekday and zone, as people read it.
    pub(crate) earliest_start_text: String,
    pub(crate) zone: String,
    pub(crate) gate: String,
    pub(crate) approval: String,
}

/// A warning in the document: the plan file's (as `validate` shows it) or preflight's.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Warning {
    /// `plan` (the plan file) or `preflight` (the platform against the plan).
    pub(crate) origin: &'static str,
    /// `warning`, or `blocking` for a preflight finding that stops the rollout.
    pub(crate) severity: &'static str,
    pub(crate) code: &'static str,
    pub(crate) message: String,
    /// `PATH:LINE:COLUMN` of a plan warning.
    pub(crate) location: Option<String>,
    pub(crate) help: Option<String>,
}

/// A fact the dry-run rests on, and where it comes from.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Fact {
    pub(crate) fact: String,
    pub(crate) source: Source,
    pub(crate) label: &'static str,
    /// The preflight finding it is, if it is one.
    pub(crate) code: Option<&'static str>,
}

/// How one step is backed out, and whether it can be.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct BackOut {
    pub(crate) step: String,
    pub(crate) reversible: bool,
    /// The command that does it, if there is one.
    pub(crate) command: Option<String>,
    pub(crate) users: usize,
    /// What happens, in order.
    pub(crate) order: Vec<String>,
    /// When it can and cannot be done.
    pub(crate) conditions: Vec<String>,
}

/// Everything above, for one dry-run.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Review {
    pub(crate) summary: Vec<SummaryRow>,
    pub(crate) warnings: Vec<Warning>,
    pub(crate) facts: Vec<Fact>,
    pub(crate) back_out: Vec<BackOut>,
}

impl Review {
    pub(crate) fn of(dry: &DryRun<'_>) -> Self {
        Self {
            summary: dry
                .schedule
                .steps
                .iter()
                .map(|s| summary_row(dry, s))
                .collect(),
            warnings: warnings(dry),
            facts: facts(dry),
            back_out: dry
                .schedule
                .steps
                .iter()
                .map(|s| back_out(dry, s))
                .collect(),
        }
    }
}

/// `Tue 2026-12-01 15:00 UTC`, or with the zone's name and offset elsewhere.
pub(crate) fn day_time(at: Timestamp, zone: &TimeZone) -> String {
    let zoned = at.to_zoned_datetime(zone.clone());
    let day = zoned.strftime("%a %Y-%m-%d %H:%M:%S").to_string();
    format!("{day} {}", zone_label(zone, at))
}

/// The zone as a reader wants it: `UTC`, `Europe/Berlin (+01:00)`, or a bare offset.
pub(crate) fn zone_label(zone: &TimeZone, at: Timestamp) -> String {
    let offset = at
        .to_zoned_datetime(zone.clone())
        .strftime("%:z")
        .to_string();
    match zone.iana_name() {
        Some("UTC") => "UTC".to_owned(),
        Some(name) => format!("{name} ({offset})"),
        None if offset == "+00:00" => "UTC".to_owned(),
        None => format!("UTC{offset}"),
    }
}

fn summary_row(dry: &DryRun<'_>, step: &PlannedStep) -> SummaryRow {
    let zone = dry.zone_of(step);
    let (users, gate, approval) = match &step.detail {
        StepDetail::Connect { .. } => (None, "none".to_owned(), "not required".to_owned()),
        StepDetail::Move(detail) => {
            let on_failure = match detail.gate.on_failure {
                OnFailure::Halt => "halt",
                OnFailure::Rollback => "roll back",
            };
            let gate = format!(
                "soak {}, at most {} of {} failing, then {on_failure}",
                detail.gate.soak,
                detail.allowed_errors,
                detail.members.len()
            );
            let approval = approval_words(dry, detail.approval, &step.id, &detail.step);
            (Some(detail.members.len()), gate, approval)
        }
        StepDetail::Disconnect {
            approval, after, ..
        } => {
            let gate = format!(
                "everyone on {:?}, quiet time {after}",
                dry.schedule.to.as_str()
            );
            let approval = if *approval {
                approval_words(dry, true, "disconnect", "disconnect")
            } else {
                "NOT required (`approval = false`)".to_owned()
            };
            (None, gate, approval)
        }
    };
    let start = step.start;
    SummaryRow {
        step: step.id.clone(),
        users,
        earliest_start: start,
        earliest_start_text: match (start, &step.status) {
            (Some(at), _) => day_time(at, &zone),
            (None, crate::planner::StepStatus::Done) => "done".to_owned(),
            (None, _) => "not known yet".to_owned(),
        },
        zone: zone_label(&zone, start.unwrap_or(dry.schedule.now)),
        gate,
        approval,
    }
}

/// "required", with who recorded one if someone did.
fn approval_words(dry: &DryRun<'_>, required: bool, id: &str, batch: &str) -> String {
    if !required {
        return "not required".to_owned();
    }
    let recorded = dry
        .approvals
        .iter()
        .rev()
        .find(|a| a.step == id || a.step == batch);
    match recorded {
        Some(a) => format!(
            "required; recorded by {} at {}",
            a.by,
            day_time(a.at, &dry.plan.display_zone())
        ),
        None => format!("required: `{}`", dry.approve_command(batch)),
    }
}

fn warnings(dry: &DryRun<'_>) -> Vec<Warning> {
    let plan = dry.warnings.iter().map(|d| Warning {
        origin: "plan",
        severity: match d.severity {
            diagnostic::Severity::Error => "error",
            diagnostic::Severity::Warning => "warning",
        },
        code: d.code,
        message: d.message.clone(),
        location: Some(d.location()),
        help: d.help.clone(),
    });
    let preflight = dry
        .schedule
        .findings
        .iter()
        .filter(|f| f.severity != Severity::Info)
        .map(|f| Warning {
            origin: "preflight",
            severity: match f.severity {
                Severity::Blocking => "blocking",
                _ => "warning",
            },
            code: f.code,
            message: f.message.clone(),
            location: None,
            help: f.remedy.clone(),
        });
    plan.chain(preflight).collect()
}

fn fact(fact: impl Into<String>, source: Source) -> Fact {
    Fact {
        fact: fact.into(),
        source,
        label: source.label(),
        code: None,
    }
}

fn finding_fact(finding: &Finding) -> Fact {
    let source = Source::of_finding(finding.code);
    Fact {
        fact: finding.message.clone(),
        source,
        label: source.label(),
        code: Some(finding.code),
    }
}

fn facts(dry: &DryRun<'_>) -> Vec<Fact> {
    let s = dry.schedule;
    let has = |code: &str| s.findings.iter().any(|f| f.code == code);
    let mut facts = Vec::new();
    if !has("from-missing") && !has("from-not-connected") {
        facts.push(fact(
            format!(
                "{:?} exists on the platform{}",
                s.from,
                if dry.disconnected() {
                    " (disconnected by this rollout)"
                } else {
                    " and is connected"
                }
            ),
            Source::Platform,
        ));
    }
    for step in &s.steps {
        match &step.detail {
            StepDetail::Connect {
                adopt,
                display_name,
                service_account,
                ..
            } => {
                if *adopt {
                    facts.push(fact(
                        format!(
                            "{display_name:?} already exists for the plan's tenant: it is adopted"
                        ),
                        Source::Platform,
                    ));
                } else if !has("no-free-slot") && !has("to-mismatch") {
                    facts.push(fact(
                        format!("the platform has a free configuration slot for {display_name:?}"),
                        Source::Platform,
                    ));
                }
                let who = service_account.as_deref().unwrap_or("the service account");
                facts.push(fact(
                    format!(
                        "who authorizes {display_name:?} ({who}) is known only when the admin signs in, as the connect step runs"
                    ),
                    Source::StepStart,
                ));
            }
            StepDetail::Move(detail) => {
                let started =
                    step.phase.is_some() || step.status == crate::planner::StepStatus::Done;
                let n = detail.members.len();
                if started {
                    facts.push(fact(
                        format!("`{}`: its {n} user(s) were frozen when it started", step.id),
                        Source::StateFile,
                    ));
                    continue;
                }
                let listed = matches!(
                    dry.plan
                        .pilot
                        .iter()
                        .chain(&dry.plan.batches)
                        .find(|p| p.name.as_str() == detail.step)
                        .map(|p| &p.users),
                    Some(Selector::Emails { .. } | Selector::File { .. })
                );
                facts.push(fact(
                    format!(
                        "`{}`: {n} user(s) ({}) and the configuration each is on now",
                        step.id, detail.selector
                    ),
                    Source::Platform,
                ));
                if !listed {
                    facts.push(fact(
                        format!(
                            "`{}`: who is in it ({}) is decided again, and frozen, when it starts",
                            step.id, detail.selector
                        ),
                        Source::StepStart,
                    ));
                }
            }
            StepDetail::Disconnect { display_name, .. } => {
                facts.push(fact(
                    format!(
                        "the disconnect runs only if no user is left on {display_name:?} and every OAuth user syncs cleanly, as the platform shows them then"
                    ),
                    Source::StepStart,
                ));
            }
        }
    }
    facts.push(fact(
        "each gate's verdict: whether its users' OAuth syncs are clean, judged after their switch",
        Source::StepStart,
    ));
    if dry.plan.precheck.is_some() {
        facts.push(fact(
            "the mailbox pre-check's verdicts: Microsoft Graph is asked again for a step's users when it starts",
            Source::StepStart,
        ));
    }
    facts.push(fact(
        "the earliest times: syncs, sign-ins and approvals come at once and no hold is placed (they can only delay a step)",
        Source::Assumed,
    ));
    facts.extend(s.findings.iter().map(finding_fact));
    facts
}

fn back_out(dry: &DryRun<'_>, step: &PlannedStep) -> BackOut {
    let (from, to) = (dry.schedule.from.as_str(), dry.schedule.to.as_str());
    match &step.detail {
        StepDetail::Connect { display_name, .. } => BackOut {
            step: step.id.clone(),
            reversible: true,
            command: None,
            users: 0,
            order: vec![format!(
                "nothing to move back: connecting {display_name:?} changes no user"
            )],
            conditions: vec![format!(
                "`cutover rollback` leaves {display_name:?} in place; {from:?} keeps syncing every user not yet moved"
            )],
        },
        StepDetail::Move(detail) => {
            let n = detail.members.len();
            let command = format!("cutover rollback {} --batch {}", dry.plan_file, detail.step);
            let mut order = vec![
                format!(
                    "{from:?} is enabled again for every one of the {n} user(s) of `{}`",
                    step.id
                ),
                format!(
                    "then {to:?} is disabled for them, so nobody is ever on neither configuration"
                ),
            ];
            if detail.wave.is_some() {
                order.push(format!(
                    "every started wave of `{}` moves back together",
                    detail.step
                ));
            }
            order.push(format!(
                "`{}` then waits: it starts again only once approved (`{}`)",
                step.id,
                dry.approve_command(&detail.step)
            ));
            let mut conditions = vec![format!(
                "only while {from:?} is connected: once it is disconnected, `cutover rollback` is refused"
            )];
            conditions.push(match detail.gate.on_failure {
                OnFailure::Rollback => {
                    "a failed gate does this by itself (`on_failure = \"rollback\"`)".to_owned()
                }
                OnFailure::Halt => format!(
                    "a failed gate does not do this: it gives only the failing users {from:?} back and halts"
                ),
            });
            let already = detail
                .members
                .iter()
                .filter(|m| m.state == MemberState::Neither)
                .count();
            if already > 0 {
                conditions.push(format!(
                    "{already} user(s) on neither configuration are not moved, and not moved back"
                ));
            }
            BackOut {
                step: step.id.clone(),
                reversible: true,
                command: Some(command),
                users: n,
                order,
                conditions,
            }
        }
        StepDetail::Disconnect { display_name, .. } => BackOut {
            step: step.id.clone(),
            reversible: false,
            command: None,
            users: 0,
            order: vec![format!(
                "nothing undoes the disconnect: the credentials of {display_name:?} are removed and cannot be restored"
            )],
            conditions: vec![format!(
                "from then on `cutover rollback` is refused and every user stays on {to:?}"
            )],
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_carry_their_weekday_and_zone() {
        let at: Timestamp = "2026-12-07T23:00:00Z".parse().expect("time");
        assert_eq!(day_time(at, &TimeZone::UTC), "Mon 2026-12-07 23:00:00 UTC");
        let york = TimeZone::get("America/New_York").expect("zone");
        assert_eq!(
            day_time(at, &york),
            "Mon 2026-12-07 18:00:00 America/New_York (-05:00)"
        );
        let fixed = TimeZone::fixed(jiff::tz::offset(2));
        assert_eq!(day_time(at, &fixed), "Tue 2026-12-08 01:00:00 UTC+02:00");
    }

    #[test]
    fn each_finding_names_what_it_rests_on() {
        assert_eq!(Source::of_finding("stragglers"), Source::Platform);
        assert_eq!(
            Source::of_finding("mailbox-access-denied"),
            Source::StepStart
        );
        assert_eq!(Source::of_finding("plan-changed"), Source::StateFile);
        assert_eq!(Source::of_finding("ews-retirement"), Source::Assumed);
    }
}
