//! `cutover validate PLAN...`: every error of every plan, then one line per valid plan.

use std::path::PathBuf;

use serde::Serialize;

use crate::diagnostic::{Diagnostic, DiagnosticJson, Severity, render_text_report};
use crate::exit_code::Exit;
use crate::plan::{LoadError, Plan, Selector, TargetSpec, load};

use super::{Format, Output};

pub(crate) fn run(paths: &[PathBuf], format: Format, out: &Output) -> Exit {
    let mut exit = Exit::Done;
    let mut reports = Vec::with_capacity(paths.len());
    for path in paths {
        let report = match load(path) {
            Ok(loaded) => PlanReport {
                file: path.display().to_string(),
                valid: true,
                summary: Some(summary(&loaded.plan)),
                diagnostics: loaded.warnings,
                unreadable: None,
            },
            Err(LoadError::Invalid { diagnostics }) => PlanReport {
                file: path.display().to_string(),
                valid: false,
                summary: None,
                diagnostics,
                unreadable: None,
            },
            Err(e @ (LoadError::Unreadable { .. } | LoadError::TooLarge { .. })) => PlanReport {
                file: path.display().to_string(),
                valid: false,
                summary: None,
                diagnostics: Vec::new(),
                unreadable: Some(e.to_string()),
            },
        };
        if !report.valid {
            exit = Exit::Invalid;
        }
        reports.push(report);
    }
    match format {
        Format::Text => print_text(&reports, out),
        Format::Json => print_json(&reports, out),
    }
    exit
}

struct PlanReport {
    file: String,
    valid: bool,
    summary: Option<String>,
    diagnostics: Vec<Diagnostic>,
    unreadable: Option<String>,
}

/// Renders diagnostics to stderr, each followed by a blank line: the first fifty, then how many
/// more there are (`--format json` lists them all).
pub(crate) fn print_diagnostics(diagnostics: &[Diagnostic], out: &Output) {
    out.stderr(&render_text_report(diagnostics, out.color, out.width));
}

fn print_text(reports: &[PlanReport], out: &Output) {
    for report in reports {
        print_diagnostics(&report.diagnostics, out);
        if let Some(reason) = &report.unreadable {
            out.stderr(&format!("error: {reason}\n"));
        }
        let errors = report.diagnostics.iter().filter(|d| d.is_error()).count();
        let warnings = report.diagnostics.len() - errors;
        let warned = match warnings {
            0 => String::new(),
            1 => " (1 warning)".to_owned(),
            n => format!(" ({n} warnings)"),
        };
        match &report.summary {
            Some(summary) => out.stdout(&format!("valid: {}: {summary}{warned}\n", report.file)),
            None if report.unreadable.is_some() => {
                out.stderr(&format!("invalid: {}: not read\n", report.file))
            }
            None => {
                let plural = if errors == 1 { "" } else { "s" };
                out.stderr(&format!(
                    "invalid: {}: {errors} error{plural}{warned}\n",
                    report.file
                ));
            }
        }
    }
}

#[derive(Serialize)]
struct JsonOutput<'a> {
    format_version: u32,
    valid: bool,
    plans: Vec<JsonPlan<'a>>,
}

#[derive(Serialize)]
struct JsonPlan<'a> {
    file: &'a str,
    valid: bool,
    summary: Option<&'a str>,
    diagnostics: Vec<DiagnosticJson>,
}

fn print_json(reports: &[PlanReport], out: &Output) {
    let plans = reports
        .iter()
        .map(|r| {
            let mut diagnostics: Vec<DiagnosticJson> =
                r.diagnostics.iter().map(DiagnosticJson::from).collect();
            if let Some(reason) = &r.unreadable {
                diagnostics.push(DiagnosticJson {
                    file: r.file.clone(),
                    line: 1,
                    column: 1,
                    end_line: 1,
                    end_column: 1,
                    severity: Severity::Error,
                    code: "plan::unreadable",
                    message: reason.clone(),
                    help: Some(
                        "check the path and that the file is readable UTF-8 text".to_owned(),
                    ),
                });
            }
            JsonPlan {
                file: &r.file,
                valid: r.valid,
                summary: r.summary.as_deref(),
                diagnostics,
            }
        })
        .collect();
    let output = JsonOutput {
        format_version: 1,
        valid: reports.iter().all(|r| r.valid),
        plans,
    };
    match serde_json::to_string_pretty(&output) {
        Ok(text) => out.stdout(&format!("{text}\n")),
        Err(e) => out.stderr(&format!("error: cannot write JSON: {e}\n")),
    }
}

/// One line a reviewer can read: what the plan moves, where, and how it ends.
fn summary(plan: &Plan) -> String {
    let target = match &plan.target {
        TargetSpec::Sandbox { sandbox } => match sandbox {
            crate::plan::SandboxRef::Scenario(s) => format!("sandbox \"{s}\""),
            crate::plan::SandboxRef::File { written, .. } => format!("sandbox file {written}"),
        },
        TargetSpec::Http { url, .. } => format!("http {url}"),
    };
    let users = |selector: &Selector| match selector {
        Selector::Remaining => "the remaining users".to_owned(),
        Selector::Emails { emails } | Selector::File { emails, .. } => {
            format!(
                "{} user{}",
                emails.len(),
                if emails.len() == 1 { "" } else { "s" }
            )
        }
        Selector::Location { location } => format!("location \"{location}\""),
        Selector::Group { group } => format!("group \"{group}\""),
    };
    let pilot = plan
        .pilot
        .as_ref()
        .map(|p| format!("pilot of {}, ", users(&p.users)))
        .unwrap_or_default();
    let batches = plan.batches.len();
    let approval = if plan.disconnect.approval {
        "with approval"
    } else {
        "WITHOUT approval"
    };
    format!(
        "plan \"{}\" on {target}: {pilot}{batches} batch{}, then disconnect \"{}\" after {} {approval}",
        plan.name,
        if batches == 1 { "" } else { "es" },
        plan.from.display_name,
        plan.disconnect.after,
    )
}
