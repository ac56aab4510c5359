//! `cutover log PLAN`: the audit trail. Reads only; never takes the run lock.

use std::path::Path;

use crate::exit_code::Exit;
use crate::state::Store;

use super::{Format, Output, load_or_report};

pub(crate) fn run(path: &Path, state_flag: Option<&Path>, format: Format, out: &Output) -> Exit {
    let Some(plan) = load_or_report(path, out) else {
        return Exit::Invalid;
    };
    let file = super::context::state_path(&plan, path, state_flag);
    if !file.exists() {
        if format == Format::Text {
            out.stdout("nothing has been recorded for this plan yet\n");
        }
        return Exit::Done;
    }
    let entries = match Store::open(&file, plan.name.as_str()).and_then(|s| s.audit_trail()) {
        Ok(entries) => entries,
        Err(e) => {
            out.stderr(&format!("error: {e}\n"));
            return Exit::Failure;
        }
    };
    for entry in &entries {
        match format {
            Format::Json => out.stdout(&format!(
                "{}\n",
                serde_json::to_string(entry).unwrap_or_default()
            )),
            Format::Text => {
                let detail = match &entry.detail {
                    serde_json::Value::Object(map) if map.is_empty() => String::new(),
                    other => format!(" {other}"),
                };
                out.stdout(&format!(
                    "{}  {:<22} {:<18} by {}{}{}\n",
                    plan.time(entry.at),
                    entry.kind,
                    entry.step.as_deref().unwrap_or("-"),
                    entry.operator,
                    entry
                        .digest
                        .as_deref()
                        .map(|d| format!(" [{d}]"))
                        .unwrap_or_default(),
                    detail
                ));
            }
        }
    }
    Exit::Done
}
