//! Who is in each step: selectors resolved against the observed platform.
//!
//! Steps claim users in file order: a user named by two steps belongs to the first (the
//! validator already refuses a user listed twice; attribute selectors can still overlap, and
//! the later step says so). `remaining` takes every user on `from` that no earlier step claimed.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::memo::Memo;
use super::overlap_note::OverlapNote;
use crate::plan::grammar::Email;
use crate::plan::{Plan, Selector, Step};
use crate::target::{Attribute, Observed, Placement};

pub(super) struct ResolvedStep<'p> {
    pub(super) step: &'p Step,
    /// In email order; a started step's are the state's own list, shared.
    pub(super) members: Arc<[Email]>,
    /// Where each member is in `observed.users` (`None`: not on the platform), beside `members`.
    pub(super) at: Arc<[Option<usize>]>,
    pub(super) notes: Vec<OverlapNote>,
}

pub(super) struct Resolution<'p> {
    pub(super) steps: Vec<ResolvedStep<'p>>,
    /// Users a list names who are not on the platform, with the step naming them.
    pub(super) missing: Vec<(Email, String)>,
    /// Users enabled on `from` that no step claims, in email order.
    pub(super) unclaimed_on_from: Arc<[Email]>,
}

/// No step claimed this user.
const UNCLAIMED: u32 = u32::MAX;

/// Which step (by its number in file order) claimed each user of a reading, by position, and
/// the frozen lists the started steps claimed theirs by.
pub(super) struct Claims {
    owner: Vec<u32>,
    frozen: Vec<Option<Arc<[Email]>>>,
    /// Users a step not yet started took before a later step's frozen list claimed them too (a
    /// step edited in ahead of started ones), in order: they belong to both.
    shared: Vec<usize>,
}

impl Claims {
    pub(super) fn is_frozen(&self, step: usize) -> bool {
        self.frozen.get(step).is_some_and(Option::is_some)
    }

    /// Whether the user at this position belongs to started steps only, by their frozen lists.
    pub(super) fn by_frozen(&self, user: usize) -> bool {
        self.owner
            .get(user)
            .is_some_and(|&o| o != UNCLAIMED && self.is_frozen(o as usize))
            && self.shared.binary_search(&user).is_err()
    }

    /// Whether the same steps are frozen, with the very same lists (the state shares one
    /// allocation per list for as long as it is unchanged; one held here is never reused).
    pub(super) fn frozen_as(&self, frozen: &[Option<&Arc<[Email]>>]) -> bool {
        self.frozen.len() == frozen.len()
            && self.frozen.iter().zip(frozen).all(|pair| match pair {
                (Some(kept), Some(now)) => Arc::ptr_eq(kept, now),
                (None, None) => true,
                _ => false,
            })
    }
}

/// Resolves every step. A step whose members were frozen when it started keeps them (`frozen`
/// lists are in email order, as the state keeps them). With a `memo`, what it kept from an
/// earlier decision is used where it still holds.
pub(super) fn resolve<'p>(
    plan: &'p Plan,
    observed: &Observed,
    placement: &Placement,
    frozen: &BTreeMap<String, Arc<[Email]>>,
    memo: Option<&Memo>,
) -> Resolution<'p> {
    let frozen: Vec<Option<&Arc<[Email]>>> = plan
        .pilot
        .iter()
        .chain(&plan.batches)
        .map(|step| frozen.get(&step.name.to_string()))
        .collect();
    if let Some(kept) = memo.and_then(|m| m.recall(plan, observed, placement, &frozen)) {
        return kept;
    }
    let (resolution, claims) = afresh(plan, observed, placement, &frozen);
    if let Some(memo) = memo {
        memo.keep(observed, placement, &resolution, claims);
    }
    resolution
}

/// Users are claimed by their index in `observed.users` (which is in email order, so sorted
/// indices are members in email order): nothing is cloned or hashed per user per step, only each
/// member's email once, into its step.
fn afresh<'p>(
    plan: &'p Plan,
    observed: &Observed,
    placement: &Placement,
    frozen: &[Option<&Arc<[Email]>>],
) -> (Resolution<'p>, Claims) {
    let users = observed.users();
    // The step (by its index in file order) that claimed each user.
    let mut claimed: Vec<u32> = vec![UNCLAIMED; users.len()];
    // Where each claimed user is in its step's members: an overlap note names users by that,
    // sharing the earlier step's list rather than copying emails out of it.
    let mut slot: Vec<u32> = vec![0; users.len()];
    let index_of = |email: &Email| observed.position(email);
    let is_frozen = |owner: u32| frozen.get(owner as usize).copied().flatten().is_some();
    let mut shared = Vec::new();
    let mut missing = Vec::new();
    let mut steps = Vec::new();
    for (n, step) in plan.pilot.iter().chain(&plan.batches).enumerate() {
        let number = u32::try_from(n).unwrap_or(UNCLAIMED - 1);
        let name = step.name.to_string();
        if let Some(members) = frozen.get(n).copied().flatten() {
            // In email order already (the state keeps them so); their positions are looked up
            // once per reading of the users, not on every decision.
            let at = observed.positions(members);
            // Frozen members no longer on the platform claim nobody a later step could take.
            for (k, &i) in at.iter().enumerate() {
                if let Some(i) = i {
                    if claimed[i] != UNCLAIMED && !is_frozen(claimed[i]) {
                        shared.push(i);
                    }
                    claimed[i] = number;
                    slot[i] = u32::try_from(k).unwrap_or(u32::MAX);
                }
            }
            steps.push(ResolvedStep {
                step,
                members: members.clone(),
                at,
                notes: Vec::new(),
            });
            continue;
        }
        let mut taken: Vec<usize> = Vec::new();
        // Users this step matches that an earlier step claimed, by that step's number.
        let mut overlaps: Vec<Vec<usize>> = Vec::new();
        let mut take = |i: usize| match claimed[i] {
            UNCLAIMED => taken.push(i),
            owner => {
                let owner = owner as usize;
                if overlaps.len() <= owner {
                    overlaps.resize_with(owner + 1, Vec::new);
                }
                overlaps[owner].push(i);
            }
        };
        match &step.users {
            Selector::Emails { emails } | Selector::File { emails, .. } => {
                for email in emails {
                    match index_of(email) {
                        Some(i) => take(i),
                        None => missing.push((email.clone(), name.clone())),
                    }
                }
            }
            Selector::Location { location } => {
                let values = observed.attribute_values(Attribute::Location);
                for &i in values
                    .class(location)
                    .map_or(&[][..], |c| values.holders(c))
                {
                    take(i as usize);
                }
            }
            Selector::Group { group } => {
                let values = observed.attribute_values(Attribute::Group);
                for &i in values.class(group).map_or(&[][..], |c| values.holders(c)) {
                    take(i as usize);
                }
            }
            Selector::Remaining => {
                for i in 0..users.len() {
                    if placement.on_from(i) {
                        take(i);
                    }
                }
            }
        }
        taken.sort_unstable();
        for (k, &i) in taken.iter().enumerate() {
            claimed[i] = number;
            slot[i] = u32::try_from(k).unwrap_or(u32::MAX);
        }
        // `remaining` excludes earlier steps by definition; saying so per step is noise.
        if matches!(step.users, Selector::Remaining) {
            overlaps.clear();
        }
        let owner_name = |owner: usize| {
            plan.pilot
                .iter()
                .chain(&plan.batches)
                .nth(owner)
                .map_or_else(String::new, |s| s.name.to_string())
        };
        let mut notes: Vec<OverlapNote> = overlaps
            .into_iter()
            .enumerate()
            .filter(|(_, claimed)| !claimed.is_empty())
            .filter_map(|(owner, mut claimed)| {
                // Indices into `users`, which is in email order (one per email): sorted, they
                // name the users in email order.
                claimed.sort_unstable();
                let members = steps
                    .get(owner)
                    .map(|s: &ResolvedStep<'_>| s.members.clone())?;
                let at = claimed.into_iter().map(|i| slot[i]).collect();
                Some(OverlapNote::new(owner_name(owner), members, at))
            })
            .collect();
        notes.sort_by_cached_key(OverlapNote::head);
        steps.push(ResolvedStep {
            step,
            members: taken.iter().map(|&i| users[i].email.clone()).collect(),
            at: taken.into_iter().map(Some).collect(),
            notes,
        });
    }
    let unclaimed_on_from = users
        .iter()
        .zip(&claimed)
        .enumerate()
        .filter(|(i, (_, owner))| **owner == UNCLAIMED && placement.on_from(*i))
        .map(|(_, (u, _))| u.email.clone())
        .collect();
    shared.sort_unstable();
    shared.dedup();
    let claims = Claims {
        owner: claimed,
        frozen: frozen.iter().map(|f| f.cloned()).collect(),
        shared,
    };
    (
        Resolution {
            steps,
            missing,
            unclaimed_on_from,
        },
        claims,
    )
}
