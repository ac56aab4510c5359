//! The dry-run digest: what a change board approved, as a short hash — and the snapshot behind
//! it, so a mismatch can say what changed.
//!
//! The snapshot is the plan's canonical form and the observed assignments (configurations, and
//! which users are enabled on which) — not sync results, which change by the minute. `apply
//! --approved DIGEST` compares against it, so a board's approval cannot silently apply to a
//! different plan or a different tenant.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::plan::Plan;
use crate::target::Observed;

/// `sha256:` and the first 20 hex digits of the hash of `value`'s JSON.
fn digest_of_json(value: &impl Serialize) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"cutover-digest-v1\n");
    // Streamed into the hash: the canonical JSON of a large tenant is never held whole.
    // (Serializing these types cannot fail: every map has string keys.)
    let _ = serde_json::to_writer(HashWriter(&mut hasher), value);
    let hash = hasher.finalize();
    let hex: String = hash.iter().take(10).map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// A [`Snapshot`] serialized from borrowed parts: the same fields, in the same order.
#[derive(Serialize)]
struct SnapshotView<'a> {
    format_version: u32,
    plan: &'a serde_json::Value,
    configurations: &'a [String],
    assignments: Assignments<'a>,
}

/// `Snapshot::assignments` read from the observation: users are in email order, which is the
/// order of the map's keys.
struct Assignments<'a>(&'a Observed);

impl<'a> Serialize for Assignments<'a> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let observed: &'a Observed = self.0;
        let name_of = |id: &'a str| -> &'a str {
            observed
                .configurations
                .iter()
                .find(|c| c.id == id)
                .map_or(id, |c| c.display_name.as_str())
        };
        let mut map = serializer.serialize_map(Some(observed.users().len()))?;
        let mut enabled: Vec<&str> = Vec::new();
        for user in observed.users() {
            enabled.clear();
            enabled.extend(user.enabled.iter().map(|id| name_of(id)));
            enabled.sort_unstable();
            map.serialize_entry(&user.email, &enabled)?;
        }
        map.end()
    }
}

/// Feeds what is written into a hash.
struct HashWriter<'a>(&'a mut Sha256);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What a digest is a hash of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Snapshot {
    pub(crate) format_version: u32,
    pub(crate) plan: serde_json::Value,
    /// `display name|auth type|state|tenant`, sorted.
    pub(crate) configurations: Vec<String>,
    /// Each user's enabled configurations by display name, sorted.
    pub(crate) assignments: BTreeMap<String, Vec<String>>,
}

impl Snapshot {
    pub(crate) fn of(plan: &Plan, observed: &Observed) -> Self {
        let name_of = |id: &str| -> String {
            observed
                .configurations
                .iter()
                .find(|c| c.id == id)
                .map_or_else(|| id.to_owned(), |c| c.display_name.clone())
        };
        let mut configurations: Vec<String> = observed
            .configurations
            .iter()
            .map(|c| {
                format!(
                    "{}|{}|{}|{}",
                    c.display_name,
                    c.auth_type.as_str(),
                    c.state.as_str(),
                    c.tenant_id.as_deref().unwrap_or("")
                )
            })
            .collect();
        configurations.sort();
        let assignments = observed
            .users()
            .iter()
            .map(|u| {
                let mut enabled: Vec<String> = u.enabled.iter().map(|id| name_of(id)).collect();
                enabled.sort_unstable();
                (u.email.to_string(), enabled)
            })
            .collect();
        Self {
            format_version: 1,
            plan: serde_json::to_value(plan).unwrap_or(serde_json::Value::Null),
            configurations,
            assignments,
        }
    }

    /// `sha256:` and the first 20 hex digits of the hash of the canonical JSON.
    pub(crate) fn digest(&self) -> String {
        digest_of_json(self)
    }

    /// The digest of `Snapshot::of(plan, observed)`, without building it: the same canonical
    /// JSON is written straight into the hash from the observation, no email or configuration
    /// name copied per user.
    pub(crate) fn digest_of(plan: &Plan, observed: &Observed) -> String {
        let of = Self::of(
            plan,
            &Observed::new(
                observed.configurations.clone(),
                observed.free_slots,
                Vec::new(),
            ),
        );
        digest_of_json(&SnapshotView {
            format_version: of.format_version,
            plan: &of.plan,
            configurations: &of.configurations,
            assignments: Assignments(observed),
        })
    }

    /// What changed from `self` (the approved snapshot) to `now`, in words, one change a line.
    pub(crate) fn changes_to(&self, now: &Snapshot) -> Vec<String> {
        let mut changes = Vec::new();
        json_changes("plan", &self.plan, &now.plan, &mut changes);
        for c in &self.configurations {
            if !now.configurations.contains(c) {
                changes.push(format!(
                    "configuration no longer as approved: {}",
                    c.replace('|', ", ")
                ));
            }
        }
        for c in &now.configurations {
            if !self.configurations.contains(c) {
                changes.push(format!("configuration now: {}", c.replace('|', ", ")));
            }
        }
        let none = Vec::new();
        let emails: std::collections::BTreeSet<&String> = self
            .assignments
            .keys()
            .chain(now.assignments.keys())
            .collect();
        for email in emails {
            let before = self.assignments.get(email).unwrap_or(&none);
            let after = now.assignments.get(email).unwrap_or(&none);
            if before != after {
                let show = |v: &Vec<String>| {
                    if v.is_empty() {
                        "nothing".to_owned()
                    } else {
                        v.join(" + ")
                    }
                };
                changes.push(format!(
                    "user {email}: was on {}, now on {}",
                    show(before),
                    show(after)
                ));
            }
        }
        changes
    }
}

/// Differences between two JSON values, by path, one line each. Lists of named objects (batches)
/// are matched by name; lists of strings (emails) say what was added and removed.
pub(crate) fn json_changes(
    path: &str,
    before: &serde_json::Value,
    after: &serde_json::Value,
    out: &mut Vec<String>,
) {
    use serde_json::Value;
    let name = |v: &Value| v.get("name").and_then(Value::as_str).map(str::to_owned);
    match (before, after) {
        // Most of a plan is unchanged: compared whole, it is not walked key by key.
        _ if before == after => {}
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                let null = Value::Null;
                json_changes(
                    &format!("{path}.{key}"),
                    a.get(key).unwrap_or(&null),
                    b.get(key).unwrap_or(&null),
                    out,
                );
            }
        }
        // Looked up by name and by text, not by a scan of the other list for each: a plan's
        // lists can hold a whole tenant's emails, and this runs on every decision.
        (Value::Array(a), Value::Array(b)) if a.iter().chain(b).all(|v| name(v).is_some()) => {
            let by_name = |list: &[Value]| -> HashMap<Option<String>, usize> {
                // The first of a name, as a scan finds it.
                let mut map = HashMap::new();
                for (i, v) in list.iter().enumerate() {
                    map.entry(name(v)).or_insert(i);
                }
                map
            };
            let (in_a, in_b) = (by_name(a), by_name(b));
            for x in a {
                match in_b.get(&name(x)).map(|&i| &b[i]) {
                    Some(y) => json_changes(
                        &format!("{path}[{}]", name(x).unwrap_or_default()),
                        x,
                        y,
                        out,
                    ),
                    None => out.push(format!("{path}[{}]: removed", name(x).unwrap_or_default())),
                }
            }
            for y in b.iter().filter(|y| !in_a.contains_key(&name(y))) {
                out.push(format!("{path}[{}]: added", name(y).unwrap_or_default()));
            }
        }
        (Value::Array(a), Value::Array(b)) if a.iter().chain(b).all(Value::is_string) => {
            let in_a: HashSet<&str> = a.iter().filter_map(Value::as_str).collect();
            let in_b: HashSet<&str> = b.iter().filter_map(Value::as_str).collect();
            let added: Vec<&str> = b
                .iter()
                .filter_map(Value::as_str)
                .filter(|v| !in_a.contains(v))
                .collect();
            let removed: Vec<&str> = a
                .iter()
                .filter_map(Value::as_str)
                .filter(|v| !in_b.contains(v))
                .collect();
            if !added.is_empty() {
                out.push(format!("{path}: added {}", added.join(", ")));
            }
            if !removed.is_empty() {
                out.push(format!("{path}: removed {}", removed.join(", ")));
            }
        }
        _ => out.push(format!("{path}: {before} -> {after}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lists are compared by name (batches) and by text (emails), in their own order, however
    /// long: a tenant-sized CSV list is compared on every decision of a run.
    #[test]
    fn lists_say_what_was_added_removed_and_changed_in_order() {
        let emails = |names: &[&str]| serde_json::json!(names);
        let mut out = Vec::new();
        json_changes(
            "users",
            &emails(&["a", "b", "c", "b"]),
            &emails(&["c", "d", "a", "e"]),
            &mut out,
        );
        assert_eq!(out, ["users: added d, e", "users: removed b, b"]);

        let batch = |name: &str, soak: &str| serde_json::json!({ "name": name, "soak": soak });
        let mut out = Vec::new();
        json_changes(
            "plan.batches",
            &serde_json::json!([batch("one", "1h"), batch("two", "1h"), batch("three", "1h")]),
            &serde_json::json!([
                batch("three", "2h"),
                batch("four", "1h"),
                batch("one", "1h")
            ]),
            &mut out,
        );
        assert_eq!(
            out,
            [
                "plan.batches[two]: removed",
                r#"plan.batches[three].soak: "1h" -> "2h""#,
                "plan.batches[four]: added"
            ]
        );

        let long: Vec<String> = (0..100_000).map(|i| format!("u{i}@x.io")).collect();
        let mut longer = long.clone();
        longer.swap(0, 99_999);
        longer.push("new@x.io".to_owned());
        let mut out = Vec::new();
        json_changes(
            "users",
            &serde_json::json!(long),
            &serde_json::json!(longer),
            &mut out,
        );
        assert_eq!(out, ["users: added new@x.io"]);
    }

    #[test]
    fn changes_are_named_by_path() {
        let before = Snapshot {
            format_version: 1,
            plan: serde_json::json!({ "name": "p", "batches": [{ "name": "east", "users": { "location": "East" } }] }),
            configurations: vec!["Basic Auth|basic|connected|".to_owned()],
            assignments: [("a@x.io".to_owned(), vec!["Basic Auth".to_owned()])].into(),
        };
        let mut after = before.clone();
        after.plan = serde_json::json!({ "name": "p", "batches": [{ "name": "east", "users": { "location": "West" } }] });
        after.assignments.insert("a@x.io".to_owned(), vec![]);
        assert_eq!(
            before.changes_to(&after),
            [
                "plan.batches[east].users.location: \"East\" -> \"West\"",
                "user a@x.io: was on Basic Auth, now on nothing",
            ]
        );
        assert_ne!(before.digest(), after.digest());
        assert_eq!(before.digest(), before.clone().digest());
    }

    /// The streamed digest is the digest of the snapshot.
    #[test]
    fn digest_of_is_the_snapshots_digest() {
        use crate::target::{AuthType, Configuration, ConfigurationState, PlatformUser};
        let plan = crate::plan::load_text(
            std::path::Path::new("plans/p.toml"),
            include_str!("../../plans/quickstart.toml"),
        )
        .expect("the quickstart plan")
        .plan;
        let configuration = |id: &str, name: &str, auth_type| Configuration {
            id: id.to_owned(),
            display_name: name.to_owned(),
            auth_type,
            state: ConfigurationState::Connected,
            tenant_id: None,
            exchange_version: None,
            service_address: None,
            authorized_account: None,
            error: None,
        };
        let user = |email: &str, enabled: &[&str]| PlatformUser {
            email: crate::plan::grammar::Email::parse(email).expect("email"),
            location: "East".into(),
            groups: Vec::new().into(),
            enabled: enabled.iter().map(|s| (*s).into()).collect(),
            sync: crate::target::SyncResults::new(),
        };
        let observed = Observed::new(
            vec![
                configuration("1", "Basic Auth", AuthType::Basic),
                configuration("2", "OAuth", AuthType::Oauth),
            ],
            0,
            vec![
                user("ana@x.io", &["2", "1"]),
                user("ben@x.io", &[]),
                user("cy@x.io", &["9"]),
            ],
        );
        assert_eq!(
            Snapshot::digest_of(&plan, &observed),
            Snapshot::of(&plan, &observed).digest()
        );
    }
}
