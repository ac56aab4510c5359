//! `[[notify]]`: where a rollout's events go when nobody is watching the run — a webhook (JSON,
//! Slack or Teams), an email over SMTP, or a local command.
//!
//! This is the validated shape only. Delivering a notification, and remembering what was sent,
//! is [`crate::notify`]'s.

use std::fmt;

use serde::Serialize;

use super::SecretRef;
use super::grammar::{Email, PlanDuration};

/// One notification channel of the plan.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct NotifyChannel {
    pub(crate) channel: ChannelKind,
    /// The events this channel receives (the plan's `events`, or all of them).
    pub(crate) events: Vec<NotifyEvent>,
    /// A reminder while the same halt or wait lasts this long.
    pub(crate) repeat: Option<PlanDuration>,
}

impl NotifyChannel {
    pub(crate) fn wants(&self, event: NotifyEvent) -> bool {
        self.events.contains(&event)
    }
}

/// How a channel delivers.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ChannelKind {
    /// An HTTP POST to a URL that is itself a secret.
    Webhook {
        url: SecretRef,
        format: WebhookFormat,
    },
    Email(EmailChannel),
    /// A local program, the event as JSON on its standard input.
    Command(Vec<String>),
}

/// What a webhook's body looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum WebhookFormat {
    /// cutover's own JSON (`schemas/notification.schema.json`).
    Json,
    /// A Slack incoming webhook's blocks.
    Slack,
    /// A Microsoft Teams Workflows webhook, with an Adaptive Card.
    Teams,
}

impl WebhookFormat {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            WebhookFormat::Json => "json",
            WebhookFormat::Slack => "slack",
            WebhookFormat::Teams => "teams",
        }
    }
}

/// An SMTP submission.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct EmailChannel {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) tls: SmtpTls,
    pub(crate) from: Email,
    pub(crate) to: Vec<Email>,
    /// SMTP AUTH, when the relay asks for it.
    pub(crate) login: Option<SmtpLogin>,
}

/// The user name and a reference to the password.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SmtpLogin {
    pub(crate) username: String,
    pub(crate) password: SecretRef,
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, which the server must offer (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No TLS at all: allowed only to a loopback relay.
    None,
}

impl SmtpTls {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SmtpTls::Starttls => "starttls",
            SmtpTls::Tls => "tls",
            SmtpTls::None => "none",
        }
    }

    /// The port a relay listens on for this kind of connection.
    pub(crate) fn default_port(self) -> u16 {
        match self {
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
            SmtpTls::None => 25,
        }
    }
}

/// What happened, as a channel's `events` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum NotifyEvent {
    /// A gate failed, a rollback ran, or a precondition needs a person (exit 3).
    Halted,
    /// An approval, an authorization or a confirmation is awaited (exit 6).
    NeedsPerson,
    /// A gate passed with users accepted as exceptions.
    Exception,
    /// The rollout is complete.
    Done,
    /// A run ended 1 or 2: the platform unreachable, a lost lock, a plan refused.
    Error,
}

impl NotifyEvent {
    pub(crate) const ALL: [NotifyEvent; 5] = [
        NotifyEvent::Halted,
        NotifyEvent::NeedsPerson,
        NotifyEvent::Exception,
        NotifyEvent::Done,
        NotifyEvent::Error,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            NotifyEvent::Halted => "halted",
            NotifyEvent::NeedsPerson => "needs_person",
            NotifyEvent::Exception => "exception",
            NotifyEvent::Done => "done",
            NotifyEvent::Error => "error",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == text)
    }
}

impl fmt::Display for NotifyEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A host on this machine: the only place plain SMTP (and a plain `http` webhook) may go.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
