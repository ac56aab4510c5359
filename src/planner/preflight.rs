//! Preflight: what the platform looks like against the plan, before anything changes.

use super::finding::{Finding, Severity};
use super::membership::Resolution;
use crate::plan::grammar::Email;
use crate::plan::{Plan, Selector};
use crate::target::{Attribute, AuthType, Configuration, ConfigurationState, Observed, Placement};

/// What preflight learned, for the planner to use.
pub(super) struct Preflight<'o> {
    pub(super) findings: Vec<Finding>,
    /// `to`, when it exists and may be adopted.
    pub(super) to: Option<&'o Configuration>,
}

pub(super) fn check<'o>(
    plan: &Plan,
    observed: &'o Observed,
    resolution: &Resolution<'_>,
    placement: &Placement,
) -> Preflight<'o> {
    let mut findings = Vec::new();
    let from = observed.configuration(&plan.from.display_name);
    let to = observed.configuration(&plan.to.display_name);

    match from.or_else(|| disconnected_from(plan, observed)) {
        None => findings.push(
            Finding::new(
                Severity::Blocking,
                "from-missing",
                format!("the platform has no configuration named {:?} to migrate from", plan.from.display_name),
            )
            .remedy(format!(
                "check `[from] display_name` against the Display Names in the platform's Configuration tab; {}",
                configuration_names(observed)
            )),
        ),
        Some(c) if c.state != ConfigurationState::Connected => findings.push(
            Finding::new(
                Severity::Blocking,
                "from-not-connected",
                format!("the configuration {:?} is {}, not connected", c.display_name, c.state.as_str()),
            )
            .remedy("users can only be moved away from a configuration that is still syncing"),
        ),
        Some(_) => {}
    }

    let mut adopt = false;
    match to {
        Some(c) => {
            let tenant_matches = c
                .tenant_id
                .as_deref()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case(plan.to.tenant_id.trim()));
            if c.auth_type != AuthType::Oauth || !tenant_matches {
                let mut differences = Vec::new();
                if c.auth_type != AuthType::Oauth {
                    differences.push(format!(
                        "its authentication type is {}, not oauth",
                        c.auth_type.as_str()
                    ));
                }
                if !tenant_matches {
                    differences.push(format!(
                        "its tenant is {}, not {}",
                        c.tenant_id.as_deref().unwrap_or("unset"),
                        plan.to.tenant_id
                    ));
                }
                findings.push(
                    Finding::new(
                        Severity::Blocking,
                        "to-mismatch",
                        format!(
                            "a configuration named {:?} already exists and cannot be adopted: {}",
                            c.display_name,
                            differences.join("; ")
                        ),
                    )
                    .remedy("fix or remove that configuration on the platform, or name a different `[to] display_name`"),
                );
            } else {
                adopt = true;
                if let (Some(expected), Some(actual)) =
                    (&plan.to.service_account, &c.authorized_account)
                {
                    if !actual.eq_ignore_ascii_case(expected.to_string().as_str()) {
                        findings.push(
                            Finding::new(
                                Severity::Blocking,
                                "wrong-service-account",
                                format!(
                                    "{:?} was authorized by {actual}, not by the plan's service account {expected}: run \
                                     `cutover apply PLAN --reauthorize` and sign in as {expected} in a private window, \
                                     signed out of every Microsoft session",
                                    c.display_name
                                ),
                            )
                            .remedy("a browser still signed in to Microsoft authorizes whoever is signed in, without asking"),
                        );
                    }
                }
                if let (Some(expected), None, ConfigurationState::Connected) =
                    (&plan.to.service_account, &c.authorized_account, c.state)
                {
                    // The plan names who must have signed in; unconfirmed is not confirmed.
                    findings.push(
                        Finding::new(
                            Severity::Blocking,
                            "wrong-service-account",
                            format!(
                                "{:?} is connected but the platform does not say who authorized it, so it cannot be \
                                 checked against the plan's service account {expected}: run `cutover apply PLAN \
                                 --reauthorize` and sign in as {expected}",
                                c.display_name
                            ),
                        )
                        .remedy("or remove `service_account` from `[to]` if this platform never reports the account"),
                    );
                }
                findings.push(Finding::new(
                    Severity::Info,
                    "to-adopted",
                    format!(
                        "the existing configuration {:?} ({}, tenant {}) is adopted, not created again",
                        c.display_name,
                        c.state.as_str(),
                        plan.to.tenant_id
                    ),
                ));
            }
        }
        None if observed.free_slots == 0 => findings.push(
            Finding::new(
                Severity::Blocking,
                "no-free-slot",
                format!(
                    "the platform has no free configuration slot for {:?}",
                    plan.to.display_name
                ),
            )
            .remedy(format!(
                "ask your platform's support to add a second service account slot, or, if the new \
                 configuration is already there, write its name in `[to] display_name`; {}",
                configuration_names(observed)
            )),
        ),
        None => {}
    }

    let from_id = from.map(|c| c.id.as_str());
    let to_id = to.filter(|_| adopt).map(|c| c.id.as_str());

    if !resolution.missing.is_empty() {
        let mut users: Vec<Email> = resolution.missing.iter().map(|(e, _)| e.clone()).collect();
        users.sort();
        let steps: Vec<&str> = {
            let mut s: Vec<&str> = resolution.missing.iter().map(|(_, s)| s.as_str()).collect();
            s.sort_unstable();
            s.dedup();
            s
        };
        findings.push(
            Finding::new(
                Severity::Blocking,
                "unknown-users",
                format!(
                    "{} user(s) named in {} do not exist on the platform",
                    users.len(),
                    steps.join(", ")
                ),
            )
            .users(users)
            .remedy("correct the emails in the plan or its CSV files, or remove the users"),
        );
    }

    let has_remaining = plan
        .batches
        .iter()
        .any(|b| matches!(b.users, Selector::Remaining));
    if !resolution.unclaimed_on_from.is_empty() && !has_remaining {
        findings.push(
            Finding::new(
                Severity::Warning,
                "stragglers",
                format!(
                    "{} user(s) on {:?} are in no step; the disconnect will wait for them",
                    resolution.unclaimed_on_from.len(),
                    plan.from.display_name
                ),
            )
            .users(resolution.unclaimed_on_from.clone())
            .remedy("add them to a batch, or end the plan with a batch of `users = \"remaining\"`"),
        );
    }

    let email = |i: usize| observed.users().get(i).map(|u| u.email.clone());
    // The placement keeps who is on neither of the configurations it was made for (`from` and
    // the one named as `to`) and who fails on `from`: that is this finding's list once `to` is
    // adopted, or when there is none.
    let kept = placement.is_for(from_id, to.map(|c| c.id.as_str()));
    let neither: Vec<Email> = if kept && from_id.is_some() && (to_id.is_some() || to.is_none()) {
        placement.on_neither().filter_map(email).collect()
    } else {
        (0..observed.users().len())
            .filter(|&i| {
                let on_from = from_id.is_some() && placement.on_from(i);
                let on_to = to_id.is_some() && placement.on_to(i);
                !on_from && !on_to
            })
            .filter_map(email)
            .collect()
    };
    if !neither.is_empty() {
        findings.push(
            Finding::new(
                Severity::Warning,
                "on-neither",
                format!("{} user(s) are enabled on neither configuration: their calendars do not sync now", neither.len()),
            )
            .users(neither)
            .remedy("cutover does not move them; enable them on the platform if they should sync"),
        );
    }

    if from_id.is_some() {
        let failing: Vec<Email> = if kept {
            placement
                .failing_on_from_positions()
                .filter_map(email)
                .collect()
        } else {
            (0..observed.users().len())
                .filter(|&i| placement.on_from(i) && placement.failing_on_from(i))
                .filter_map(email)
                .collect()
        };
        if !failing.is_empty() {
            findings.push(
                Finding::new(
                    Severity::Info,
                    "failing-before",
                    format!(
                        "{} user(s) already fail to sync over {:?}; they are reported as pre-existing, not counted against gates",
                        failing.len(),
                        plan.from.display_name
                    ),
                )
                .users(failing),
            );
        }
    }

    // The platform's locations and groups, listed once however many steps match none.
    let mut known_values: [Option<String>; 2] = [None, None];
    for resolved in &resolution.steps {
        if resolved.members.is_empty()
            && !matches!(
                resolved.step.users,
                Selector::Emails { .. } | Selector::File { .. }
            )
        {
            findings.push(
                Finding::new(
                    Severity::Warning,
                    "empty-step",
                    format!(
                        "`{}` ({}) matches no users now",
                        resolved.step.name,
                        describe_selector(&resolved.step.users)
                    ),
                )
                .remedy(selector_remedy(
                    &resolved.step.users,
                    observed,
                    &mut known_values,
                )),
            );
        }
    }

    // Most severe first: a reviewer reads what blocks before what informs.
    findings.sort_by_key(|f| f.severity);
    Preflight {
        findings,
        to: to.filter(|_| adopt),
    }
}

/// Everything preflight reports, in order: what `check` found on the platform, less what this
/// run makes moot, plus the plan's edits and the mailbox pre-check's verdicts.
pub(super) fn findings(
    inputs: &super::Inputs<'_>,
    mut findings: Vec<Finding>,
    resolution: &Resolution<'_>,
) -> Vec<Finding> {
    let (plan, state) = (inputs.plan, inputs.state);
    if inputs.reauthorize {
        // `--reauthorize` starts the authorization over: the account will be asked again.
        findings.retain(|f| f.code != "wrong-service-account");
    }
    if state.disconnected_at.is_some() {
        // The rollout disconnected `from` itself: its absence is the finished state, not a
        // finding.
        findings.retain(|f| !matches!(f.code, "from-missing" | "from-not-connected"));
    }
    let edits = super::planner::edits(inputs);
    if !edits.refused.is_empty() {
        findings.insert(
            0,
            Finding::new(
                Severity::Blocking,
                "plan-edited",
                "the plan was edited where the rollout already ran",
            )
            .remedy(format!("undo these edits: {}", edits.refused.join("; "))),
        );
    }
    if let (Some(precheck), Some(mailboxes)) = (&plan.precheck, inputs.mailboxes) {
        findings.extend(super::precheck_verdicts::findings(
            inputs, precheck, mailboxes, resolution,
        ));
    }
    findings.extend(super::precheck_verdicts::skipped_findings(
        plan,
        inputs.observed,
        state,
    ));
    let awaiting_approval = edits.unrecorded
        && !edits.before_first_write
        && super::approvals::plan_approval(plan, state).is_none();
    if awaiting_approval && !edits.since_approved.is_empty() {
        let digest = super::approvals::plan_digest(plan);
        findings.push(
            Finding::new(
                Severity::Warning,
                "plan-edit-unapproved",
                format!(
                    "edited since the version approved, in steps that have not run: {}",
                    edits.since_approved.join("; ")
                ),
            )
            .remedy(format!(
                "nothing more runs until the edit is approved: `cutover approve PLAN --digest {digest}`"
            )),
        );
    } else if !edits.accepted.is_empty() {
        let when = if edits.before_first_write {
            "edited before the rollout's first change to the platform (it starts over from this plan)"
        } else {
            "edited since the rollout started, in steps that have not run (approved)"
        };
        findings.push(Finding::new(
            Severity::Info,
            "plan-changed",
            format!("{when}: {}", edits.accepted.join("; ")),
        ));
    }
    findings
}

/// The configuration `from` names, when the platform has it only disconnected.
pub(super) fn disconnected_from<'o>(
    plan: &Plan,
    observed: &'o Observed,
) -> Option<&'o Configuration> {
    observed.configurations.iter().find(|c| {
        c.state == ConfigurationState::Disconnected
            && c.display_name
                .trim()
                .eq_ignore_ascii_case(plan.from.display_name.trim())
    })
}

/// The platform's configurations, for a remedy: `the platform has "Basic Auth" (basic,
/// connected), "OAuth" (oauth, pending)`.
fn configuration_names(observed: &Observed) -> String {
    let names: Vec<String> = observed
        .configurations
        .iter()
        .filter(|c| c.state != ConfigurationState::Disconnected)
        .map(|c| {
            format!(
                "{:?} ({}, {})",
                c.display_name,
                c.auth_type.as_str(),
                c.state.as_str()
            )
        })
        .collect();
    if names.is_empty() {
        "the platform has no configurations".to_owned()
    } else {
        format!("the platform has {}", names.join(", "))
    }
}

pub(super) fn describe_selector(selector: &Selector) -> String {
    match selector {
        Selector::Remaining => "the remaining users".to_owned(),
        Selector::Emails { .. } => "listed in the plan".to_owned(),
        Selector::Location { location } => format!("location {location:?}"),
        Selector::Group { group } => format!("group {group:?}"),
        Selector::File { file, .. } => format!("listed in {file}"),
    }
}

/// `known` keeps the list of locations (`[0]`) and of groups (`[1]`) once made.
fn selector_remedy(
    selector: &Selector,
    observed: &Observed,
    known: &mut [Option<String>; 2],
) -> String {
    let (slot, what) = match selector {
        Selector::Location { .. } => (0, "locations"),
        Selector::Group { .. } => (1, "groups"),
        _ => return "check the selector".to_owned(),
    };
    let values = known[slot].get_or_insert_with(|| {
        // Each distinct value as the platform gave it: what the selectors' numbers, made once
        // per reading, were made from.
        let attribute = [Attribute::Location, Attribute::Group][slot];
        let mut values: Vec<&str> = observed.attribute_values(attribute).spellings().collect();
        values.sort_unstable();
        values.join(", ")
    });
    format!("check the spelling; {what} on the platform: {values}")
}
