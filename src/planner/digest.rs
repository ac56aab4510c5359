//! The dry-run digest: what a change board approved, as a short hash.
//!
//! It covers the plan's canonical form and the observed assignments (configurations, and which
//! users are enabled on which) — not sync results, which change by the minute. `apply
//! --approved DIGEST` compares against it, so a board's approval cannot silently apply to a
//! different plan or a different tenant.

use sha2::{Digest as _, Sha256};

use crate::plan::Plan;
use crate::target::Observed;

/// `sha256:` and the first 20 hex digits of the hash.
pub(crate) fn digest(plan: &Plan, observed: &Observed) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"cutover-digest-v1\n");
    hasher.update(serde_json::to_vec(plan).unwrap_or_default());
    hasher.update(b"\n");
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
    for c in configurations {
        hasher.update(c.as_bytes());
        hasher.update(b"\n");
    }
    for user in &observed.users {
        let mut enabled: Vec<String> = user.enabled.iter().map(|id| name_of(id)).collect();
        enabled.sort_unstable();
        hasher.update(format!("{}={}\n", user.email, enabled.join(",")).as_bytes());
    }
    let hash = hasher.finalize();
    let hex: String = hash.iter().take(10).map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}
