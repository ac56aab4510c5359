//! `cutover fleet status PLAN...`: one table — plan, step, state, waiting, exceptions, holder —
//! from each plan's state alone, as `status` reads it (no credentials, no network). Its exit
//! code is the most urgent of the plans' `status` codes.

use std::path::PathBuf;

use super::exit::{PlanResult, fleet_exit};
use crate::cli::settings::GlobalSettings;
use crate::cli::status::{Standing, standing_of};
use crate::cli::{Format, Output};
use crate::clock::Clock;
use crate::exit_code::Exit;

/// A row: the plan and where it stands, or why it could not be read.
struct Row {
    result: PlanResult,
    standing: Option<Standing>,
}

pub(super) fn run(
    files: &[PathBuf],
    format: Format,
    global: &GlobalSettings,
    clock: Clock,
    out: &Output,
) -> Exit {
    let rows = super::in_order(
        super::load(files, global, clock, out),
        |result| Row {
            result,
            standing: None,
        },
        |session| {
            let mut result = PlanResult {
                name: session.plan.name.to_string(),
                file: session.path.display().to_string(),
                exit: Exit::Done,
                line: String::new(),
            };
            let standing = match standing_of(session) {
                Ok(standing) => {
                    result.exit = standing.exit;
                    result.line = standing.line.clone();
                    Some(standing)
                }
                Err(error) => {
                    out.stderr(&error.render());
                    result.exit = Exit::from(error.kind);
                    result.line = format!("error: {error}");
                    None
                }
            };
            Row { result, standing }
        },
    );
    let exit = fleet_exit(rows.iter().map(|r| r.result.exit));
    match format {
        Format::Text => out.stdout(&text(&rows, exit)),
        Format::Json => out.stdout(&format!(
            "{}\n",
            serde_json::to_string_pretty(&json(&rows, exit)).unwrap_or_default()
        )),
    }
    exit
}

fn text(rows: &[Row], exit: Exit) -> String {
    let header = ["PLAN", "STEP", "STATE", "WAITING", "EXCEPTIONS", "HOLDER"];
    let mut table: Vec<[String; 6]> = vec![header.map(str::to_owned)];
    for row in rows {
        let cells = match &row.standing {
            Some(s) => [
                row.result.name.clone(),
                dash(&s.step),
                s.state.replace('_', " "),
                dash(&s.waiting),
                s.exceptions.to_string(),
                s.holder.clone().unwrap_or_else(|| "-".to_owned()),
            ],
            None => [
                row.result.name.clone(),
                "-".to_owned(),
                if row.result.exit == Exit::Invalid {
                    "invalid".to_owned()
                } else {
                    "error".to_owned()
                },
                "-".to_owned(),
                "-".to_owned(),
                "-".to_owned(),
            ],
        };
        table.push(cells);
    }
    let widths: Vec<usize> = (0..6)
        .map(|c| {
            table
                .iter()
                .map(|r| r[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut text = String::new();
    for cells in &table {
        let line: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        text.push_str(line.join("  ").trim_end());
        text.push('\n');
    }
    text.push_str(&format!(
        "fleet: {} plan(s); exit {}\n",
        rows.len(),
        exit as i32
    ));
    text
}

fn dash(text: &str) -> String {
    if text.is_empty() {
        "-".to_owned()
    } else {
        text.to_owned()
    }
}

fn json(rows: &[Row], exit: Exit) -> serde_json::Value {
    let plans: Vec<serde_json::Value> = rows
        .iter()
        .map(|row| {
            let mut value = serde_json::json!({
                "plan": row.result.name,
                "file": row.result.file,
                "exit_code": row.result.exit as i32,
                "line": row.result.line,
            });
            if let (Some(standing), Some(object)) = (&row.standing, value.as_object_mut()) {
                if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(standing) {
                    object.extend(fields);
                }
            } else if let Some(object) = value.as_object_mut() {
                let state = if row.result.exit == Exit::Invalid {
                    "invalid"
                } else {
                    "error"
                };
                object.insert("state".to_owned(), state.into());
            }
            value
        })
        .collect();
    serde_json::json!({
        "format_version": 1,
        "exit_code": exit as i32,
        "plans": plans,
    })
}
