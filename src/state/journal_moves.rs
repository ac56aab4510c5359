//! Which users each platform write touched, and how: the journal's bulk enables and disables,
//! one record per user, for `cutover log`.
//!
//! The journal keeps one row per call (its intent: the step, the configuration, the users; its
//! outcome: how many were changed, found already so, or refused, and why). This spreads a row
//! over its users and says, for each, what the outcome means for them ([`MoveResult`]). It reads
//! only; writing the journal is `journal.rs`'s.

use jiff::Timestamp;

use super::schema::time;
use super::{JournalAction, Store, StoreError};

/// One user's part in one bulk write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserMove {
    /// The journal row (the call) it belongs to.
    pub(crate) journal_id: i64,
    /// When the write was sent.
    pub(crate) at: Timestamp,
    /// When its outcome was recorded (none: in doubt).
    pub(crate) completed_at: Option<Timestamp>,
    pub(crate) step: Option<String>,
    /// [`JournalAction::Enable`] or [`JournalAction::Disable`].
    pub(crate) action: JournalAction,
    /// The configuration's display name.
    pub(crate) configuration: Option<String>,
    pub(crate) user: String,
    pub(crate) result: MoveResult,
    /// The platform's words, for a refused user or a failed call.
    pub(crate) error: Option<String>,
}

/// What a write did for one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MoveResult {
    /// The platform changed the user's assignment.
    Changed,
    /// The user was already so.
    Unchanged,
    /// Changed or already so: a journal row from before cutover told the two apart per user.
    Done,
    /// The platform refused this user (the error says why).
    Failed,
    /// The whole call failed (the error says why).
    Error,
    /// The run died before the outcome was recorded; a later run read the platform back.
    Reconciled,
    /// The run died before the outcome was recorded, and no run has settled it yet.
    InDoubt,
}

impl MoveResult {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            MoveResult::Changed => "changed",
            MoveResult::Unchanged => "unchanged",
            MoveResult::Done => "done",
            MoveResult::Failed => "failed",
            MoveResult::Error => "error",
            MoveResult::Reconciled => "reconciled",
            MoveResult::InDoubt => "in_doubt",
        }
    }
}

impl UserMove {
    /// `user_enabled` or `user_disabled`: how `cutover log` names the record.
    pub(crate) fn kind(&self) -> &'static str {
        match self.action {
            JournalAction::Disable => "user_disabled",
            _ => "user_enabled",
        }
    }
}

impl Store {
    /// Every user of every enable and disable the journal holds, in the order they were sent.
    pub(crate) fn user_moves(&self) -> Result<Vec<UserMove>, StoreError> {
        let mut statement = self
            .connection()?
            .prepare(
                "SELECT id, at_ms, step, action, configuration, users, outcome, outcome_ms
                 FROM journal WHERE action IN ('enable', 'disable') ORDER BY id",
            )
            .map_err(self.db())?;
        let rows = statement
            .query_map([], |r| {
                let users: String = r.get(5)?;
                let outcome: Option<String> = r.get(6)?;
                let outcome_ms: Option<i64> = r.get(7)?;
                Ok((
                    r.get::<_, i64>(0)?,
                    time(r.get(1)?),
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, JournalAction>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    users,
                    outcome,
                    outcome_ms.map(time),
                ))
            })
            .map_err(self.db())?;
        let mut moves = Vec::new();
        for row in rows {
            let (journal_id, at, step, action, configuration, users, outcome, completed_at) =
                row.map_err(self.db())?;
            let users: Vec<String> = serde_json::from_str(&users).unwrap_or_default();
            let outcome = outcome.and_then(|o| serde_json::from_str(&o).ok());
            for (user, result, error) in per_user(users, outcome.as_ref()) {
                moves.push(UserMove {
                    journal_id,
                    at,
                    completed_at,
                    step: step.clone(),
                    action,
                    configuration: configuration.clone(),
                    user,
                    result,
                    error,
                });
            }
        }
        Ok(moves)
    }
}

/// What a call's outcome says about each of its users. The outcomes the engine writes:
/// `{"changed": n, "unchanged": n, "failed": [{"email", "error", …}], "unchanged_users": […]}`
/// for an answered bulk write (`unchanged_users` since the journal lists them; before, only
/// the counts tell the two apart), `{"error": "…"}` for a failed call, `{"reconciled": "…"}`
/// for one a later run settled, and none for one still in doubt.
fn per_user(
    users: Vec<String>,
    outcome: Option<&serde_json::Value>,
) -> Vec<(String, MoveResult, Option<String>)> {
    let Some(outcome) = outcome else {
        return users
            .into_iter()
            .map(|u| (u, MoveResult::InDoubt, None))
            .collect();
    };
    if let Some(error) = outcome.get("error") {
        let error = error.as_str().map(str::to_owned);
        return users
            .into_iter()
            .map(|u| (u, MoveResult::Error, error.clone()))
            .collect();
    }
    if outcome.get("reconciled").is_some() {
        return users
            .into_iter()
            .map(|u| (u, MoveResult::Reconciled, None))
            .collect();
    }
    let same = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    let failed: Vec<(String, Option<String>)> = outcome
        .get("failed")
        .and_then(serde_json::Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|f| {
                    let email = f.get("email")?.as_str()?.to_owned();
                    let error = f.get("error").and_then(|e| e.as_str()).map(str::to_owned);
                    Some((email, error))
                })
                .collect()
        })
        .unwrap_or_default();
    let listed: Option<Vec<&str>> = outcome
        .get("unchanged_users")
        .and_then(serde_json::Value::as_array)
        .map(|list| list.iter().filter_map(serde_json::Value::as_str).collect());
    let count = |key: &str| outcome.get(key).and_then(serde_json::Value::as_u64);
    let otherwise = match (&listed, count("changed"), count("unchanged")) {
        (Some(_), _, _) => MoveResult::Changed,
        (None, _, Some(0)) => MoveResult::Changed,
        (None, Some(0), _) => MoveResult::Unchanged,
        (None, _, _) => MoveResult::Done,
    };
    users
        .into_iter()
        .map(|user| {
            if let Some((_, error)) = failed.iter().find(|(e, _)| same(e, &user)) {
                return (user, MoveResult::Failed, error.clone());
            }
            let unchanged = listed
                .as_ref()
                .is_some_and(|l| l.iter().any(|e| same(e, &user)));
            let result = if unchanged {
                MoveResult::Unchanged
            } else {
                otherwise
            };
            (user, result, None)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::plan::grammar::Email;

    fn results(users: &[&str], outcome: Option<serde_json::Value>) -> Vec<(String, &'static str)> {
        per_user(
            users.iter().map(|u| (*u).to_owned()).collect(),
            outcome.as_ref(),
        )
        .into_iter()
        .map(|(u, r, _)| (u, r.as_str()))
        .collect()
    }

    #[test]
    fn each_outcome_says_what_happened_to_each_user() {
        let two = ["a@x.example", "b@x.example"];
        let r = |a: &'static str, b: &'static str| {
            vec![("a@x.example".to_owned(), a), ("b@x.example".to_owned(), b)]
        };
        let refused = json!([{ "email": "B@x.example", "outcome": "write_failed", "error": "no" }]);
        for (outcome, expected) in [
            (None, r("in_doubt", "in_doubt")),
            (Some(json!({ "error": "timeout" })), r("error", "error")),
            (
                Some(json!({ "reconciled": "read back" })),
                r("reconciled", "reconciled"),
            ),
            (
                Some(json!({ "changed": 2, "unchanged": 0, "failed": [], "unchanged_users": [] })),
                r("changed", "changed"),
            ),
            (
                Some(
                    json!({ "changed": 1, "unchanged": 1, "failed": [], "unchanged_users": ["a@x.example"] }),
                ),
                r("unchanged", "changed"),
            ),
            (
                Some(json!({ "changed": 1, "unchanged": 0, "failed": refused })),
                r("changed", "failed"),
            ),
            // Rows from before the journal listed unchanged users: the counts tell what they can.
            (
                Some(json!({ "changed": 0, "unchanged": 2, "failed": [] })),
                r("unchanged", "unchanged"),
            ),
            (
                Some(json!({ "changed": 1, "unchanged": 1, "failed": [] })),
                r("done", "done"),
            ),
        ] {
            assert_eq!(results(&two, outcome.clone()), expected, "{outcome:?}");
        }
        let failed = per_user(
            vec!["b@x.example".into()],
            Some(&json!({ "failed": refused })),
        );
        assert_eq!(failed[0].2.as_deref(), Some("no"));
    }

    #[test]
    fn the_journal_is_spread_over_its_users_in_order() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let mut store = Store::open_or_create(&dir.path().join("p.state.db"), "p")?;
        let at = |s: i64| Timestamp::from_second(1_800_000_000 + s).expect("time");
        let users = [
            Email::parse("ana@contoso.example").expect("an email"),
            Email::parse("ben@contoso.example").expect("an email"),
        ];
        let enable = store.intent(
            at(1),
            Some("pilot"),
            JournalAction::Enable,
            Some("OAuth"),
            &users,
        )?;
        store.outcome(
            enable,
            at(2),
            &json!({ "changed": 2, "unchanged": 0, "failed": [], "unchanged_users": [] }),
        )?;
        let recheck = store.intent(at(3), Some("pilot"), JournalAction::Recheck, None, &users)?;
        store.outcome(recheck, at(3), &json!({}))?;
        store.intent(
            at(4),
            Some("pilot"),
            JournalAction::Disable,
            Some("Basic Auth"),
            &users[..1],
        )?;
        let moves = store.user_moves()?;
        let seen: Vec<String> = moves
            .iter()
            .map(|m| {
                format!(
                    "{} {} {:?} {} {:?}",
                    m.kind(),
                    m.user,
                    m.configuration.as_deref().unwrap_or(""),
                    m.result.as_str(),
                    m.completed_at.map(|t| t.as_second() - 1_800_000_000)
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                "user_enabled ana@contoso.example \"OAuth\" changed Some(2)",
                "user_enabled ben@contoso.example \"OAuth\" changed Some(2)",
                "user_disabled ana@contoso.example \"Basic Auth\" in_doubt None",
            ]
        );
        assert!(moves.iter().all(|m| m.step.as_deref() == Some("pilot")));
        assert_eq!(moves[2].at, at(4));
        Ok(())
    }
}
