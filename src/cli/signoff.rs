//! Who is signing off (`approve`, `accept`), and their signature, checked against the plan's
//! `[change_control]` before anything is recorded: a sign-off the rules would not count is
//! refused with the reason, rather than recorded to be ignored.

use std::path::Path;

use crate::planner;
use crate::signing;
use crate::state::{RunState, host_name, os_user};

use super::{CommandError, Session};

/// A person's sign-off, ready to record.
pub(crate) struct Signoff {
    /// Who they said they were (`--by`, else the OS user).
    pub(crate) by: String,
    pub(crate) os_user: String,
    pub(crate) host: String,
    /// The signature over the statement, and the principal it verified as.
    pub(crate) signed: Option<(String, String)>,
}

impl Signoff {
    /// Who signs off, for segregation of duties: the signer, else the OS user.
    pub(crate) fn identity(&self) -> &str {
        self.signed.as_ref().map_or(&self.os_user, |(_, p)| p)
    }

    /// `by`, and how it was established, for the confirmation line.
    pub(crate) fn described(&self) -> String {
        match &self.signed {
            Some((_, principal)) => format!(
                "{} (signed by {principal}; {} on {})",
                self.by, self.os_user, self.host
            ),
            None => format!("{} ({} on {})", self.by, self.os_user, self.host),
        }
    }
}

/// Signs `statement` with `sign` when given, and checks what the plan asks: a signature by a
/// listed principal when it names `allowed_signers`, and, under `four_eyes` when
/// `segregated`, someone other than who started the rollout or approved its digest. `state`
/// is weighed ([`Session::weigh`]).
pub(crate) fn sign_off(
    session: &Session<'_>,
    state: &RunState,
    statement: &str,
    sign: Option<&Path>,
    by: Option<String>,
    segregated: bool,
) -> Result<Signoff, CommandError> {
    let rules = &session.plan.change_control;
    let os_user = os_user();
    let by = by.unwrap_or_else(|| os_user.clone());
    let signed = match (sign, &rules.allowed_signers) {
        (Some(_), None) => {
            return Err(CommandError::invalid(
                "the plan names no [change_control] allowed_signers to check a signature against; nothing was recorded",
            ));
        }
        (None, Some(allowed)) => {
            return Err(CommandError::invalid(format!(
                "[change_control] allowed_signers ({}): a sign-off counts only when signed; nothing was recorded",
                allowed.written
            ))
            .hint(
                "add --sign KEY: your SSH private key, or its .pub file when ssh-agent holds the key",
            ));
        }
        (None, None) => None,
        (Some(key), Some(allowed)) => {
            let signature = signing::sign(key, statement)
                .map_err(|e| CommandError::invalid(format!("{e}; nothing was recorded")))?;
            let principal = signing::verify(&allowed.path, &signature, statement).map_err(|e| {
                CommandError::invalid(format!("{e}; nothing was recorded")).hint(format!(
                    "ask whoever keeps {} to list your public key with namespaces=\"{}\"",
                    allowed.written,
                    signing::NAMESPACE
                ))
            })?;
            Some((signature, principal))
        }
    };
    let signoff = Signoff {
        by,
        os_user,
        host: host_name(),
        signed,
    };
    if segregated && rules.four_eyes {
        let identity = signoff.identity();
        if planner::requesters(&session.plan, state).contains(identity) {
            let role = if state.started_by.as_deref() == Some(identity) {
                "started this rollout"
            } else {
                "approved the plan's digest"
            };
            return Err(CommandError::invalid(format!(
                "[change_control] four_eyes: {identity} {role}, so another person must sign off; nothing was recorded"
            )));
        }
    }
    Ok(signoff)
}
