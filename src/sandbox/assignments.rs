//! Who is enabled on which configuration, and the permission re-checks asked for them: the two
//! per-user writes of the platform's bulk calls.
//!
//! This module owns the `assignments` and `rechecks` tables as they are written. How a user's
//! syncs go on what they are enabled on is the simulation's (`simulation.rs`), and reading users
//! back is `users.rs`'s.

use rusqlite::{OptionalExtension, params};

use super::write_ledger::{record_violation, record_write};
use super::{SandboxError, SandboxFile};
use crate::plan::grammar::Email;
use crate::target::{ConfigurationState, UserWrite, WriteResult};

impl SandboxFile {
    pub(crate) fn set_enabled(
        &mut self,
        id: &str,
        emails: &[Email],
        enabled: bool,
        now_ms: i64,
    ) -> Result<Vec<UserWrite>, SandboxError> {
        let configuration = self.configuration(id)?;
        let configuration_id: i64 = id.parse().map_err(|_| SandboxError::NoSuchConfiguration {
            name: id.to_owned(),
        })?;
        let name = configuration.display_name.clone();
        let connected = configuration.state == ConfigurationState::Connected;
        self.write(|tx| {
            let mut results = Vec::with_capacity(emails.len());
            let op = if enabled { "enable" } else { "disable" };
            for email in emails {
                // Statements prepared once per connection: these run once per user of the call.
                let user_id: Option<i64> = tx
                    .prepare_cached("SELECT id FROM users WHERE email = ?1")?
                    .query_row([email.as_str()], |r| r.get(0))
                    .optional()?;
                let Some(user_id) = user_id else {
                    results.push(UserWrite { email: email.clone(), result: WriteResult::NotFound });
                    continue;
                };
                if enabled && !connected {
                    let reason = format!("the configuration {name:?} is not connected");
                    results.push(UserWrite { email: email.clone(), result: WriteResult::Failed(reason) });
                    continue;
                }
                let changed = if enabled {
                    tx.prepare_cached(
                        "INSERT OR IGNORE INTO assignments (user_id, configuration_id, enabled_ms) VALUES (?1, ?2, ?3)",
                    )?
                    .execute(params![user_id, configuration_id, now_ms])? == 1
                } else {
                    tx.prepare_cached(
                        "DELETE FROM assignments WHERE user_id = ?1 AND configuration_id = ?2",
                    )?
                    .execute(params![user_id, configuration_id])? == 1
                };
                record_write(tx, now_ms, op, Some(&email.to_string()), Some(&name), changed)?;
                if !enabled && changed {
                    let left: i64 = tx
                        .prepare_cached(
                            "SELECT COUNT(*) FROM assignments a JOIN configurations c ON c.id = a.configuration_id
                             WHERE a.user_id = ?1 AND c.state != 'disconnected'",
                        )?
                        .query_row([user_id], |r| r.get(0))?;
                    if left == 0 {
                        record_violation(
                            tx,
                            now_ms,
                            "user_without_configuration",
                            &format!("{email} was left with no enabled configuration when {name:?} was disabled"),
                        )?;
                    }
                }
                let result = if changed { WriteResult::Changed } else { WriteResult::Unchanged };
                results.push(UserWrite { email: email.clone(), result });
            }
            Ok(results)
        })
    }

    pub(crate) fn recheck(
        &mut self,
        id: &str,
        emails: &[Email],
        now_ms: i64,
    ) -> Result<(), SandboxError> {
        let configuration = self.configuration(id)?;
        let configuration_id: i64 = id.parse().map_err(|_| SandboxError::NoSuchConfiguration {
            name: id.to_owned(),
        })?;
        self.write(|tx| {
            for email in emails {
                let user_id: Option<i64> = tx
                    .query_row("SELECT id FROM users WHERE email = ?1", [email.to_string()], |r| r.get(0))
                    .optional()?;
                if let Some(user_id) = user_id {
                    tx.execute(
                        "INSERT INTO rechecks (user_id, configuration_id, at_ms) VALUES (?1, ?2, ?3)",
                        params![user_id, configuration_id, now_ms],
                    )?;
                    record_write(tx, now_ms, "recheck", Some(&email.to_string()), Some(&configuration.display_name), false)?;
                }
            }
            Ok(())
        })
    }
}
