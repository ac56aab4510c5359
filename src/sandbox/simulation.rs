//! Sync, computed from the clock: when a user's latest attempt was and how it went.
//!
//! A user enabled on a connected configuration is pulled every sync interval, at a stable
//! per-user offset (so a tenant's syncs spread over the interval, as on the real platform). A
//! permission re-check adds an attempt at the moment it was asked for. An attempt's outcome is
//! decided by the faults active at that moment. Pure functions: no I/O, no clock of their own.

use std::collections::HashMap;

use jiff::Timestamp;

use super::Fault;
use crate::target::{
    AuthType, Configuration, ConfigurationId, ConfigurationState, SyncOutcome, SyncResult,
    SyncResults,
};

/// How much longer a slow-syncing user waits between pulls.
const SLOW_FACTOR: i64 = 6;

/// A fault over a time range (`until` open means still active).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FaultSpan {
    pub(crate) fault: Fault,
    pub(crate) since_ms: i64,
    pub(crate) until_ms: Option<i64>,
}

impl FaultSpan {
    fn active_at(&self, at_ms: i64) -> bool {
        self.since_ms <= at_ms && self.until_ms.is_none_or(|until| at_ms < until)
    }
}

/// Every fault span of a tenant, active or not: by user email, and by configuration display name.
#[derive(Debug, Default)]
pub(crate) struct TenantFaults {
    pub(crate) by_user: HashMap<String, Vec<FaultSpan>>,
    pub(crate) by_configuration: HashMap<String, Vec<FaultSpan>>,
}

/// A configuration a user is enabled on, with what decides when they sync on it.
pub(crate) struct Enabled<'a> {
    pub(crate) configuration: &'a Configuration,
    /// `configuration.id`, shared by every user's results.
    pub(crate) id: &'a ConfigurationId,
    /// The configuration's fault spans.
    pub(crate) faults: &'a [FaultSpan],
    pub(crate) enabled_ms: i64,
    /// The latest permission re-check asked for, at or before now.
    pub(crate) latest_recheck_ms: Option<i64>,
}

/// A user's latest sync result on each connected configuration they are enabled on, by
/// configuration id, as of `now_ms`. A configuration they have not synced on since being enabled
/// has no entry. `user_faults` are the fault spans of this user.
pub(crate) fn sync_results(
    email: &str,
    user_faults: &[FaultSpan],
    enabled: &[Enabled<'_>],
    interval_ms: i64,
    now_ms: i64,
) -> SyncResults {
    let mut sync = SyncResults::with_capacity(enabled.len());
    for on in enabled {
        let configuration = on.configuration;
        if configuration.state != ConfigurationState::Connected {
            continue;
        }
        let Some(at_ms) = latest_attempt(
            email,
            on.enabled_ms,
            interval_ms,
            user_faults,
            on.latest_recheck_ms,
            now_ms,
        ) else {
            continue;
        };
        let (outcome, error) = outcome(configuration.auth_type, user_faults, on.faults, at_ms);
        sync.insert(
            on.id.clone(),
            SyncResult {
                at: Timestamp::from_millisecond(at_ms).unwrap_or(Timestamp::UNIX_EPOCH),
                outcome,
                error: error.map(|(_, text)| text.to_owned()),
                code: error.map(|(code, _)| code.to_owned()),
            },
        );
    }
    sync
}

/// A stable offset in `0..interval` for a user, so the same tenant always syncs the same way.
pub(crate) fn offset_ms(email: &str, interval_ms: i64) -> i64 {
    // FNV-1a: stable across runs and platforms, unlike the standard library's hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in email.as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let interval = u64::try_from(interval_ms.max(1)).unwrap_or(1);
    i64::try_from(hash % interval).unwrap_or(0)
}

/// The time of the latest attempt at or before `now_ms` for a user enabled since `enabled_ms`,
/// or `None` if there has been none since it was enabled.
pub(crate) fn latest_attempt(
    email: &str,
    enabled_ms: i64,
    interval_ms: i64,
    faults: &[FaultSpan],
    latest_recheck_ms: Option<i64>,
    now_ms: i64,
) -> Option<i64> {
    let slow = faults
        .iter()
        .any(|f| f.fault == Fault::SlowSync && f.active_at(now_ms));
    let interval = if slow {
        interval_ms * SLOW_FACTOR
    } else {
        interval_ms
    }
    .max(1);
    let offset = offset_ms(email, interval);
    let k = (now_ms - offset).div_euclid(interval);
    let scheduled = offset + k * interval;
    let scheduled = (scheduled >= enabled_ms && scheduled <= now_ms).then_some(scheduled);
    let recheck = latest_recheck_ms.filter(|r| *r >= enabled_ms && *r <= now_ms);
    scheduled.max(recheck)
}

/// How an attempt at `at_ms` went, given the faults of the user and of the configuration.
pub(crate) fn outcome(
    auth_type: AuthType,
    user_faults: &[FaultSpan],
    configuration_faults: &[FaultSpan],
    at_ms: i64,
) -> (SyncOutcome, Option<(&'static str, &'static str)>) {
    let active = |faults: &[FaultSpan], fault: Fault| {
        faults
            .iter()
            .any(|f| f.fault == fault && f.active_at(at_ms))
    };
    if active(user_faults, Fault::MailboxGone) {
        return (
            SyncOutcome::Error,
            Some((
                "ErrorNonExistentMailbox",
                "The SMTP address has no mailbox associated with it.",
            )),
        );
    }
    if active(user_faults, Fault::NotPrimary) {
        return (
            SyncOutcome::Warning,
            Some((
                "NotPrimarySmtpAddress",
                "The staff email is not the mailbox's primary SMTP address, so the user is not synced.",
            )),
        );
    }
    if auth_type == AuthType::Oauth {
        if active(configuration_faults, Fault::RevokedGrant) {
            return (
                SyncOutcome::Error,
                Some((
                    "invalid_grant",
                    "AADSTS50173: The provided grant has expired due to it being revoked; the service account must authorize again.",
                )),
            );
        }
        if active(user_faults, Fault::DenyAccess) {
            return (
                SyncOutcome::Error,
                Some((
                    "ErrorAccessDenied",
                    "Access is denied. Check credentials and try again. The mailbox is outside the application access policy's scope.",
                )),
            );
        }
    }
    if active(user_faults, Fault::Throttle) {
        return (
            SyncOutcome::Throttled,
            Some((
                "ErrorServerBusy",
                "The server cannot service this request right now. Try again later.",
            )),
        );
    }
    (SyncOutcome::Ok, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(fault: Fault, since_ms: i64, until_ms: Option<i64>) -> FaultSpan {
        FaultSpan {
            fault,
            since_ms,
            until_ms,
        }
    }

    #[test]
    fn offsets_are_stable_and_in_range() {
        assert_eq!(
            offset_ms("ana@contoso.example", 1_000),
            offset_ms("ana@contoso.example", 1_000)
        );
        for email in ["a@x.io", "b@x.io", "ana@contoso.example"] {
            assert!((0..5_000).contains(&offset_ms(email, 5_000)));
        }
    }

    #[test]
    fn attempts_follow_the_interval() {
        let email = "ana@contoso.example";
        let offset = offset_ms(email, 1_000);
        // Enabled just after an attempt: nothing until the next one.
        assert_eq!(
            latest_attempt(email, offset + 1, 1_000, &[], None, offset + 999),
            None
        );
        assert_eq!(
            latest_attempt(email, offset + 1, 1_000, &[], None, offset + 1_000),
            Some(offset + 1_000)
        );
        assert_eq!(
            latest_attempt(email, 0, 1_000, &[], None, offset + 5_500),
            Some(offset + 5_000)
        );
        // A re-check counts as an attempt at its own time.
        assert_eq!(
            latest_attempt(
                email,
                offset + 1,
                1_000,
                &[],
                Some(offset + 300),
                offset + 500
            ),
            Some(offset + 300)
        );
        // A re-check from before the user was enabled does not.
        assert_eq!(
            latest_attempt(
                email,
                offset + 400,
                1_000,
                &[],
                Some(offset + 300),
                offset + 500
            ),
            None
        );
        // Slow sync stretches the interval.
        let slow = [span(Fault::SlowSync, 0, None)];
        let slow_offset = offset_ms(email, 6_000);
        assert_eq!(
            latest_attempt(email, 0, 1_000, &slow, None, slow_offset + 6_500),
            Some(slow_offset + 6_000)
        );
    }

    #[test]
    fn outcomes_by_fault_and_moment() {
        let deny = [span(Fault::DenyAccess, 100, Some(200))];
        assert_eq!(
            outcome(AuthType::Oauth, &deny, &[], 150).0,
            SyncOutcome::Error
        );
        assert_eq!(outcome(AuthType::Oauth, &deny, &[], 250).0, SyncOutcome::Ok);
        assert_eq!(outcome(AuthType::Basic, &deny, &[], 150).0, SyncOutcome::Ok);
        let gone = [span(Fault::MailboxGone, 0, None)];
        assert_eq!(
            outcome(AuthType::Basic, &gone, &[], 5).0,
            SyncOutcome::Error
        );
        let revoked = [span(Fault::RevokedGrant, 0, None)];
        assert_eq!(
            outcome(AuthType::Oauth, &[], &revoked, 5).1.map(|e| e.0),
            Some("invalid_grant")
        );
        let throttled = [span(Fault::Throttle, 0, None)];
        assert_eq!(
            outcome(AuthType::Oauth, &throttled, &[], 5).0,
            SyncOutcome::Throttled
        );
        let primary = [span(Fault::NotPrimary, 0, None)];
        assert_eq!(
            outcome(AuthType::Oauth, &primary, &[], 5).0,
            SyncOutcome::Warning
        );
    }
}
