//! What the mailbox pre-check's verdicts mean for the steps: which members block a step, which
//! it leaves out (`"skip"`), which are pre-existing failures that block nothing, and how each
//! is reported — every member that is not `ok` named with Graph's status, code and message.
//!
//! Pure, like the rest of the planner. Asking Graph is `crate::precheck`'s; the verdicts are
//! `crate::state`'s; the disconnect's own rules are `disconnect.rs`'s, which may call
//! [`skipped_remedy`] for the users a step left out.

use std::collections::{BTreeMap, BTreeSet};

use super::finding::{Finding, Severity};
use super::membership::Resolution;
use crate::plan::grammar::Email;
use crate::plan::{MailboxPolicy, Plan, Precheck};
use crate::state::{Access, FailingUser, MailboxAccess, RunState, Verdict};
use crate::target::Observed;

/// The members of one step whose mailbox the pre-check did not clear, sorted by what follows.
#[derive(Debug, Default)]
pub(crate) struct Uncleared {
    /// Their verdict's policy is `block`.
    pub(crate) blocking: Vec<(Email, Verdict)>,
    /// Their verdict's policy is `skip`: left out of the step, they stay on `from`.
    pub(crate) skipped: Vec<(Email, Verdict)>,
    /// `not_found`, and already failing on `from`: reported as pre-existing, blocking nothing.
    pub(crate) preexisting: Vec<(Email, Verdict)>,
}

impl Uncleared {
    pub(crate) fn is_empty(&self) -> bool {
        self.blocking.is_empty() && self.skipped.is_empty()
    }
}

/// The policy the plan sets for `access`: `unverified` follows `on_denied`.
pub(crate) fn policy(precheck: &Precheck, access: Access) -> MailboxPolicy {
    match access {
        Access::NotFound => precheck.on_not_found,
        _ => precheck.on_denied,
    }
}

/// Sorts the uncleared `members`. `preexisting`: members whose `from` sync already fails.
pub(crate) fn uncleared(
    precheck: &Precheck,
    mailboxes: &MailboxAccess,
    members: &[Email],
    preexisting: &BTreeSet<Email>,
) -> Uncleared {
    let mut sorted = Uncleared::default();
    for (email, verdict) in mailboxes.not_ok(members) {
        if verdict.access == Access::NotFound && preexisting.contains(&email) {
            sorted.preexisting.push((email, verdict));
        } else if policy(precheck, verdict.access) == MailboxPolicy::Skip {
            sorted.skipped.push((email, verdict));
        } else {
            sorted.blocking.push((email, verdict));
        }
    }
    sorted
}

/// Members of `members` whose `from` sync already fails, on the platform as observed.
pub(crate) fn failing_on_from(
    plan: &Plan,
    observed: &Observed,
    members: &[Email],
) -> BTreeSet<Email> {
    let Some(from) = observed.configuration(&plan.from.display_name) else {
        return BTreeSet::new();
    };
    let wanted: BTreeSet<&Email> = members.iter().collect();
    observed
        .users()
        .iter()
        .filter(|u| wanted.contains(&u.email) && u.failing_on(&from.id))
        .map(|u| u.email.clone())
        .collect()
}

/// Verdicts as the failing users of a halt, each in Graph's words with when it was seen.
pub(crate) fn failing_users(uncleared: Vec<(Email, Verdict)>) -> Vec<FailingUser> {
    uncleared
        .into_iter()
        .map(|(email, verdict)| FailingUser {
            email,
            outcome: outcome(verdict.access).to_owned(),
            error: Some(verdict.graph_words()),
            at: Some(verdict.seen_at),
        })
        .collect()
}

fn outcome(access: Access) -> &'static str {
    match access {
        Access::Ok => "ok",
        Access::Denied => "access_denied",
        Access::NotFound => "mailbox_not_found",
        Access::Unverified => "mailbox_unverified",
    }
}

/// What a verdict says, for a sentence about `n` mailboxes.
fn what(access: Access) -> &'static str {
    match access {
        Access::Ok => "are open to the OAuth app",
        Access::Denied => "deny the OAuth app access",
        Access::NotFound => "are not found by Microsoft Graph",
        Access::Unverified => "could not be verified",
    }
}

/// What to do about it.
pub(crate) fn remedy(access: Access) -> &'static str {
    match access {
        Access::Ok => "",
        Access::Denied => {
            "add them to the scope the Exchange admin gave the app: the mail-enabled security group of its \
             application access policy (check with `Test-ApplicationAccessPolicy`) or the management scope of \
             its RBAC for Applications role assignment (`Test-ServicePrincipalAuthorization`). Do not widen the \
             app's Entra ID permissions instead: a tenant-wide Calendars grant opens every mailbox in the \
             tenant. A change can take an hour or more to apply, so a fresh denial may already be fixed: run \
             `cutover plan` again to re-check"
        }
        Access::NotFound => {
            "Graph cannot reach these mailboxes, so OAuth sync cannot either: one on premises in a hybrid \
             tenant (MailboxNotEnabledForRESTAPI) stays on `from` until it moves to Exchange Online; an \
             inactive or unlicensed one needs its license back; an email that is not the user's principal \
             name needs the right address in the plan, or `[precheck] resolve_by_mail = true` (with the \
             User.Read.All application permission)"
        }
        Access::Unverified => {
            "fix what Graph said and run again: a 401, or a 403 other than ErrorAccessDenied, is the app's \
             own permission (an Entra ID application permission with admin consent, or an RBAC for \
             Applications role assignment in Exchange); 429 and 5xx were retried and may pass later"
        }
    }
}

/// Why a step cannot start with these members, or `None` when it can (skipped members are left
/// out as it starts). `restart`: a step starting again after a rollback, which switches every
/// recorded member again, so none can be left out.
pub(crate) fn stop_reason(
    uncleared: &Uncleared,
    members: usize,
    restart: bool,
) -> Option<(String, Vec<(Email, Verdict)>)> {
    if uncleared.is_empty() {
        return None;
    }
    let mut all: Vec<(Email, Verdict)> = uncleared.blocking.clone();
    all.extend(uncleared.skipped.iter().cloned());
    all.sort_by(|a, b| a.0.cmp(&b.0));
    let movable = members.saturating_sub(uncleared.preexisting.len());
    let counts = counted(&all);
    if restart {
        return Some((
            format!(
                "{counts}, and starting it again would switch them; {}",
                remedies(&all)
            ),
            all,
        ));
    }
    if all.len() == movable && movable > 0 {
        // Skipping them all would quietly move nobody: with every mailbox denied, the app most
        // likely has no calendar permission at all.
        return Some((
            format!(
                "every one of its {movable} users' mailboxes is uncleared ({counts}); when all are denied, the \
                 app most likely has no calendar permission at all (an Entra ID application permission with \
                 admin consent, or an RBAC for Applications role assignment) rather than a policy leaving \
                 them out; {}",
                remedies(&all)
            ),
            all,
        ));
    }
    if uncleared.blocking.is_empty() {
        return None;
    }
    let blocking = uncleared.blocking.clone();
    let skip_keys = if blocking.iter().any(|(_, v)| v.access == Access::NotFound) {
        "`on_not_found = \"skip\"`"
    } else {
        "`on_denied = \"skip\"`"
    };
    Some((
        format!(
            "{}; {}; or move them to a later step, or set `[precheck] {skip_keys}` to leave them on `from`",
            counted(&blocking),
            remedies(&blocking)
        ),
        blocking,
    ))
}

/// `2 of its users' mailboxes deny the OAuth app access (Microsoft Graph: 403
/// ErrorAccessDenied), 1 is not found …`
fn counted(users: &[(Email, Verdict)]) -> String {
    let mut by_access: BTreeMap<Access, BTreeSet<String>> = BTreeMap::new();
    for (_, verdict) in users {
        let words = match (verdict.status, verdict.code.as_str()) {
            (Some(status), "") => status.to_string(),
            (Some(status), code) => format!("{status} {code}"),
            (None, _) => "no answer".to_owned(),
        };
        by_access.entry(verdict.access).or_default().insert(words);
    }
    let parts: Vec<String> = by_access
        .iter()
        .map(|(access, codes)| {
            let n = users.iter().filter(|(_, v)| v.access == *access).count();
            let codes: Vec<&str> = codes.iter().map(String::as_str).collect();
            format!(
                "{n} of its users' mailboxes {} (Microsoft Graph: {})",
                what(*access),
                codes.join(", ")
            )
        })
        .collect();
    parts.join("; ")
}

fn remedies(users: &[(Email, Verdict)]) -> String {
    let kinds: BTreeSet<Access> = users.iter().map(|(_, v)| v.access).collect();
    let parts: Vec<String> = kinds
        .iter()
        .map(|access| format!("{}: {}", label(*access), remedy(*access)))
        .collect();
    parts.join("; ")
}

fn label(access: Access) -> &'static str {
    match access {
        Access::Ok => "ok",
        Access::Denied => "denied",
        Access::NotFound => "not found",
        Access::Unverified => "unverified",
    }
}

/// One finding per step not yet started and per Graph answer (status, code, message) among
/// its uncleared members, naming them and when Graph said so (a denial may be stale: policies
/// take an hour or more to apply).
pub(crate) fn findings(
    inputs: &super::Inputs<'_>,
    precheck: &Precheck,
    mailboxes: &MailboxAccess,
    resolution: &Resolution<'_>,
) -> Vec<Finding> {
    let (plan, state) = (inputs.plan, inputs.state);
    let mut findings = Vec::new();
    for resolved in resolution
        .steps
        .iter()
        .filter(|r| !state.batches.contains_key(r.step.name.as_str()))
    {
        let preexisting = failing_on_from(plan, inputs.observed, &resolved.members);
        let sorted = uncleared(precheck, mailboxes, &resolved.members, &preexisting);
        let step = resolved.step.name.as_str();
        let groups = [
            (sorted.blocking, Consequence::Halts),
            (sorted.skipped, Consequence::LeftOut),
            (sorted.preexisting, Consequence::Preexisting),
        ];
        for (users, consequence) in groups {
            for ((access, words), group) in grouped(users) {
                findings.push(finding(plan, step, access, &words, &group, consequence));
            }
        }
    }
    findings
}

#[derive(Clone, Copy)]
enum Consequence {
    Halts,
    LeftOut,
    Preexisting,
}

/// Users by verdict and Graph's words, each group with its first and last sighting.
fn grouped(users: Vec<(Email, Verdict)>) -> BTreeMap<(Access, String), Vec<(Email, Verdict)>> {
    let mut groups: BTreeMap<(Access, String), Vec<(Email, Verdict)>> = BTreeMap::new();
    for (email, verdict) in users {
        groups
            .entry((verdict.access, verdict.graph_words()))
            .or_default()
            .push((email, verdict));
    }
    groups
}

fn finding(
    plan: &Plan,
    step: &str,
    access: Access,
    words: &str,
    group: &[(Email, Verdict)],
    consequence: Consequence,
) -> Finding {
    let first = group.iter().map(|(_, v)| v.seen_at).min();
    let last = group.iter().map(|(_, v)| v.seen_at).max();
    let seen = match (first, last) {
        (Some(first), Some(last)) if first != last => format!("seen between {first} and {last}"),
        (Some(first), _) => format!("seen at {first}"),
        _ => String::new(),
    };
    let from = &plan.from.display_name;
    let (severity, then) = match consequence {
        // A warning, not blocking: earlier steps can run, and the step itself stops at its
        // start (checking again then: the policy may be fixed by that time).
        Consequence::Halts => (
            Severity::Warning,
            "the step will halt at its start while they are".to_owned(),
        ),
        Consequence::LeftOut => (
            Severity::Warning,
            format!(
                "they will be left out of the step and stay on {from:?}, holding up the disconnect until fixed or accepted"
            ),
        ),
        Consequence::Preexisting => (
            Severity::Info,
            format!(
                "they already fail to sync over {from:?}: pre-existing failures, they block nothing"
            ),
        ),
    };
    let code = match (consequence, access) {
        (Consequence::Preexisting, _) => "mailbox-not-found-preexisting",
        (_, Access::Denied) => "mailbox-access-denied",
        (_, Access::NotFound) => "mailbox-not-found",
        _ => "mailbox-unverified",
    };
    let finding = Finding::new(
        severity,
        code,
        format!(
            "{step}: {} mailbox(es) {} (Microsoft Graph: {words}, {seen}); {then}",
            group.len(),
            what(access),
        ),
    )
    .users(group.iter().map(|(e, _)| e.clone()).collect::<Vec<_>>());
    match consequence {
        Consequence::Preexisting => finding,
        _ => finding.remedy(remedy(access)),
    }
}

/// One finding per step that left members out: who, in Graph's words, still on `from`.
pub(crate) fn skipped_findings(plan: &Plan, observed: &Observed, state: &RunState) -> Vec<Finding> {
    let from = observed
        .configuration(&plan.from.display_name)
        .map(|c| c.id.clone());
    let still_on_from = |email: &Email| {
        observed
            .users()
            .iter()
            .find(|u| &u.email == email)
            .is_some_and(|u| from.as_deref().is_some_and(|f| u.is_enabled_on(f)))
    };
    let mut findings = Vec::new();
    for (step, users) in &state.skipped {
        let left: Vec<(Email, Verdict)> = users
            .iter()
            .filter(|u| still_on_from(&u.email))
            .map(|u| (u.email.clone(), u.verdict.clone()))
            .collect();
        if left.is_empty() {
            continue;
        }
        let details: Vec<String> = left
            .iter()
            .map(|(e, v)| format!("{e} ({}: {})", v.access.as_str(), v.graph_words()))
            .collect();
        findings.push(
            Finding::new(
                Severity::Warning,
                "skipped-by-precheck",
                format!(
                    "{step}: {} user(s) left out by the mailbox pre-check stay on {:?} and hold up the disconnect: {}",
                    left.len(),
                    plan.from.display_name,
                    details.join("; ")
                ),
            )
            .users(left.into_iter().map(|(e, _)| e).collect::<Vec<_>>())
            .remedy(
                "fix their mailbox (the verdict says what Graph found) and move them in a later batch, or accept \
                 them with `cutover accept`",
            ),
        );
    }
    findings
}

/// For the disconnect's stragglers: the ones a step left out on the pre-check's word, with the
/// remedy that fits them (they were never moved, so "add them to a batch" or "they were put
/// back" would mislead). `None` when none of `stragglers` was skipped.
pub(crate) fn skipped_remedy(state: &RunState, stragglers: &[Email]) -> Option<String> {
    let wanted: BTreeSet<&Email> = stragglers.iter().collect();
    let mut by_step: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (step, user) in state.skipped_users() {
        if wanted.contains(&user.email) {
            by_step.entry(step).or_default().push(format!(
                "{} ({})",
                user.email,
                user.verdict.access.as_str()
            ));
        }
    }
    if by_step.is_empty() {
        return None;
    }
    let count: usize = by_step.values().map(Vec::len).sum();
    let steps: Vec<String> = by_step
        .iter()
        .map(|(step, users)| format!("`{step}`: {}", users.join(", ")))
        .collect();
    Some(format!(
        "{count} left out by the mailbox pre-check ({}): fix their mailbox and move them in a new batch, or \
         `cutover accept` them",
        steps.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::SkippedUser;

    fn email(s: &str) -> Email {
        Email::parse(s).expect("email")
    }

    fn verdict(access: Access, status: u16, code: &str, message: &str) -> Verdict {
        Verdict {
            access,
            seen_at: jiff::Timestamp::UNIX_EPOCH,
            status: Some(status),
            code: code.to_owned(),
            message: message.to_owned(),
        }
    }

    fn precheck(on_denied: MailboxPolicy, on_not_found: MailboxPolicy) -> Precheck {
        Precheck {
            graph_url: "https://graph.microsoft.com/v1.0".to_owned(),
            credentials: crate::plan::ClientCredentials {
                token_url: "https://login.example/token".to_owned(),
                client_id: "c".to_owned(),
                credential: crate::plan::ClientCredential::ClientSecret(
                    crate::plan::SecretRef::Env("S".to_owned()),
                ),
                scopes: vec!["https://graph.microsoft.com/.default".to_owned()],
            },
            on_denied,
            on_not_found,
            resolve_by_mail: false,
        }
    }

    /// a: denied, b: not found, c: unverified, d: not found and failing on `from`, e: ok.
    fn seen() -> (MailboxAccess, Vec<Email>, BTreeSet<Email>) {
        let mut access = MailboxAccess::default();
        let not_found = verdict(
            Access::NotFound,
            404,
            "MailboxNotEnabledForRESTAPI",
            "hosted on-premise",
        );
        access.record_verdict(
            email("a@x.io"),
            verdict(
                Access::Denied,
                403,
                "ErrorAccessDenied",
                "Access to OData is disabled.",
            ),
        );
        access.record_verdict(email("b@x.io"), not_found.clone());
        access.record_verdict(
            email("c@x.io"),
            verdict(Access::Unverified, 500, "", "still 500 after 5 attempts"),
        );
        access.record_verdict(email("d@x.io"), not_found);
        access.record(email("e@x.io"), Access::Ok, jiff::Timestamp::UNIX_EPOCH);
        let members = ["a", "b", "c", "d", "e"]
            .map(|n| email(&format!("{n}@x.io")))
            .to_vec();
        (access, members, BTreeSet::from([email("d@x.io")]))
    }

    fn names(users: &[(Email, Verdict)]) -> Vec<String> {
        users.iter().map(|(e, _)| e.to_string()).collect()
    }

    #[test]
    fn each_verdict_follows_its_policy_and_a_preexisting_not_found_blocks_nothing() {
        use MailboxPolicy::{Block, Skip};
        let (access, members, preexisting) = seen();
        #[rustfmt::skip]
        let cases: &[(MailboxPolicy, MailboxPolicy, &[&str], &[&str])] = &[
            (Block, Block, &["a@x.io", "b@x.io", "c@x.io"], &[]),
            (Skip, Block, &["b@x.io"], &["a@x.io", "c@x.io"]),
            (Block, Skip, &["a@x.io", "c@x.io"], &["b@x.io"]),
            (Skip, Skip, &[], &["a@x.io", "b@x.io", "c@x.io"]),
        ];
        for &(on_denied, on_not_found, blocking, skipped) in cases {
            let sorted = uncleared(
                &precheck(on_denied, on_not_found),
                &access,
                &members,
                &preexisting,
            );
            assert_eq!(
                names(&sorted.blocking),
                blocking,
                "{on_denied:?} {on_not_found:?}"
            );
            assert_eq!(
                names(&sorted.skipped),
                skipped,
                "{on_denied:?} {on_not_found:?}"
            );
            assert_eq!(names(&sorted.preexisting), ["d@x.io"]);
        }
    }

    #[test]
    fn a_step_stops_for_what_blocks_and_names_graphs_words() {
        use MailboxPolicy::{Block, Skip};
        let (access, members, preexisting) = seen();
        let stop = |on_denied, on_not_found, restart| {
            let sorted = uncleared(
                &precheck(on_denied, on_not_found),
                &access,
                &members,
                &preexisting,
            );
            stop_reason(&sorted, members.len(), restart)
                .map(|(reason, users)| (reason, names(&users)))
        };
        let (reason, users) = stop(Block, Block, false).expect("blocked");
        assert_eq!(users, ["a@x.io", "b@x.io", "c@x.io"]);
        for part in [
            "1 of its users' mailboxes deny the OAuth app access (Microsoft Graph: 403 ErrorAccessDenied)",
            "1 of its users' mailboxes are not found by Microsoft Graph (Microsoft Graph: 404 MailboxNotEnabledForRESTAPI)",
            "1 of its users' mailboxes could not be verified (Microsoft Graph: 500)",
            "application access policy",
            "RBAC for Applications",
            "Do not widen the app's Entra ID permissions",
            "`on_not_found = \"skip\"`",
        ] {
            assert!(reason.contains(part), "{part}: {reason}");
        }
        let (_, users) = stop(Skip, Block, false).expect("the not-found member blocks");
        assert_eq!(users, ["b@x.io"]);
        assert_eq!(
            stop(Skip, Skip, false),
            None,
            "all skipped, one ok: the step runs"
        );
        // A restart switches everyone again: nobody can be left out.
        let (reason, users) = stop(Skip, Skip, true).expect("restart");
        assert_eq!(users, ["a@x.io", "b@x.io", "c@x.io"]);
        assert!(
            reason.contains("starting it again would switch them"),
            "{reason}"
        );
    }

    #[test]
    fn skipping_everyone_who_can_move_moves_nobody_so_it_stops() {
        let (mut access, members, preexisting) = seen();
        access.record_verdict(
            email("e@x.io"),
            verdict(Access::Denied, 403, "ErrorAccessDenied", ""),
        );
        let sorted = uncleared(
            &precheck(MailboxPolicy::Skip, MailboxPolicy::Skip),
            &access,
            &members,
            &preexisting,
        );
        let (reason, users) = stop_reason(&sorted, members.len(), false).expect("stops");
        assert_eq!(users.len(), 4);
        assert!(
            reason.starts_with("every one of its 4 users' mailboxes is uncleared"),
            "{reason}"
        );
    }

    #[test]
    fn the_disconnect_can_name_who_the_precheck_left_out() {
        let mut state = RunState::default();
        state.skipped.insert(
            "east".to_owned(),
            vec![SkippedUser {
                email: email("b@x.io"),
                verdict: verdict(Access::NotFound, 404, "MailboxNotEnabledForRESTAPI", ""),
            }],
        );
        assert_eq!(skipped_remedy(&state, &[email("z@x.io")]), None);
        let remedy = skipped_remedy(&state, &[email("b@x.io"), email("z@x.io")]).expect("named");
        assert!(
            remedy.starts_with("1 left out by the mailbox pre-check (`east`: b@x.io (not_found))"),
            "{remedy}"
        );
        assert!(remedy.contains("`cutover accept`"), "{remedy}");
    }
}
