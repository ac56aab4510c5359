//! Making a sandbox and looking at it: `sandbox init`, `sandbox scenarios`, `sandbox inspect`.
//!
//! The text rendering of an inspection is here; the inspection itself (and its JSON shape, which
//! scripts rely on) is `crate::sandbox::Inspection`, and the tenants the scenarios'.

use std::path::Path;

use crate::cli::{CommandError, Format, Output};
use crate::sandbox::{Inspection, SCENARIOS, SandboxError, SandboxFile, Scenario, ScenarioOptions};

use super::args::SandboxArg;
use super::resolve::open;

/// `sandbox init`: a new sandbox file from a scenario.
pub(super) fn init(
    path: &Path,
    scenario: &str,
    users: Option<usize>,
    sync_interval_ms: Option<i64>,
    now: i64,
    out: &Output,
) -> Result<(), CommandError> {
    let found = Scenario::find(scenario).ok_or_else(|| SandboxError::UnknownScenario {
        name: scenario.to_owned(),
        known: Scenario::names(),
    })?;
    found.check_users(users)?;
    let options = ScenarioOptions {
        users,
        sync_interval_ms,
    };
    let tenant = found.tenant(options);
    let count = tenant.users.len();
    SandboxFile::create(path, &tenant, found.name, now)?;
    out.stdout(&format!(
        "created {}: scenario {:?}, {count} users, sync every {} ms\n",
        path.display(),
        found.name,
        tenant.sync_interval_ms
    ));
    Ok(())
}

/// `sandbox scenarios`: what `init` can start from.
pub(super) fn scenarios(out: &Output) {
    for s in SCENARIOS {
        out.stdout(&format!("{:<14} {}\n", s.name, s.description));
    }
}

/// `sandbox inspect`: the whole platform state, for people or (`--format json`) for tools.
pub(super) fn inspect(
    sandbox: &SandboxArg,
    format: Format,
    now: i64,
    out: &Output,
) -> Result<(), CommandError> {
    let file = open(&sandbox.path)?;
    let inspection = Inspection::of(&file, now)?;
    match format {
        Format::Json => {
            let text = serde_json::to_string_pretty(&inspection)
                .map_err(|e| CommandError::failure(e.to_string()))?;
            out.stdout(&format!("{text}\n"));
        }
        Format::Text => out.stdout(&inspection_text(&inspection)),
    }
    Ok(())
}

fn inspection_text(i: &Inspection) -> String {
    let mut text = format!(
        "sandbox scenario {:?}, users sync every {} ms\n\nconfigurations:\n",
        i.scenario, i.sync_interval_ms
    );
    for c in &i.configurations {
        text.push_str(&format!(
            "  {:<12} {:<6} {:<22} {}\n",
            c.display_name,
            c.auth_type,
            c.state,
            c.authorized_account.as_deref().unwrap_or("")
        ));
    }
    let mut by_state: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for u in &i.users {
        *by_state
            .entry(if u.enabled.is_empty() {
                "(none)".to_owned()
            } else {
                u.enabled.join(" + ")
            })
            .or_default() += 1;
    }
    text.push_str(&format!("\nusers: {}\n", i.users.len()));
    for (state, count) in by_state {
        text.push_str(&format!("  {count:>6} on {state}\n"));
    }
    let failing: Vec<String> = i
        .users
        .iter()
        .flat_map(|u| {
            u.sync
                .iter()
                .filter(|(_, s)| s.outcome != "ok")
                .map(move |(c, s)| {
                    format!(
                        "  {} on {c}: {} {}",
                        u.email,
                        s.outcome,
                        s.error.as_deref().unwrap_or("")
                    )
                })
        })
        .collect();
    if !failing.is_empty() {
        text.push_str(&format!(
            "\nlatest syncs not ok: {}\n{}\n",
            failing.len(),
            failing.join("\n")
        ));
    }
    if !i.faults.is_empty() {
        text.push_str("\nactive faults:\n");
        for f in &i.faults {
            text.push_str(&format!(
                "  {} {}\n",
                f.fault,
                f.user
                    .as_deref()
                    .or(f.configuration.as_deref())
                    .unwrap_or("")
            ));
        }
    }
    let changed = i.writes.iter().filter(|w| w.changed).count();
    text.push_str(&format!(
        "\nwrites: {} ({changed} changed)\nviolations: {}\n",
        i.writes.len(),
        i.violations.len()
    ));
    for v in &i.violations {
        text.push_str(&format!("  {} {}: {}\n", v.at, v.kind, v.detail));
    }
    text
}
