//! `cutover log PLAN`: the audit trail, with each platform write spread over the users it
//! touched, filtered (`--step`, `--user`, `--since`) and exported (`--format text|json|csv`).
//! `--verify` checks the trail's hash chain instead (`log_verify.rs`). Reads only; never takes
//! the run lock.
//!
//! Two kinds of record, merged in time order: the audit trail's (`record: "audit"`, what
//! happened to the rollout) and the journal's per-user moves (`record: "user"`, kinds
//! `user_enabled` and `user_disabled`: the step, the configuration, when, and what the write did
//! for that user). Each list keeps its own order; at the same instant the audit record comes
//! first.

use jiff::Timestamp;

use crate::exit_code::Exit;
use crate::plan::Plan;
use crate::state::{AuditEntry, UserMove};

use super::args::LogFormat;
use super::log_filter::LogFilter;
use super::settings::LogSettings;
use super::{CommandError, Output, Session};

/// The CSV export's columns, one header for both kinds of record (a column that does not apply
/// is empty).
const CSV_HEADER: [&str; 13] = [
    "record",
    "id",
    "at",
    "kind",
    "step",
    "user",
    "configuration",
    "result",
    "error",
    "operator",
    "digest",
    "detail",
    "hash",
];

/// One line of the log.
enum Record<'a> {
    Audit(&'a AuditEntry),
    User(&'a UserMove),
}

pub(crate) fn run(
    session: &Session<'_>,
    settings: &LogSettings,
    out: &Output,
) -> Result<Exit, CommandError> {
    if settings.verify {
        return super::log_verify::run(session, settings, out);
    }
    let plan = &session.plan;
    let Some(store) = session.existing_store()? else {
        match settings.format {
            LogFormat::Text => out.stdout("nothing has been recorded for this plan yet\n"),
            LogFormat::Csv => out.stdout(&csv(plan, &[])?),
            LogFormat::Json => {}
        }
        return Ok(Exit::Done);
    };
    let filter = LogFilter {
        step: settings.step.clone(),
        user: settings.user.as_ref().map(ToString::to_string),
        since: settings.since.map(|s| s.resolve(session.clock.now())),
    };
    let audit: Vec<AuditEntry> = store
        .audit_trail()?
        .into_iter()
        .filter(|e| filter.audit(e))
        .collect();
    let moves: Vec<UserMove> = store
        .user_moves()?
        .into_iter()
        .filter(|m| filter.user_move(m))
        .collect();
    let records = merged(&audit, &moves);
    match settings.format {
        LogFormat::Text => {
            let mut text = String::new();
            for record in &records {
                text.push_str(&text_line(plan, record));
                text.push('\n');
            }
            out.stdout(&text);
        }
        LogFormat::Json => {
            let mut text = String::new();
            for record in &records {
                text.push_str(&json(record).to_string());
                text.push('\n');
            }
            out.stdout(&text);
        }
        LogFormat::Csv => out.stdout(&csv(plan, &records)?),
    }
    Ok(Exit::Done)
}

/// Both lists in time order, each keeping its own (the trail's is the chain's order even when
/// a clock went back between runs).
fn merged<'a>(audit: &'a [AuditEntry], moves: &'a [UserMove]) -> Vec<Record<'a>> {
    let mut records = Vec::with_capacity(audit.len() + moves.len());
    let (mut a, mut m) = (audit.iter().peekable(), moves.iter().peekable());
    loop {
        let take_move = match (a.peek(), m.peek()) {
            (None, None) => break,
            (Some(_), None) => false,
            (None, Some(_)) => true,
            (Some(entry), Some(user)) => user.at < entry.at,
        };
        if take_move {
            records.extend(m.next().map(Record::User));
        } else {
            records.extend(a.next().map(Record::Audit));
        }
    }
    records
}

/// The text line: an audit record as `log` has always shown it; a user's move in the same
/// columns.
fn text_line(plan: &Plan, record: &Record<'_>) -> String {
    match record {
        Record::Audit(entry) => {
            let detail = match &entry.detail {
                serde_json::Value::Object(map) if map.is_empty() => String::new(),
                other => format!(" {other}"),
            };
            format!(
                "{}  {:<22} {:<18} by {}{}{}",
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
            )
        }
        Record::User(user) => format!(
            "{}  {:<22} {:<18} {} on {:?}: {}{}",
            plan.time(user.at),
            user.kind(),
            user.step.as_deref().unwrap_or("-"),
            user.user,
            user.configuration.as_deref().unwrap_or(""),
            user.result.as_str(),
            user.error
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        ),
    }
}

fn json(record: &Record<'_>) -> serde_json::Value {
    match record {
        Record::Audit(entry) => {
            let mut value = serde_json::to_value(entry).unwrap_or(serde_json::Value::Null);
            if let Some(object) = value.as_object_mut() {
                object.insert("record".to_owned(), "audit".into());
            }
            value
        }
        Record::User(user) => serde_json::json!({
            "record": "user",
            "journal_id": user.journal_id,
            "at": user.at,
            "completed_at": user.completed_at,
            "kind": user.kind(),
            "step": user.step,
            "user": user.user,
            "action": user.action.as_str(),
            "configuration": user.configuration,
            "result": user.result.as_str(),
            "error": user.error,
        }),
    }
}

/// The CSV export, header first; times in the plan's zone, as text shows them.
fn csv(plan: &Plan, records: &[Record<'_>]) -> Result<String, CommandError> {
    let failed = |e: csv::Error| CommandError::failure(format!("cannot write the CSV: {e}"));
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(CSV_HEADER).map_err(failed)?;
    let time = |at: Timestamp| plan.time(at);
    for record in records {
        let row: [String; 13] = match record {
            Record::Audit(e) => [
                "audit".to_owned(),
                e.id.to_string(),
                time(e.at),
                e.kind.as_str().to_owned(),
                e.step.clone().unwrap_or_default(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                e.operator.clone(),
                e.digest.clone().unwrap_or_default(),
                e.detail.to_string(),
                e.hash.clone().unwrap_or_default(),
            ],
            Record::User(u) => [
                "user".to_owned(),
                u.journal_id.to_string(),
                time(u.at),
                u.kind().to_owned(),
                u.step.clone().unwrap_or_default(),
                u.user.clone(),
                u.configuration.clone().unwrap_or_default(),
                u.result.as_str().to_owned(),
                u.error.clone().unwrap_or_default(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ],
        };
        writer.write_record(&row).map_err(failed)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| CommandError::failure(format!("cannot write the CSV: {e}")))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
