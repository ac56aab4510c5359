//! [`Notification`]: what happened to a rollout, in the words every channel renders — the plan,
//! the step, the kind of event, the users concerned with the platform's error text, the next
//! command to run and the time.
//!
//! It says nothing about how it is sent (the channel files) or whether it should be
//! (`decision.rs`).

use jiff::Timestamp;

use crate::plan::NotifyEvent;

/// What a notification is about: one of the plan's events, or `cutover notify test`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotificationKind {
    Event(NotifyEvent),
    /// A test message: goes to every channel whatever its `events`, and is never recorded.
    Test,
}

impl NotificationKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            NotificationKind::Event(event) => event.as_str(),
            NotificationKind::Test => "test",
        }
    }

    /// The word a person reads first, as `status` and the terminal say it.
    pub(crate) fn headline(self) -> &'static str {
        match self {
            NotificationKind::Event(NotifyEvent::Halted) => "HALTED",
            NotificationKind::Event(NotifyEvent::NeedsPerson) => "NEEDS A PERSON",
            NotificationKind::Event(NotifyEvent::Exception) => "PASSED WITH EXCEPTIONS",
            NotificationKind::Event(NotifyEvent::Done) => "DONE",
            NotificationKind::Event(NotifyEvent::Error) => "ERROR",
            NotificationKind::Test => "TEST",
        }
    }

    /// Whether a person should act on it soon (colours and priorities in the channels).
    pub(crate) fn is_alarm(self) -> bool {
        matches!(
            self,
            NotificationKind::Event(NotifyEvent::Halted | NotifyEvent::Error)
        )
    }
}

/// A user a notification names, with the platform's own words for what is wrong, if anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NotifiedUser {
    pub(crate) email: String,
    pub(crate) error: Option<String>,
}

/// One event of one rollout, ready for every channel.
#[derive(Debug, Clone)]
pub(crate) struct Notification {
    pub(crate) plan: String,
    pub(crate) kind: NotificationKind,
    /// The state this notification describes, such as `halted:east#2:1765123456000`. A later
    /// run that builds the same key is reporting the same halt or wait, still lasting: it is not
    /// sent again (only reminded, with `repeat`). See [`Notification::event`].
    pub(crate) key: String,
    pub(crate) step: Option<String>,
    /// One sentence saying what happened, such as "the gate failed: 3 of 40 users have OAuth
    /// sync errors (max_errors 0)".
    pub(crate) summary: String,
    /// Every user concerned, in full: human formats fold the list past [`FOLD_AFTER`].
    pub(crate) users: Vec<NotifiedUser>,
    /// What to run next, such as `cutover approve plans/contoso.toml disconnect`.
    pub(crate) next_command: Option<String>,
    /// When it happened, as the plan shows times (RFC 3339, the plan's offset).
    pub(crate) at_text: String,
    /// The head of the audit trail's hash chain as the run that noticed the event left it
    /// (filled by `apply`), so a copy of it lives outside the state file.
    pub(crate) chain_head: Option<String>,
}

/// Human formats (email, Slack, Teams) list this many users, then a count of the rest.
pub(crate) const FOLD_AFTER: usize = 20;

impl Notification {
    /// A notification of `event` about the state `detail` names. The key is
    /// `<event>:<detail>`: build `detail` from what identifies the state and changes when the
    /// state does — a halted step with the time it halted (`east#2:1765123456000`), the wait
    /// with its step and reason (`approval:disconnect`), `rollout` for `done`, the error's kind
    /// and step for `error`.
    pub(crate) fn event(
        plan: &crate::plan::Plan,
        event: NotifyEvent,
        detail: &str,
        summary: impl Into<String>,
        at: Timestamp,
    ) -> Self {
        Self {
            plan: plan.name.to_string(),
            kind: NotificationKind::Event(event),
            key: format!("{event}:{detail}"),
            step: None,
            summary: summary.into(),
            users: Vec::new(),
            next_command: None,
            at_text: plan.time(at),
            chain_head: None,
        }
    }

    /// The message `cutover notify test` sends.
    pub(crate) fn test(plan: &crate::plan::Plan, plan_path: &str, at: Timestamp) -> Self {
        Self {
            plan: plan.name.to_string(),
            kind: NotificationKind::Test,
            key: format!("test:{}", at.as_millisecond()),
            step: None,
            summary: format!(
                "a test message from `cutover notify test`: this channel receives plan {}'s \
                 notifications",
                plan.name
            ),
            users: Vec::new(),
            next_command: Some(format!("cutover status {plan_path}")),
            at_text: plan.time(at),
            chain_head: None,
        }
    }

    pub(crate) fn step(mut self, step: impl Into<String>) -> Self {
        self.step = Some(step.into());
        self
    }

    pub(crate) fn users(mut self, users: Vec<NotifiedUser>) -> Self {
        self.users = users;
        self
    }

    pub(crate) fn next_command(mut self, command: impl Into<String>) -> Self {
        self.next_command = Some(command.into());
        self
    }

    /// The users a gate found failing, with the platform's error text.
    pub(crate) fn failing(self, failures: &[crate::state::FailingUser]) -> Self {
        self.users(
            failures
                .iter()
                .map(|f| NotifiedUser {
                    email: f.email.to_string(),
                    error: f.error.clone().or_else(|| Some(f.outcome.clone())),
                })
                .collect(),
        )
    }

    /// As the ledger keeps it (the JSON payload: no secret is ever part of a notification).
    pub(crate) fn to_stored(&self) -> String {
        super::payload::Payload::of(self).to_json()
    }

    /// What [`Notification::to_stored`] kept; `None` for a row this cutover cannot read.
    pub(crate) fn from_stored(text: &str) -> Option<Self> {
        serde_json::from_str::<super::payload::Payload>(text)
            .ok()?
            .into_notification()
    }

    /// The event, when it is one (a test is not).
    pub(crate) fn notify_event(&self) -> Option<NotifyEvent> {
        match self.kind {
            NotificationKind::Event(event) => Some(event),
            NotificationKind::Test => None,
        }
    }

    /// A one-line title: `cutover: HALTED · contoso-exchange-oauth · east`.
    pub(crate) fn title(&self) -> String {
        let mut title = format!("cutover: {} · {}", self.kind.headline(), self.plan);
        if let Some(step) = &self.step {
            title.push_str(" · ");
            title.push_str(step);
        }
        title
    }

    /// The users as human formats list them: at most [`FOLD_AFTER`], and how many are left out.
    pub(crate) fn folded_users(&self) -> (&[NotifiedUser], usize) {
        let shown = self.users.len().min(FOLD_AFTER);
        (&self.users[..shown], self.users.len() - shown)
    }
}

/// Keeps a platform's error text to a size every channel accepts (Slack cuts a section at 3000
/// characters, a Teams card at 28 KB in all).
pub(crate) fn shorten(text: &str, max_chars: usize) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(max_chars).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notification(users: usize) -> Notification {
        Notification {
            plan: "p".into(),
            kind: NotificationKind::Event(NotifyEvent::Halted),
            key: "halted:east:1".into(),
            step: Some("east".into()),
            summary: "s".into(),
            users: (0..users)
                .map(|i| NotifiedUser {
                    email: format!("u{i}@x.example"),
                    error: None,
                })
                .collect(),
            next_command: None,
            at_text: "1970-01-01T00:00:00+00:00".into(),
            chain_head: None,
        }
    }

    #[test]
    fn users_fold_past_twenty() {
        for (users, shown, rest) in [(0, 0, 0), (5, 5, 0), (20, 20, 0), (21, 20, 1), (57, 20, 37)] {
            let n = notification(users);
            let (list, more) = n.folded_users();
            assert_eq!((list.len(), more), (shown, rest), "{users} users");
        }
    }

    #[test]
    fn titles_and_shortening() {
        assert_eq!(notification(0).title(), "cutover: HALTED · p · east");
        assert_eq!(shorten("abcdef", 3), "abc…");
        assert_eq!(shorten("abc", 3), "abc");
        assert_eq!(shorten("ééé", 2), "éé…");
    }
}
