//! Reading users back: a page of users in email order, each with what they are enabled on and
//! their latest sync results, as the platform's `GET /users` answers.
//!
//! This module owns the paging and the reads behind it. A page is cut from a [`TenantView`]: the
//! tenant's users, configurations, faults, sync interval, assignments and permission re-checks,
//! each table read in one pass and kept while the file is unchanged (SQLite's `data_version` for
//! other processes' commits, the connection's change count for its own) — so a full read of the
//! platform reads them once, not once per page. How each sync went is computed by the simulation
//! (`simulation.rs`), never stored. Writing assignments is `assignments.rs`'s.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use super::simulation::{self, Enabled, TenantFaults};
use super::{SandboxError, SandboxFile};
use crate::plan::grammar::Email;
use crate::target::{Configuration, PlatformUser};

/// One row of `users`: its text lives in the view's `text`, at these ranges.
struct UserRow {
    id: i64,
    email: Range<usize>,
    location: Range<usize>,
    /// A JSON array of group names.
    groups: Range<usize>,
    /// This user's entries in the view's `enabled`.
    enabled: Range<usize>,
}

/// The tenant as a page of users is computed from: every user row (in email order, as `ORDER
/// BY email` would give them), configuration, fault, assignment and re-check, and the sync
/// interval. The rows' text is one buffer, so reading and dropping a view of a large tenant costs
/// a few allocations, not a few per user.
pub(crate) struct TenantView {
    /// `(PRAGMA data_version, total changes of this connection)` when it was read.
    version: (i64, u64),
    text: String,
    /// In email order (byte order, as SQLite compares them).
    users: Vec<UserRow>,
    configurations: Vec<Configuration>,
    /// Index into `configurations` by configuration id.
    by_id: HashMap<i64, usize>,
    faults: TenantFaults,
    interval_ms: i64,
    /// `(user id, configuration id, enabled since)`, sorted.
    enabled: Vec<(i64, i64, i64)>,
    /// `(user id, configuration id, re-checked at)`, sorted.
    rechecks: Vec<(i64, i64, i64)>,
}

impl TenantView {
    fn text(&self, range: &Range<usize>) -> &str {
        &self.text[range.clone()]
    }

    /// One row as the platform reports it at `now_ms` (`None`: its email no longer parses).
    /// `enabled` is scratch space, reused across rows.
    fn user<'v>(
        &'v self,
        row: &UserRow,
        now_ms: i64,
        enabled: &mut Vec<Enabled<'v>>,
    ) -> Option<PlatformUser> {
        let stored_email = self.text(&row.email);
        let email = Email::parse(stored_email).ok()?;
        enabled.clear();
        for &(_, configuration_id, enabled_ms) in &self.enabled[row.enabled.clone()] {
            let Some(&i) = self.by_id.get(&configuration_id) else {
                continue;
            };
            enabled.push(Enabled {
                configuration: &self.configurations[i],
                enabled_ms,
                latest_recheck_ms: self.latest_recheck(row.id, configuration_id, now_ms),
            });
        }
        // The email as stored: a user's sync offset is computed from it.
        let sync = simulation::sync_results(
            stored_email,
            enabled,
            &self.faults,
            self.interval_ms,
            now_ms,
        );
        Some(PlatformUser {
            email,
            location: self.text(&row.location).to_owned(),
            groups: parse_groups(self.text(&row.groups)),
            enabled: enabled
                .iter()
                .map(|on| on.configuration.id.clone())
                .collect(),
            sync,
        })
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
        let start = view.users.partition_point(|u| view.text(&u.email) <= after);
        let end = start.saturating_add(limit.max(1)).min(view.users.len());
        let mut enabled: Vec<Enabled<'_>> = Vec::new();
        let users = view.users[start..end]
            .iter()
            .filter_map(|row| view.user(row, now_ms, &mut enabled))
            .collect();
        Ok((users, end < view.users.len()))
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
                let i = view
                    .users
                    .binary_search_by(|u| view.text(&u.email).cmp(email))
                    .ok()?;
                view.user(&view.users[i], now_ms, &mut enabled)
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
        if let Some(view) = self.cached_view().filter(|v| v.version == version) {
            return Ok(view);
        }
        let view = Arc::new(self.read_tenant_view(version)?);
        self.cache_view(Arc::clone(&view));
        Ok(view)
    }

    /// Reads the whole tenant, each table in one pass in storage order (no index lookups), in
    /// one read transaction so that the tables agree with each other.
    fn read_tenant_view(&self, version: (i64, u64)) -> Result<TenantView, SandboxError> {
        let connection = self.connection();
        let read = connection.unchecked_transaction().map_err(self.db())?;
        let mut text = String::new();
        let mut users: Vec<UserRow> = Vec::new();
        let mut statement = read
            .prepare_cached("SELECT id, email, location, groups FROM users")
            .map_err(self.db())?;
        let mut rows = statement.query([]).map_err(self.db())?;
        while let Some(r) = rows.next().map_err(self.db())? {
            let mut column = |i: usize| -> Result<Range<usize>, SandboxError> {
                let value = r.get_ref(i).map_err(self.db())?;
                let value = value.as_str().map_err(|e| self.db()(e.into()))?;
                let start = text.len();
                text.push_str(value);
                Ok(start..text.len())
            };
            let (email, location, groups) = (column(1)?, column(2)?, column(3)?);
            users.push(UserRow {
                id: r.get(0).map_err(self.db())?,
                email,
                location,
                groups,
                enabled: 0..0,
            });
        }
        drop(rows);
        drop(statement);
        let enabled = self.triples(
            &read,
            "SELECT user_id, configuration_id, enabled_ms FROM assignments",
        )?;
        // Each user's assignments, found in one merge of the two lists by user id.
        users.sort_unstable_by_key(|u| u.id);
        let mut next = 0;
        for user in &mut users {
            while enabled.get(next).is_some_and(|e| e.0 < user.id) {
                next += 1;
            }
            let start = next;
            while enabled.get(next).is_some_and(|e| e.0 == user.id) {
                next += 1;
            }
            user.enabled = start..next;
        }
        users = in_email_order(users, &self.user_ids_by_email(&read)?);
        let rechecks = self.triples(
            &read,
            "SELECT user_id, configuration_id, at_ms FROM rechecks",
        )?;
        let configurations = self.configurations()?;
        let by_id = configurations
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.id.parse::<i64>().ok().map(|id| (id, i)))
            .collect();
        let view = TenantView {
            version,
            text,
            users,
            configurations,
            by_id,
            faults: self.fault_spans()?,
            interval_ms: self.sync_interval_ms()?,
            enabled,
            rechecks,
        };
        read.commit().map_err(self.db())?;
        Ok(view)
    }

    /// Every user's id, in email order: a scan of the email index alone (it holds the ids), so
    /// SQLite orders them without a lookup per user.
    fn user_ids_by_email(
        &self,
        read: &rusqlite::Transaction<'_>,
    ) -> Result<Vec<i64>, SandboxError> {
        let mut statement = read
            .prepare_cached("SELECT id FROM users ORDER BY email")
            .map_err(self.db())?;
        let mut rows = statement.query([]).map_err(self.db())?;
        let mut ids = Vec::new();
        while let Some(r) = rows.next().map_err(self.db())? {
            ids.push(r.get(0).map_err(self.db())?);
        }
        Ok(ids)
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

/// `users` (sorted by id) in the order of `ids`.
fn in_email_order(users: Vec<UserRow>, ids: &[i64]) -> Vec<UserRow> {
    let keys: Vec<i64> = users.iter().map(|u| u.id).collect();
    let mut slots: Vec<Option<UserRow>> = users.into_iter().map(Some).collect();
    let mut ordered = Vec::with_capacity(slots.len());
    for id in ids {
        if let Some(row) = keys.binary_search(id).ok().and_then(|i| slots[i].take()) {
            ordered.push(row);
        }
    }
    ordered
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
    use super::*;

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
