//! The `json` webhook's body and the command channel's standard input: a [`Notification`] as
//! one stable JSON object, documented by `schemas/notification.schema.json` (generated from
//! [`Payload`], checked up to date by a test). Nothing is folded here: every user is listed.

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde::{Deserialize, Serialize};

use super::Notification;

/// A cutover notification: one event of one rollout (or a test message), as a webhook receiver
/// or a `command` channel gets it.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "cutover notification")]
#[serde(deny_unknown_fields)]
pub(crate) struct Payload {
    /// The payload's format version. Always 1; a change that breaks readers gets a new one.
    #[schemars(extend("const" = 1))]
    pub(crate) format_version: u32,
    /// What happened.
    pub(crate) kind: PayloadKind,
    /// The plan's name.
    pub(crate) plan: String,
    /// The pilot, batch or wave (`<batch>#<n>`), `disconnect`, or null for the rollout as a
    /// whole.
    pub(crate) step: Option<String>,
    /// One sentence saying what happened.
    pub(crate) summary: String,
    /// Every user concerned, with the platform's error text where there is one.
    pub(crate) users: Vec<PayloadUser>,
    /// The number of users (the length of `users`).
    pub(crate) users_count: usize,
    /// The command a person should run next, or null.
    pub(crate) next_command: Option<String>,
    /// When it happened: RFC 3339, with the offset of the plan's time zone.
    #[schemars(extend("format" = "date-time"))]
    pub(crate) at: String,
    /// The state this is about. The same key in a later notification means the same halt or
    /// wait, still lasting (a reminder); receivers may use it to group or deduplicate.
    pub(crate) event_key: String,
    /// The head of the audit trail's hash chain when this happened, or null.
    pub(crate) chain_head: Option<String>,
}

/// `halted`: a gate failed, a rollback ran, or a precondition needs a person. `needs_person`:
/// an approval, an authorization or a confirmation is awaited. `exception`: a gate passed with
/// users accepted as exceptions. `done`: the rollout is complete. `error`: a run ended with an
/// error (exit 1 or 2). `test`: sent by `cutover notify test`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum PayloadKind {
    Halted,
    NeedsPerson,
    Exception,
    Done,
    Error,
    Test,
}

/// A user the notification names.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PayloadUser {
    pub(crate) email: String,
    /// The platform's error text for this user, or null.
    pub(crate) error: Option<String>,
}

impl Payload {
    pub(crate) fn of(notification: &Notification) -> Self {
        use crate::plan::NotifyEvent;
        let kind = match notification.notify_event() {
            Some(NotifyEvent::Halted) => PayloadKind::Halted,
            Some(NotifyEvent::NeedsPerson) => PayloadKind::NeedsPerson,
            Some(NotifyEvent::Exception) => PayloadKind::Exception,
            Some(NotifyEvent::Done) => PayloadKind::Done,
            Some(NotifyEvent::Error) => PayloadKind::Error,
            None => PayloadKind::Test,
        };
        Self {
            format_version: 1,
            kind,
            plan: notification.plan.clone(),
            step: notification.step.clone(),
            summary: notification.summary.clone(),
            users: notification
                .users
                .iter()
                .map(|u| PayloadUser {
                    email: u.email.clone(),
                    error: u.error.clone(),
                })
                .collect(),
            users_count: notification.users.len(),
            next_command: notification.next_command.clone(),
            at: notification.at_text.clone(),
            event_key: notification.key.clone(),
            chain_head: notification.chain_head.clone(),
        }
    }

    /// The notification again, from a payload cutover stored (for a retry on a later run).
    pub(crate) fn into_notification(self) -> Option<Notification> {
        use super::{NotificationKind, NotifiedUser};
        use crate::plan::NotifyEvent;
        let kind = match self.kind {
            PayloadKind::Halted => NotificationKind::Event(NotifyEvent::Halted),
            PayloadKind::NeedsPerson => NotificationKind::Event(NotifyEvent::NeedsPerson),
            PayloadKind::Exception => NotificationKind::Event(NotifyEvent::Exception),
            PayloadKind::Done => NotificationKind::Event(NotifyEvent::Done),
            PayloadKind::Error => NotificationKind::Event(NotifyEvent::Error),
            PayloadKind::Test => NotificationKind::Test,
        };
        Some(Notification {
            plan: self.plan,
            kind,
            key: self.event_key,
            step: self.step,
            summary: self.summary,
            users: self
                .users
                .into_iter()
                .map(|u| NotifiedUser {
                    email: u.email,
                    error: u.error,
                })
                .collect(),
            next_command: self.next_command,
            at_text: self.at,
            chain_head: self.chain_head,
        })
    }

    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(self)
            .unwrap_or_else(|e| unreachable!("strings and numbers always serialize: {e}"))
    }
}

/// Where the published schema lives.
const SCHEMA_ID: &str = "https://cutover.invalid/schemas/notification.schema.json";

/// The payload's JSON Schema (draft-07, as the plan's), pretty, with a trailing newline: what
/// `cutover schema --notification` prints and `schemas/notification.schema.json` holds.
pub(crate) fn notification_schema_text() -> String {
    let settings = SchemaSettings::draft07().for_serialize();
    let mut schema = settings.into_generator().into_root_schema_for::<Payload>();
    schema.insert("$id".to_owned(), SCHEMA_ID.into());
    let mut text = serde_json::to_string_pretty(&schema)
        .unwrap_or_else(|e| unreachable!("a schema always serializes: {e}"));
    text.push('\n');
    text
}
