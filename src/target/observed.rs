//! A snapshot of the platform: what the planner plans from.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use crate::plan::grammar::Email;

use super::{Configuration, PlatformUser, Target, TargetError};

/// Everything the planner needs to know about the platform, read at one moment.
#[derive(Debug, Clone)]
pub(crate) struct Observed {
    pub(crate) configurations: Vec<Configuration>,
    pub(crate) free_slots: u32,
    /// In email order.
    pub(crate) users: Vec<PlatformUser>,
    /// Where each user is in `users`, for [`Observed::position`].
    pub(crate) index: UserIndex,
}

/// Where each user is in [`Observed::users`], by a hash of their email, made on the first lookup.
///
/// The planner looks every member of every started step up on every decision; a binary search
/// over a large tenant's emails costs a string comparison (and a cache miss) per probe, this one
/// probe. It is a hint, never the truth: a position is used only if the user there has the email
/// asked for, anything else falls back to the binary search, so a reading changed after the index
/// was made (users added or removed; `reading.rs` resets it then) is still read right.
#[derive(Debug, Default)]
pub(crate) struct UserIndex {
    positions: OnceLock<(RandomState, Positions)>,
    /// The positions of whole lists of members (a started step's frozen members), by the list's
    /// allocation: the state shares one allocation per list for as long as it is unchanged, so
    /// each list is looked up once per reading of the users, not once per decision.
    lists: Mutex<Vec<KnownList>>,
}

/// A list, the users' vector it was looked up in, and where each of its users is.
type KnownList = (Arc<[Email]>, Shape, Arc<[Option<usize>]>);

/// The users' vector a list was looked up in (its buffer and length): a reading whose users were
/// added or removed without its index being reset still never gets stale positions.
type Shape = (usize, usize);

impl Clone for UserIndex {
    fn clone(&self) -> Self {
        Self {
            positions: self.positions.clone(),
            lists: Mutex::new(lock(&self.lists).clone()),
        }
    }
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
        let (hasher, positions) = self.positions.get_or_init(|| {
            let hasher = RandomState::new();
            let positions = users
                .iter()
                .enumerate()
                .filter_map(|(i, u)| {
                    Some((hasher.hash_one(u.email.as_str()), u32::try_from(i).ok()?))
                })
                .collect();
            (hasher, positions)
        });
        let i = *positions.get(&hasher.hash_one(email.as_str()))? as usize;
        users.get(i).filter(|u| u.email == *email).map(|_| i)
    }
}

impl Observed {
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
        let shape = (self.users.as_ptr() as usize, self.users.len());
        if let Some((_, _, at)) = lock(&self.index.lists)
            .iter()
            .find(|(known, seen, _)| Arc::ptr_eq(known, list) && *seen == shape)
        {
            return at.clone();
        }
        let at: Arc<[Option<usize>]> = list.iter().map(|e| self.position(e)).collect();
        let mut lists = lock(&self.index.lists);
        // A list nobody else holds any more was replaced (its step's members read again): its
        // allocation could be reused by another list, so it must go.
        lists.retain(|(known, seen, _)| Arc::strong_count(known) > 1 && *seen == shape);
        lists.push((list.clone(), shape, at.clone()));
        at
    }

    /// Where the user with this email is in `users`.
    pub(crate) fn position(&self, email: &Email) -> Option<usize> {
        self.index
            .position(&self.users, email)
            .or_else(|| self.users.binary_search_by(|u| u.email.cmp(email)).ok())
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
    users.sort_by(|a, b| a.email.cmp(&b.email));
    users.dedup_by(|a, b| a.email == b.email);
    Ok(Observed {
        configurations: list.configurations,
        free_slots: list.free_slots,
        users,
        index: UserIndex::default(),
    })
}
