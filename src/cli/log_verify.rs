//! `cutover log PLAN --verify [--head HASH]`: checks the audit trail's hash chain from its first
//! record to its last and names the first broken one; with `--head`, also that the chain passes
//! through a head kept elsewhere (printed by an earlier `apply`, sent in a notification), which
//! is what catches a trail rewritten consistently after a tampered record.
//!
//! Exit 0 when the chain is whole (and passes through `--head`), 1 when it is not: a finding
//! for a person, printed on stdout like any verdict. Reads only.

use crate::exit_code::Exit;
use crate::plan::Plan;
use crate::state::{ChainVerdict, HeadCheck};

use super::args::LogFormat;
use super::settings::LogSettings;
use super::{CommandError, Output, Session};

pub(crate) fn run(
    session: &Session<'_>,
    settings: &LogSettings,
    out: &Output,
) -> Result<Exit, CommandError> {
    if settings.format == LogFormat::Csv {
        return Err(CommandError::invalid(
            "`log --verify` prints its verdict as text or JSON (`--format json`), not CSV",
        ));
    }
    let verdict = match session.existing_store()? {
        Some(store) => store.verify_audit_chain(settings.head.as_ref())?,
        // Nothing recorded: an empty chain, which passes through no head.
        None => ChainVerdict {
            records: 0,
            head: None,
            broken: None,
            expected_head: settings
                .head
                .as_ref()
                .map(|h| (h.as_str().to_owned(), HeadCheck::Missing)),
            chained_on_upgrade: 0,
        },
    };
    match settings.format {
        LogFormat::Json => out.stdout(&format!("{}\n", json(&verdict))),
        _ => out.stdout(&text(&session.plan, &verdict)),
    }
    Ok(if verdict.is_intact() {
        Exit::Done
    } else {
        Exit::Failure
    })
}

fn text(plan: &Plan, verdict: &ChainVerdict) -> String {
    let mut text = String::new();
    let missing = match &verdict.expected_head {
        Some((hash, HeadCheck::Missing)) => Some(hash.as_str()),
        _ => None,
    };
    match (&verdict.broken, missing) {
        (None, _) if verdict.records == 0 => {
            text.push_str("audit chain: empty: nothing has been recorded for this plan yet\n");
            if let Some(hash) = missing {
                text.push_str(&format!(
                    "  so it cannot pass through {hash}: the trail was removed or replaced since that head was taken\n"
                ));
            }
        }
        (Some(broken), _) => {
            let place = &broken.place;
            let at = place.at.map(|t| plan.time(t)).unwrap_or_default();
            let step = place
                .step
                .as_deref()
                .map(|s| format!(" {s}"))
                .unwrap_or_default();
            text.push_str(&format!(
                "audit chain: BROKEN at record {} ({at} {}{step})\n  {}\n",
                place.record,
                place.kind,
                broken.explain()
            ));
            if let Some(hash) = missing {
                text.push_str(&format!("  and no record has the head given, {hash}\n"));
            }
        }
        (None, Some(hash)) => text.push_str(&format!(
            "audit chain: REWRITTEN: it does not pass through {hash}\n  its {} record(s) agree with each other (head now {}), but none has that hash: \
             the trail was rewritten, or cut short, after that head was taken\n",
            verdict.records,
            verdict.head.as_deref().unwrap_or("none")
        )),
        (None, None) => text.push_str(&format!(
            "audit chain: intact, {} record(s){}\n",
            verdict.records,
            verdict
                .head
                .as_deref()
                .map(|h| format!(", head {h}"))
                .unwrap_or_default()
        )),
    }
    match &verdict.expected_head {
        Some((_, HeadCheck::Found { record, after: 0 })) => text.push_str(&format!(
            "  the head given is record {record}, the last: nothing was recorded after it\n"
        )),
        Some((_, HeadCheck::Found { record, after })) => text.push_str(&format!(
            "  it passes through the head given (record {record}); {after} record(s) were written after it\n"
        )),
        _ => {}
    }
    if verdict.chained_on_upgrade > 0 {
        text.push_str(&format!(
            "  records 1–{} predate the chain (state format 7): they were chained when the file was upgraded, \
             and are only as trustworthy as the file was then\n",
            verdict.chained_on_upgrade
        ));
    }
    text
}

fn json(verdict: &ChainVerdict) -> serde_json::Value {
    serde_json::json!({
        "intact": verdict.is_intact(),
        "records": verdict.records,
        "head": verdict.head,
        "broken": verdict.broken.as_ref().map(|b| serde_json::json!({
            "record": b.place.record,
            "at": b.place.at,
            "kind": b.place.kind,
            "step": b.place.step,
            "reason": b.reason,
            "message": b.explain(),
        })),
        "expected_head": verdict.expected_head.as_ref().map(|(hash, check)| match check {
            HeadCheck::Found { record, after } => serde_json::json!({
                "hash": hash, "found": true, "record": record, "records_after": after,
            }),
            HeadCheck::Missing => serde_json::json!({ "hash": hash, "found": false }),
        }),
        "chained_on_upgrade": verdict.chained_on_upgrade,
    })
}
