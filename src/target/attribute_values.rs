//! The users' values of one attribute (their location, or their groups) as numbers, for the
//! selectors that pick users by them.
//!
//! Made once per reading of the users and kept by [`super::Observed`] (the planner resolves
//! every step on every decision of `apply`). Values equal when trimmed and compared ASCII
//! case-insensitively — as a selector matches them — get the same number. This module does not
//! know what a selector is.

use super::PlatformUser;
use crate::fnv_map::FnvMap;

/// Which attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Attribute {
    Location,
    Group,
}

impl Attribute {
    fn of(self, user: &PlatformUser) -> impl Iterator<Item = &str> {
        let (one, many): (Option<&str>, &[String]) = match self {
            Self::Location => (Some(&user.location), &[]),
            Self::Group => (None, &user.groups),
        };
        one.into_iter().chain(many.iter().map(String::as_str))
    }
}

#[derive(Debug, Clone)]
pub(crate) struct AttributeValues {
    attribute: Attribute,
    /// The number of each lowercased, trimmed value.
    classes: FnvMap<String, u32>,
    /// The number of each value as the platform gave it (untrimmed), so a changed user is
    /// checked without lowercasing anything, and the values can be listed as they are.
    spellings: FnvMap<String, u32>,
    /// Every user's numbers in one list: user `i`'s are `numbers[starts[i]..starts[i + 1]]`.
    numbers: Vec<u32>,
    starts: Vec<u32>,
    /// The users with each number, in email order: `holders[first[n]..first[n + 1]]`. A
    /// selector then visits the users it takes, not every user.
    holders: Vec<u32>,
    first: Vec<u32>,
}

impl AttributeValues {
    /// `users` are in email order; positions beyond `u32` (which no tenant reaches) are not
    /// numbered.
    pub(crate) fn of(users: &[PlatformUser], attribute: Attribute) -> Self {
        let users = &users[..users.len().min(u32::MAX as usize)];
        // Most users share a few spellings: each distinct one is lowercased once.
        let mut spellings: FnvMap<String, u32> = FnvMap::default();
        let mut classes: FnvMap<String, u32> = FnvMap::default();
        let mut numbers: Vec<u32> = Vec::with_capacity(users.len());
        let mut starts: Vec<u32> = Vec::with_capacity(users.len() + 1);
        let mut counts: Vec<u32> = Vec::new();
        for user in users {
            let start = numbers.len();
            starts.push(start as u32);
            for value in attribute.of(user) {
                let number = match spellings.get(value) {
                    Some(&n) => n,
                    None => {
                        let next = u32::try_from(classes.len()).unwrap_or(u32::MAX);
                        let class = value.trim().to_ascii_lowercase();
                        let n = *classes.entry(class).or_insert(next);
                        spellings.insert(value.to_owned(), n);
                        n
                    }
                };
                // A user listing one group twice (or in two spellings) holds it once.
                if !numbers[start..].contains(&number) {
                    numbers.push(number);
                    if counts.len() <= number as usize {
                        counts.resize(number as usize + 1, 0);
                    }
                    counts[number as usize] += 1;
                }
            }
        }
        starts.push(numbers.len() as u32);
        // A counting sort of the users by number: each number's holders stay in email order.
        let mut first = Vec::with_capacity(counts.len() + 1);
        let mut total = 0u32;
        for &count in &counts {
            first.push(total);
            total += count;
        }
        first.push(total);
        let mut next = first.clone();
        let mut holders = vec![0u32; total as usize];
        for i in 0..users.len() {
            for &n in &numbers[starts[i] as usize..starts[i + 1] as usize] {
                holders[next[n as usize] as usize] = i as u32;
                next[n as usize] += 1;
            }
        }
        Self {
            attribute,
            classes,
            spellings,
            numbers,
            starts,
            holders,
            first,
        }
    }

    /// The number of a selector's value; `None` when no user has it.
    pub(crate) fn class(&self, value: &str) -> Option<u32> {
        self.classes
            .get(&value.trim().to_ascii_lowercase())
            .copied()
    }

    /// Each value as the platform gave it, once, in no order.
    pub(crate) fn spellings(&self) -> impl Iterator<Item = &str> {
        self.spellings.keys().map(String::as_str)
    }

    /// The positions of the users holding this number, in email order.
    pub(crate) fn holders(&self, class: u32) -> &[u32] {
        let n = class as usize;
        match (self.first.get(n), self.first.get(n + 1)) {
            (Some(&start), Some(&end)) => &self.holders[start as usize..end as usize],
            _ => &[],
        }
    }

    /// Whether the user at `i` still has the values these numbers were made from (a user read
    /// again may have moved, or changed groups).
    pub(crate) fn still_holds(&self, i: usize, user: &PlatformUser) -> bool {
        let Some(numbers) = self
            .starts
            .get(i)
            .zip(self.starts.get(i + 1))
            .map(|(&start, &end)| &self.numbers[start as usize..end as usize])
        else {
            return false;
        };
        let values = || self.attribute.of(user);
        let number_of = |value: &str| self.spellings.get(value);
        // The same numbers, either way round (a repeated value counts once). A spelling never
        // met counts as a change, even if it would lowercase to a known one: the values are then
        // made again, which is never wrong.
        values().all(|v| number_of(v).is_some_and(|n| numbers.contains(n)))
            && numbers
                .iter()
                .all(|n| values().any(|v| number_of(v) == Some(n)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::grammar::Email;
    use crate::target::SyncResults;

    fn user(name: &str, location: &str, groups: &[&str]) -> PlatformUser {
        PlatformUser {
            email: Email::parse(&format!("{name}@x.io"))
                .unwrap_or_else(|e| panic!("{name}: {}", e.message)),
            location: location.into(),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            enabled: Vec::new(),
            sync: SyncResults::new(),
        }
    }

    #[test]
    fn values_match_trimmed_and_in_any_case_and_each_holder_once() {
        let users = [
            user("a", "East", &["IT", " it", "Sales"]),
            user("b", " east ", &[]),
            user("c", "West", &["sales"]),
        ];
        let locations = AttributeValues::of(&users, Attribute::Location);
        let groups = AttributeValues::of(&users, Attribute::Group);
        let holders = |values: &AttributeValues, value: &str| {
            values
                .class(value)
                .map(|c| values.holders(c).to_vec())
                .unwrap_or_default()
        };
        for (values, value, expected) in [
            (&locations, "EAST", vec![0, 1]),
            (&locations, "west ", vec![2]),
            (&locations, "North", vec![]),
            (&groups, "it", vec![0]),
            (&groups, "Sales", vec![0, 2]),
        ] {
            assert_eq!(holders(values, value), expected, "{value}");
        }
    }

    #[test]
    fn a_user_holds_the_values_until_one_changes() {
        let users = [user("a", "East", &["IT", "Sales"]), user("b", "West", &[])];
        let groups = AttributeValues::of(&users, Attribute::Group);
        let locations = AttributeValues::of(&users, Attribute::Location);
        for (values, i, changed, holds) in [
            (
                &groups,
                0,
                user("a", "West", &["Sales", "IT", "Sales"]),
                true,
            ),
            // A spelling never met counts as a change (the numbers are made again).
            (&groups, 0, user("a", "West", &["Sales", "IT "]), false),
            (&groups, 0, user("a", "East", &["IT"]), false),
            (&groups, 0, user("a", "East", &["IT", "Sales", "HR"]), false),
            (&groups, 1, user("b", "West", &["IT"]), false),
            (&groups, 1, user("b", "West", &[]), true),
            (&locations, 0, user("a", "West", &[]), false),
            (&locations, 0, user("a", "East", &[]), true),
            (&locations, 1, user("b", "East", &[]), false),
            (&locations, 2, user("c", "West", &[]), false),
        ] {
            assert_eq!(values.still_holds(i, &changed), holds, "{i}: {changed:?}");
        }
    }
}
