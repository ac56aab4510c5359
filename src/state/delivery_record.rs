//! What the state database remembers of one notification on one channel: when it was first
//! tried, when it last reached the channel, and the failures since — so that a scheduled run
//! sends each event once, reminds on time and retries what failed.

use jiff::Timestamp;

/// One (channel, event) row of the notification ledger.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct DeliveryRecord {
    /// The channel's id: a digest of its kind and settings, never of a secret's value.
    pub(crate) channel: String,
    /// The state the notification was about (`Notification::key`).
    pub(crate) event_key: String,
    /// The event's name (`halted`, `done`, …).
    pub(crate) kind: String,
    /// The channel in words, as `status` shows it (never the webhook URL).
    pub(crate) label: String,
    /// The notification as JSON, so that a later run can retry it as it was.
    #[serde(skip)]
    pub(crate) notification: String,
    pub(crate) first_attempt: Timestamp,
    /// The last delivery that reached the channel (the first one or a reminder).
    pub(crate) delivered_at: Option<Timestamp>,
    /// Every attempt so far.
    pub(crate) attempts: u32,
    /// Failed attempts since the last success: 0 when the last attempt reached the channel.
    pub(crate) failures: u32,
    pub(crate) last_attempt: Timestamp,
    /// Why the last attempt failed, in words without secrets.
    pub(crate) last_error: Option<String>,
    /// When a failed delivery is next worth trying.
    pub(crate) next_retry: Option<Timestamp>,
    /// Retries stopped (the notification was superseded, or too old): kept for `status`.
    pub(crate) abandoned: bool,
}

/// One attempt's result, as the ledger records it.
#[derive(Debug, Clone)]
pub(crate) struct DeliveryAttempt<'a> {
    pub(crate) channel: &'a str,
    pub(crate) event_key: &'a str,
    pub(crate) kind: &'a str,
    pub(crate) label: &'a str,
    pub(crate) notification: &'a str,
    pub(crate) at: Timestamp,
    /// `Ok` when it reached the channel; else the reason and when to try again.
    pub(crate) outcome: Result<(), (String, Timestamp)>,
}
