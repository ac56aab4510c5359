//! What the pre-check saw, user by user, and when. Denials can be stale — a policy change takes
//! an hour or more to apply — so every verdict carries the moment Graph gave it.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;

use crate::plan::grammar::Email;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Access {
    /// Graph opened the calendar.
    Allowed,
    /// 403 `ErrorAccessDenied`: outside the app's access policy.
    Denied,
    /// 404: Graph knows no such mailbox (the sync will say more).
    NoMailbox,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct Verdict {
    pub(crate) access: Access,
    pub(crate) seen_at: Timestamp,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct MailboxAccess {
    verdicts: BTreeMap<Email, Verdict>,
}

impl Access {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Access::Allowed => "allowed",
            Access::Denied => "denied",
            Access::NoMailbox => "no_mailbox",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        [Access::Allowed, Access::Denied, Access::NoMailbox]
            .into_iter()
            .find(|a| a.as_str() == text)
    }
}

impl MailboxAccess {
    /// The verdicts on `users` (those that have one).
    pub(crate) fn verdicts_of<'s>(
        &'s self,
        users: &'s [Email],
    ) -> impl Iterator<Item = (&'s Email, &'s Verdict)> {
        users
            .iter()
            .filter_map(|e| self.verdicts.get(e).map(|v| (e, v)))
    }

    pub(crate) fn record(&mut self, email: Email, access: Access, seen_at: Timestamp) {
        self.verdicts.insert(email, Verdict { access, seen_at });
    }

    /// The users of `members` with no verdict yet.
    pub(crate) fn unchecked<'e>(&self, members: impl IntoIterator<Item = &'e Email>) -> Vec<Email> {
        members
            .into_iter()
            .filter(|e| !self.verdicts.contains_key(*e))
            .cloned()
            .collect()
    }

    /// The users of `members` whose mailbox was denied, with when it was seen.
    pub(crate) fn denied<'e>(
        &self,
        members: impl IntoIterator<Item = &'e Email>,
    ) -> Vec<(Email, Timestamp)> {
        members
            .into_iter()
            .filter_map(|e| {
                self.verdicts
                    .get(e)
                    .filter(|v| v.access == Access::Denied)
                    .map(|v| (e.clone(), v.seen_at))
            })
            .collect()
    }

    pub(crate) fn is_denied(&self, email: &Email) -> bool {
        self.verdicts
            .get(email)
            .is_some_and(|v| v.access == Access::Denied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(s: &str) -> Email {
        Email::parse(s).expect("email")
    }

    #[test]
    fn reports_denials_with_when_they_were_seen_and_what_is_unchecked() {
        let at: Timestamp = "2026-11-29T10:00:00Z".parse().expect("time");
        let mut access = MailboxAccess::default();
        access.record(email("ana@x.example"), Access::Denied, at);
        access.record(email("bo@x.example"), Access::Allowed, at);
        let members = [
            email("ana@x.example"),
            email("bo@x.example"),
            email("cy@x.example"),
        ];
        assert_eq!(access.denied(&members), vec![(email("ana@x.example"), at)]);
        assert_eq!(access.unchecked(&members), vec![email("cy@x.example")]);
        assert!(access.is_denied(&email("ana@x.example")));
        assert!(!access.is_denied(&email("bo@x.example")));
    }
}
