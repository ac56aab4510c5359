//! Who is enabled on which configuration, and the permission re-checks asked for them: the two
//! per-user writes of the platform's bulk calls.
//!
//! This module owns the `assignments` and `rechecks` tables as they are written. How a user's
//! syncs go on what they are enabled on is the simulation's (`simulation.rs`), and reading users
//! back is `users.rs`'s.
//!
//! A bulk call costs a few statements, however many users it names: the users travel as one
//! JSON array (`json_each`) to statements prepared once per connection, and what each user's
//! result is gets decided here, in the call's order, from one read of who is on what.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use rusqlite::{Transaction, params};

use super::users::TenantView;
use super::write_ledger::{record_violation, record_writes};
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
        let op = if enabled { "enable" } else { "disable" };
        let view = self.cached_view();
        let (results, changed, current) = self.write_beside_users(|tx| {
            let (found, current) = look_up(tx, view.as_deref(), emails, configuration_id)?;
            let mut results = Vec::with_capacity(emails.len());
            let mut ledger: Vec<(&str, bool)> = Vec::with_capacity(emails.len());
            // Each user this call changes, once, with the email they were named by.
            let mut changed: Vec<(i64, &Email)> = Vec::new();
            // Whether each user is on the configuration after the mentions so far: a user named
            // twice is changed by the first and left unchanged by the second, as by two calls.
            let mut on_now: HashMap<i64, bool> = HashMap::new();
            for (email, user) in emails.iter().zip(found) {
                let Some((user_id, was_on)) = user else {
                    results.push(UserWrite { email: email.clone(), result: WriteResult::NotFound });
                    continue;
                };
                if enabled && !connected {
                    let reason = format!("the configuration {name:?} is not connected");
                    results.push(UserWrite { email: email.clone(), result: WriteResult::Failed(reason) });
                    continue;
                }
                let on = on_now.entry(user_id).or_insert(was_on);
                let change = *on != enabled;
                *on = enabled;
                if change {
                    changed.push((user_id, email));
                }
                ledger.push((email.as_str(), change));
                let result = if change { WriteResult::Changed } else { WriteResult::Unchanged };
                results.push(UserWrite { email: email.clone(), result });
            }
            if !changed.is_empty() {
                let ids = json(&changed.iter().map(|(id, _)| *id).collect::<Vec<i64>>())?;
                if enabled {
                    tx.prepare_cached(
                        "INSERT INTO assignments (user_id, configuration_id, enabled_ms)
                         SELECT value, ?2, ?3 FROM json_each(?1)",
                    )?
                    .execute(params![ids, configuration_id, now_ms])?;
                } else {
                    tx.prepare_cached(
                        "DELETE FROM assignments
                         WHERE configuration_id = ?2 AND user_id IN (SELECT value FROM json_each(?1))",
                    )?
                    .execute(params![ids, configuration_id])?;
                    let stranded = stranded(tx, &ids)?;
                    for (user_id, email) in &changed {
                        if stranded.contains(user_id) {
                            record_violation(
                                tx,
                                now_ms,
                                "user_without_configuration",
                                &format!("{email} was left with no enabled configuration when {name:?} was disabled"),
                            )?;
                        }
                    }
                }
            }
            record_writes(tx, now_ms, op, &ledger, &name)?;
            let changed: Vec<i64> = changed.into_iter().map(|(id, _)| id).collect();
            Ok((results, changed, current))
        })?;
        // The view the users were found in, with this write's changes: the next read of the
        // users (a gate's, the next decision's) then costs no read of the assignments.
        if let Some(view) = view.filter(|_| current) {
            let version = self.version().map_err(self.db())?;
            if version.0 == view.version().0 {
                if let Some(patched) =
                    view.with_assignments(version, configuration_id, &changed, enabled, now_ms)
                {
                    self.cache_view(Arc::new(patched));
                }
            }
        }
        Ok(results)
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
        let view = self.cached_view();
        self.write_beside_users(|tx| {
            let (found, _) = look_up(tx, view.as_deref(), emails, configuration_id)?;
            let mut ids: Vec<i64> = Vec::with_capacity(emails.len());
            let mut ledger: Vec<(&str, bool)> = Vec::with_capacity(emails.len());
            for (email, user) in emails.iter().zip(found) {
                if let Some((user_id, _)) = user {
                    ids.push(user_id);
                    ledger.push((email.as_str(), false));
                }
            }
            if !ids.is_empty() {
                tx.prepare_cached(
                    "INSERT INTO rechecks (user_id, configuration_id, at_ms)
                     SELECT value, ?2, ?3 FROM json_each(?1) ORDER BY key",
                )?
                .execute(params![json(&ids)?, configuration_id, now_ms])?;
            }
            record_writes(tx, now_ms, "recheck", &ledger, &configuration.display_name)
        })
    }
}

/// A user a bulk call names: their id and whether they are on the configuration (`None`: the
/// tenant has no such user).
type Found = Option<(i64, bool)>;

/// Each email's user, in the order given: their id, and whether they are on `configuration`
/// (`None`: the tenant has no such user). From `view` when it is still the file as `tx` sees
/// it (a run's bulk writes, one after another, each leave it so: see `users.rs`), which costs a
/// binary search per email in memory instead of an index lookup and a join in the file. Says
/// whether it was.
fn look_up(
    tx: &Transaction<'_>,
    view: Option<&TenantView>,
    emails: &[Email],
    configuration: i64,
) -> rusqlite::Result<(Vec<Found>, bool)> {
    if let Some(view) = view {
        if view.is_current(tx)? {
            let mut hint = 0;
            let found = emails
                .iter()
                .map(|email| view.user_on(email.as_str(), configuration, &mut hint))
                .collect();
            return Ok((found, true));
        }
    }
    let mut found = vec![None; emails.len()];
    if emails.is_empty() {
        return Ok((found, false));
    }
    let emails = json(&emails.iter().map(Email::as_str).collect::<Vec<&str>>())?;
    let mut statement = tx.prepare_cached(
        "SELECT j.key, u.id, a.user_id IS NOT NULL
         FROM json_each(?1) AS j
         JOIN users AS u ON u.email = j.value
         LEFT JOIN assignments AS a ON a.user_id = u.id AND a.configuration_id = ?2",
    )?;
    let mut rows = statement.query(params![emails, configuration])?;
    while let Some(row) = rows.next()? {
        let key: i64 = row.get(0)?;
        if let Some(slot) = usize::try_from(key).ok().and_then(|k| found.get_mut(k)) {
            *slot = Some((row.get(1)?, row.get(2)?));
        }
    }
    Ok((found, false))
}

/// Of the users with these ids (a JSON array), those left on no configuration that is not
/// disconnected.
fn stranded(tx: &Transaction<'_>, ids: &str) -> rusqlite::Result<HashSet<i64>> {
    let mut statement = tx.prepare_cached(
        "SELECT j.value FROM json_each(?1) AS j
         WHERE NOT EXISTS (
             SELECT 1 FROM assignments AS a JOIN configurations AS c ON c.id = a.configuration_id
             WHERE a.user_id = j.value AND c.state != 'disconnected'
         )",
    )?;
    let ids = statement.query_map([ids], |r| r.get(0))?;
    ids.collect()
}

/// A statement's list parameter, as the JSON array `json_each` reads.
pub(super) fn json<T: serde::Serialize + ?Sized>(value: &T) -> rusqlite::Result<String> {
    serde_json::to_string(value).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
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

    /// What a bulk write finds of its users is the same whether it comes from the view read
    /// before it (a run reads, then writes) or from the file, and a view another connection's
    /// commit made stale is not used.
    #[test]
    fn a_bulk_write_finds_its_users_in_the_view_as_in_the_file() {
        let (_dir_a, mut viewed, users) = sandbox("part-migrated");
        let (_dir_b, mut plain, _) = sandbox("part-migrated");
        let missing = email("nobody@contoso.example");
        let calls: [(&str, Vec<Email>, bool); 4] = [
            (
                OAUTH,
                vec![
                    users[0].clone(),
                    missing.clone(),
                    users[16].clone(),
                    users[0].clone(),
                    users[19].clone(),
                ],
                true,
            ),
            (
                BASIC,
                vec![
                    users[16].clone(),
                    users[20].clone(),
                    users[1].clone(),
                    users[1].clone(),
                ],
                false,
            ),
            (
                OAUTH,
                vec![users[10].clone(), users[2].clone(), missing.clone()],
                false,
            ),
            (
                BASIC,
                vec![users[10].clone(), users[2].clone(), users[19].clone()],
                true,
            ),
        ];
        for (at, (configuration, call, enabled)) in calls.iter().enumerate() {
            let now = 1_000 * (at as i64 + 1);
            viewed.users(None, usize::MAX, now).expect("read");
            assert!(viewed.cached_view().is_some());
            let from_view = viewed
                .set_enabled(configuration, call, *enabled, now)
                .expect("write");
            let from_file = plain
                .set_enabled(configuration, call, *enabled, now)
                .expect("write");
            assert_eq!(results(&from_view), results(&from_file), "call {at}");
            // The view kept after the write is what reading the file again gives.
            let kept = viewed.cached_view().expect("a view kept");
            assert!(
                kept.is_current(viewed.connection()).expect("version"),
                "call {at}"
            );
            let fresh = SandboxFile::open(viewed.path()).expect("open");
            let later = now + 500;
            assert_eq!(
                viewed.users(None, usize::MAX, later).expect("read").0,
                fresh.users(None, usize::MAX, later).expect("read").0,
                "call {at}"
            );
        }
        assert_eq!(ledger(&viewed, 0), ledger(&plain, 0));
        assert_eq!(on(&viewed, OAUTH), on(&plain, OAUTH));
        assert_eq!(on(&viewed, BASIC), on(&plain, BASIC));
        assert_eq!(
            viewed.violations().expect("violations").len(),
            plain.violations().expect("violations").len()
        );

        // Another process enables user 3 on OAuth after the view was read: the write sees it.
        viewed.users(None, usize::MAX, 9_000).expect("read");
        let other = rusqlite::Connection::open(viewed.path()).expect("second connection");
        let id: i64 = other
            .query_row(
                "SELECT id FROM users WHERE email = ?1",
                [users[3].as_str()],
                |r| r.get(0),
            )
            .expect("id");
        other
            .execute(
                "INSERT INTO assignments (user_id, configuration_id, enabled_ms) VALUES (?1, 2, 9000)",
                [id],
            )
            .expect("edit");
        let written = viewed
            .set_enabled(OAUTH, std::slice::from_ref(&users[3]), true, 9_500)
            .expect("write");
        assert_eq!(results(&written), [format!("{} Unchanged", users[3])]);
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
