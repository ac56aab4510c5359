//! `cutover log`'s filters: `--step NAME`, `--user EMAIL`, `--since TIME|DURATION`, and which
//! records each keeps. Pure: the time `--since` counts back from is given.

use jiff::{SignedDuration, Timestamp};

use crate::plan::grammar::{Email, GrammarError, PlanDuration};
use crate::state::{AuditEntry, UserMove};

/// `--since`: an instant, or a span back from now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Since {
    At(Timestamp),
    Ago(SignedDuration),
}

/// Text given to `--since` that is neither.
#[derive(Debug, thiserror::Error)]
#[error(
    "{0:?} is neither an RFC 3339 time (\"2026-12-07T18:00:00-05:00\") nor a duration back from now (\"2d\", \"1h30m\")"
)]
pub(crate) struct BadSince(String);

impl Since {
    /// An RFC 3339 time with its offset, or a duration in the plan's grammar.
    pub(crate) fn parse(text: &str) -> Result<Self, BadSince> {
        if let Ok(at) = text.parse::<Timestamp>() {
            return Ok(Since::At(at));
        }
        PlanDuration::parse(text)
            .ok()
            .and_then(|d| i64::try_from(d.seconds()).ok())
            .map(|s| Since::Ago(SignedDuration::from_secs(s)))
            .ok_or_else(|| BadSince(text.to_owned()))
    }

    /// The instant it names, `now` being now.
    pub(crate) fn resolve(self, now: Timestamp) -> Timestamp {
        match self {
            Since::At(at) => at,
            Since::Ago(span) => now.checked_sub(span).unwrap_or(Timestamp::MIN),
        }
    }
}

/// `--user`'s email, read as the plan reads emails.
pub(crate) fn parse_user(text: &str) -> Result<Email, GrammarError> {
    Email::parse(text)
}

/// Which records `cutover log` shows.
#[derive(Debug, Clone, Default)]
pub(crate) struct LogFilter {
    /// A step: `east` is the batch and each of its waves (`east#1`, …); `east#2` one wave.
    pub(crate) step: Option<String>,
    /// An email as [`Email`] writes it (lowercase).
    pub(crate) user: Option<String>,
    pub(crate) since: Option<Timestamp>,
}

impl LogFilter {
    fn step_matches(&self, step: Option<&str>) -> bool {
        let Some(wanted) = &self.step else {
            return true;
        };
        step.is_some_and(|s| {
            s == wanted
                || s.strip_prefix(wanted.as_str())
                    .is_some_and(|rest| rest.starts_with('#'))
        })
    }

    fn since_matches(&self, at: Timestamp) -> bool {
        self.since.is_none_or(|since| at >= since)
    }

    /// An audit record passes when it is of the step, at or after `--since`, and — with
    /// `--user` — names the user anywhere in its detail (a failure, an exception, an accepted
    /// or pre-existing user).
    pub(crate) fn audit(&self, entry: &AuditEntry) -> bool {
        self.step_matches(entry.step.as_deref())
            && self.since_matches(entry.at)
            && self
                .user
                .as_ref()
                .is_none_or(|user| names(&entry.detail, user))
    }

    /// A user's move passes when it is of the step, the user, and at or after `--since`.
    pub(crate) fn user_move(&self, record: &UserMove) -> bool {
        self.step_matches(record.step.as_deref())
            && self.since_matches(record.at)
            && self
                .user
                .as_ref()
                .is_none_or(|user| record.user.eq_ignore_ascii_case(user))
    }
}

/// Whether a JSON value holds the email as one of its strings.
fn names(value: &serde_json::Value, email: &str) -> bool {
    match value {
        serde_json::Value::String(s) => s.eq_ignore_ascii_case(email),
        serde_json::Value::Array(items) => items.iter().any(|v| names(v, email)),
        serde_json::Value::Object(map) => map.values().any(|v| names(v, email)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::state::{AuditKind, JournalAction, MoveResult};

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + second).expect("time")
    }

    fn entry(step: Option<&str>, second: i64, detail: serde_json::Value) -> AuditEntry {
        AuditEntry {
            id: 1,
            at: at(second),
            kind: AuditKind::StepStarted,
            step: step.map(str::to_owned),
            operator: "op".into(),
            digest: None,
            detail,
            hash: None,
        }
    }

    fn moved(step: &str, user: &str, second: i64) -> UserMove {
        UserMove {
            journal_id: 1,
            at: at(second),
            completed_at: None,
            step: Some(step.into()),
            action: JournalAction::Enable,
            configuration: Some("OAuth".into()),
            user: user.into(),
            result: MoveResult::Changed,
            error: None,
        }
    }

    #[test]
    fn since_is_a_time_or_a_span_back_from_now() {
        let now = at(100_000);
        for (text, expected) in [
            ("2027-01-15T08:00:00Z", "2027-01-15T08:00:00Z".parse().ok()),
            (
                "2027-01-15T03:00:00-05:00",
                "2027-01-15T08:00:00Z".parse().ok(),
            ),
            ("2d", now.checked_sub(SignedDuration::from_hours(48)).ok()),
            ("1h30m", now.checked_sub(SignedDuration::from_mins(90)).ok()),
            ("yesterday", None),
            ("2 days", None),
            ("", None),
        ] {
            assert_eq!(
                Since::parse(text).ok().map(|s| s.resolve(now)),
                expected,
                "{text:?}"
            );
        }
    }

    #[test]
    fn each_filter_keeps_what_it_names() {
        let ana = parse_user("Ana@Contoso.example").expect("an email");
        let filter = |step: Option<&str>, user: Option<&Email>, since: Option<i64>| LogFilter {
            step: step.map(str::to_owned),
            user: user.map(ToString::to_string),
            since: since.map(at),
        };
        let failures = json!({ "failures": [{ "email": "ana@contoso.example" }] });
        for (f, record, kept) in [
            (filter(None, None, None), entry(None, 1, json!({})), true),
            (
                filter(Some("east"), None, None),
                entry(Some("east"), 1, json!({})),
                true,
            ),
            (
                filter(Some("east"), None, None),
                entry(Some("east#2"), 1, json!({})),
                true,
            ),
            (
                filter(Some("east#2"), None, None),
                entry(Some("east#1"), 1, json!({})),
                false,
            ),
            (
                filter(Some("east"), None, None),
                entry(Some("eastern"), 1, json!({})),
                false,
            ),
            (
                filter(Some("east"), None, None),
                entry(None, 1, json!({})),
                false,
            ),
            (
                filter(None, Some(&ana), None),
                entry(Some("east"), 1, failures.clone()),
                true,
            ),
            (
                filter(None, Some(&ana), None),
                entry(Some("east"), 1, json!({ "users": 3 })),
                false,
            ),
            (
                filter(None, None, Some(5)),
                entry(None, 4, json!({})),
                false,
            ),
            (filter(None, None, Some(5)), entry(None, 5, json!({})), true),
        ] {
            assert_eq!(f.audit(&record), kept, "{f:?} {record:?}");
        }
        for (f, record, kept) in [
            (
                filter(None, Some(&ana), None),
                moved("east#1", "ana@contoso.example", 1),
                true,
            ),
            (
                filter(None, Some(&ana), None),
                moved("east#1", "ben@contoso.example", 1),
                false,
            ),
            (
                filter(Some("east"), Some(&ana), Some(1)),
                moved("east#1", "ana@contoso.example", 1),
                true,
            ),
            (
                filter(Some("pilot"), None, None),
                moved("east#1", "ana@contoso.example", 1),
                false,
            ),
            (
                filter(None, None, Some(2)),
                moved("east#1", "ana@contoso.example", 1),
                false,
            ),
        ] {
            assert_eq!(f.user_move(&record), kept, "{f:?} {record:?}");
        }
    }
}
