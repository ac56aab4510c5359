//! Verification gates, judged from the platform's sync results.
//!
//! Only `to` attempts made after the gate opened (the switch, or the re-run after a halt) count.
//! A hard error (access denied, revoked grant, mailbox gone, a warning) fails a user; throttling
//! and transient errors leave a user pending. The gate fails as soon as failing users exceed the
//! allowance (`max_errors`), and fails at its timeout if anyone is still pending. It passes once
//! the soak is over and nobody is pending, with the failing users (within the allowance) as the
//! step's exceptions. Users whose `from` sync was already failing when the step started are
//! reported but not counted, unless the gate says `count_preexisting`.

use std::collections::BTreeSet;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::plan::Gate;
use crate::plan::grammar::{Email, PlanDuration};
use crate::state::FailingUser;
use crate::target::{Observed, SyncOutcome};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Verdict {
    Pass,
    Fail,
    Pending,
}

/// One reading of a gate.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct GateReading {
    pub(crate) verdict: Verdict,
    pub(crate) clean: Vec<Email>,
    pub(crate) pending: Vec<Email>,
    pub(crate) failing: Vec<FailingUser>,
    /// Pre-existing failures, reported and not counted.
    pub(crate) preexisting: Vec<FailingUser>,
    pub(crate) allowed: u64,
    pub(crate) soak_until: Timestamp,
    pub(crate) timeout_at: Timestamp,
    /// The timeout passed with users still not clean.
    pub(crate) timed_out: bool,
}

impl GateReading {
    /// Everyone the gate holds against the step when it fails: failing users, and, at the
    /// timeout, users with no clean attempt. (Users still pending when errors fail the gate
    /// early are not failures: they stay moved.)
    pub(crate) fn failures(&self) -> Vec<FailingUser> {
        let mut failures = self.failing.clone();
        if self.timed_out {
            failures.extend(self.pending.iter().map(|email| FailingUser {
                email: email.clone(),
                outcome: "pending".to_owned(),
                error: Some("no clean OAuth sync before the gate's timeout".to_owned()),
                at: None,
            }));
        }
        failures
    }
}

pub(crate) struct GateInput<'a> {
    pub(crate) members: &'a [Email],
    pub(crate) observed: &'a Observed,
    pub(crate) to_id: &'a str,
    pub(crate) opened: Timestamp,
    pub(crate) preexisting: &'a BTreeSet<Email>,
    pub(crate) gate: &'a Gate,
    pub(crate) allowed: u64,
    pub(crate) now: Timestamp,
}

pub(crate) fn evaluate(input: &GateInput<'_>) -> GateReading {
    let mut clean = Vec::new();
    let mut pending = Vec::new();
    let mut failing = Vec::new();
    let mut preexisting = Vec::new();
    for email in input.members {
        let Some(user) = input.observed.user(email) else {
            continue;
        };
        if !user.is_enabled_on(input.to_id) {
            // Never moved (on neither configuration): reported by preflight, not judged.
            if user.enabled.is_empty() {
                continue;
            }
            pending.push(email.clone());
            continue;
        }
        let latest = user.sync.get(input.to_id).filter(|s| s.at >= input.opened);
        let failure = |s: &crate::target::SyncResult| FailingUser {
            email: email.clone(),
            outcome: s.outcome.as_str().to_owned(),
            error: s.error.clone(),
            at: Some(s.at),
        };
        let is_preexisting = input.preexisting.contains(email) && !input.gate.count_preexisting;
        match latest {
            None => pending.push(email.clone()),
            Some(s) if s.outcome == SyncOutcome::Ok => clean.push(email.clone()),
            Some(s) if s.is_transient() => pending.push(email.clone()),
            Some(s) if is_preexisting => preexisting.push(failure(s)),
            Some(s) => failing.push(failure(s)),
        }
    }
    // A pre-existing user still pending does not hold the gate open either.
    if !input.gate.count_preexisting {
        pending.retain(|e| !input.preexisting.contains(e));
    }
    let soak_until = add(input.opened, input.gate.soak);
    let timeout_at = add(input.opened, input.gate.timeout);
    let failing_count = u64::try_from(failing.len()).unwrap_or(u64::MAX);
    let timed_out = input.now >= timeout_at && !pending.is_empty();
    let verdict = if failing_count > input.allowed || timed_out {
        Verdict::Fail
    } else if input.now >= soak_until && pending.is_empty() {
        Verdict::Pass
    } else {
        Verdict::Pending
    };
    GateReading {
        verdict,
        clean,
        pending,
        failing,
        preexisting,
        allowed: input.allowed,
        soak_until,
        timeout_at,
        timed_out,
    }
}

pub(crate) fn add(at: Timestamp, duration: PlanDuration) -> Timestamp {
    let seconds = i64::try_from(duration.seconds()).unwrap_or(i64::MAX);
    at.checked_add(SignedDuration::from_secs(seconds))
        .unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::grammar::Share;
    use crate::plan::{OnFailure, Threshold};
    use crate::target::{PlatformUser, SyncResult, SyncResults};

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).expect("time")
    }

    /// A user on `to` ("2") whose latest attempt was at `at` with `outcome` (None: no attempt).
    fn user(name: &str, attempt: Option<(i64, SyncOutcome, Option<&str>)>) -> PlatformUser {
        let mut sync = SyncResults::new();
        if let Some((at, outcome, code)) = attempt {
            sync.insert(
                "2",
                SyncResult {
                    at: t(at),
                    outcome,
                    error: code.map(|c| format!("{c}: text")),
                    code: code.map(str::to_owned),
                },
            );
        }
        PlatformUser {
            email: Email::parse(&format!("{name}@x.io")).expect("email"),
            location: "East".into(),
            groups: Vec::new().into(),
            enabled: vec!["2".into()],
            sync,
        }
    }

    fn gate(soak: u64, timeout: u64, max_errors: Threshold) -> Gate {
        Gate {
            soak: PlanDuration::from_seconds(soak),
            timeout: PlanDuration::from_seconds(timeout),
            max_errors,
            on_failure: OnFailure::Halt,
            count_preexisting: false,
        }
    }

    fn judge(users: Vec<PlatformUser>, gate: &Gate, preexisting: &[&str], now: i64) -> GateReading {
        let members: Vec<Email> = users.iter().map(|u| u.email.clone()).collect();
        let observed = Observed::new(vec![], 0, users);
        let preexisting: BTreeSet<Email> = preexisting
            .iter()
            .filter_map(|p| Email::parse(&format!("{p}@x.io")).ok())
            .collect();
        let allowed = gate.max_errors.allowed(members.len() as u64);
        evaluate(&GateInput {
            members: &members,
            observed: &observed,
            to_id: "2",
            opened: t(0),
            preexisting: &preexisting,
            gate,
            allowed,
            now: t(now),
        })
    }

    use SyncOutcome::{Error, Ok, Throttled, Warning};

    #[test]
    fn verdicts() {
        let strict = gate(60, 600, Threshold::Count(0));
        let one = gate(60, 600, Threshold::Count(1));
        let share = gate(
            60,
            600,
            Threshold::Share(Share::parse("50%").expect("share")),
        );
        let denied = Some("ErrorAccessDenied");
        let busy = Some("ErrorServerBusy");
        type Case<'a> = (
            &'a str,
            Vec<PlatformUser>,
            &'a Gate,
            &'a [&'a str],
            i64,
            Verdict,
        );
        #[rustfmt::skip]
        let cases: Vec<Case<'_>> = vec![
            ("all clean, soak not over", vec![user("a", Some((10, Ok, None)))], &strict, &[], 30, Verdict::Pending),
            ("all clean after soak", vec![user("a", Some((10, Ok, None))), user("b", Some((20, Ok, None)))], &strict, &[], 61, Verdict::Pass),
            ("an attempt from before the switch does not count", vec![user("a", Some((-5, Ok, None)))], &strict, &[], 61, Verdict::Pending),
            ("one hard error with none allowed fails at once", vec![user("a", Some((10, Error, denied))), user("b", None)], &strict, &[], 11, Verdict::Fail),
            ("a warning is a hard error", vec![user("a", Some((10, Warning, None)))], &strict, &[], 11, Verdict::Fail),
            ("one error allowed: passes after the soak", vec![user("a", Some((10, Error, denied))), user("b", Some((10, Ok, None)))], &one, &[], 61, Verdict::Pass),
            ("one error allowed, soak not over", vec![user("a", Some((10, Error, denied))), user("b", Some((10, Ok, None)))], &one, &[], 30, Verdict::Pending),
            ("one error allowed, one pending: waits", vec![user("a", Some((10, Error, denied))), user("b", None)], &one, &[], 61, Verdict::Pending),
            ("one error allowed, two errors: fails", vec![user("a", Some((10, Error, denied))), user("b", Some((10, Error, denied)))], &one, &[], 11, Verdict::Fail),
            ("throttled is pending, not failing", vec![user("a", Some((10, Throttled, busy)))], &strict, &[], 61, Verdict::Pending),
            ("transient error is pending", vec![user("a", Some((10, Error, busy)))], &strict, &[], 61, Verdict::Pending),
            ("pending at the timeout fails", vec![user("a", Some((10, Throttled, busy)))], &strict, &[], 600, Verdict::Fail),
            ("tolerated errors do not fail at the timeout", vec![user("a", Some((10, Error, denied)))], &one, &[], 600, Verdict::Pass),
            ("tolerated errors with one pending at the timeout fail", vec![user("a", Some((10, Error, denied))), user("b", None)], &one, &[], 600, Verdict::Fail),
            ("a pre-existing failure is not counted", vec![user("a", Some((10, Error, Some("ErrorNonExistentMailbox")))), user("b", Some((10, Ok, None)))], &strict, &["a"], 61, Verdict::Pass),
            ("50% of 4 allows 2", vec![user("a", Some((10, Error, denied))), user("b", Some((10, Error, denied))), user("c", Some((10, Ok, None))), user("d", Some((10, Ok, None)))], &share, &[], 61, Verdict::Pass),
            ("50% of 3 allows 1", vec![user("a", Some((10, Error, denied))), user("b", Some((10, Error, denied))), user("c", Some((10, Ok, None)))], &share, &[], 11, Verdict::Fail),
        ];
        for (name, users, gate, preexisting, now, expected) in cases {
            assert_eq!(
                judge(users, gate, preexisting, now).verdict,
                expected,
                "{name}"
            );
        }
    }

    #[test]
    fn pending_users_fail_only_at_the_timeout() {
        let strict = gate(60, 600, Threshold::Count(0));
        let denied = Some("ErrorAccessDenied");
        let early = judge(
            vec![user("a", Some((10, Error, denied))), user("b", None)],
            &strict,
            &[],
            11,
        );
        assert_eq!(
            early
                .failures()
                .iter()
                .map(|f| f.email.to_string())
                .collect::<Vec<_>>(),
            ["a@x.io"]
        );
        let late = judge(
            vec![user("a", Some((10, Error, denied))), user("b", None)],
            &strict,
            &[],
            600,
        );
        assert_eq!(late.failures().len(), 2);
    }

    #[test]
    fn pre_existing_failures_count_when_asked() {
        let mut counting = gate(60, 600, Threshold::Count(0));
        counting.count_preexisting = true;
        let users = vec![user(
            "a",
            Some((10, Error, Some("ErrorNonExistentMailbox"))),
        )];
        assert_eq!(judge(users, &counting, &["a"], 61).verdict, Verdict::Fail);
    }
}
