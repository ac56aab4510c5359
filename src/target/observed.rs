//! A snapshot of the platform: what the planner plans from.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use crate::plan::grammar::Email;
use crate::sorted_search::find_from;

use super::attribute_values::{Attribute, AttributeValues};
use super::{Configuration, Placement, PlatformUser, Target, TargetError};

/// Everything the planner needs to know about the platform, read at one moment.
///
/// The users are reached through [`Observed::users`] and changed only through
/// [`Observed::change_users`] (or [`Observed::change_users_at`]): what is worked out from them
/// once and kept (positions, placements, locations and groups as numbers) is then never stale.
#[derive(Debug, Clone)]
pub(crate) struct Observed {
    pub(crate) configurations: Vec<Configuration>,
    pub(crate) free_slots: u32,
    /// In email order, one per email.
    users: Vec<PlatformUser>,
    /// Where each user is in `users`, for [`Observed::position`], and what is kept of them.
    index: UserIndex,
}

/// Where each user is in [`Observed::users`]: by binary search for the first lookups of a
/// reading, then by a hash of their email, made once that many were asked.
///
/// The planner looks every member of every started step up on every decision; a binary search
/// over a large tenant's emails costs a string comparison (and a cache miss) per probe, the hash
/// one probe. But the hash costs a hash of every user's email to make, which a dry-run asking
/// for a few thousand users (a CSV batch) never earns back: as with renting before buying, the
/// searches stop when they have cost about what making the hash does. The hash is a hint, never
/// the truth: a position is used only if the user there has the email asked for, anything else
/// falls back to the binary search.
#[derive(Debug)]
struct UserIndex {
    /// Which version of the users this index describes; no two share one, clones included.
    generation: u64,
    /// The positions changed in place (by [`Observed::change_users_at`]) since then, in the
    /// order changed.
    changed: Vec<usize>,
    positions: OnceLock<(RandomState, Positions)>,
    /// Lookups answered by binary search so far.
    searched: AtomicUsize,
    /// The positions of whole lists of members (a started step's frozen members), by the list's
    /// allocation: the state shares one allocation per list for as long as it is unchanged, so
    /// each list is looked up once per reading of the users, not once per decision.
    lists: Mutex<Vec<KnownList>>,
    /// Each user's placement on a `from` and a `to` (those asked for).
    placements: Mutex<Vec<Arc<Placement>>>,
    /// The users' locations and groups as numbers, for the selectors by them.
    locations: OnceLock<Arc<AttributeValues>>,
    groups: OnceLock<Arc<AttributeValues>>,
}

type KnownList = (Arc<[Email]>, Arc<[Option<usize>]>);

/// Every reading, restructuring and clone of one takes the next generation: a [`Mark`] of one
/// never vouches for another, whose users may have changed differently since.
fn next_generation() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl Default for UserIndex {
    fn default() -> Self {
        Self {
            generation: next_generation(),
            changed: Vec::new(),
            positions: OnceLock::new(),
            searched: AtomicUsize::new(0),
            lists: Mutex::new(Vec::new()),
            placements: Mutex::new(Vec::new()),
            locations: OnceLock::new(),
            groups: OnceLock::new(),
        }
    }
}

impl Clone for UserIndex {
    fn clone(&self) -> Self {
        Self {
            generation: next_generation(),
            changed: Vec::new(),
            positions: self.positions.clone(),
            searched: AtomicUsize::new(self.searched.load(Ordering::Relaxed)),
            lists: Mutex::new(lock(&self.lists).clone()),
            placements: Mutex::new(lock(&self.placements).clone()),
            locations: self.locations.clone(),
            groups: self.groups.clone(),
        }
    }
}

/// A moment in a reading's life, for [`Observed::changed_since`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Mark {
    generation: u64,
    changes: usize,
}

/// The lists' cache holds no invariant a panicking holder could break halfway.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Each email's position, by the email's hash.
type Positions = HashMap<u64, u32, BuildHasherDefault<Prehashed>>;

/// The map's keys are already random hashes of emails (`RandomState`, so nobody can aim
/// collisions at it): hashing them again cost as much as the first hash, on every lookup.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys reach here (`write_u64`); anything else is folded in, never dropped.
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

impl UserIndex {
    fn position(&self, users: &[PlatformUser], email: &Email) -> Option<usize> {
        let search = || users.binary_search_by(|u| u.email.cmp(email)).ok();
        let positions = match self.positions.get() {
            Some(positions) => positions,
            // About as many probes (string comparisons) as making the hash takes hashes.
            None if self.searched.fetch_add(1, Ordering::Relaxed)
                < users.len() / (users.len().max(2).ilog2() as usize) =>
            {
                return search();
            }
            None => self.positions.get_or_init(|| Self::hash(users)),
        };
        let (hasher, positions) = positions;
        positions
            .get(&hasher.hash_one(email.as_str()))
            .map(|&i| i as usize)
            .filter(|&i| users.get(i).is_some_and(|u| u.email == *email))
            .or_else(search)
    }

    fn hash(users: &[PlatformUser]) -> (RandomState, Positions) {
        let hasher = RandomState::new();
        let mut positions = Positions::with_capacity_and_hasher(users.len(), Default::default());
        for (i, user) in users.iter().enumerate() {
            if let Ok(i) = u32::try_from(i) {
                positions.insert(hasher.hash_one(user.email.as_str()), i);
            }
        }
        (hasher, positions)
    }
}

impl Observed {
    /// A reading of these users (put in email order, one per email).
    pub(crate) fn new(
        configurations: Vec<Configuration>,
        free_slots: u32,
        mut users: Vec<PlatformUser>,
    ) -> Self {
        users.sort_by(|a, b| a.email.cmp(&b.email));
        users.dedup_by(|a, b| a.email == b.email);
        Self {
            configurations,
            free_slots,
            users,
            index: UserIndex::default(),
        }
    }

    /// In email order.
    pub(crate) fn users(&self) -> &[PlatformUser] {
        &self.users
    }

    /// Changes the users; they are put back in email order (one per email) after, and what was
    /// kept of them is worked out again when next asked.
    pub(crate) fn change_users<R>(
        &mut self,
        change: impl FnOnce(&mut Vec<PlatformUser>) -> R,
    ) -> R {
        let changed = change(&mut self.users);
        if !self.users.is_sorted_by(|a, b| a.email < b.email) {
            self.users.sort_by(|a, b| a.email.cmp(&b.email));
            self.users.dedup_by(|a, b| a.email == b.email);
        }
        self.index = UserIndex::default();
        changed
    }

    /// Changes the users at these positions in place. Where users are stays known (a change
    /// that gives one another email drops it, as [`Observed::change_users`] does); where the
    /// changed users are placed is worked out again.
    pub(crate) fn change_users_at(
        &mut self,
        at: impl IntoIterator<Item = usize>,
        mut change: impl FnMut(usize, &mut PlatformUser),
    ) {
        let mut moved = false;
        let mut regrouped = false;
        let index = &mut self.index;
        let placements = index
            .placements
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        for i in at {
            let Some(user) = self.users.get_mut(i) else {
                continue;
            };
            let email = user.email.clone();
            change(i, user);
            moved |= user.email != email;
            index.changed.push(i);
            for placement in placements.iter_mut() {
                Arc::make_mut(placement).changed(i, user);
            }
            // A user read again may have moved or changed groups: the numbers are then made
            // again when next asked (the engine's own writes change neither).
            for values in [&mut index.locations, &mut index.groups] {
                if values.get().is_some_and(|v| !v.still_holds(i, user)) {
                    *values = OnceLock::new();
                    regrouped = true;
                }
            }
        }
        if moved {
            self.change_users(|_| ());
            return;
        }
        // What was worked out from the locations and groups is stale; and past as many changes
        // as users, a log longer than the reading is worth less than working it all out again.
        if regrouped || index.changed.len() > self.users.len().max(1024) {
            index.generation = next_generation();
            index.changed.clear();
        }
    }

    /// This reading as it is now.
    pub(crate) fn mark(&self) -> Mark {
        Mark {
            generation: self.index.generation,
            changes: self.index.changed.len(),
        }
    }

    /// The positions of the users changed in place since `mark` (some perhaps more than once),
    /// their emails, locations and groups unchanged. `None` when the reading changed otherwise
    /// since (read again, users added or gone, an email, location or group changed, or it is
    /// not the reading marked): then anything worked out from it must be worked out again.
    pub(crate) fn changed_since(&self, mark: Mark) -> Option<&[usize]> {
        (mark.generation == self.index.generation)
            .then(|| self.index.changed.get(mark.changes..))
            .flatten()
    }

    /// Where each user is on `from` and `to` (by their ids), worked out once per reading.
    pub(crate) fn placement(&self, from: Option<&str>, to: Option<&str>) -> Arc<Placement> {
        if let Some(placement) = lock(&self.index.placements)
            .iter()
            .find(|p| p.is_for(from, to))
        {
            return placement.clone();
        }
        let placement = Arc::new(Placement::of(&self.users, from, to));
        lock(&self.index.placements).push(placement.clone());
        placement
    }

    /// Every user's location or groups as numbers, worked out once per reading.
    pub(crate) fn attribute_values(&self, attribute: Attribute) -> &AttributeValues {
        let kept = match attribute {
            Attribute::Location => &self.index.locations,
            Attribute::Group => &self.index.groups,
        };
        kept.get_or_init(|| Arc::new(AttributeValues::of(&self.users, attribute)))
    }

    /// The configuration with this display name (compared case-insensitively, as the plan does).
    pub(crate) fn configuration(&self, display_name: &str) -> Option<&Configuration> {
        self.configurations
            .iter()
            .filter(|c| c.state != super::ConfigurationState::Disconnected)
            .find(|c| {
                c.display_name
                    .trim()
                    .eq_ignore_ascii_case(display_name.trim())
            })
    }

    pub(crate) fn user(&self, email: &Email) -> Option<&PlatformUser> {
        self.position(email).map(|i| &self.users[i])
    }

    /// Where each of `list`'s users is in `users` (`None`: not on the platform).
    pub(crate) fn positions(&self, list: &Arc<[Email]>) -> Arc<[Option<usize>]> {
        if let Some((_, at)) = lock(&self.index.lists)
            .iter()
            .find(|(known, _)| Arc::ptr_eq(known, list))
        {
            return at.clone();
        }
        // A frozen list is in email order, as `users` is: found in one walk of both.
        let mut hint = 0;
        let at: Arc<[Option<usize>]> = list
            .iter()
            .map(|e| find_from(&self.users, |u| u.email.as_str(), e.as_str(), &mut hint))
            .collect();
        let mut lists = lock(&self.index.lists);
        // A list nobody else holds any more was replaced (its step's members read again): its
        // allocation could be reused by another list, so it must go.
        lists.retain(|(known, _)| Arc::strong_count(known) > 1);
        lists.push((list.clone(), at.clone()));
        at
    }

    /// Where the user with this email is in `users`.
    pub(crate) fn position(&self, email: &Email) -> Option<usize> {
        self.index.position(&self.users, email)
    }
}

/// Reads the whole platform: configurations, then every page of users.
pub(crate) async fn observe<T: Target>(target: &T) -> Result<Observed, TargetError> {
    let list = target.configurations().await?;
    let mut users: Vec<PlatformUser> = Vec::new();
    loop {
        let after = users.last().map(|u| u.email.to_string());
        let page = target.users(after.as_deref(), target.page_size()).await?;
        let more = page.more && !page.users.is_empty();
        users.extend(page.users);
        if !more {
            break;
        }
    }
    Ok(Observed::new(list.configurations, list.free_slots, users))
}

#[cfg(test)]
mod tests {

    use super::*;

    fn user(name: &str, enabled: &[&str]) -> PlatformUser {
        PlatformUser {
            email: email(name),
            location: "East".into(),
            groups: Vec::new().into(),
            enabled: enabled.iter().map(|c| (*c).into()).collect(),
            sync: crate::target::SyncResults::new(),
        }
    }

    fn email(name: &str) -> Email {
        Email::parse(&format!("{name}@x.io")).unwrap_or_else(|e| panic!("{name}: {}", e.message))
    }

    #[test]
    fn what_is_kept_of_the_users_is_worked_out_again_after_they_change() {
        // Out of order and with a duplicate: a reading is in email order, one per email.
        let mut observed = Observed::new(
            Vec::new(),
            0,
            vec![
                user("c", &["1"]),
                user("a", &["1"]),
                user("b", &["2"]),
                user("a", &["1"]),
            ],
        );
        let list: Arc<[Email]> = Arc::from([email("b"), email("c"), email("z")]);
        assert_eq!(*observed.positions(&list), [Some(1), Some(2), None]);
        let placement = observed.placement(Some("1"), Some("2"));
        assert!(placement.on_from(0) && !placement.on_from(1) && placement.on_to(1));

        // `b` leaves, `z` arrives, `c` moves to `2`: nothing kept from before may answer.
        observed.change_users(|users| {
            users.retain(|u| u.email != email("b"));
            users[1].enabled = vec!["2".into()];
            users.push(user("z", &["1"]));
        });
        assert_eq!(*observed.positions(&list), [None, Some(1), Some(2)]);
        let placement = observed.placement(Some("1"), Some("2"));
        assert_eq!(
            (0..3)
                .map(|i| (placement.on_from(i), placement.on_to(i)))
                .collect::<Vec<_>>(),
            [(true, false), (false, true), (true, false)]
        );
    }

    #[test]
    fn positions_are_right_before_and_after_the_hash_is_made() {
        let names: Vec<String> = (0..200).map(|i| format!("u{i:03}")).collect();
        let observed = Observed::new(
            Vec::new(),
            0,
            names.iter().rev().map(|n| user(n, &[])).collect(),
        );
        // Searches first, then (past about 200 / 7 lookups) the hash: the same answers.
        for round in 0..3 {
            for (i, name) in names.iter().enumerate() {
                assert_eq!(observed.position(&email(name)), Some(i), "{round}: {name}");
                assert_eq!(observed.position(&email(&format!("{name}x"))), None);
            }
        }
        assert!(
            observed.index.positions.get().is_some(),
            "the hash was made"
        );
        let few = Observed::new(Vec::new(), 0, vec![user("a", &[]), user("b", &[])]);
        for _ in 0..10 {
            assert_eq!(few.position(&email("b")), Some(1));
        }
    }
}
