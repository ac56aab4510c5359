//! Where each user is placed on a rollout's `from` and `to`, worked out once per reading.
//!
//! The planner's membership, preflight and every step's members ask the same three questions of
//! every user on every decision. Asked of a `PlatformUser` each time, an answer is a walk through
//! its heap-held lists of configuration ids and sync results; here it is one walk per user per
//! reading (see `Observed::placement`) and a byte each after.

use std::collections::BTreeSet;

use super::PlatformUser;

const ON_FROM: u8 = 1;
const ON_TO: u8 = 2;
const FAILING_ON_FROM: u8 = 4;

/// One byte per user of a reading's users, by position.
#[derive(Debug, Clone)]
pub(crate) struct Placement {
    from: Option<String>,
    to: Option<String>,
    flags: Vec<u8>,
    /// The positions of the users on neither `from` nor `to`, and of those on `from` whose
    /// `from` sync fails: preflight lists both on every decision, and a gate poll changes a
    /// step's users only, so they are kept as the users change rather than found by a walk of
    /// the tenant each time.
    on_neither: BTreeSet<usize>,
    failing: BTreeSet<usize>,
}

impl Placement {
    /// The planner gives as `to` the configuration with the plan's `to` name, adopted or not:
    /// whether it counts is preflight's to say, so [`Placement::on_to`] is asked only once it does.
    pub(super) fn of(users: &[PlatformUser], from: Option<&str>, to: Option<&str>) -> Self {
        let flags: Vec<u8> = users.iter().map(|user| flags(user, from, to)).collect();
        let holding = |has: fn(u8) -> bool| -> BTreeSet<usize> {
            (0..flags.len()).filter(|&i| has(flags[i])).collect()
        };
        Self {
            from: from.map(str::to_owned),
            to: to.map(str::to_owned),
            on_neither: holding(on_neither),
            failing: holding(failing),
            flags,
        }
    }

    pub(crate) fn is_for(&self, from: Option<&str>, to: Option<&str>) -> bool {
        self.from.as_deref() == from && self.to.as_deref() == to
    }

    /// The ids of `from` and `to` it places users on.
    pub(crate) fn ids(&self) -> (Option<&str>, Option<&str>) {
        (self.from.as_deref(), self.to.as_deref())
    }

    /// The user at `at` changed in place.
    pub(super) fn changed(&mut self, at: usize, user: &PlatformUser) {
        let flags = flags(user, self.from.as_deref(), self.to.as_deref());
        let Some(known) = self.flags.get_mut(at) else {
            return;
        };
        *known = flags;
        for (set, has) in [
            (&mut self.on_neither, on_neither as fn(u8) -> bool),
            (&mut self.failing, failing),
        ] {
            if has(flags) {
                set.insert(at);
            } else {
                set.remove(&at);
            }
        }
    }

    /// The positions of the users enabled on neither `from` nor `to`, in order.
    pub(crate) fn on_neither(&self) -> impl Iterator<Item = usize> + '_ {
        self.on_neither.iter().copied()
    }

    /// The positions of the users on `from` whose latest `from` sync failed hard, in order.
    pub(crate) fn failing_on_from_positions(&self) -> impl Iterator<Item = usize> + '_ {
        self.failing.iter().copied()
    }

    fn has(&self, user: usize, flag: u8) -> bool {
        self.flags.get(user).is_some_and(|f| f & flag != 0)
    }

    /// Whether the user at this position is enabled on `from`.
    pub(crate) fn on_from(&self, user: usize) -> bool {
        self.has(user, ON_FROM)
    }

    /// Whether the user at this position is enabled on the configuration named as `to`.
    pub(crate) fn on_to(&self, user: usize) -> bool {
        self.has(user, ON_TO)
    }

    /// Whether the user's latest `from` sync failed hard (see [`PlatformUser::failing_on`]).
    pub(crate) fn failing_on_from(&self, user: usize) -> bool {
        self.has(user, FAILING_ON_FROM)
    }
}

fn on_neither(flags: u8) -> bool {
    flags & (ON_FROM | ON_TO) == 0
}

fn failing(flags: u8) -> bool {
    flags & (ON_FROM | FAILING_ON_FROM) == ON_FROM | FAILING_ON_FROM
}

fn flags(user: &PlatformUser, from: Option<&str>, to: Option<&str>) -> u8 {
    let mut flags = 0;
    if let Some(from) = from {
        if user.is_enabled_on(from) {
            flags |= ON_FROM;
        }
        if user.failing_on(from) {
            flags |= FAILING_ON_FROM;
        }
    }
    if to.is_some_and(|to| user.is_enabled_on(to)) {
        flags |= ON_TO;
    }
    flags
}
