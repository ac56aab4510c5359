//! What the pre-check saw, user by user, and when. Denials can be stale — a policy change takes
//! an hour or more to apply — so every verdict carries the moment Graph gave it, and Graph's own
//! words (its HTTP status, error code and message), so a reviewer reads what Graph said.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;

use crate::plan::grammar::Email;

/// The four answers the pre-check can give about a mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Access {
    /// Graph opened the calendar.
    Ok,
    /// 403 `ErrorAccessDenied`: outside the app's application access policy or RBAC for
    /// Applications scope.
    Denied,
    /// 404 with Graph's words for "no such user or mailbox" (`MailboxNotEnabledForRESTAPI`: an
    /// on-premises, inactive or unlicensed mailbox; `ErrorInvalidUser`; `ResourceNotFound`…).
    NotFound,
    /// Any other answer, after retries: nobody can say the mailbox is reachable.
    Unverified,
}

/// One verdict: what, when, and in Graph's words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Verdict {
    pub(crate) access: Access,
    pub(crate) seen_at: Timestamp,
    /// Graph's HTTP status; `None` for `ok` and when Graph could not be reached.
    pub(crate) status: Option<u16>,
    /// Graph's `error.code`; empty when there was none.
    pub(crate) code: String,
    /// Graph's `error.message`, or what cutover saw instead; empty for `ok`.
    pub(crate) message: String,
}

impl Verdict {
    #[cfg(test)]
    pub(crate) fn new(access: Access, seen_at: Timestamp) -> Self {
        Self {
            access,
            seen_at,
            status: None,
            code: String::new(),
            message: String::new(),
        }
    }

    /// Graph's answer in a few words: `404 MailboxNotEnabledForRESTAPI: The mailbox is either
    /// inactive, soft-deleted, or is hosted on-premise.`
    pub(crate) fn graph_words(&self) -> String {
        let mut words = String::new();
        if let Some(status) = self.status {
            words.push_str(&status.to_string());
        }
        if !self.code.is_empty() {
            if !words.is_empty() {
                words.push(' ');
            }
            words.push_str(&self.code);
        }
        if !self.message.is_empty() {
            if words.is_empty() {
                words.push_str(&self.message);
            } else {
                words.push_str(": ");
                words.push_str(&self.message);
            }
        }
        words
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct MailboxAccess {
    verdicts: BTreeMap<Email, Verdict>,
}

impl Access {
    pub(crate) const ALL: [Access; 4] = [
        Access::Ok,
        Access::Denied,
        Access::NotFound,
        Access::Unverified,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Access::Ok => "ok",
            Access::Denied => "denied",
            Access::NotFound => "not_found",
            Access::Unverified => "unverified",
        }
    }

    /// A stored name; state files before format 4 wrote `allowed` and `no_mailbox`.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "allowed" => Some(Access::Ok),
            "no_mailbox" => Some(Access::NotFound),
            _ => Self::ALL.into_iter().find(|a| a.as_str() == text),
        }
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

    #[cfg(test)]
    pub(crate) fn verdict(&self, email: &Email) -> Option<&Verdict> {
        self.verdicts.get(email)
    }

    pub(crate) fn record_verdict(&mut self, email: Email, verdict: Verdict) {
        self.verdicts.insert(email, verdict);
    }

    /// A verdict without Graph's words.
    #[cfg(test)]
    pub(crate) fn record(&mut self, email: Email, access: Access, seen_at: Timestamp) {
        self.record_verdict(email, Verdict::new(access, seen_at));
    }

    /// The users of `members` with no verdict yet.
    pub(crate) fn unchecked<'e>(&self, members: impl IntoIterator<Item = &'e Email>) -> Vec<Email> {
        members
            .into_iter()
            .filter(|e| !self.verdicts.contains_key(*e))
            .cloned()
            .collect()
    }

    /// The users of `members` whose verdict is not `ok`, with it, in the order given.
    pub(crate) fn not_ok<'e>(
        &self,
        members: impl IntoIterator<Item = &'e Email>,
    ) -> Vec<(Email, Verdict)> {
        members
            .into_iter()
            .filter_map(|e| {
                self.verdicts
                    .get(e)
                    .filter(|v| v.access != Access::Ok)
                    .map(|v| (e.clone(), v.clone()))
            })
            .collect()
    }

    #[cfg(test)]
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
    fn reports_what_is_not_ok_with_when_it_was_seen_and_what_is_unchecked() {
        let at: Timestamp = "2026-11-29T10:00:00Z".parse().expect("time");
        let mut access = MailboxAccess::default();
        access.record(email("ana@x.example"), Access::Denied, at);
        access.record(email("bo@x.example"), Access::Ok, at);
        access.record_verdict(
            email("di@x.example"),
            Verdict {
                status: Some(404),
                code: "MailboxNotEnabledForRESTAPI".to_owned(),
                message: "The mailbox is either inactive, soft-deleted, or is hosted on-premise."
                    .to_owned(),
                ..Verdict::new(Access::NotFound, at)
            },
        );
        let members = [
            email("ana@x.example"),
            email("bo@x.example"),
            email("cy@x.example"),
            email("di@x.example"),
        ];
        let not_ok: Vec<(String, Access)> = access
            .not_ok(&members)
            .into_iter()
            .map(|(e, v)| (e.to_string(), v.access))
            .collect();
        assert_eq!(
            not_ok,
            [
                ("ana@x.example".to_owned(), Access::Denied),
                ("di@x.example".to_owned(), Access::NotFound)
            ]
        );
        assert_eq!(access.unchecked(&members), vec![email("cy@x.example")]);
        assert!(access.is_denied(&email("ana@x.example")));
        assert!(!access.is_denied(&email("bo@x.example")));
        assert_eq!(
            access
                .verdict(&email("di@x.example"))
                .map(Verdict::graph_words),
            Some("404 MailboxNotEnabledForRESTAPI: The mailbox is either inactive, soft-deleted, or is hosted on-premise.".to_owned())
        );
    }

    #[test]
    fn names_read_back_including_those_of_older_state_files() {
        for (text, access) in [
            ("ok", Some(Access::Ok)),
            ("allowed", Some(Access::Ok)),
            ("denied", Some(Access::Denied)),
            ("not_found", Some(Access::NotFound)),
            ("no_mailbox", Some(Access::NotFound)),
            ("unverified", Some(Access::Unverified)),
            ("maybe", None),
        ] {
            assert_eq!(Access::parse(text), access, "{text}");
        }
    }
}
