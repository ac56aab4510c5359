//! `cutover fleet plan PLAN...`: the change board's one document for a fleet — a summary table
//! (each plan's platform, steps, users, digest, and whether something blocks it), then each
//! plan's dry-run exactly as `cutover plan` renders it, in text, Markdown or JSON.
//!
//! Each plan is planned as `plan` plans it (`cli::plan::planned`): the same path that `apply`
//! takes. An invalid plan is reported and listed; the others are still planned.

use std::path::PathBuf;

use jiff::Timestamp;

use super::FleetPlanFormat;
use super::exit::{PlanResult, fleet_exit};
use crate::cli::plan::planned;
use crate::cli::settings::GlobalSettings;
use crate::cli::{Output, Session};
use crate::clock::Clock;
use crate::dry_run;
use crate::exit_code::Exit;
use crate::planner::StepDetail;

/// One plan's part of the document.
struct Part {
    result: PlanResult,
    /// Its summary row and its rendered dry-run, when it could be planned.
    planned: Option<Planned>,
}

struct Planned {
    target: String,
    steps: usize,
    users: usize,
    digest: String,
    blocked: bool,
    rendered: String,
}

pub(super) fn run(
    files: &[PathBuf],
    format: FleetPlanFormat,
    full: bool,
    now: Option<Timestamp>,
    global: &GlobalSettings,
    clock: Clock,
    out: &Output,
) -> Exit {
    // One `now` for every plan, so the document is one moment's view of the fleet.
    let now = now.unwrap_or_else(|| clock.now());
    let parts = super::in_order(
        super::load(files, global, clock, out),
        |result| Part {
            result,
            planned: None,
        },
        |session| plan_one(session, format, full, now, out),
    );
    let exit = fleet_exit(parts.iter().map(|p| p.result.exit));
    let document = match format {
        FleetPlanFormat::Text => out.paint_report(&text(&parts, now)),
        FleetPlanFormat::Markdown => markdown(&parts, now),
        FleetPlanFormat::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&json(&parts, now, exit)).unwrap_or_default()
        ),
    };
    out.stdout(&document);
    exit
}

fn plan_one(
    session: &Session<'_>,
    format: FleetPlanFormat,
    full: bool,
    now: Timestamp,
    out: &Output,
) -> Part {
    let mut result = PlanResult {
        name: session.plan.name.to_string(),
        file: session.path.display().to_string(),
        exit: Exit::Done,
        line: String::new(),
    };
    let found = match planned(session, Some(now)) {
        Ok(found) => found,
        Err(error) => {
            out.stderr(&format!("{}: {}", result.name, error.render()));
            result.exit = Exit::from(error.kind);
            result.line = format!("error: {error}");
            return Part {
                result,
                planned: None,
            };
        }
    };
    let dry = found.dry_run(session, full);
    let rendered = match format {
        FleetPlanFormat::Text => dry_run::text(&dry),
        FleetPlanFormat::Markdown => dry_run::markdown(&dry),
        FleetPlanFormat::Json => dry_run::json(&dry),
    };
    let schedule = &found.schedule;
    let blocked = schedule.is_blocked();
    result.exit = if blocked { Exit::Halted } else { Exit::Done };
    result.line = if blocked { "blocked" } else { "ready" }.to_owned();
    let users = schedule
        .steps
        .iter()
        .map(|s| match &s.detail {
            StepDetail::Move(detail) => detail.members.len(),
            _ => 0,
        })
        .sum();
    Part {
        result,
        planned: Some(Planned {
            target: found.target.clone(),
            steps: schedule.steps.len(),
            users,
            digest: found.digest.clone(),
            blocked,
            rendered,
        }),
    }
}

/// The summary's cells for a part: plan, file, target, steps, users, status, digest.
fn row(part: &Part) -> [String; 7] {
    let r = &part.result;
    match &part.planned {
        Some(p) => [
            r.name.clone(),
            r.file.clone(),
            p.target.clone(),
            p.steps.to_string(),
            p.users.to_string(),
            if p.blocked { "BLOCKING" } else { "ready" }.to_owned(),
            p.digest.clone(),
        ],
        None => [
            r.name.clone(),
            r.file.clone(),
            "-".to_owned(),
            "-".to_owned(),
            "-".to_owned(),
            if r.exit == Exit::Invalid {
                "INVALID"
            } else {
                "ERROR"
            }
            .to_owned(),
            "-".to_owned(),
        ],
    }
}

const HEADER: [&str; 7] = [
    "PLAN", "FILE", "TARGET", "STEPS", "USERS", "STATUS", "DIGEST",
];

fn text(parts: &[Part], now: Timestamp) -> String {
    let mut table: Vec<[String; 7]> = vec![HEADER.map(str::to_owned)];
    table.extend(parts.iter().map(row));
    let widths: Vec<usize> = (0..7)
        .map(|c| {
            table
                .iter()
                .map(|r| r[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut text = format!("FLEET DRY-RUN: {} plan(s), as of {now}\n\n", parts.len());
    for cells in &table {
        let line: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        text.push_str(line.join("  ").trim_end());
        text.push('\n');
    }
    for part in parts {
        let r = &part.result;
        text.push_str(&format!("\n==== {} ({}) ====\n", r.name, r.file));
        match &part.planned {
            Some(p) => text.push_str(&p.rendered),
            None => text.push_str(&format!("{}\n", r.line)),
        }
    }
    text
}

fn markdown(parts: &[Part], now: Timestamp) -> String {
    let mut text = format!(
        "# Fleet dry-run: {} plan(s)\n\nAs of {now}.\n\n",
        parts.len()
    );
    text.push_str(&format!("| {} |\n", HEADER.join(" | ")));
    text.push_str(&format!("|{}\n", "---|".repeat(HEADER.len())));
    for part in parts {
        let cells: Vec<String> = row(part)
            .iter()
            .map(|c| format!("`{}`", c.replace('|', "\\|")))
            .collect();
        text.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    for part in parts {
        text.push_str("\n---\n\n");
        match &part.planned {
            Some(p) => text.push_str(&p.rendered),
            None => text.push_str(&format!(
                "## {} ({})\n\n{}\n",
                part.result.name, part.result.file, part.result.line
            )),
        }
    }
    text
}

fn json(parts: &[Part], now: Timestamp, exit: Exit) -> serde_json::Value {
    let plans: Vec<serde_json::Value> = parts
        .iter()
        .map(|part| {
            let r = &part.result;
            match &part.planned {
                Some(p) => serde_json::json!({
                    "plan": r.name,
                    "file": r.file,
                    "status": if p.blocked { "blocked" } else { "ready" },
                    "exit_code": r.exit as i32,
                    "target": p.target,
                    "steps": p.steps,
                    "users": p.users,
                    "digest": p.digest,
                    "dry_run": serde_json::from_str::<serde_json::Value>(&p.rendered)
                        .unwrap_or(serde_json::Value::Null),
                }),
                None => serde_json::json!({
                    "plan": r.name,
                    "file": r.file,
                    "status": if r.exit == Exit::Invalid { "invalid" } else { "error" },
                    "exit_code": r.exit as i32,
                    "error": r.line,
                }),
            }
        })
        .collect();
    serde_json::json!({
        "format_version": 1,
        "now": now.to_string(),
        "exit_code": exit as i32,
        "plans": plans,
    })
}
