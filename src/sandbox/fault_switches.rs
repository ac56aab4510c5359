//! Faults switched on and off: the user and configuration faults of the `faults` table (each over
//! a time range), and the one injected write failure `sandbox fail-call` arms.
//!
//! This module owns what is stored about faults and reads it back, as the spans the simulation
//! judges attempts by and as the faults active now. What each fault does to a sync is the
//! simulation's (`simulation.rs`); the fault kinds are `fault.rs`'s.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, params};

use super::simulation::{FaultSpan, TenantFaults};
use super::{Fault, SandboxError, SandboxFile};
use crate::plan::grammar::Email;

/// A fault active now, with the user or configuration it applies to.
pub(crate) type ActiveFault = (Fault, Option<String>, Option<String>);

impl SandboxFile {
    /// Makes the `nth` write call from now fail as if the platform did not answer: before
    /// changing anything, or (`after_commit`) after the change took effect, as when a response
    /// is lost. For testing that a run resumes correctly from either.
    pub(crate) fn inject_failure(
        &mut self,
        nth: u32,
        after_commit: bool,
    ) -> Result<(), SandboxError> {
        let mode = if after_commit { "after" } else { "before" };
        self.write(|tx| {
            tx.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('fail_countdown', ?1)",
                [nth.max(1).to_string()],
            )?;
            tx.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('fail_mode', ?1)",
                [mode],
            )?;
            Ok(())
        })
    }

    /// Counts a write call against an injected failure; `Some(after_commit)` when this call
    /// must fail.
    pub(crate) fn take_injected_failure(&mut self) -> Result<Option<bool>, SandboxError> {
        // Asked before every write call: a countdown in `meta` must not cost a read of the users.
        self.write_beside_users(|tx| {
            let countdown: Option<String> = tx
                .query_row(
                    "SELECT value FROM meta WHERE key = 'fail_countdown'",
                    [],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(countdown) = countdown.and_then(|c| c.parse::<u32>().ok()) else {
                return Ok(None);
            };
            if countdown > 1 {
                tx.execute(
                    "UPDATE meta SET value = ?1 WHERE key = 'fail_countdown'",
                    [(countdown - 1).to_string()],
                )?;
                return Ok(None);
            }
            let mode: Option<String> = tx
                .query_row("SELECT value FROM meta WHERE key = 'fail_mode'", [], |r| {
                    r.get(0)
                })
                .optional()?;
            tx.execute(
                "DELETE FROM meta WHERE key IN ('fail_countdown', 'fail_mode')",
                [],
            )?;
            Ok(Some(mode.as_deref() == Some("after")))
        })
    }

    /// Turns a user fault on or off for each email, from `now_ms` on.
    pub(crate) fn set_user_fault(
        &mut self,
        fault: Fault,
        emails: &[Email],
        on: bool,
        now_ms: i64,
    ) -> Result<(), SandboxError> {
        for email in emails {
            let exists: Option<i64> = self
                .connection()
                .query_row(
                    "SELECT id FROM users WHERE email = ?1",
                    [email.to_string()],
                    |r| r.get(0),
                )
                .optional()
                .map_err(self.db())?;
            if exists.is_none() {
                return Err(SandboxError::NoSuchUser {
                    email: email.to_string(),
                });
            }
        }
        self.write(|tx| {
            for email in emails {
                let email = email.to_string();
                let active: i64 = tx.query_row(
                    "SELECT COUNT(*) FROM faults WHERE fault = ?1 AND email = ?2 AND until_ms IS NULL",
                    params![fault.as_str(), email],
                    |r| r.get(0),
                )?;
                if on && active == 0 {
                    tx.execute(
                        "INSERT INTO faults (fault, email, since_ms) VALUES (?1, ?2, ?3)",
                        params![fault.as_str(), email, now_ms],
                    )?;
                } else if !on && active > 0 {
                    tx.execute(
                        "UPDATE faults SET until_ms = ?3 WHERE fault = ?1 AND email = ?2 AND until_ms IS NULL",
                        params![fault.as_str(), email, now_ms],
                    )?;
                }
            }
            Ok(())
        })
    }

    /// Turns a configuration fault on or off.
    pub(crate) fn set_configuration_fault(
        &mut self,
        fault: Fault,
        configuration: &str,
        on: bool,
        now_ms: i64,
    ) -> Result<(), SandboxError> {
        let name = self.find_configuration(configuration)?.display_name;
        self.write(|tx| {
            if on {
                tx.execute(
                    "INSERT INTO faults (fault, configuration, since_ms) VALUES (?1, ?2, ?3)",
                    params![fault.as_str(), name, now_ms],
                )?;
            } else {
                tx.execute(
                    "UPDATE faults SET until_ms = ?3 WHERE fault = ?1 AND configuration = ?2 AND until_ms IS NULL",
                    params![fault.as_str(), name, now_ms],
                )?;
            }
            Ok(())
        })
    }

    /// The faults active now, by user email and by configuration name.
    pub(crate) fn active_faults(&self, now_ms: i64) -> Result<Vec<ActiveFault>, SandboxError> {
        let mut statement = self
            .connection()
            .prepare("SELECT fault, email, configuration FROM faults WHERE since_ms <= ?1 AND (until_ms IS NULL OR until_ms > ?1) ORDER BY id")
            .map_err(self.db())?;
        let rows = statement
            .query_map([now_ms], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                ))
            })
            .map_err(self.db())?;
        let mut faults = Vec::new();
        for row in rows {
            let (fault, email, configuration) = row.map_err(self.db())?;
            if let Some(fault) = Fault::parse(&fault) {
                faults.push((fault, email, configuration));
            }
        }
        Ok(faults)
    }

    /// Every fault span, active or not, by user email and by configuration name.
    pub(super) fn fault_spans(&self) -> Result<TenantFaults, SandboxError> {
        let mut statement = self
            .connection()
            .prepare("SELECT fault, email, configuration, since_ms, until_ms FROM faults")
            .map_err(self.db())?;
        let mut by_user: HashMap<String, Vec<FaultSpan>> = HashMap::new();
        let mut by_configuration: HashMap<String, Vec<FaultSpan>> = HashMap::new();
        let rows = statement
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                ))
            })
            .map_err(self.db())?;
        for row in rows {
            let (fault, email, configuration, since_ms, until_ms) = row.map_err(self.db())?;
            let Some(fault) = Fault::parse(&fault) else {
                continue;
            };
            let span = FaultSpan {
                fault,
                since_ms,
                until_ms,
            };
            if let Some(email) = email {
                by_user.entry(email).or_default().push(span);
            }
            if let Some(configuration) = configuration {
                by_configuration
                    .entry(configuration)
                    .or_default()
                    .push(span);
            }
        }
        Ok(TenantFaults {
            by_user,
            by_configuration,
        })
    }
}
