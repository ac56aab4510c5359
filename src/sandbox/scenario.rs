//! Scenarios: named, deterministic tenants to start a sandbox from.
//!
//! The same scenario and options always give the same tenant (users, attributes, assignments,
//! faults), so a quick start, a README walk-through and a test all see the same thing.

use super::{Fault, SandboxError};
use crate::target::{AuthType, ConfigurationState};

/// Options of `cutover sandbox init`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ScenarioOptions {
    pub(crate) users: Option<usize>,
    pub(crate) sync_interval_ms: Option<i64>,
}

pub(crate) struct Scenario {
    pub(crate) name: &'static str,
    pub(crate) description: &'static str,
    /// The fewest users that make this tenant what its description says.
    pub(crate) min_users: usize,
    build: fn(&mut Tenant),
}

pub(crate) const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "demo",
        description: "48 users on a connected \"Basic Auth\" configuration, two slots, no faults",
        min_users: 2,
        build: |_| {},
    },
    Scenario {
        name: "single-slot",
        description: "the demo tenant with only one configuration slot (support has not added a second)",
        min_users: 2,
        build: |t| t.slots = 1,
    },
    Scenario {
        name: "part-migrated",
        description: "an \"OAuth\" configuration already connected by hand; some users on it, some on both, two on neither",
        min_users: 21,
        build: |t| {
            t.configurations.push(ConfigurationSpec::oauth(
                "OAuth",
                "contoso.onmicrosoft.com",
                ConfigurationState::Connected,
            ));
            for user in t.users.iter_mut().skip(10).take(6) {
                user.enabled = vec!["OAuth"];
            }
            for user in t.users.iter_mut().skip(16).take(3) {
                user.enabled = vec!["Basic Auth", "OAuth"];
            }
            for user in t.users.iter_mut().skip(19).take(2) {
                user.enabled = vec![];
            }
        },
    },
    Scenario {
        name: "messy",
        description: "users already failing under Basic (mailboxes gone, a non-primary email), users on no configuration, remote staff in no location batch",
        min_users: 45,
        build: |t| {
            for (i, fault) in [
                (5, Fault::MailboxGone),
                (23, Fault::MailboxGone),
                (31, Fault::NotPrimary),
            ] {
                if let Some(user) = t.users.get(i) {
                    t.faults.push((fault, user.email.clone()));
                }
            }
            for user in t.users.iter_mut().skip(40).take(2) {
                user.enabled = vec![];
            }
            for user in t.users.iter_mut().skip(42).take(3) {
                user.location = "Remote".to_owned();
            }
        },
    },
    Scenario {
        name: "access-policy",
        description: "the demo tenant whose OAuth app's application access policy leaves out four mailboxes (OAuth syncs for them are denied)",
        min_users: 34,
        build: |t| {
            for i in [7, 20, 26, 33] {
                if let Some(user) = t.users.get(i) {
                    t.faults.push((Fault::DenyAccess, user.email.clone()));
                }
            }
        },
    },
    Scenario {
        name: "wrong-tenant",
        description: "an \"OAuth\" configuration made by hand for another tenant (fabrikam.onmicrosoft.com), never authorized",
        min_users: 2,
        build: |t| {
            t.configurations.push(ConfigurationSpec::oauth(
                "OAuth",
                "fabrikam.onmicrosoft.com",
                ConfigurationState::PendingAuthorization,
            ));
        },
    },
];

impl Scenario {
    pub(crate) fn find(name: &str) -> Option<&'static Scenario> {
        SCENARIOS.iter().find(|s| s.name == name)
    }

    pub(crate) fn names() -> String {
        SCENARIOS
            .iter()
            .map(|s| s.name)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Refuses a user count too small for this scenario.
    pub(crate) fn check_users(&self, users: Option<usize>) -> Result<(), SandboxError> {
        match users {
            Some(requested) if requested < self.min_users => Err(SandboxError::TooFewUsers {
                scenario: self.name,
                min: self.min_users,
                requested,
            }),
            _ => Ok(()),
        }
    }

    /// The tenant this scenario describes (with at least its minimum of users).
    pub(crate) fn tenant(&self, options: ScenarioOptions) -> Tenant {
        let count = options.users.unwrap_or(48).max(self.min_users);
        let mut tenant = Tenant {
            slots: 2,
            sync_interval_ms: options.sync_interval_ms.unwrap_or(2_000),
            configurations: vec![ConfigurationSpec {
                display_name: "Basic Auth",
                auth_type: AuthType::Basic,
                tenant_id: None,
                state: ConfigurationState::Connected,
                authorized_account: Some("svc-exchange@contoso.example".to_owned()),
            }],
            users: generate_users(count),
            faults: Vec::new(),
        };
        (self.build)(&mut tenant);
        tenant
    }
}

/// Everything a new sandbox file holds.
pub(crate) struct Tenant {
    pub(crate) slots: u32,
    pub(crate) sync_interval_ms: i64,
    pub(crate) configurations: Vec<ConfigurationSpec>,
    pub(crate) users: Vec<UserSpec>,
    pub(crate) faults: Vec<(Fault, String)>,
}

pub(crate) struct ConfigurationSpec {
    pub(crate) display_name: &'static str,
    pub(crate) auth_type: AuthType,
    pub(crate) tenant_id: Option<&'static str>,
    pub(crate) state: ConfigurationState,
    pub(crate) authorized_account: Option<String>,
}

impl ConfigurationSpec {
    fn oauth(display_name: &'static str, tenant: &'static str, state: ConfigurationState) -> Self {
        let connected = state == ConfigurationState::Connected;
        Self {
            display_name,
            auth_type: AuthType::Oauth,
            tenant_id: Some(tenant),
            state,
            authorized_account: connected.then(|| "svc-sync@contoso.example".to_owned()),
        }
    }
}

pub(crate) struct UserSpec {
    pub(crate) email: String,
    pub(crate) name: String,
    pub(crate) location: String,
    pub(crate) groups: Vec<String>,
    pub(crate) enabled: Vec<&'static str>,
}

const FIRST: &[&str] = &[
    "Carl", "Dina", "Erik", "Fatima", "Grace", "Hiro", "Ines", "James", "Kofi", "Lena", "Marco",
    "Nadia", "Oscar", "Priya", "Quinn", "Rosa", "Samir", "Tara", "Umar", "Vera", "Wen", "Ximena",
    "Yusuf", "Zoe", "Aiko", "Bruno", "Chloe", "Dmitri", "Elena", "Felix", "Gita", "Hugo", "Ivy",
    "Jonas", "Kira", "Luis", "Maya", "Nils", "Olga", "Pablo",
];
const LAST: &[&str] = &[
    "Adams",
    "Baker",
    "Costa",
    "Diaz",
    "Evans",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ito",
    "Jensen",
    "Kim",
    "Larsen",
    "Moreau",
    "Novak",
    "Olsen",
    "Patel",
    "Quist",
    "Reyes",
    "Santos",
    "Tanaka",
    "Ueda",
    "Vargas",
    "Weber",
    "Xu",
    "Yilmaz",
    "Zhang",
    "Abbott",
    "Brandt",
    "Castillo",
    "Dubois",
    "Eriksen",
    "Ferreira",
    "Gomez",
    "Hansen",
    "Ivanova",
    "Jovanovic",
    "Kowalski",
    "Lindqvist",
    "Mensah",
    "Nakamura",
];
const LOCATIONS: &[(&str, u64)] = &[("East", 35), ("West", 30), ("Central", 20), ("North", 15)];
const TEAMS: &[(&str, u64)] = &[
    ("Sales", 30),
    ("Support", 30),
    ("Operations", 25),
    ("Finance", 15),
];

/// The users of every scenario: Ana and Ben of IT first (the quick start's pilot), then a
/// spread over locations and teams drawn from a fixed seed.
fn generate_users(count: usize) -> Vec<UserSpec> {
    let mut users = vec![
        UserSpec {
            email: "ana@contoso.example".to_owned(),
            name: "Ana Lopez".to_owned(),
            location: "East".to_owned(),
            groups: vec!["IT".to_owned(), "Staff".to_owned()],
            enabled: vec!["Basic Auth"],
        },
        UserSpec {
            email: "ben@contoso.example".to_owned(),
            name: "Ben Okafor".to_owned(),
            location: "West".to_owned(),
            groups: vec!["IT".to_owned(), "Staff".to_owned()],
            enabled: vec!["Basic Auth"],
        },
    ];
    let mut rng = SplitMix(0x0c07_0e12_2026_0001);
    let mut taken = std::collections::HashSet::new();
    while users.len() < count {
        let i = users.len() - 2;
        let first = FIRST[i % FIRST.len()];
        let last = LAST[(i / FIRST.len() + i * 7) % LAST.len()];
        let base = format!("{}.{}", first.to_lowercase(), last.to_lowercase());
        let mut local = base.clone();
        let mut n = 1;
        while !taken.insert(local.clone()) {
            n += 1;
            local = format!("{base}{n}");
        }
        let mut groups = vec![pick(&mut rng, TEAMS).to_owned(), "Staff".to_owned()];
        if rng.below(100) < 10 {
            groups.push("Managers".to_owned());
        }
        if rng.below(100) < 5 {
            groups.push("IT".to_owned());
        }
        groups.sort();
        users.push(UserSpec {
            email: format!("{local}@contoso.example"),
            name: format!("{first} {last}"),
            location: pick(&mut rng, LOCATIONS).to_owned(),
            groups,
            enabled: vec!["Basic Auth"],
        });
    }
    users.truncate(count);
    users
}

fn pick(rng: &mut SplitMix, weighted: &[(&'static str, u64)]) -> &'static str {
    let total: u64 = weighted.iter().map(|(_, w)| w).sum();
    let mut roll = rng.below(total);
    for (name, weight) in weighted {
        if roll < *weight {
            return name;
        }
        roll -= weight;
    }
    weighted[0].0
}

/// A small, fixed pseudo-random sequence: scenarios must not change with a dependency's version.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants_are_deterministic_and_unique() {
        let a = Scenario::find("demo").map(|s| s.tenant(ScenarioOptions::default()));
        let b = Scenario::find("demo").map(|s| s.tenant(ScenarioOptions::default()));
        let (Some(a), Some(b)) = (a, b) else {
            panic!("demo exists")
        };
        let emails = |t: &Tenant| {
            t.users
                .iter()
                .map(|u| format!("{} {} {:?}", u.email, u.location, u.groups))
                .collect::<Vec<_>>()
        };
        assert_eq!(emails(&a), emails(&b));
        assert_eq!(a.users.len(), 48);
        let big = Scenario::find("demo").map(|s| {
            s.tenant(ScenarioOptions {
                users: Some(5_000),
                ..Default::default()
            })
        });
        let big = big.map(|t| {
            t.users
                .into_iter()
                .map(|u| u.email)
                .collect::<std::collections::HashSet<_>>()
        });
        assert_eq!(big.map(|s| s.len()), Some(5_000));
    }

    #[test]
    fn every_scenario_builds_at_its_minimum_and_refuses_fewer() {
        for scenario in SCENARIOS {
            let min = scenario.min_users;
            assert!(scenario.check_users(Some(min)).is_ok(), "{}", scenario.name);
            assert!(scenario.check_users(None).is_ok(), "{}", scenario.name);
            let refused = scenario
                .check_users(Some(min - 1))
                .map_err(|e| e.to_string());
            assert_eq!(
                refused,
                Err(format!(
                    "the `{}` scenario needs at least {min} users (--users {} was given)",
                    scenario.name,
                    min - 1
                ))
            );
            for users in [0, 1, min - 1, min] {
                let tenant = scenario.tenant(ScenarioOptions {
                    users: Some(users),
                    ..Default::default()
                });
                assert_eq!(tenant.users.len(), min.max(users), "{}", scenario.name);
            }
        }
        let messy = Scenario::find("messy").map(|s| s.tenant(ScenarioOptions::default()));
        assert_eq!(messy.map(|t| t.faults.len()), Some(3));
    }
}
