//! The journal: every side effect on the platform, written as an intent before the call and
//! completed with its outcome after, each in its own transaction.
//!
//! An intent without an outcome is in doubt: the run died between the two. The next run lists
//! those ([`Store::in_doubt`]) and settles them by reading the platform back; it never re-sends
//! blindly. Which actions exist is `journal_action.rs`'s; what the planner reads of the journal
//! (when a disconnect was last sent) is loaded with the rest of the run state in `load.rs`.

use jiff::Timestamp;
use rusqlite::params;

use super::{JournalAction, Store, StoreError};
use crate::plan::grammar::Email;

/// An in-doubt side effect: an intent with no outcome.
#[derive(Debug, Clone)]
pub(crate) struct Intent {
    pub(crate) id: i64,
    pub(crate) step: Option<String>,
    pub(crate) action: JournalAction,
    pub(crate) users: usize,
}

impl Store {
    /// Journals the intent of a side effect before it is attempted.
    pub(crate) fn intent(
        &mut self,
        now: Timestamp,
        step: Option<&str>,
        action: JournalAction,
        configuration: Option<&str>,
        users: &[Email],
    ) -> Result<i64, StoreError> {
        let users: Vec<String> = users.iter().map(ToString::to_string).collect();
        let users = serde_json::to_string(&users).unwrap_or_else(|_| "[]".to_owned());
        self.write(|tx| {
            tx.execute(
                "INSERT INTO journal (at_ms, step, action, configuration, users)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![now.as_millisecond(), step, action, configuration, users],
            )?;
            Ok(tx.last_insert_rowid())
        })
    }

    /// Completes an intent with what happened.
    pub(crate) fn outcome(
        &mut self,
        id: i64,
        now: Timestamp,
        outcome: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let outcome = outcome.to_string();
        self.write(|tx| {
            tx.execute(
                "UPDATE journal SET outcome = ?2, outcome_ms = ?3 WHERE id = ?1",
                params![id, outcome, now.as_millisecond()],
            )?;
            Ok(())
        })
    }

    /// The intents left without an outcome, oldest first.
    pub(crate) fn in_doubt(&self) -> Result<Vec<Intent>, StoreError> {
        let mut statement = self
            .connection()?
            .prepare(
                "SELECT id, step, action, users FROM journal WHERE outcome IS NULL ORDER BY id",
            )
            .map_err(self.db())?;
        let rows = statement
            .query_map([], |r| {
                let users: String = r.get(3)?;
                let count = serde_json::from_str::<Vec<String>>(&users)
                    .map(|u| u.len())
                    .unwrap_or(0);
                Ok(Intent {
                    id: r.get(0)?,
                    step: r.get(1)?,
                    action: r.get(2)?,
                    users: count,
                })
            })
            .map_err(self.db())?;
        rows.collect::<Result<_, _>>().map_err(self.db())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_intent_is_in_doubt_until_its_outcome_is_written() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let mut store = Store::open_or_create(&dir.path().join("p.state.db"), "p")?;
        let now = Timestamp::from_second(1_800_000_000).expect("time");
        let users = [
            Email::parse("ana@contoso.example").expect("an email"),
            Email::parse("ben@contoso.example").expect("an email"),
        ];
        let done = store.intent(
            now,
            Some("pilot"),
            JournalAction::Enable,
            Some("OAuth"),
            &users,
        )?;
        store.outcome(done, now, &serde_json::json!({ "changed": 2 }))?;
        let open = store.intent(now, None, JournalAction::Disconnect, Some("Basic"), &[])?;
        let in_doubt = store.in_doubt()?;
        assert_eq!(in_doubt.len(), 1);
        assert_eq!(in_doubt[0].id, open);
        assert_eq!(in_doubt[0].action, JournalAction::Disconnect);
        assert_eq!(in_doubt[0].users, 0);
        assert_eq!(store.load()?.disconnect_sent, Some(now));
        Ok(())
    }
}
