//! What `status` shows of the notification ledger: each notification that has not reached its
//! channel — still being retried, or given up — with the channel's label and the reason, never
//! a URL (the ledger holds none).

use crate::state::DeliveryRecord;

/// The rows of notifications that have not reached their channel, oldest first.
pub(crate) fn undelivered(ledger: &[DeliveryRecord]) -> Vec<&DeliveryRecord> {
    ledger.iter().filter(|r| r.failures > 0).collect()
}

/// One line per undelivered notification, for `status`'s text: `time` renders an instant as
/// the plan does (`Plan::time`).
pub(crate) fn status_lines(
    ledger: &[DeliveryRecord],
    time: impl Fn(jiff::Timestamp) -> String,
) -> Vec<String> {
    undelivered(ledger)
        .into_iter()
        .map(|r| {
            let reason = r.last_error.as_deref().unwrap_or("failed");
            let next = match (r.abandoned, r.next_retry) {
                (true, _) => "given up".to_owned(),
                (false, Some(at)) => format!("next try after {}", time(at)),
                (false, None) => "next try on the next run".to_owned(),
            };
            format!(
                "notification not delivered: {} to {}: {reason} ({} attempt(s), {next})",
                r.kind, r.label, r.attempts
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use super::*;

    fn row(failures: u32, abandoned: bool) -> DeliveryRecord {
        let at = Timestamp::from_second(1_800_000_000).expect("time");
        DeliveryRecord {
            channel: "c".into(),
            event_key: "halted:east:1".into(),
            kind: "halted".into(),
            label: "#1 slack webhook (environment variable CUTOVER_SLACK_WEBHOOK)".into(),
            notification: "{}".into(),
            first_attempt: at,
            delivered_at: None,
            attempts: failures.max(1),
            failures,
            last_attempt: at,
            last_error: (failures > 0).then(|| "timed out".into()),
            next_retry: (failures > 0 && !abandoned).then_some(at),
            abandoned,
        }
    }

    #[test]
    fn lines_for_what_did_not_arrive() {
        let ledger = [row(0, false), row(2, false), row(3, true)];
        let lines = status_lines(&ledger, |t| t.to_string());
        assert_eq!(
            lines,
            [
                "notification not delivered: halted to #1 slack webhook (environment variable \
                 CUTOVER_SLACK_WEBHOOK): timed out (2 attempt(s), next try after \
                 2027-01-15T08:00:00Z)",
                "notification not delivered: halted to #1 slack webhook (environment variable \
                 CUTOVER_SLACK_WEBHOOK): timed out (3 attempt(s), given up)",
            ]
        );
    }
}
