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
use std::sync::Arc;


use super::simulation::{self, Enabled, TenantFaults};
use super::{SandboxError, SandboxFile};
use crate::plan::grammar::Email;
use crate::target::{Configuration, PlatformUser};

/// One row of `users`.
struct UserRow {
    id: i64,
    email: String,
    location: String,
    /// A JSON array of group names.
    groups: String,
}

/// The tenant as a page of users is computed from: every user row (in email order, as `ORDER
/// BY email` would give them), configuration, fault, assignment and re-check, and the sync
/// interval.
pub(crate) struct TenantView {
    /// `(PRAGMA data_version, total changes of this connection)` when it was read.
    version: (i64, u64),
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
    /// What `user` is enabled on: `(configuration id, enabled since)`, by configuration id.
    fn enabled(&self, user: i64) -> impl Iterator<Item = (i64, i64)> + '_ {
        let start = self.enabled.partition_point(|e| e.0 < user);
        self.enabled[start..]
            .iter()
            .take_while(move |e| e.0 == user)
            .map(|e| (e.1, e.2))
    }

    /// The latest re-check of `user` on `configuration` at or before `now_ms`.
    fn latest_recheck(&self, user: i64, configuration: i64, now_ms: i64) -> Option<i64> {
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
        let start = view.users.partition_point(|u| u.email.as_str() <= after);
        let end = start.saturating_add(limit.max(1)).min(view.users.len());
        let mut users = Vec::with_capacity(end - start);
        let mut enabled: Vec<Enabled<'_>> = Vec::new();
        for row in &view.users[start..end] {
            let Ok(email) = Email::parse(&row.email) else {
                continue;
            };
            enabled.clear();
            for (configuration_id, enabled_ms) in view.enabled(row.id) {
                let Some(&i) = view.by_id.get(&configuration_id) else {
                    continue;
                };
                enabled.push(Enabled {
                    configuration: &view.configurations[i],
                    enabled_ms,
                    latest_recheck_ms: view.latest_recheck(row.id, configuration_id, now_ms),
                });
            }
            // The email as stored: a user's sync offset is computed from it.
            let sync = simulation::sync_results(
                &row.email,
                &enabled,
                &view.faults,
                view.interval_ms,
                now_ms,
            );
            users.push(PlatformUser {
                email,
                location: row.location.clone(),
                groups: parse_groups(&row.groups),
                enabled: enabled
                    .iter()
                    .map(|on| on.configuration.id.clone())
                    .collect(),
                sync,
            });
        }
        Ok((users, end < view.users.len()))
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
        let mut users: Vec<UserRow> = Vec::new();
        let mut statement = read
            .prepare_cached("SELECT id, email, location, groups FROM users")
            .map_err(self.db())?;
        let mut rows = statement.query([]).map_err(self.db())?;
        while let Some(r) = rows.next().map_err(self.db())? {
            users.push(UserRow {
                id: r.get(0).map_err(self.db())?,
                email: r.get(1).map_err(self.db())?,
                location: r.get(2).map_err(self.db())?,
                groups: r.get(3).map_err(self.db())?,
            });
        }
        drop(rows);
        drop(statement);
        users.sort_unstable_by(|a, b| a.email.cmp(&b.email));
        let enabled = self.triples(&read, "SELECT user_id, configuration_id, enabled_ms FROM assignments")?;
        let rechecks = self.triples(&read, "SELECT user_id, configuration_id, at_ms FROM rechecks")?;
        let configurations = self.configurations()?;
        let by_id = configurations
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.id.parse::<i64>().ok().map(|id| (id, i)))
            .collect();
        let view = TenantView {
            version,
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
