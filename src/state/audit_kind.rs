//! What an audit-trail line records, as a type: the strings stored in the `audit` table and
//! shown by `cutover log` (text and JSON) are [`AuditKind::as_str`], and only those.
//!
//! Writing and reading the trail is `audit.rs`'s.

use std::fmt;

use rusqlite::types::{FromSql, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

use super::StepPhase;
use super::schema::UnknownName;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuditKind {
    /// The rollout's first `apply` (with the digest it was approved against, if any).
    RolloutStarted,
    /// The new configuration became connected, and by which account.
    Authorized,
    /// A step froze its members and began moving them.
    StepStarted,
    /// A step entered a phase (`step_moving`, `step_verifying`, `step_passed`, …).
    Step(StepPhase),
    /// A run stopped for a person: a failed gate, a precondition.
    Halted,
    Approved,
    Hold,
    Release,
    /// An edit of steps that had not started was accepted.
    PlanChanged,
    /// `from` was disconnected (the rollout's last step).
    Disconnected,
    /// A run took over a lock whose process had gone.
    StaleLockTakenOver,
    /// `cutover unlock --force`.
    UnlockForced,
    /// An exception's OAuth sync became clean: `from` was disabled for the user.
    ExceptionClosed,
    /// `cutover accept`: the board accepts moving users without a clean OAuth sync.
    Accepted,
    /// `cutover accept --revoke`.
    AcceptanceRevoked,
    /// `cutover approve --revoke`.
    ApprovalRevoked,
    /// A run (`apply`, `rollback`) took the lock: which plan it runs — the plan file's git
    /// commit, and whether the file is as committed.
    RunStarted,
    /// `cutover state migrate`: the rollout arrived here from a state file, its trail intact.
    StateMigrated,
}

impl AuditKind {
    const ALL: [AuditKind; 22] = [
        AuditKind::RolloutStarted,
        AuditKind::Authorized,
        AuditKind::StepStarted,
        AuditKind::Step(StepPhase::Moving),
        AuditKind::Step(StepPhase::Verifying),
        AuditKind::Step(StepPhase::Passed),
        AuditKind::Step(StepPhase::Halted),
        AuditKind::Step(StepPhase::RolledBack),
        AuditKind::Halted,
        AuditKind::Approved,
        AuditKind::Hold,
        AuditKind::Release,
        AuditKind::PlanChanged,
        AuditKind::Disconnected,
        AuditKind::StaleLockTakenOver,
        AuditKind::UnlockForced,
        AuditKind::ExceptionClosed,
        AuditKind::Accepted,
        AuditKind::AcceptanceRevoked,
        AuditKind::ApprovalRevoked,
        AuditKind::RunStarted,
        AuditKind::StateMigrated,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            AuditKind::RolloutStarted => "rollout_started",
            AuditKind::Authorized => "authorized",
            AuditKind::StepStarted => "step_started",
            AuditKind::Step(StepPhase::Moving) => "step_moving",
            AuditKind::Step(StepPhase::Verifying) => "step_verifying",
            AuditKind::Step(StepPhase::Passed) => "step_passed",
            AuditKind::Step(StepPhase::Halted) => "step_halted",
            AuditKind::Step(StepPhase::RolledBack) => "step_rolled_back",
            AuditKind::Halted => "halted",
            AuditKind::Approved => "approved",
            AuditKind::Hold => "hold",
            AuditKind::Release => "release",
            AuditKind::PlanChanged => "plan_changed",
            AuditKind::Disconnected => "disconnected",
            AuditKind::StaleLockTakenOver => "stale_lock_taken_over",
            AuditKind::UnlockForced => "unlock_forced",
            AuditKind::ExceptionClosed => "exception_closed",
            AuditKind::Accepted => "accepted",
            AuditKind::AcceptanceRevoked => "acceptance_revoked",
            AuditKind::ApprovalRevoked => "approval_revoked",
            AuditKind::RunStarted => "run_started",
            AuditKind::StateMigrated => "state_migrated",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// Padded as a string is, for `cutover log`'s columns.
impl fmt::Display for AuditKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl serde::Serialize for AuditKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl ToSql for AuditKind {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for AuditKind {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        Self::parse(text).ok_or_else(|| UnknownName::of("audit kind", text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_stored_string_and_reads_back() {
        let strings: Vec<&str> = AuditKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(
            strings,
            [
                "rollout_started",
                "authorized",
                "step_started",
                "step_moving",
                "step_verifying",
                "step_passed",
                "step_halted",
                "step_rolled_back",
                "halted",
                "approved",
                "hold",
                "release",
                "plan_changed",
                "disconnected",
                "stale_lock_taken_over",
                "unlock_forced",
                "exception_closed",
                "accepted",
                "acceptance_revoked",
                "approval_revoked",
                "run_started",
                "state_migrated",
            ]
        );
        for kind in AuditKind::ALL {
            assert_eq!(AuditKind::parse(kind.as_str()), Some(kind));
            assert_eq!(
                serde_json::to_value(kind).ok(),
                Some(serde_json::Value::from(kind.as_str()))
            );
        }
        assert_eq!(AuditKind::parse("step_rolledback"), None);
        assert_eq!(format!("{:<10}|", AuditKind::Hold), "hold      |");
    }

    #[test]
    fn a_phase_change_is_named_after_its_phase() {
        for phase in [
            StepPhase::Moving,
            StepPhase::Verifying,
            StepPhase::Passed,
            StepPhase::Halted,
            StepPhase::RolledBack,
        ] {
            assert_eq!(
                AuditKind::Step(phase).as_str(),
                format!("step_{}", phase.as_str())
            );
        }
    }
}
