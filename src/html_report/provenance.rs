//! What the report says about where its facts come from and whether they can be trusted: the
//! audit chain's verification, each approval's signature, and the plan file's git commit.
//!
//! These are seams. The audit hash chain (a `Store` method for its head and one that verifies
//! it), the plan's git provenance and signed approvals land separately; until they do, each
//! function here fills its value from what the state file holds today and says so. Wiring one
//! to its real source changes only the function's body.

use crate::state::{ApprovalRecord, AuditEntry, RunState, Store};

/// The audit trail's hash chain, as checked for this report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ChainVerification {
    /// The state file has no chain to check (written before the chain existed).
    NotAvailable { reason: String },
    /// Every record's hash matches the one before it, up to `head`.
    #[allow(dead_code, reason = "filled once the audit hash chain lands")]
    Verified { head: String, records: usize },
    /// The first record whose hash does not match.
    #[allow(dead_code, reason = "filled once the audit hash chain lands")]
    Broken { first_bad: String },
}

impl ChainVerification {
    /// One line for the report.
    pub(crate) fn words(&self) -> String {
        match self {
            ChainVerification::NotAvailable { reason } => format!("chain: {reason}"),
            ChainVerification::Verified { head, records } => {
                format!("chain: verified, {records} record(s), head {head}")
            }
            ChainVerification::Broken { first_bad } => {
                format!("chain: BROKEN at {first_bad}: the trail was changed after it was written")
            }
        }
    }

    pub(crate) fn head(&self) -> Option<&str> {
        match self {
            ChainVerification::Verified { head, .. } => Some(head),
            _ => None,
        }
    }
}

/// Checks the audit chain. Seam: today's state files carry no chain.
///
/// At merge: `store.verify_audit_chain()` (or the name it lands with) and its head.
pub(crate) fn chain_verification(_store: &Store) -> ChainVerification {
    ChainVerification::NotAvailable {
        reason: "not available in this state file".to_owned(),
    }
}

/// An approval's signature, as the report shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ApprovalSignature {
    Unsigned,
    /// An SSH signature over the step's digest by a principal in `allowed_signers`.
    #[allow(dead_code, reason = "filled once signed approvals land")]
    Signed {
        principal: String,
    },
}

impl ApprovalSignature {
    pub(crate) fn words(&self) -> String {
        match self {
            ApprovalSignature::Unsigned => "signed: no".to_owned(),
            ApprovalSignature::Signed { principal } => format!("signed: yes, by {principal}"),
        }
    }
}

/// Whether an approval was signed. Seam: today's approvals carry no signature.
///
/// At merge: the record's signature and the principal that verified it.
pub(crate) fn approval_signature(_record: &ApprovalRecord) -> ApprovalSignature {
    ApprovalSignature::Unsigned
}

/// The plan file's git commit, as the rollout recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GitCommit {
    /// The state file does not say (runs recorded before git provenance existed).
    NotRecorded,
    #[allow(dead_code, reason = "filled once git provenance lands")]
    Recorded { commit: String, clean: bool },
}

impl GitCommit {
    pub(crate) fn words(&self) -> String {
        match self {
            GitCommit::NotRecorded => "not recorded in this state file".to_owned(),
            GitCommit::Recorded {
                commit,
                clean: true,
            } => commit.clone(),
            GitCommit::Recorded {
                commit,
                clean: false,
            } => format!("{commit} (the plan file had uncommitted changes)"),
        }
    }
}

/// The plan's git commit as the rollout's runs recorded it. Seam: today's runs record none.
///
/// At merge: the latest run's recorded commit and whether the plan file was clean.
pub(crate) fn plan_commit(_state: &RunState, _audit: &[AuditEntry]) -> GitCommit {
    GitCommit::NotRecorded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_seam_says_what_it_does_not_know() {
        let chain = ChainVerification::NotAvailable {
            reason: "not available in this state file".to_owned(),
        };
        assert_eq!(chain.words(), "chain: not available in this state file");
        assert_eq!(chain.head(), None);
        assert_eq!(ApprovalSignature::Unsigned.words(), "signed: no");
        assert_eq!(
            GitCommit::NotRecorded.words(),
            "not recorded in this state file"
        );
        let dirty = GitCommit::Recorded {
            commit: "3dee270".to_owned(),
            clean: false,
        };
        assert!(dirty.words().contains("uncommitted"));
    }
}
