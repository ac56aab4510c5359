//! What the report says about where its facts come from and whether they can be trusted: the
//! audit chain's verification, each approval's signature, and the plan file's git commit.
//!
//! These are seams. The audit hash chain (a `Store` method for its head and one that verifies
//! it), the plan's git provenance and signed approvals land separately; until they do, each
//! function here fills its value from what the state file holds today and says so. Wiring one
//! to its real source changes only the function's body.

use crate::state::{Approval, AuditEntry, AuditKind, Store};

/// The audit trail's hash chain, as checked for this report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ChainVerification {
    /// The state file has no chain to check (written before the chain existed).
    NotAvailable { reason: String },
    /// Every record's hash matches the one before it, up to `head`.
    Verified { head: String, records: u64 },
    /// The first record whose hash does not match.
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

/// Checks the audit chain, as `cutover log --verify` does.
pub(crate) fn chain_verification(store: &Store) -> ChainVerification {
    let verdict = match store.verify_audit_chain(None) {
        Ok(verdict) => verdict,
        Err(e) => {
            return ChainVerification::NotAvailable {
                reason: format!("could not be checked: {e}"),
            };
        }
    };
    match (verdict.broken, verdict.head) {
        (Some(broken), _) => ChainVerification::Broken {
            first_bad: broken.explain(),
        },
        (None, Some(head)) => ChainVerification::Verified {
            head,
            records: verdict.records,
        },
        (None, None) => ChainVerification::NotAvailable {
            reason: "no records yet".to_owned(),
        },
    }
}

/// An approval's signature, as the report shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ApprovalSignature {
    Unsigned,
    /// An SSH signature over the step's digest by a principal in `allowed_signers`.
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

/// Whether an approval was signed, by the principal its signature verified as (the state the
/// report reads is weighed: a signature that no longer verifies is not among its approvals).
pub(crate) fn approval_signature(record: &Approval) -> ApprovalSignature {
    match &record.principal {
        Some(principal) => ApprovalSignature::Signed {
            principal: principal.clone(),
        },
        None => ApprovalSignature::Unsigned,
    }
}

/// The plan file's git commit, as the rollout recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GitCommit {
    /// The state file does not say (runs recorded before git provenance existed).
    NotRecorded,
    Recorded {
        commit: String,
        clean: bool,
    },
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

/// The plan's git commit as the rollout's last run recorded it (its `run_started` record), and
/// whether the plan file was as committed.
pub(crate) fn plan_commit(audit: &[AuditEntry]) -> GitCommit {
    let git = audit
        .iter()
        .rev()
        .find(|e| e.kind == AuditKind::RunStarted)
        .map(|e| &e.detail["git"]);
    match git.and_then(|g| Some((g["commit"].as_str()?, g["state"].as_str()?))) {
        Some((commit, state)) => GitCommit::Recorded {
            commit: commit.to_owned(),
            clean: state == "clean",
        },
        None => GitCommit::NotRecorded,
    }
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
