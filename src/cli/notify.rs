//! `cutover notify test PLAN`: a test message to every `[[notify]]` channel, each result
//! reported (exit 0 when every channel took it, 1 otherwise). Nothing is recorded: the ledger is
//! for a rollout's own events.

use serde_json::json;

use crate::exit_code::Exit;
use crate::notify::{Notification, Notifier};

use super::{CommandError, Format, Output, Session, block_on};

pub(crate) fn test(
    session: &Session<'_>,
    format: Format,
    out: &Output,
) -> Result<Exit, CommandError> {
    let notifier = Notifier::new(&session.plan, &session.plan_dir());
    if notifier.channels().is_empty() {
        return Err(CommandError::failure(format!(
            "plan {} has no `[[notify]]` channel: nothing to test",
            session.plan.name
        ))
        .hint("add one, such as `[[notify]]` with `webhook = { env = \"CUTOVER_WEBHOOK_URL\" }`"));
    }
    let path = session.path.display().to_string();
    let notification = Notification::test(&session.plan, &path, session.clock.now());
    let results = block_on(notifier.deliver(&notification))?;
    let delivered = results.iter().filter(|r| r.outcome.is_ok()).count();
    match format {
        Format::Json => {
            let channels: Vec<_> = results
                .iter()
                .map(|r| {
                    json!({
                        "channel": r.channel,
                        "delivered": r.outcome.is_ok(),
                        "error": r.outcome.as_ref().err(),
                    })
                })
                .collect();
            let report = json!({
                "format_version": 1,
                "plan": session.plan.name.to_string(),
                "channels": channels,
                "delivered": delivered,
                "failed": results.len() - delivered,
            });
            out.stdout(&format!("{report}\n"));
        }
        Format::Text => {
            let mut text = format!(
                "notify test: plan {}, {} channel(s)\n",
                session.plan.name,
                results.len()
            );
            for result in &results {
                match &result.outcome {
                    Ok(()) => text.push_str(&format!("  delivered  {}\n", result.channel)),
                    Err(reason) => {
                        text.push_str(&format!("  FAILED     {}: {reason}\n", result.channel));
                    }
                }
            }
            text.push_str(&format!("{delivered} of {} delivered\n", results.len()));
            out.stdout(&text);
        }
    }
    Ok(if delivered == results.len() {
        Exit::Done
    } else {
        Exit::Failure
    })
}
