//! Who is in each step: selectors resolved against the observed platform.
//!
//! Steps claim users in file order: a user named by two steps belongs to the first (the
//! validator already refuses a user listed twice; attribute selectors can still overlap, and
//! the later step says so). `remaining` takes every user on `from` that no earlier step claimed.

use std::collections::{BTreeMap, HashMap};

use crate::plan::grammar::Email;
use crate::plan::{Plan, Selector, Step};
use crate::target::Observed;

pub(super) struct ResolvedStep<'p> {
    pub(super) step: &'p Step,
    /// In email order.
    pub(super) members: Vec<Email>,
    pub(super) notes: Vec<String>,
}

pub(super) struct Resolution<'p> {
    pub(super) steps: Vec<ResolvedStep<'p>>,
    /// Users a list names who are not on the platform, with the step naming them.
    pub(super) missing: Vec<(Email, String)>,
    /// Users enabled on `from` that no step claims.
    pub(super) unclaimed_on_from: Vec<Email>,
}

/// Resolves every step. A step whose members were frozen when it started keeps them.
pub(super) fn resolve<'p>(
    plan: &'p Plan,
    observed: &Observed,
    from_id: Option<&str>,
    frozen: &BTreeMap<String, Vec<Email>>,
) -> Resolution<'p> {
    let mut claimed: HashMap<Email, String> = HashMap::new();
    let mut missing = Vec::new();
    let mut steps = Vec::new();
    for step in plan.pilot.iter().chain(&plan.batches) {
        let name = step.name.to_string();
        let mut members = Vec::new();
        let mut overlaps: HashMap<String, Vec<Email>> = HashMap::new();
        let mut take = |email: &Email, members: &mut Vec<Email>| match claimed.get(email) {
            Some(owner) => overlaps
                .entry(owner.clone())
                .or_default()
                .push(email.clone()),
            None => members.push(email.clone()),
        };
        if let Some(members) = frozen.get(&name) {
            let mut members = members.clone();
            members.sort();
            for email in &members {
                claimed.insert(email.clone(), name.clone());
            }
            steps.push(ResolvedStep {
                step,
                members,
                notes: Vec::new(),
            });
            continue;
        }
        match &step.users {
            Selector::Emails { emails } | Selector::File { emails, .. } => {
                for email in emails {
                    if observed.user(email).is_none() {
                        missing.push((email.clone(), name.clone()));
                    } else {
                        take(email, &mut members);
                    }
                }
            }
            Selector::Location { location } => {
                for user in observed
                    .users
                    .iter()
                    .filter(|u| u.location.trim().eq_ignore_ascii_case(location))
                {
                    take(&user.email, &mut members);
                }
            }
            Selector::Group { group } => {
                for user in &observed.users {
                    if user
                        .groups
                        .iter()
                        .any(|g| g.trim().eq_ignore_ascii_case(group))
                    {
                        take(&user.email, &mut members);
                    }
                }
            }
            Selector::Remaining => {
                for user in &observed.users {
                    if from_id.is_some_and(|f| user.is_enabled_on(f)) {
                        take(&user.email, &mut members);
                    }
                }
            }
        }
        members.sort();
        for email in &members {
            claimed.insert(email.clone(), name.clone());
        }
        // `remaining` excludes earlier steps by definition; saying so per step is noise.
        if matches!(step.users, Selector::Remaining) {
            overlaps.clear();
        }
        let mut notes: Vec<String> = overlaps
            .into_iter()
            .map(|(owner, mut users)| {
                users.sort();
                let count = users.len();
                let who = if count == 1 { "1 user it matches is".to_owned() } else { format!("{count} users it matches are") };
                let names: Vec<String> = users.iter().map(ToString::to_string).collect();
                format!(
                    "{who} in `{owner}`, an earlier step: a user belongs to the first step in file order: {}",
                    names.join(", ")
                )
            })
            .collect();
        notes.sort();
        steps.push(ResolvedStep {
            step,
            members,
            notes,
        });
    }
    let unclaimed_on_from = observed
        .users
        .iter()
        .filter(|u| from_id.is_some_and(|f| u.is_enabled_on(f)) && !claimed.contains_key(&u.email))
        .map(|u| u.email.clone())
        .collect();
    Resolution {
        steps,
        missing,
        unclaimed_on_from,
    }
}
