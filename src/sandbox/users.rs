//! Reading users back: a page of users in email order, each with what they are enabled on and
//! their latest sync results, as the platform's `GET /users` answers.
//!
//! This module owns the paging and the reads behind it. A page is cut from a [`TenantView`]: the
//! tenant's users, configurations, faults, sync interval, assignments and permission re-checks,
//! each table read in one pass and kept while the file is unchanged (SQLite's `data_version` for
//! other processes' commits, the connection's change count for its own) — so a full read of the
//! platform reads them once, not once per page. What a page shows of a user that does not depend
//! on the clock is worked out when the view is read (the email validated, the groups parsed, the
//! assignments and faults matched to the user and the configuration), so that cutting a page
//! costs the users' own copies and their syncs. How each sync went is computed by the simulation
//! (`simulation.rs`), never stored. Writing assignments is `assignments.rs`'s.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use rusqlite::Row;
use rusqlite::types::ValueRef;

use super::simulation::{self, Enabled, FaultSpan};
use super::{SandboxError, SandboxFile};
use crate::plan::grammar::Email;
use crate::target::{Configuration, ConfigurationId, PlatformUser};

/// One row of `users`, as a page needs it.
struct UserRow {
    id: i64,
    /// The email as stored, in the view's `text`: pages are cut, and syncs spread, by it.
    stored_email: Range<usize>,
    /// The same email, validated.
    email: Email,
    location: Range<usize>,
    /// Index into the view's `group_sets`.
    groups: usize,
    /// This user's assignments in the view's `enabled`.
    enabled: Range<usize>,
    /// This user's fault spans in the view's `user_faults`.
    faults: Range<usize>,
}

/// A configuration, with what its users' entries need of it.
struct ViewConfiguration {
    configuration: Configuration,
    /// Its id as the tables key it (`None`: an id that is no number, which no row refers to).
    number: Option<i64>,
    /// Its id as users carry it: one copy for all of them.
    id: ConfigurationId,
    faults: Vec<FaultSpan>,
}

/// The tenant as a page of users is computed from: every user row, configuration, fault,
/// assignment and re-check, and the sync interval. The rows' text is one buffer and their groups
/// are parsed once per distinct value, so reading and dropping a view of a large tenant costs a
/// few allocations, not a few per user.
pub(crate) struct TenantView {
    /// `(PRAGMA data_version, total changes of this connection)` when it was read.
    version: (i64, u64),
    text: String,
    /// In id order.
    users: Vec<UserRow>,
    /// Indexes into `users`, in email order (byte order of the stored emails, as `ORDER BY
    /// email` gives them).
    order: Vec<usize>,
    /// Each distinct `groups` value, parsed.
    group_sets: Vec<Vec<String>>,
    configurations: Vec<ViewConfiguration>,
    /// `(index into configurations, enabled since)`: each user's in configuration id order.
    enabled: Vec<(usize, i64)>,
    /// Every user fault span, by user.
    user_faults: Vec<FaultSpan>,
    interval_ms: i64,
    /// `(user id, configuration id, re-checked at)`, sorted.
    rechecks: Vec<(i64, i64, i64)>,
}

impl TenantView {
    fn stored_email(&self, row: &UserRow) -> &str {
        &self.text[row.stored_email.clone()]
    }

    /// The user at `position` in email order.
    fn row_at(&self, position: usize) -> &UserRow {
        &self.users[self.order[position]]
    }

    /// One row as the platform reports it at `now_ms`. `enabled` is scratch space, reused
    /// across rows.
    fn user<'v>(
        &'v self,
        row: &UserRow,
        now_ms: i64,
        enabled: &mut Vec<Enabled<'v>>,
    ) -> PlatformUser {
        enabled.clear();
        for &(i, enabled_ms) in &self.enabled[row.enabled.clone()] {
            let on = &self.configurations[i];
            enabled.push(Enabled {
                configuration: &on.configuration,
                id: &on.id,
                faults: &on.faults,
                enabled_ms,
                latest_recheck_ms: on
                    .number
                    .and_then(|number| self.latest_recheck(row.id, number, now_ms)),
            });
        }
        // The email as stored: a user's sync offset is computed from it.
        let sync = simulation::sync_results(
            self.stored_email(row),
            &self.user_faults[row.faults.clone()],
            enabled,
            self.interval_ms,
            now_ms,
        );
        PlatformUser {
            email: row.email.clone(),
            location: self.text[row.location.clone()].to_owned(),
            groups: self.group_sets[row.groups].clone(),
            enabled: enabled.iter().map(|on| on.id.clone()).collect(),
            sync,
        }
    }

    /// The latest re-check of `user` on `configuration` at or before `now_ms`.
    fn latest_recheck(&self, user: i64, configuration: i64, now_ms: i64) -> Option<i64> {
        if self.rechecks.is_empty() {
            return None;
        }
        let end = self
            .rechecks
            .partition_point(|r| (r.0, r.1, r.2) <= (user, configuration, now_ms));
        let latest = self.rechecks.get(end.checked_sub(1)?)?;
        (latest.0 == user && latest.1 == configuration).then_some(latest.2)
    }
}

impl SandboxFile {
    /// A page of users in email order, with their sync results as of `now_ms`.
    pub(crate) fn users(
        &self,
        after: Option<&str>,
        limit: usize,
        now_ms: i64,
    ) -> Result<(Vec<PlatformUser>, bool), SandboxError> {
        let view = self.tenant_view()?;
        let after = after.unwrap_or("");
        let start = view
            .order
            .partition_point(|&i| view.stored_email(&view.users[i]) <= after);
        let end = start.saturating_add(limit.max(1)).min(view.order.len());
        let mut enabled: Vec<Enabled<'_>> = Vec::new();
        let users = (start..end)
            .map(|position| view.user(view.row_at(position), now_ms, &mut enabled))
            .collect();
        Ok((users, end < view.order.len()))
    }

    /// The users with these emails, in email order, as a page would show them; emails the
    /// tenant does not have are left out. A lookup per email in the view, so a gate that reads
    /// its step's members costs what the step costs, not what the tenant does.
    pub(crate) fn users_by_email(
        &self,
        emails: &[Email],
        now_ms: i64,
    ) -> Result<Vec<PlatformUser>, SandboxError> {
        let view = self.tenant_view()?;
        let mut wanted: Vec<&str> = emails.iter().map(Email::as_str).collect();
        wanted.sort_unstable();
        wanted.dedup();
        let mut enabled: Vec<Enabled<'_>> = Vec::new();
        Ok(wanted
            .into_iter()
            .filter_map(|email| {
                let position = view
                    .order
                    .binary_search_by(|&i| view.stored_email(&view.users[i]).cmp(email))
                    .ok()?;
                Some(view.user(view.row_at(position), now_ms, &mut enabled))
            })
            .collect())
    }

    pub(crate) fn all_users(&self, now_ms: i64) -> Result<Vec<PlatformUser>, SandboxError> {
        let mut all: Vec<PlatformUser> = Vec::new();
        loop {
            let after = all.last().map(|u| u.email.to_string());
            let (page, more) = self.users(after.as_deref(), 5_000, now_ms)?;
            all.extend(page);
            if !more {
                return Ok(all);
            }
        }
    }

    /// The tenant as the users' entries need it: kept from the last read while the file is
    /// unchanged, read again otherwise.
    fn tenant_view(&self) -> Result<Arc<TenantView>, SandboxError> {
        let data_version: i64 = self
            .connection()
            .prepare_cached("PRAGMA data_version")
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .map_err(self.db())?;
        let version = (data_version, self.connection().total_changes());
        let previous = self.cached_view();
        if let Some(view) = previous.as_ref().filter(|v| v.version == version) {
            return Ok(Arc::clone(view));
        }
        let view = Arc::new(self.read_tenant_view(version, previous.as_deref())?);
        self.cache_view(Arc::clone(&view));
        Ok(view)
    }

    /// Reads the whole tenant, each table in one pass in storage order (no index lookups), in
    /// one read transaction so that the tables agree with each other. What `previous` (the view
    /// this one replaces) worked out of rows that have not changed since is kept: the users of a
    /// run's readings change rarely, their assignments after every write.
    fn read_tenant_view(
        &self,
        version: (i64, u64),
        previous: Option<&TenantView>,
    ) -> Result<TenantView, SandboxError> {
        let connection = self.connection();
        let read = connection.unchecked_transaction().map_err(self.db())?;
        let mut text = String::new();
        let mut users: Vec<UserRow> = Vec::new();
        let mut group_sets: Vec<Vec<String>> = Vec::new();
        let mut group_index: HashMap<String, usize> = HashMap::new();
        let earlier = previous.map_or(&[][..], |p| p.users.as_slice());
        let mut next_earlier = 0;
        // Whether every row so far is the one at the same place in `previous`, same id and email.
        let mut same_users = previous.is_some();
        {
            let mut statement = read
                .prepare_cached("SELECT id, email, location, groups FROM users")
                .map_err(self.db())?;
            let mut rows = statement.query([]).map_err(self.db())?;
            while let Some(r) = rows.next().map_err(self.db())? {
                let id: i64 = r.get(0).map_err(self.db())?;
                let bad = |message: String| SandboxError::BadUser {
                    path: self.path().to_path_buf(),
                    id,
                    message,
                };
                let stored = text_column(r, 1, "email").map_err(bad)?;
                // Rows come in id order, as `previous`'s are kept: one walk finds each id there.
                while earlier.get(next_earlier).is_some_and(|e| e.id < id) {
                    next_earlier += 1;
                }
                let kept = earlier.get(next_earlier).filter(|e| {
                    e.id == id && previous.is_some_and(|p| p.stored_email(e) == stored)
                });
                same_users &= kept.is_some() && next_earlier == users.len();
                let email = match kept {
                    Some(e) => e.email.clone(),
                    None => Email::parse(stored).map_err(|e| bad(e.message))?,
                };
                let start = text.len();
                text.push_str(stored);
                let stored_email = start..text.len();
                text.push_str(text_column(r, 2, "location").map_err(bad)?);
                let location = stored_email.end..text.len();
                let groups_json = text_column(r, 3, "groups").map_err(bad)?;
                let groups = match group_index.get(groups_json) {
                    Some(&i) => i,
                    None => {
                        group_sets.push(parse_groups(groups_json));
                        group_index.insert(groups_json.to_owned(), group_sets.len() - 1);
                        group_sets.len() - 1
                    }
                };
                users.push(UserRow {
                    id,
                    stored_email,
                    email,
                    location,
                    groups,
                    enabled: 0..0,
                    faults: 0..0,
                });
            }
        }
        if !users.is_sorted_by_key(|u| u.id) {
            users.sort_unstable_by_key(|u| u.id);
            same_users = false;
        }
        same_users &= earlier.len() == users.len();

        let faults = self.fault_spans()?;
        let configurations: Vec<ViewConfiguration> = self
            .configurations()?
            .into_iter()
            .map(|configuration| ViewConfiguration {
                number: configuration.id.parse().ok(),
                id: ConfigurationId::from(&configuration.id),
                faults: faults
                    .by_configuration
                    .get(&configuration.display_name)
                    .cloned()
                    .unwrap_or_default(),
                configuration,
            })
            .collect();

        // Each user's assignments, found in one merge of the two lists by user id; an
        // assignment to a configuration the tenant does not have is no assignment.
        let assignments = self.triples(
            &read,
            "SELECT user_id, configuration_id, enabled_ms FROM assignments",
        )?;
        let mut enabled = Vec::with_capacity(assignments.len());
        let mut next = 0;
        for user in &mut users {
            while assignments.get(next).is_some_and(|a| a.0 < user.id) {
                next += 1;
            }
            let start = enabled.len();
            while let Some(&(_, configuration, enabled_ms)) =
                assignments.get(next).filter(|a| a.0 == user.id)
            {
                if let Some(i) = configurations
                    .iter()
                    .position(|c| c.number == Some(configuration))
                {
                    enabled.push((i, enabled_ms));
                }
                next += 1;
            }
            user.enabled = start..enabled.len();
        }

        // The same users with the same emails are in the same order.
        let order = match previous.filter(|_| same_users) {
            Some(previous) => previous.order.clone(),
            None => self.email_order(&read, &users)?,
        };

        // Each user's fault spans, found by the email they were switched on for.
        let stored = |i: usize| &text[users[i].stored_email.clone()];
        let mut spans: Vec<(usize, FaultSpan)> = Vec::new();
        for (email, list) in &faults.by_user {
            if let Ok(position) = order.binary_search_by(|&i| stored(i).cmp(email)) {
                spans.extend(list.iter().map(|span| (order[position], *span)));
            }
        }
        spans.sort_by_key(|(i, _)| *i);
        let mut start = 0;
        while let Some(&(i, _)) = spans.get(start) {
            let end = start + spans[start..].partition_point(|(j, _)| *j == i);
            users[i].faults = start..end;
            start = end;
        }
        let user_faults = spans.into_iter().map(|(_, span)| span).collect();

        let view = TenantView {
            version,
            text,
            users,
            order,
            group_sets,
            configurations,
            enabled,
            user_faults,
            interval_ms: self.sync_interval_ms()?,
            rechecks: self.triples(
                &read,
                "SELECT user_id, configuration_id, at_ms FROM rechecks",
            )?,
        };
        read.commit().map_err(self.db())?;
        Ok(view)
    }

    /// Indexes into `users` (in id order) in email order: a scan of the email index alone (it
    /// holds the ids), so SQLite orders them without a lookup per user.
    fn email_order(
        &self,
        read: &rusqlite::Transaction<'_>,
        users: &[UserRow],
    ) -> Result<Vec<usize>, SandboxError> {
        // Ids are usually `first..=last` without a gap: then an id's index is a subtraction.
        let first = users.first().map_or(0, |u| u.id);
        let dense = users
            .last()
            .is_some_and(|u| usize::try_from(u.id - first).ok() == Some(users.len() - 1));
        let index_of = |id: i64| -> Option<usize> {
            if dense {
                usize::try_from(id - first)
                    .ok()
                    .filter(|&i| i < users.len())
            } else {
                users.binary_search_by_key(&id, |u| u.id).ok()
            }
        };
        let mut statement = read
            .prepare_cached("SELECT id FROM users ORDER BY email")
            .map_err(self.db())?;
        let mut rows = statement.query([]).map_err(self.db())?;
        let mut order = Vec::with_capacity(users.len());
        while let Some(r) = rows.next().map_err(self.db())? {
            if let Some(i) = index_of(r.get(0).map_err(self.db())?) {
                order.push(i);
            }
        }
        Ok(order)
    }

    /// Every row of a query of three integers, sorted.
    fn triples(
        &self,
        read: &rusqlite::Transaction<'_>,
        sql: &str,
    ) -> Result<Vec<(i64, i64, i64)>, SandboxError> {
        let mut statement = read.prepare_cached(sql).map_err(self.db())?;
        let mut rows = statement.query([]).map_err(self.db())?;
        let mut triples = Vec::new();
        while let Some(r) = rows.next().map_err(self.db())? {
            triples.push((
                r.get(0).map_err(self.db())?,
                r.get(1).map_err(self.db())?,
                r.get(2).map_err(self.db())?,
            ));
        }
        triples.sort_unstable();
        Ok(triples)
    }
}

/// A text column of a `users` row, or why it is not one.
fn text_column<'r>(row: &'r Row<'_>, i: usize, name: &str) -> Result<&'r str, String> {
    match row.get_ref(i) {
        Ok(ValueRef::Text(bytes)) => {
            std::str::from_utf8(bytes).map_err(|_| format!("its {name} is not UTF-8 text"))
        }
        Ok(_) => Err(format!("its {name} is not text")),
        Err(e) => Err(e.to_string()),
    }
}

/// A user's groups, stored as a JSON array of strings. The plain form the sandbox writes
/// (`["IT","Staff"]`, no escapes) is split directly; anything else goes through a JSON parser.
fn parse_groups(json: &str) -> Vec<String> {
    let plain = json
        .strip_prefix('[')
        .and_then(|j| j.strip_suffix(']'))
        .filter(|inner| !inner.contains('\\'));
    match plain {
        Some("") => Vec::new(),
        Some(inner) => {
            let groups: Option<Vec<String>> = inner
                .split(',')
                .map(|g| {
                    g.strip_prefix('"')
                        .and_then(|g| g.strip_suffix('"'))
                        .filter(|g| !g.contains('"'))
                        .map(str::to_owned)
                })
                .collect();
            groups.unwrap_or_else(|| serde_json::from_str(json).unwrap_or_default())
        }
        None => serde_json::from_str(json).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::*;
    use crate::sandbox::{Scenario, ScenarioOptions};

    /// A sandbox of `scenario`, and another connection to its file, as a second process (or a
    /// hand edit) would have.
    fn sandbox(scenario: &str) -> (tempfile::TempDir, SandboxFile, Connection) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tenant.db");
        let tenant = Scenario::find(scenario)
            .expect("scenario")
            .tenant(ScenarioOptions::default());
        SandboxFile::create(&path, &tenant, scenario, 0).expect("create");
        let file = SandboxFile::open(&path).expect("open");
        let other = Connection::open(&path).expect("second connection");
        (dir, file, other)
    }

    fn everyone(file: &SandboxFile, now_ms: i64) -> Vec<PlatformUser> {
        file.users(None, usize::MAX, now_ms).expect("users").0
    }

    #[test]
    fn a_bad_email_in_the_file_is_an_error_that_names_its_row() {
        let (dir, file, other) = sandbox("demo");
        // Read once first: what the view kept of the row must not hide the edit.
        assert_eq!(everyone(&file, 0).len(), 48);
        for (edit, why) in [
            (
                "UPDATE users SET email = 'ana at contoso' WHERE id = 3",
                "is not an email address",
            ),
            (
                "UPDATE users SET email = X'616e61' WHERE id = 3",
                "its email is not text",
            ),
        ] {
            other.execute_batch(edit).expect("edit");
            for error in [
                file.users(None, 10, 0).map(|_| ()),
                file.users_by_email(&[Email::parse("ana@contoso.example").expect("email")], 0)
                    .map(|_| ()),
            ] {
                let Err(error) = error else {
                    panic!("{edit}: read a bad email");
                };
                assert!(
                    matches!(error, SandboxError::BadUser { id: 3, .. }),
                    "{error:?}"
                );
                let message = error.to_string();
                assert!(
                    message.contains(&dir.path().join("tenant.db").display().to_string())
                        && message.contains("user 3 of table `users`")
                        && message.contains(why),
                    "{message}"
                );
            }
        }
        other
            .execute_batch("UPDATE users SET email = 'ana.again@contoso.example' WHERE id = 3")
            .expect("edit");
        assert_eq!(everyone(&file, 0).len(), 48);
    }

    #[test]
    fn a_reading_after_changes_is_what_a_first_reading_is() {
        let (dir, mut file, other) = sandbox("part-migrated");
        let now_ms = 10_000;
        let first = everyone(&file, now_ms);
        let fresh = |now_ms| {
            everyone(
                &SandboxFile::open(&dir.path().join("tenant.db")).expect("open"),
                now_ms,
            )
        };
        assert_eq!(first, fresh(now_ms));

        // Written by this connection: assignments change, users do not.
        let emails: Vec<Email> = first.iter().take(5).map(|u| u.email.clone()).collect();
        file.set_enabled("2", &emails, true, now_ms)
            .expect("enable");
        let after_write = everyone(&file, now_ms + 5_000);
        assert_ne!(after_write, first);
        assert_eq!(after_write, fresh(now_ms + 5_000));

        // Edited by another process: an email changed (and so the order), a user added, one
        // removed, an attribute changed, a fault switched on.
        other
            .execute_batch(
                "UPDATE users SET email = 'zz-last@contoso.example' WHERE id = 2;
                 INSERT INTO users (email, name, location, groups) VALUES ('aaa@contoso.example', 'A', 'East', '[\"IT\"]');
                 DELETE FROM assignments WHERE user_id = 7;
                 DELETE FROM users WHERE id = 7;
                 UPDATE users SET location = 'North', groups = '[\"Sales\",\"IT\"]' WHERE id = 9;
                 INSERT INTO faults (fault, email, since_ms) SELECT 'throttle', email, 0 FROM users WHERE id = 12;",
            )
            .expect("edit");
        let edited = everyone(&file, now_ms + 5_000);
        assert_eq!(edited, fresh(now_ms + 5_000));
        assert_eq!(edited.len(), first.len());
        assert_eq!(edited[0].email.as_str(), "aaa@contoso.example");
        assert_eq!(
            edited.last().map(|u| u.email.as_str()),
            Some("zz-last@contoso.example")
        );
        assert!(edited.windows(2).all(|w| w[0].email < w[1].email));
    }

    #[test]
    fn groups_read_as_json_does() {
        for json in [
            "[]",
            "[\"IT\"]",
            "[\"IT\",\"Staff\"]",
            "[\"IT\", \"Staff\"]",
            "[\"a,b\",\"c\"]",
            "[\"say \\\"hi\\\"\"]",
            "[\"\"]",
            "not json",
            "",
            "[1]",
        ] {
            let expected: Vec<String> = serde_json::from_str(json).unwrap_or_default();
            assert_eq!(parse_groups(json), expected, "{json:?}");
        }
    }
}
