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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::{Scenario, ScenarioOptions};
    use crate::target::{AuthType, NewConfiguration};

    const BASIC: &str = "1";
    const OAUTH: &str = "2";

    /// A sandbox of `scenario`, and its users' emails in the order it made them.
    fn sandbox(scenario: &str) -> (tempfile::TempDir, SandboxFile, Vec<Email>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tenant.db");
        let tenant = Scenario::find(scenario)
            .expect("scenario")
            .tenant(ScenarioOptions::default());
        SandboxFile::create(&path, &tenant, scenario, 0).expect("create");
        let file = SandboxFile::open(&path).expect("open");
        let emails = tenant
            .users
            .iter()
            .map(|u| Email::parse(&u.email).expect("email"))
            .collect();
        (dir, file, emails)
    }

    fn email(text: &str) -> Email {
        Email::parse(text).expect("email")
    }

    /// Each result, as `email result`.
    fn results(writes: &[UserWrite]) -> Vec<String> {
        writes
            .iter()
            .map(|w| format!("{} {:?}", w.email, w.result))
            .collect()
    }

    /// The ledger from row `from` on, as `op user configuration changed`.
    fn ledger(file: &SandboxFile, from: usize) -> Vec<String> {
        let writes = file.writes().expect("writes");
        writes[from..]
            .iter()
            .map(|w| {
                format!(
                    "{} {} {} {}",
                    w.op,
                    w.user.as_deref().unwrap_or("-"),
                    w.configuration.as_deref().unwrap_or("-"),
                    w.changed
                )
            })
            .collect()
    }

    /// Who is on `configuration`, and since when, in email order.
    fn on(file: &SandboxFile, configuration: &str) -> Vec<(String, i64)> {
        let mut statement = file
            .connection()
            .prepare(
                "SELECT u.email, a.enabled_ms FROM assignments a JOIN users u ON u.id = a.user_id
                 WHERE a.configuration_id = ?1 ORDER BY u.email",
            )
            .expect("prepare");
        statement
            .query_map([configuration], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    }

    #[test]
    fn a_bulk_write_reports_each_user_as_one_write_after_another_would() {
        // part-migrated: users 0-9 on Basic Auth, 10-15 on OAuth, 16-18 on both, 19-20 on neither.
        let (_dir, mut file, users) = sandbox("part-migrated");
        let missing = email("nobody@contoso.example");
        let before = file.writes().expect("writes").len();

        let call = [
            users[0].clone(),
            missing.clone(),
            users[16].clone(),
            users[0].clone(),
            users[10].clone(),
            users[19].clone(),
        ];
        let written = file.set_enabled(OAUTH, &call, true, 5_000).expect("enable");
        let u = |i: usize| users[i].to_string();
        assert_eq!(
            results(&written),
            [
                format!("{} Changed", u(0)),
                format!("{missing} NotFound"),
                format!("{} Unchanged", u(16)),
                format!("{} Unchanged", u(0)),
                format!("{} Unchanged", u(10)),
                format!("{} Changed", u(19)),
            ]
        );
        // One row per user found, in the call's order; nobody for the missing one.
        assert_eq!(
            ledger(&file, before),
            [
                format!("enable {} OAuth true", u(0)),
                format!("enable {} OAuth false", u(16)),
                format!("enable {} OAuth false", u(0)),
                format!("enable {} OAuth false", u(10)),
                format!("enable {} OAuth true", u(19)),
            ]
        );
        let on_oauth = on(&file, OAUTH);
        assert!(on_oauth.contains(&(u(0), 5_000)) && on_oauth.contains(&(u(19), 5_000)));
        assert!(on_oauth.contains(&(u(16), -86_400_000)), "{on_oauth:?}");
        assert!(file.violations().expect("violations").is_empty());

        // Disabling Basic Auth: user 16 keeps OAuth; user 1 is left on nothing, once.
        let before = file.writes().expect("writes").len();
        let call = [
            users[16].clone(),
            users[20].clone(),
            users[1].clone(),
            missing.clone(),
            users[1].clone(),
            users[0].clone(),
        ];
        let written = file
            .set_enabled(BASIC, &call, false, 6_000)
            .expect("disable");
        assert_eq!(
            results(&written),
            [
                format!("{} Changed", u(16)),
                format!("{} Unchanged", u(20)),
                format!("{} Changed", u(1)),
                format!("{missing} NotFound"),
                format!("{} Unchanged", u(1)),
                format!("{} Changed", u(0)),
            ]
        );
        assert_eq!(
            ledger(&file, before),
            [
                format!("disable {} Basic Auth true", u(16)),
                format!("disable {} Basic Auth false", u(20)),
                format!("disable {} Basic Auth true", u(1)),
                format!("disable {} Basic Auth false", u(1)),
                format!("disable {} Basic Auth true", u(0)),
            ]
        );
        let violations: Vec<String> = file
            .violations()
            .expect("violations")
            .into_iter()
            .map(|v| format!("{} {} {}", v.at_ms, v.kind, v.detail))
            .collect();
        assert_eq!(
            violations,
            [format!(
                "6000 user_without_configuration {} was left with no enabled configuration when \"Basic Auth\" was disabled",
                u(1)
            )]
        );
        let on_basic: Vec<String> = on(&file, BASIC).into_iter().map(|(e, _)| e).collect();
        assert!(!on_basic.contains(&u(0)) && !on_basic.contains(&u(1)));
        assert!(on_basic.contains(&u(2)));
    }

    #[test]
    fn enabling_on_a_configuration_not_connected_fails_for_each_user_found() {
        let (_dir, mut file, users) = sandbox("demo");
        let new = NewConfiguration {
            display_name: "OAuth".to_owned(),
            auth_type: AuthType::Oauth,
            tenant_id: "contoso.onmicrosoft.com".to_owned(),
            exchange_version: None,
            service_address: None,
            login_hint: None,
        };
        let pending = file.create_configuration(&new, 1_000).expect("create");
        let before = file.writes().expect("writes").len();
        let missing = email("nobody@contoso.example");
        let call = [users[0].clone(), missing.clone()];
        let written = file
            .set_enabled(&pending.id, &call, true, 2_000)
            .expect("enable");
        assert_eq!(
            results(&written),
            [
                format!(
                    "{} Failed(\"the configuration \\\"OAuth\\\" is not connected\")",
                    users[0]
                ),
                format!("{missing} NotFound"),
            ]
        );
        assert!(ledger(&file, before).is_empty());
        assert!(on(&file, &pending.id).is_empty());
        // Disabling needs no connection.
        let written = file
            .set_enabled(&pending.id, &call, false, 3_000)
            .expect("disable");
        assert_eq!(
            results(&written),
            [
                format!("{} Unchanged", users[0]),
                format!("{missing} NotFound"),
            ]
        );
        assert!(matches!(
            file.set_enabled("99", &call, true, 3_000),
            Err(SandboxError::NoSuchConfiguration { .. })
        ));
    }

    #[test]
    fn a_bulk_write_that_fails_part_way_changes_nothing() {
        let (_dir, mut file, users) = sandbox("demo");
        let before = file.writes().expect("writes").len();
        let on_basic = on(&file, BASIC);
        // The ledger refuses the third user's row: the first two are not disabled either.
        file.connection()
            .execute_batch(&format!(
                "CREATE TRIGGER refuse BEFORE INSERT ON writes WHEN NEW.user = '{}'
                 BEGIN SELECT RAISE(ABORT, 'refused'); END;",
                users[2]
            ))
            .expect("trigger");
        let call = [users[0].clone(), users[1].clone(), users[2].clone()];
        assert!(file.set_enabled(BASIC, &call, false, 2_000).is_err());
        assert_eq!(on(&file, BASIC), on_basic);
        assert_eq!(file.writes().expect("writes").len(), before);
        assert!(file.violations().expect("violations").is_empty());
    }

    #[test]
    fn a_recheck_is_recorded_for_each_user_found() {
        let (_dir, mut file, users) = sandbox("demo");
        let before = file.writes().expect("writes").len();
        let missing = email("nobody@contoso.example");
        let call = [
            users[3].clone(),
            missing,
            users[3].clone(),
            users[4].clone(),
        ];
        file.recheck(BASIC, &call, 7_000).expect("recheck");
        assert_eq!(
            ledger(&file, before),
            [
                format!("recheck {} Basic Auth false", users[3]),
                format!("recheck {} Basic Auth false", users[3]),
                format!("recheck {} Basic Auth false", users[4]),
            ]
        );
        let rechecks: Vec<(String, i64)> = file
            .connection()
            .prepare(
                "SELECT u.email, r.at_ms FROM rechecks r JOIN users u ON u.id = r.user_id
                 WHERE r.configuration_id = 1 ORDER BY r.rowid",
            )
            .expect("prepare")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(
            rechecks,
            [
                (users[3].to_string(), 7_000),
                (users[3].to_string(), 7_000),
                (users[4].to_string(), 7_000)
            ]
        );
    }
}
