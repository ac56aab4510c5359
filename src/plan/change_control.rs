//! `[change_control]`: the change-management rules a rollout must meet.
//!
//! Enforcing them is others' work: `apply` checks the plan's git state before it touches
//! anything, the planner decides which approvals count (bound to a digest, signed by a listed
//! principal, not the requester's own), and the command line verifies signatures. This only says
//! what the plan asks for.

use std::path::PathBuf;

use serde::Serialize;

/// The plan's change-control rules, every one off by default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct ChangeControl {
    /// Run only a plan whose file (and CSV user files) are committed to git and unchanged.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) require_clean_git: bool,
    /// The first write waits for an approval of the plan's digest (`apply --approved D`, or
    /// `cutover approve PLAN --digest D` beforehand).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) require_approved_digest: bool,
    /// Segregation of duties: an approval counts only from another identity than the one who
    /// started the rollout or approved its current digest.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) four_eyes: bool,
    /// Approvals and acceptances count only when signed by a principal this OpenSSH
    /// `allowed_signers` file lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) allowed_signers: Option<AllowedSigners>,
}

/// The `allowed_signers` file: as written in the plan (the canonical form), and where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub(crate) struct AllowedSigners {
    pub(crate) written: String,
    pub(crate) path: PathBuf,
}

impl From<AllowedSigners> for String {
    fn from(signers: AllowedSigners) -> Self {
        signers.written
    }
}

impl ChangeControl {
    /// No rule is on: left out of the plan's canonical form, so plans without the table keep
    /// their digests.
    pub(crate) fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// Whether an approval counts only when signed.
    pub(crate) fn signed(&self) -> bool {
        self.allowed_signers.is_some()
    }
}
