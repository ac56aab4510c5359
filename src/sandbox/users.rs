//! Reading users back: a page of users in email order, each with what they are enabled on and
//! their latest sync results, as the platform's `GET /users` answers.
//!
//! This module owns the paging and the reads behind it. A page is cut from a [`TenantView`]: the
//! tenant's users, configurations, faults, sync interval, assignments and permission re-checks,
//! each table read in one pass and kept while the file is unchanged (SQLite's `data_version` for
//! other processes' commits, the connection's change count for its own) — so a full read of the
//! platform reads them once, not once per page; after this connection's own writes of
//! assignments and re-checks, all but the users table (the [`Roster`]). What a page shows of a user that does not depend
//! on the clock is worked out when the view is read (the email validated, locations and groups
//! parsed once per distinct value, assignments and faults matched to users and configurations),
//! and laid out in email order, so that cutting a page walks memory in order and costs the
//! users' own copies and their syncs. How each sync went is computed by the simulation
//! (`simulation.rs`), never stored. Writing assignments is `assignments.rs`'s.

use std::ops::Range;
use std::sync::Arc;

use rusqlite::Row;
use rusqlite::types::ValueRef;

use super::simulation::{self, Enabled, FaultSpan};
use super::{SandboxError, SandboxFile};
use crate::fnv_map::FnvMap;
use crate::plan::grammar::Email;
use crate::sorted_search::find_from;
use crate::target::{Configuration, ConfigurationId, PlatformUser};

/// One row of `users`, as a page needs it.
struct UserRow {
    id: i64,
    /// The email as stored, in the roster's `text`: pages are cut, and syncs spread, by it.
    stored_email: Range<usize>,
    /// The same email, validated.
    email: Email,
    /// Index into the roster's `locations`.
    location: usize,
    /// Index into the roster's `group_sets`.
    groups: usize,
}

/// A configuration, with what its users' entries need of it.
#[derive(Clone)]
struct ViewConfiguration {
    configuration: Configuration,
    /// Its id as the tables key it (`None`: an id that is no number, which no row refers to).
    number: Option<i64>,
    /// Its id as users carry it: one copy for all of them.
    id: ConfigurationId,
    faults: Vec<FaultSpan>,
}

/// The `users` table as a view needs it. The stored emails are one buffer, and locations and
/// groups are kept once per distinct value, so reading and dropping the roster of a large
/// tenant costs a few allocations, not a few per user. It is the costly part of a view, and the
/// part a run's own writes never change: a view read after them keeps it (see `tenant_view`).
struct Roster {
    /// The stored emails, in email order.
    text: String,
    /// In email order (byte order of the stored emails, as `ORDER BY email` gives them).
    users: Vec<UserRow>,
    /// Where each user id is in `users`.
    positions: Positions,
    /// Each distinct location, shared by its users' entries.
    locations: Vec<Arc<str>>,
    /// Each distinct `groups` value, parsed, shared by its users' entries.
    group_sets: Vec<Arc<[String]>>,
}

impl Roster {
    fn stored_email(&self, row: &UserRow) -> &str {
        &self.text[row.stored_email.clone()]
    }

    /// Where the page of the users after `after` (by stored email) begins.
    fn page_start(&self, after: Option<&str>) -> usize {
        let after = after.unwrap_or("");
        self.users
            .partition_point(|u| self.stored_email(u) <= after)
    }

    /// Where the user with this stored email is, from where the last one looked for was (see
    /// `sorted_search.rs`): the engine names its users in email order.
    fn find(&self, email: &str, hint: &mut usize) -> Option<usize> {
        find_from(&self.users, |u| self.stored_email(u), email, hint)
    }
}

/// The tenant as a page of users is computed from: every user row, configuration, fault,
/// assignment and re-check, and the sync interval.
pub(crate) struct TenantView {
    /// `(PRAGMA data_version, total changes of this connection)` when it was read.
    version: (i64, u64),
    roster: Arc<Roster>,
    configurations: Vec<ViewConfiguration>,
    /// `(index into configurations, enabled since)`: each user's in configuration id order, the
    /// users in email order; user `i`'s are `enabled[enabled_at[i]..enabled_at[i + 1]]`.
    enabled: Vec<(usize, i64)>,
    enabled_at: Vec<usize>,
    /// Every user fault span, by user, as `enabled` is.
    user_faults: Vec<FaultSpan>,
    faults_at: Vec<usize>,
    interval_ms: i64,
    /// `(user id, configuration id, re-checked at)`, sorted.
    rechecks: Vec<(i64, i64, i64)>,
}

impl TenantView {
    /// User `i` (in email order) as the platform reports them at `now_ms`. `enabled` is
    /// scratch space, reused across users.
    fn user<'v>(&'v self, i: usize, now_ms: i64, enabled: &mut Vec<Enabled<'v>>) -> PlatformUser {
        let roster = &*self.roster;
        let row = &roster.users[i];
        enabled.clear();
        for &(c, enabled_ms) in &self.enabled[self.enabled_at[i]..self.enabled_at[i + 1]] {
            let on = &self.configurations[c];
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
            roster.stored_email(row),
            &self.user_faults[self.faults_at[i]..self.faults_at[i + 1]],
            enabled,
            self.interval_ms,
            now_ms,
        );
        PlatformUser {
            email: row.email.clone(),
            location: roster.locations[row.location].clone(),
            groups: roster.group_sets[row.groups].clone(),
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

/// Where the file stands as `connection` sees it: SQLite's `data_version` (which moves with
/// other connections' commits) and this connection's own changes.
fn file_version(connection: &rusqlite::Connection) -> rusqlite::Result<(i64, u64)> {
    let data_version: i64 = connection
        .prepare_cached("PRAGMA data_version")?
        .query_row([], |r| r.get(0))?;
    Ok((data_version, connection.total_changes()))
}

impl SandboxFile {
    /// Where the file stands now (see [`TenantView::is_current`]).
    pub(super) fn version(&self) -> rusqlite::Result<(i64, u64)> {
        file_version(self.connection())
    }
}

impl TenantView {
    /// Whether this view is still the file as `connection` sees it: no commit of another
    /// process's and no change of this connection's since it was read. Inside a write
    /// transaction, what it says then holds until the transaction ends.
    pub(super) fn is_current(&self, connection: &rusqlite::Connection) -> rusqlite::Result<bool> {
        Ok(self.version == file_version(connection)?)
    }

    /// `(PRAGMA data_version, total changes of this connection)` when it was read.
    pub(super) fn version(&self) -> (i64, u64) {
        self.version
    }

    /// This view after this connection's own write put `users` (ids) on `configuration`
    /// since `now_ms` (or took them off), the file then being at `version`: what reading the
    /// assignments again would give, without reading them. `None` when the view has no such
    /// configuration.
    pub(super) fn with_assignments(
        &self,
        version: (i64, u64),
        configuration: i64,
        users: &[i64],
        enabled: bool,
        now_ms: i64,
    ) -> Option<Self> {
        let c = self
            .configurations
            .iter()
            .position(|on| on.number == Some(configuration))?;
        let roster = &*self.roster;
        let mut changed = vec![false; roster.users.len()];
        for &user in users {
            if let Some(i) = roster.positions.of_id(user) {
                changed[i] = true;
            }
        }
        let mut assignments = Vec::with_capacity(self.enabled.len() + users.len());
        let mut starts = Vec::with_capacity(self.enabled_at.len());
        for (i, &change) in changed.iter().enumerate() {
            starts.push(assignments.len());
            let own = &self.enabled[self.enabled_at[i]..self.enabled_at[i + 1]];
            if !change {
                assignments.extend_from_slice(own);
                continue;
            }
            // A user's are in configuration id order, as the table's key gives them.
            let number = |&(on, _): &(usize, i64)| self.configurations[on].number;
            let kept = own.iter().copied().filter(|&(on, _)| on != c);
            if enabled {
                let mut with: Vec<(usize, i64)> = kept.chain([(c, now_ms)]).collect();
                with.sort_by_key(number);
                assignments.extend(with);
            } else {
                assignments.extend(kept);
            }
        }
        starts.push(assignments.len());
        Some(Self {
            version,
            roster: Arc::clone(&self.roster),
            configurations: self.configurations.clone(),
            enabled: assignments,
            enabled_at: starts,
            user_faults: self.user_faults.clone(),
            faults_at: self.faults_at.clone(),
            interval_ms: self.interval_ms,
            rechecks: self.rechecks.clone(),
        })
    }

    /// The user with this stored email: their id, and whether they are on the configuration
    /// whose id is `configuration`.
    pub(super) fn user_on(
        &self,
        email: &str,
        configuration: i64,
        hint: &mut usize,
    ) -> Option<(i64, bool)> {
        let roster = &*self.roster;
        let i = roster.find(email, hint)?;
        let on = self.enabled[self.enabled_at[i]..self.enabled_at[i + 1]]
            .iter()
            .any(|&(c, _)| self.configurations[c].number == Some(configuration));
        Some((roster.users[i].id, on))
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
        let roster = &*view.roster;
        let start = roster.page_start(after);
        let end = start.saturating_add(limit.max(1)).min(roster.users.len());
        let mut enabled: Vec<Enabled<'_>> = Vec::new();
        let users = (start..end)
            .map(|i| view.user(i, now_ms, &mut enabled))
            .collect();
        Ok((users, end < roster.users.len()))
    }

    /// Where each page of `limit` users after the one that follows `after` begins: the email
    /// each is asked for after, as the page before it shows its last user.
    pub(crate) fn page_cursors(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, SandboxError> {
        let view = self.tenant_view()?;
        let roster = &*view.roster;
        let start = roster.page_start(after);
        let limit = limit.max(1);
        Ok((start.saturating_add(limit)..roster.users.len())
            .step_by(limit)
            .map(|next| roster.users[next - 1].email.to_string())
            .collect())
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
        let roster = &*view.roster;
        let mut enabled: Vec<Enabled<'_>> = Vec::new();
        let mut hint = 0;
        Ok(wanted
            .into_iter()
            .filter_map(|email| {
                let i = roster.find(email, &mut hint)?;
                Some(view.user(i, now_ms, &mut enabled))
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
    /// unchanged, read again otherwise — all of it after another process's commit or a write
    /// of this connection's that may have touched `users`, all but the roster after this
    /// connection's writes of assignments and re-checks (a run's bulk writes), which would
    /// otherwise cost a read of every user after each one.
    fn tenant_view(&self) -> Result<Arc<TenantView>, SandboxError> {
        let version = self.version().map_err(self.db())?;
        let data_version = version.0;
        let previous = self.cached_view();
        if let Some(view) = previous.as_ref().filter(|v| v.version == version) {
            return Ok(Arc::clone(view));
        }
        // `data_version` moves with other connections' commits only: unchanged, every commit
        // since `previous` was this connection's own.
        let roster = previous
            .as_ref()
            .filter(|v| v.version.0 == data_version && !self.roster_written())
            .map(|v| Arc::clone(&v.roster));
        let view = Arc::new(self.read_tenant_view(version, roster, previous.as_deref())?);
        self.cache_view(Arc::clone(&view));
        Ok(view)
    }

    /// Reads the tenant in one read transaction, so that the tables agree with each other:
    /// each table in one pass in storage order, never a lookup per user; the roster too unless
    /// `roster` is given (still current).
    fn read_tenant_view(
        &self,
        version: (i64, u64),
        roster: Option<Arc<Roster>>,
        previous: Option<&TenantView>,
    ) -> Result<TenantView, SandboxError> {
        let connection = self.connection();
        let read = connection.unchecked_transaction().map_err(self.db())?;
        let roster = match roster {
            Some(roster) => roster,
            None => Arc::new(self.read_roster(&read, previous.map(|p| &*p.roster))?),
        };
        let users = roster.users.len();

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

        // Each user's assignments, in email order and, for each user, in configuration id
        // order; an assignment to a configuration or a user the tenant does not have is none.
        let assignments: Vec<(usize, (usize, i64))> = self
            .triples(
                &read,
                "SELECT user_id, configuration_id, enabled_ms FROM assignments",
            )?
            .into_iter()
            .filter_map(|(user, configuration, enabled_ms)| {
                let i = configurations
                    .iter()
                    .position(|c| c.number == Some(configuration))?;
                Some((roster.positions.of_id(user)?, (i, enabled_ms)))
            })
            .collect();
        let (enabled, enabled_at) = group_by_user(users, assignments);

        // Each user's fault spans, found by the email they were switched on for.
        let mut spans: Vec<(usize, FaultSpan)> = Vec::new();
        for (email, list) in &faults.by_user {
            let found = roster
                .users
                .binary_search_by(|u| roster.stored_email(u).cmp(email));
            if let Ok(i) = found {
                spans.extend(list.iter().map(|span| (i, *span)));
            }
        }
        let (user_faults, faults_at) = group_by_user(users, spans);

        let view = TenantView {
            version,
            roster,
            configurations,
            enabled,
            enabled_at,
            user_faults,
            faults_at,
            interval_ms: self.sync_interval_ms()?,
            rechecks: self.triples(
                &read,
                "SELECT user_id, configuration_id, at_ms FROM rechecks",
            )?,
        };
        read.commit().map_err(self.db())?;
        Ok(view)
    }

    /// Reads the `users` table, twice (the email index, which holds the ids, for the order and
    /// the emails; the table for the rest). A user whose id and email are as in `previous`
    /// (the roster this one replaces) keeps the email validated then: the users of a run's
    /// readings change rarely.
    fn read_roster(
        &self,
        read: &rusqlite::Transaction<'_>,
        previous: Option<&Roster>,
    ) -> Result<Roster, SandboxError> {
        let bad = |id: i64, message: String| SandboxError::BadUser {
            path: self.path().to_path_buf(),
            id,
            message,
        };

        // The users in email order, with their emails.
        let mut text = String::new();
        let mut users: Vec<UserRow> = Vec::new();
        {
            let earlier = previous.map_or(&[][..], |p| p.users.as_slice());
            let earlier_email = |e: &UserRow| previous.map_or("", |p| p.stored_email(e));
            let mut next_earlier = 0;
            let mut statement = read
                .prepare_cached("SELECT id, email FROM users ORDER BY email")
                .map_err(self.db())?;
            let mut rows = statement.query([]).map_err(self.db())?;
            while let Some(r) = rows.next().map_err(self.db())? {
                let id: i64 = r.get(0).map_err(self.db())?;
                let stored = text_column(r, 1, "email", |m| bad(id, m))?;
                // Both lists are in email order: one walk finds each email in the earlier one.
                while earlier
                    .get(next_earlier)
                    .is_some_and(|e| earlier_email(e) < stored)
                {
                    next_earlier += 1;
                }
                let email = match earlier
                    .get(next_earlier)
                    .filter(|e| e.id == id && earlier_email(e) == stored)
                {
                    Some(e) => e.email.clone(),
                    None => Email::parse(stored).map_err(|e| bad(id, e.message))?,
                };
                let start = text.len();
                text.push_str(stored);
                users.push(UserRow {
                    id,
                    stored_email: start..text.len(),
                    email,
                    location: usize::MAX,
                    groups: usize::MAX,
                });
            }
        }
        let positions = Positions::of(&users);

        // Their locations and groups, from the table.
        let mut locations: Vec<Arc<str>> = Vec::new();
        let mut location_index: FnvMap<String, usize> = FnvMap::default();
        let mut group_sets: Vec<Arc<[String]>> = Vec::new();
        let mut group_index: FnvMap<String, usize> = FnvMap::default();
        {
            let mut statement = read
                .prepare_cached("SELECT id, location, groups FROM users")
                .map_err(self.db())?;
            let mut rows = statement.query([]).map_err(self.db())?;
            while let Some(r) = rows.next().map_err(self.db())? {
                let id: i64 = r.get(0).map_err(self.db())?;
                let location = text_column(r, 1, "location", |m| bad(id, m))?;
                let groups = text_column(r, 2, "groups", |m| bad(id, m))?;
                let user = positions
                    .of_id(id)
                    .and_then(|i| users.get_mut(i))
                    .ok_or_else(|| bad(id, NOT_INDEXED.to_owned()))?;
                user.location = intern(&mut location_index, &mut locations, location, |l| {
                    Arc::from(l)
                });
                user.groups = intern(&mut group_index, &mut group_sets, groups, |g| {
                    Arc::from(parse_groups(g))
                });
            }
        }
        if let Some(user) = users.iter().find(|u| u.location == usize::MAX) {
            return Err(bad(user.id, NOT_INDEXED.to_owned()));
        }
        Ok(Roster {
            text,
            users,
            positions,
            locations,
            group_sets,
        })
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

/// A user the email index and the table disagree on: the file is damaged.
const NOT_INDEXED: &str = "the table and its email index disagree on it (the file is damaged)";

/// Where each user id is in a list of users.
enum Positions {
    /// Ids are usually `first..` without a gap: an id's place is found by a subtraction.
    Dense { first: i64, places: Vec<usize> },
    /// `(id, place)`, sorted by id.
    Sparse(Vec<(i64, usize)>),
}

impl Positions {
    fn of(users: &[UserRow]) -> Self {
        let ids = || users.iter().map(|u| u.id);
        let (Some(first), Some(last)) = (ids().min(), ids().max()) else {
            return Self::Sparse(Vec::new());
        };
        let span = usize::try_from(last - first)
            .ok()
            .filter(|&span| span < users.len().saturating_mul(2));
        match span {
            Some(span) => {
                let mut places = vec![usize::MAX; span + 1];
                for (i, id) in ids().enumerate() {
                    if let Some(place) = usize::try_from(id - first)
                        .ok()
                        .and_then(|k| places.get_mut(k))
                    {
                        *place = i;
                    }
                }
                Self::Dense { first, places }
            }
            None => {
                let mut places: Vec<(i64, usize)> = ids().zip(0..).collect();
                places.sort_unstable();
                Self::Sparse(places)
            }
        }
    }

    fn of_id(&self, id: i64) -> Option<usize> {
        match self {
            Self::Dense { first, places } => usize::try_from(id.checked_sub(*first)?)
                .ok()
                .and_then(|k| places.get(k).copied())
                .filter(|&i| i != usize::MAX),
            Self::Sparse(places) => places
                .binary_search_by_key(&id, |&(id, _)| id)
                .ok()
                .map(|k| places[k].1),
        }
    }
}

/// `entries` (`(user index, …)`) in user order, keeping their order within a user, and where
/// each of the `users` users' begin (`users + 1` offsets): one counting pass, however many
/// entries.
fn group_by_user<T: Copy>(users: usize, entries: Vec<(usize, T)>) -> (Vec<T>, Vec<usize>) {
    let mut starts = vec![0usize; users + 1];
    for (i, _) in &entries {
        starts[i + 1] += 1;
    }
    for i in 0..users {
        starts[i + 1] += starts[i];
    }
    let Some(&(_, filler)) = entries.first() else {
        return (Vec::new(), starts);
    };
    let mut grouped = vec![filler; entries.len()];
    let mut next = starts.clone();
    for (i, entry) in entries {
        grouped[next[i]] = entry;
        next[i] += 1;
    }
    (grouped, starts)
}

/// The index of `value` in `values`, adding it (made by `make`) the first time it is seen.
fn intern<T>(
    index: &mut FnvMap<String, usize>,
    values: &mut Vec<T>,
    value: &str,
    make: impl FnOnce(&str) -> T,
) -> usize {
    if let Some(&i) = index.get(value) {
        return i;
    }
    values.push(make(value));
    index.insert(value.to_owned(), values.len() - 1);
    values.len() - 1
}

/// A text column of a `users` row; anything else is `bad`, with why.
fn text_column<'r>(
    row: &'r Row<'_>,
    i: usize,
    name: &str,
    bad: impl FnOnce(String) -> SandboxError,
) -> Result<&'r str, SandboxError> {
    match row.get_ref(i) {
        Ok(ValueRef::Text(bytes)) => {
            std::str::from_utf8(bytes).map_err(|_| bad(format!("its {name} is not UTF-8 text")))
        }
        Ok(_) => Err(bad(format!("its {name} is not text"))),
        Err(e) => Err(bad(e.to_string())),
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

// The tests read whole tenants back; they live beside this file.
#[cfg(test)]
#[path = "users_tests.rs"]
mod tests;
