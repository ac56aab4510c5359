//! `cutover log PLAN`: the audit trail. Reads only; never takes the run lock.

use crate::exit_code::Exit;

use super::{CommandError, Format, Output, Session};

pub(crate) fn run(
    session: &Session<'_>,
    format: Format,
    out: &Output,
) -> Result<Exit, CommandError> {
    let plan = &session.plan;
    let Some(store) = session.existing_store()? else {
        if format == Format::Text {
            out.stdout("nothing has been recorded for this plan yet\n");
        }
        return Ok(Exit::Done);
    };
    let entries = store.audit_trail()?;
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
    Ok(Exit::Done)
}
