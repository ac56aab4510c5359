//! Reading users back: a page of users in email order, each with what they are enabled on and
//! their latest sync results, as the platform's `GET /users` answers.
//!
//! This module owns the paging and the reads it joins (users, their assignments, their latest
//! re-checks); how each sync went is computed by the simulation (`simulation.rs`) from those rows
//! and the tenant's faults, never stored. Writing assignments is `assignments.rs`'s.

use std::collections::HashMap;

use rusqlite::params;

use super::simulation::{self, Enabled};
use super::{SandboxError, SandboxFile};
use crate::plan::grammar::Email;
use crate::target::{Configuration, PlatformUser};

/// One row of `users`, as a page reads it.
struct UserRow {
    id: i64,
    email: String,
    location: String,
    /// A JSON array of group names.
    groups: String,
}

/// What a page's users are enabled on and when they were last re-checked, by user id.
#[derive(Default)]
struct PageAssignments {
    /// `(configuration id, enabled since)` per user.
    enabled: HashMap<i64, Vec<(i64, i64)>>,
    /// The latest re-check at or before now, per `(user id, configuration id)`.
    latest_recheck: HashMap<(i64, i64), i64>,
}

impl SandboxFile {
    /// A page of users in email order, with their sync results as of `now_ms`.
    pub(crate) fn users(
        &self,
        after: Option<&str>,
        limit: usize,
        now_ms: i64,
    ) -> Result<(Vec<PlatformUser>, bool), SandboxError> {
        let configurations = self.configurations()?;
        let by_id: HashMap<i64, &Configuration> = configurations
            .iter()
            .filter_map(|c| c.id.parse::<i64>().ok().map(|id| (id, c)))
            .collect();
        let faults = self.fault_spans()?;
        let interval_ms = self.sync_interval_ms()?;
        let (page, more) = self.user_rows(after.unwrap_or(""), limit)?;
        let (Some(first), Some(last)) = (page.first(), page.last()) else {
            return Ok((Vec::new(), false));
        };
        let mut assignments = self.page_assignments(&first.email, &last.email, now_ms)?;

        let mut users = Vec::with_capacity(page.len());
        for row in page {
            let Ok(email) = Email::parse(&row.email) else {
                continue;
            };
            let mut mine = assignments.enabled.remove(&row.id).unwrap_or_default();
            mine.sort_unstable();
            let enabled: Vec<Enabled<'_>> = mine
                .into_iter()
                .filter_map(|(configuration_id, enabled_ms)| {
                    Some(Enabled {
                        configuration: by_id.get(&configuration_id)?,
                        enabled_ms,
                        latest_recheck_ms: assignments
                            .latest_recheck
                            .get(&(row.id, configuration_id))
                            .copied(),
                    })
                })
                .collect();
            let sync = simulation::sync_results(&row.email, &enabled, &faults, interval_ms, now_ms);
            users.push(PlatformUser {
                email,
                location: row.location,
                groups: serde_json::from_str(&row.groups).unwrap_or_default(),
                enabled: enabled
                    .iter()
                    .map(|on| on.configuration.id.clone())
                    .collect(),
                sync,
            });
        }
        Ok((users, more))
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

    /// Up to `limit` users after `after` in email order, and whether more follow.
    fn user_rows(&self, after: &str, limit: usize) -> Result<(Vec<UserRow>, bool), SandboxError> {
        let limit = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
        let mut statement = self
            .connection()
            .prepare_cached("SELECT id, email, location, groups FROM users WHERE email > ?1 ORDER BY email LIMIT ?2")
            .map_err(self.db())?;
        let rows = statement
            .query_map(params![after, limit + 1], |r| {
                Ok(UserRow {
                    id: r.get(0)?,
                    email: r.get(1)?,
                    location: r.get(2)?,
                    groups: r.get(3)?,
                })
            })
            .map_err(self.db())?;
        let mut page = rows.collect::<Result<Vec<_>, _>>().map_err(self.db())?;
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let more = page.len() > limit;
        page.truncate(limit);
        Ok((page, more))
    }

    /// The assignments and latest re-checks of the users from `first` to `last` (emails).
    fn page_assignments(
        &self,
        first: &str,
        last: &str,
        now_ms: i64,
    ) -> Result<PageAssignments, SandboxError> {
        let mut page = PageAssignments::default();
        let mut statement = self
            .connection()
            .prepare_cached(
                "SELECT a.user_id, a.configuration_id, a.enabled_ms FROM assignments a JOIN users u ON u.id = a.user_id
                 WHERE u.email >= ?1 AND u.email <= ?2",
            )
            .map_err(self.db())?;
        let rows = statement
            .query_map(params![first, last], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .map_err(self.db())?;
        for row in rows {
            let (user, configuration, enabled_ms) = row.map_err(self.db())?;
            page.enabled
                .entry(user)
                .or_default()
                .push((configuration, enabled_ms));
        }
        let mut statement = self
            .connection()
            .prepare_cached(
                "SELECT r.user_id, r.configuration_id, MAX(r.at_ms) FROM rechecks r JOIN users u ON u.id = r.user_id
                 WHERE u.email >= ?1 AND u.email <= ?2 AND r.at_ms <= ?3 GROUP BY r.user_id, r.configuration_id",
            )
            .map_err(self.db())?;
        let rows = statement
            .query_map(params![first, last, now_ms], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .map_err(self.db())?;
        for row in rows {
            let (user, configuration, at_ms) = row.map_err(self.db())?;
            page.latest_recheck.insert((user, configuration), at_ms);
        }
        Ok(page)
    }
}
