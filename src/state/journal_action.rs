//! The side effects cutover journals before making them, as a type: the strings stored in the
//! `journal` table are [`JournalAction::as_str`], and only those.
//!
//! Writing intents and outcomes is `journal.rs`'s.

use std::fmt;

use rusqlite::types::{FromSql, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

use super::schema::UnknownName;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JournalAction {
    /// Create the `to` configuration.
    CreateConfiguration,
    /// Ask for (or read back) the `to` configuration's authorization.
    Authorize,
    /// Start that authorization over.
    Reauthorize,
    /// Enable a configuration for users.
    Enable,
    /// Disable a configuration for users.
    Disable,
    /// Ask the platform to re-run the permission check for users.
    Recheck,
    /// Disconnect `from`: the irreversible one.
    Disconnect,
}

impl JournalAction {
    const ALL: [JournalAction; 7] = [
        JournalAction::CreateConfiguration,
        JournalAction::Authorize,
        JournalAction::Reauthorize,
        JournalAction::Enable,
        JournalAction::Disable,
        JournalAction::Recheck,
        JournalAction::Disconnect,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            JournalAction::CreateConfiguration => "create_configuration",
            JournalAction::Authorize => "authorize",
            JournalAction::Reauthorize => "reauthorize",
            JournalAction::Enable => "enable",
            JournalAction::Disable => "disable",
            JournalAction::Recheck => "recheck",
            JournalAction::Disconnect => "disconnect",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == text)
    }

    /// A bulk write's action: enabling or disabling a configuration for users.
    pub(crate) fn switch(enabled: bool) -> Self {
        if enabled {
            JournalAction::Enable
        } else {
            JournalAction::Disable
        }
    }

    /// Asking for the authorization, or (`restart`) starting it over.
    pub(crate) fn authorization(restart: bool) -> Self {
        if restart {
            JournalAction::Reauthorize
        } else {
            JournalAction::Authorize
        }
    }
}

impl fmt::Display for JournalAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl ToSql for JournalAction {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for JournalAction {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        Self::parse(text).ok_or_else(|| UnknownName::of("journal action", text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_its_stored_string_and_reads_back() {
        let strings: Vec<&str> = JournalAction::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(
            strings,
            [
                "create_configuration",
                "authorize",
                "reauthorize",
                "enable",
                "disable",
                "recheck",
                "disconnect",
            ]
        );
        for action in JournalAction::ALL {
            assert_eq!(JournalAction::parse(action.as_str()), Some(action));
            assert_eq!(action.to_string(), action.as_str());
        }
        assert_eq!(JournalAction::parse("Enable"), None);
        assert_eq!(JournalAction::switch(true), JournalAction::Enable);
        assert_eq!(JournalAction::switch(false), JournalAction::Disable);
        assert_eq!(
            JournalAction::authorization(false),
            JournalAction::Authorize
        );
        assert_eq!(
            JournalAction::authorization(true),
            JournalAction::Reauthorize
        );
    }
}
