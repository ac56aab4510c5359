//! Who is in each step: selectors resolved against the observed platform.
//!
//! Steps claim users in file order: a user named by two steps belongs to the first (the
//! validator already refuses a user listed twice; attribute selectors can still overlap, and
//! the later step says so). `remaining` takes every user on `from` that no earlier step claimed.

use std::collections::BTreeMap;
use std::sync::Arc;

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
    /// Users enabled on `from` that no step claims.
    pub(super) unclaimed_on_from: Vec<Email>,
}

/// Resolves every step. A step whose members were frozen when it started keeps them (`frozen`
/// lists are in email order, as the state keeps them).
///
/// Users are claimed by their index in `observed.users` (which is in email order, so sorted
/// indices are members in email order): nothing is cloned or hashed per user per step, only each
/// member's email once, into its step.
pub(super) fn resolve<'p>(
    plan: &'p Plan,
    observed: &Observed,
    placement: &Placement,
    frozen: &BTreeMap<String, Arc<[Email]>>,
) -> Resolution<'p> {
    const UNCLAIMED: u32 = u32::MAX;
    let users = observed.users();
    // The step (by its index in file order) that claimed each user.
    let mut claimed: Vec<u32> = vec![UNCLAIMED; users.len()];
    // Where each claimed user is in its step's members: an overlap note names users by that,
    // sharing the earlier step's list rather than copying emails out of it.
    let mut slot: Vec<u32> = vec![0; users.len()];
    let index_of = |email: &Email| observed.position(email);
    let mut missing = Vec::new();
    let mut steps = Vec::new();
    for (number, step) in plan.pilot.iter().chain(&plan.batches).enumerate() {
        let number = u32::try_from(number).unwrap_or(UNCLAIMED - 1);
        let name = step.name.to_string();
        if let Some(members) = frozen.get(&name) {
            // In email order already (the state keeps them so); their positions are looked up
            // once per reading of the users, not on every decision.
            let at = observed.positions(members);
            // Frozen members no longer on the platform claim nobody a later step could take.
            for (k, &i) in at.iter().enumerate() {
                if let Some(i) = i {
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
    Resolution {
        steps,
        missing,
        unclaimed_on_from,
    }
}
