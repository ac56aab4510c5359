//! Whether a channel hears about the current state now: the first time it sees it (send), again
//! after `repeat` while it lasts (remind), again after a failure once its backoff has passed
//! (retry), or not at all (quiet). Pure: the ledger and the time are inputs.
//!
//! A scheduled `apply --until-blocked` that finds the rollout halted, run after run, builds the
//! same event key each time; the ledger says it was delivered, so the channel stays quiet until
//! the state changes (a new key) or `repeat` has passed.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::state::DeliveryRecord;

/// What to do about one notification on one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Never tried: send it.
    Send,
    /// Delivered, the state lasts, and `repeat` has passed since: remind.
    Remind,
    /// The last attempt failed and its backoff has passed: try again.
    Retry,
    /// Nothing to do now.
    Quiet,
}

impl Decision {
    /// What was done, for a run's log line.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Decision::Send => "sent",
            Decision::Remind => "reminded",
            Decision::Retry => "retried",
            Decision::Quiet => "quiet",
        }
    }
}

/// The first retry waits this long; each further one twice as long, up to [`BACKOFF_MAX`].
pub(crate) const BACKOFF_BASE: Duration = Duration::from_secs(60);
pub(crate) const BACKOFF_MAX: Duration = Duration::from_secs(3600);
/// A failed notification about a state that has since changed is retried this long after its
/// first attempt, then abandoned (it stays in `status`).
pub(crate) const GIVE_UP_AFTER: Duration = Duration::from_secs(24 * 3600);

/// For the notification of the current state, `key`, on a channel whose ledger row for that
/// key is `record` (none: never tried).
pub(crate) fn decide(
    key: &str,
    record: Option<&DeliveryRecord>,
    now: Timestamp,
    repeat: Option<Duration>,
) -> Decision {
    let Some(record) = record.filter(|r| r.event_key == key) else {
        return Decision::Send;
    };
    if record.failures > 0 {
        return if record.next_retry.is_none_or(|at| now >= at) {
            Decision::Retry
        } else {
            Decision::Quiet
        };
    }
    match (repeat, record.delivered_at) {
        (Some(repeat), Some(delivered)) if now >= after(delivered, repeat) => Decision::Remind,
        _ => Decision::Quiet,
    }
}

/// What to do about a failed notification that is not about the current state (an earlier halt,
/// an exception): retry it once its backoff passed, unless a later notification has reached the
/// same channel since (it told the newer news) or it is older than [`GIVE_UP_AFTER`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stale {
    Retry,
    Wait,
    Abandon,
}

/// `channel_rows` are every ledger row of the record's channel.
pub(crate) fn stale(
    record: &DeliveryRecord,
    channel_rows: &[DeliveryRecord],
    now: Timestamp,
) -> Stale {
    let superseded = channel_rows.iter().any(|other| {
        other.event_key != record.event_key
            && other.first_attempt > record.first_attempt
            && other.delivered_at.is_some()
    });
    if superseded || now >= after(record.first_attempt, GIVE_UP_AFTER) {
        return Stale::Abandon;
    }
    if record.next_retry.is_none_or(|at| now >= at) {
        Stale::Retry
    } else {
        Stale::Wait
    }
}

/// When to try again after `failures` failed attempts in a row (1 for the first failure).
pub(crate) fn next_retry(now: Timestamp, failures: u32) -> Timestamp {
    let doublings = failures.saturating_sub(1).min(16);
    let wait = BACKOFF_BASE
        .saturating_mul(2u32.saturating_pow(doublings))
        .min(BACKOFF_MAX);
    after(now, wait)
}

fn after(at: Timestamp, wait: Duration) -> Timestamp {
    SignedDuration::try_from(wait)
        .ok()
        .and_then(|d| at.checked_add(d).ok())
        .unwrap_or(Timestamp::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3600;

    fn t(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).expect("time")
    }

    /// A row for `key`: first tried at 0; `delivered` seconds or none; `failures` since; retry
    /// at `retry`.
    fn row(key: &str, delivered: Option<i64>, failures: u32, retry: Option<i64>) -> DeliveryRecord {
        DeliveryRecord {
            channel: "c".into(),
            event_key: key.into(),
            kind: "halted".into(),
            label: "webhook".into(),
            notification: "{}".into(),
            first_attempt: t(0),
            delivered_at: delivered.map(t),
            attempts: failures + u32::from(delivered.is_some()),
            failures,
            last_attempt: t(0),
            last_error: (failures > 0).then(|| "timed out".into()),
            next_retry: retry.map(t),
            abandoned: false,
        }
    }

    #[test]
    fn send_remind_retry_or_stay_quiet() {
        let four_hours = Some(Duration::from_secs(4 * 3600));
        let key = "halted:east:1";
        let delivered = row(key, Some(0), 0, None);
        let failed = row(key, None, 1, Some(60));
        let reminded_then_failed = row(key, Some(0), 2, Some(5 * H));
        let other = row("halted:west:1", Some(0), 0, None);
        type Case<'a> = (
            &'a str,
            Option<&'a DeliveryRecord>,
            i64,
            Option<Duration>,
            Decision,
        );
        #[rustfmt::skip]
        let cases: &[Case<'_>] = &[
            // never tried: send, whatever the time
            ("new state",                    None,                        0,         None,      Decision::Send),
            ("new state, with repeat",       None,                        10 * H,    four_hours, Decision::Send),
            // a row about another state is no record of this one
            ("the row is another state's",   Some(&other),                10,        None,      Decision::Send),
            // delivered: quiet on every later run, unless `repeat` has passed
            ("delivered, next run",          Some(&delivered),            300,       None,      Decision::Quiet),
            ("delivered, a day later",       Some(&delivered),            24 * H,    None,      Decision::Quiet),
            ("delivered, before repeat",     Some(&delivered),            4 * H - 1, four_hours, Decision::Quiet),
            ("delivered, repeat reached",    Some(&delivered),            4 * H,     four_hours, Decision::Remind),
            ("delivered, long after repeat", Some(&delivered),            9 * H,     four_hours, Decision::Remind),
            // failed: retry once the backoff passed, not before
            ("failed, within backoff",       Some(&failed),               59,        None,      Decision::Quiet),
            ("failed, backoff passed",       Some(&failed),               60,        None,      Decision::Retry),
            ("failed, repeat is no reason",  Some(&failed),               30,        four_hours, Decision::Quiet),
            ("a failed reminder waits",      Some(&reminded_then_failed), 4 * H,     four_hours, Decision::Quiet),
            ("a failed reminder retries",    Some(&reminded_then_failed), 5 * H,     four_hours, Decision::Retry),
        ];
        for (name, record, now, repeat, expected) in cases {
            assert_eq!(decide(key, *record, t(*now), *repeat), *expected, "{name}");
        }
    }

    #[test]
    fn failed_notifications_of_past_states() {
        let old = row("halted:east:1", None, 2, Some(120));
        let later_delivered = DeliveryRecord {
            first_attempt: t(600),
            ..row("done:rollout", Some(600), 0, None)
        };
        let later_failed = DeliveryRecord {
            first_attempt: t(600),
            ..row("done:rollout", None, 1, Some(660))
        };
        #[rustfmt::skip]
        let cases: &[(&str, &[DeliveryRecord], i64, Stale)] = &[
            ("within backoff",             &[],                        100,     Stale::Wait),
            ("backoff passed",             &[],                        120,     Stale::Retry),
            ("a later one failed too",     std::slice::from_ref(&later_failed), 120,     Stale::Retry),
            ("a later one was delivered",  std::slice::from_ref(&later_delivered), 120,     Stale::Abandon),
            ("a day old",                  &[],                        24 * H,  Stale::Abandon),
        ];
        for (name, others, now, expected) in cases {
            let mut rows = vec![old.clone()];
            rows.extend(others.iter().cloned());
            assert_eq!(stale(&old, &rows, t(*now)), *expected, "{name}");
        }
    }

    #[test]
    fn backoff_doubles_to_an_hour() {
        for (failures, wait) in [
            (1, 60),
            (2, 120),
            (3, 240),
            (6, 1920),
            (7, 3600),
            (50, 3600),
        ] {
            assert_eq!(next_retry(t(0), failures), t(wait), "{failures} failures");
        }
    }
}
