//! Where each user is placed on `from` and `to`, worked out once per decision.
//!
//! Membership, preflight and every step's members all ask the same three questions of every
//! user. Asked of `PlatformUser` each time, an answer is a walk through its heap-held lists of
//! configuration ids and sync results, several times per user of the tenant per decision; here it
//! is one walk per user and a byte each after.

use super::preflight::already_failing;
use crate::target::Observed;

const ON_FROM: u8 = 1;
const ON_TO: u8 = 2;
const FAILING_ON_FROM: u8 = 4;

/// One byte per user of `observed.users`, by position.
pub(super) struct Placement {
    flags: Vec<u8>,
}

impl Placement {
    /// `to` is the configuration with the plan's `to` name, adopted or not: whether it counts
    /// is preflight's to say, so the callers ask [`Placement::on_to`] only once it does.
    pub(super) fn of(observed: &Observed, from: Option<&str>, to: Option<&str>) -> Self {
        let flags = observed
            .users
            .iter()
            .map(|user| {
                let mut flags = 0;
                if let Some(from) = from {
                    if user.is_enabled_on(from) {
                        flags |= ON_FROM;
                    }
                    if already_failing(user, from) {
                        flags |= FAILING_ON_FROM;
                    }
                }
                if to.is_some_and(|to| user.is_enabled_on(to)) {
                    flags |= ON_TO;
                }
                flags
            })
            .collect();
        Self { flags }
    }

    fn has(&self, user: usize, flag: u8) -> bool {
        self.flags.get(user).is_some_and(|f| f & flag != 0)
    }

    /// Whether the user at this position is enabled on `from`.
    pub(super) fn on_from(&self, user: usize) -> bool {
        self.has(user, ON_FROM)
    }

    /// Whether the user at this position is enabled on the configuration named as `to`.
    pub(super) fn on_to(&self, user: usize) -> bool {
        self.has(user, ON_TO)
    }

    /// Whether the user's latest `from` sync failed hard (see `preflight::already_failing`).
    pub(super) fn failing_on_from(&self, user: usize) -> bool {
        self.has(user, FAILING_ON_FROM)
    }
}
