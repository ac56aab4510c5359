//! Notifications: how a halt at 2 a.m. reaches a person. The plan's `[[notify]]` channels
//! (validated in [`crate::plan`]) deliver a [`Notification`] — a webhook in cutover's JSON, as
//! Slack blocks or as a Teams Adaptive Card; an email over SMTP; a local command — and the
//! state database's ledger makes a scheduled run send each event once per change of state,
//! remind on `repeat`, and retry failures with backoff on later runs.
//!
//! One file per concept: `notification.rs` (what happened), `channel.rs` (a channel's id and
//! label), `notifier.rs` (delivering, concurrently and within 10 s, and recording),
//! `decision.rs` (send, remind, retry or stay quiet: pure), `undelivered.rs` (what `status`
//! shows of the ledger), `payload.rs` (the JSON and its
//! schema), `text.rs`, `slack.rs`, `teams.rs` (the human renderings), `webhook.rs`,
//! `email.rs`, `command.rs` (the transports) and `delivery_error.rs` (reasons without secrets).
//!
//! It owns no decision about *which* events a run produces: that is the engine's caller's,
//! which hands [`Notifier::notify`] the notifications of what the run found.

mod channel;
mod command;
mod decision;
mod delivery_error;
mod email;
mod notification;
mod notifier;
mod payload;
mod slack;
mod teams;
#[cfg(test)]
mod tests;
mod text;
mod undelivered;
mod webhook;

pub(crate) use notification::{Notification, NotificationKind, NotifiedUser};
pub(crate) use notifier::Notifier;
// The run loop's API, with `Notifier::notify`.
pub(crate) use payload::notification_schema_text;
#[allow(unused_imports)]
pub(crate) use {
    decision::Decision,
    notifier::{ChannelResult, NotifyReport},
    undelivered::{status_lines, undelivered},
};
