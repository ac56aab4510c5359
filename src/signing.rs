//! SSH signatures over what a person approved, made and checked by OpenSSH's own
//! `ssh-keygen -Y` (namespace `cutover`), against an `allowed_signers` file in OpenSSH's format.
//!
//! A signature covers a short statement naming the plan, the step (or `plan`, or the accepted
//! users) and the digest approved, so it cannot be moved to another step or another version of
//! the plan. Which approvals must be signed, and whose identity counts, is the planner's and the
//! command line's to decide.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::rc::Rc;

use crate::plan::Plan;
use crate::state::{Countable, Discounted, RunState};

/// The signature namespace: a key's signatures for other purposes (git commits, files) do not
/// count as approvals.
pub(crate) const NAMESPACE: &str = "cutover";

#[derive(Debug, thiserror::Error)]
pub(crate) enum SigningError {
    #[error("cannot run ssh-keygen (OpenSSH 8.2 or later signs and checks approvals): {0}")]
    NoSshKeygen(#[source] std::io::Error),
    #[error("cannot keep the signature in a temporary file: {0}")]
    Temporary(#[source] std::io::Error),
    #[error("ssh-keygen could not sign with {key}: {words}")]
    SignFailed { key: String, words: String },
    #[error("the signature is by a key that {allowed_signers} does not list")]
    UnknownSigner { allowed_signers: String },
    #[error("its signed statement does not accept {email} in plan {plan}")]
    DoesNotCover { email: String, plan: String },
    #[error("the signature does not verify as {principal}'s in {allowed_signers}: {words}")]
    NotVerified {
        principal: String,
        allowed_signers: String,
        words: String,
    },
}

/// The statement an approval of `step` (a step, `disconnect`, or `plan` for an edit) signs.
pub(crate) fn approval_statement(plan: &str, step: &str, digest: &str) -> String {
    format!("cutover approval\nplan: {plan}\nstep: {step}\ndigest: {digest}\n")
}

/// The statement an acceptance signs: the plan's digest and the users it accepts, sorted.
pub(crate) fn acceptance_statement(plan: &str, digest: &str, users: &[String]) -> String {
    let mut users = users.to_vec();
    users.sort();
    format!(
        "cutover acceptance\nplan: {plan}\ndigest: {digest}\nusers: {}\n",
        users.join(", ")
    )
}

/// `ssh-keygen` with only what it needs of the environment (the agent, for a key held there).
fn ssh_keygen() -> Command {
    let mut command = Command::new("ssh-keygen");
    command.env_clear();
    for name in ["PATH", "HOME", "SSH_AUTH_SOCK"] {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    command
}

/// Runs `command` with `input` on its standard input; its exit status, stdout and stderr.
fn run(mut command: Command, input: &str) -> Result<(bool, String, String), SigningError> {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(SigningError::NoSshKeygen)?;
    if let Some(mut stdin) = child.stdin.take() {
        // A child that exits early closes its end: its status says why.
        let _ = stdin.write_all(input.as_bytes());
    }
    let output = child
        .wait_with_output()
        .map_err(SigningError::NoSshKeygen)?;
    Ok((
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).trim().to_owned(),
    ))
}

/// Signs `statement` with the private key at `key` (or the public key of one the agent holds):
/// the armored signature.
pub(crate) fn sign(key: &Path, statement: &str) -> Result<String, SigningError> {
    let mut command = ssh_keygen();
    command
        .args(["-q", "-Y", "sign", "-n", NAMESPACE, "-f"])
        .arg(key);
    let (ok, signature, words) = run(command, statement)?;
    if !ok || !signature.contains("BEGIN SSH SIGNATURE") {
        return Err(SigningError::SignFailed {
            key: key.display().to_string(),
            words,
        });
    }
    Ok(signature)
}

/// Checks `signature` over `statement` against `allowed_signers`: the principal it verifies as.
pub(crate) fn verify(
    allowed_signers: &Path,
    signature: &str,
    statement: &str,
) -> Result<String, SigningError> {
    let file = tempfile::NamedTempFile::new().map_err(SigningError::Temporary)?;
    std::fs::write(file.path(), signature).map_err(SigningError::Temporary)?;
    let listed = allowed_signers.display().to_string();
    let mut find = ssh_keygen();
    find.args(["-Y", "find-principals", "-f"])
        .arg(allowed_signers)
        .arg("-s")
        .arg(file.path());
    let (ok, principals, _) = run(find, "")?;
    let Some(principal) = principals.lines().map(str::trim).find(|p| !p.is_empty()) else {
        return Err(SigningError::UnknownSigner {
            allowed_signers: listed,
        });
    };
    if !ok {
        return Err(SigningError::UnknownSigner {
            allowed_signers: listed,
        });
    }
    let mut check = ssh_keygen();
    check
        .args(["-Y", "verify", "-n", NAMESPACE, "-f"])
        .arg(allowed_signers)
        .args(["-I", principal, "-s"])
        .arg(file.path());
    let (ok, _, words) = run(check, statement)?;
    if !ok {
        return Err(SigningError::NotVerified {
            principal: principal.to_owned(),
            allowed_signers: listed,
            words,
        });
    }
    Ok(principal.to_owned())
}

/// The recorded signatures of a plan's approvals and acceptances, checked against its
/// `allowed_signers` as the file is now (a key removed from it no longer approves anything),
/// each once per process.
pub(crate) struct Signatures {
    allowed: PathBuf,
    plan: String,
    checked: HashMap<(Kind, i64), Result<String, Rc<SigningError>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Approval,
    Acceptance,
}

impl Signatures {
    /// `None` when the plan does not ask for signatures.
    pub(crate) fn of(plan: &Plan) -> Option<Self> {
        let allowed = plan.change_control.allowed_signers.as_ref()?;
        Some(Self {
            allowed: allowed.path.clone(),
            plan: plan.name.to_string(),
            checked: HashMap::new(),
        })
    }

    /// Sets each signed approval's and acceptance's principal to the one its signature verifies
    /// as, and sets aside those whose signature does not verify. Unsigned ones keep no
    /// principal: the planner's rules decide what they count for.
    pub(crate) fn vet(&mut self, state: &mut RunState) {
        let approvals = std::mem::take(&mut state.approvals);
        for mut approval in approvals {
            approval.principal = None;
            let Some(signature) = approval.signature.clone() else {
                state.approvals.push(approval);
                continue;
            };
            let statement = approval_statement(
                &self.plan,
                &approval.step,
                approval.digest.as_deref().unwrap_or_default(),
            );
            match self.check(Kind::Approval, approval.id, &signature, &statement) {
                Ok(principal) => {
                    approval.principal = Some(principal);
                    state.approvals.push(approval);
                }
                Err(why) => state.discounted.push(Discounted {
                    what: Countable::Approval(approval),
                    why: why.to_string(),
                }),
            }
        }
        let acceptances = std::mem::take(&mut state.acceptances);
        for mut acceptance in acceptances {
            acceptance.principal = None;
            let Some(signed) = acceptance.signed.clone() else {
                state.acceptances.push(acceptance);
                continue;
            };
            let names = format!("plan: {}\n", self.plan);
            let email = acceptance.email.to_string();
            let covers = signed.statement.contains(&names)
                && statement_users(&signed.statement).any(|u| u == email);
            let verdict = if covers {
                self.check(
                    Kind::Acceptance,
                    acceptance.id,
                    &signed.signature,
                    &signed.statement,
                )
            } else {
                Err(Rc::new(SigningError::DoesNotCover {
                    email,
                    plan: self.plan.clone(),
                }))
            };
            match verdict {
                Ok(principal) => {
                    acceptance.principal = Some(principal);
                    state.acceptances.push(acceptance);
                }
                Err(why) => state.discounted.push(Discounted {
                    what: Countable::Acceptance(acceptance),
                    why: why.to_string(),
                }),
            }
        }
    }

    fn check(
        &mut self,
        kind: Kind,
        id: i64,
        signature: &str,
        statement: &str,
    ) -> Result<String, Rc<SigningError>> {
        let allowed = &self.allowed;
        self.checked
            .entry((kind, id))
            .or_insert_with(|| verify(allowed, signature, statement).map_err(Rc::new))
            .clone()
    }
}

/// Leaves in `state` only the approvals and acceptances that count: signatures checked (when
/// the plan asks for them), then the plan's `[change_control]` rules.
pub(crate) fn weigh(plan: &Plan, signatures: Option<&mut Signatures>, state: &mut RunState) {
    if let Some(signatures) = signatures {
        signatures.vet(state);
    }
    crate::planner::enforce(plan, state);
}

/// The users an acceptance statement lists.
fn statement_users(statement: &str) -> impl Iterator<Item = &str> {
    statement
        .lines()
        .find_map(|l| l.strip_prefix("users: "))
        .unwrap_or_default()
        .split(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key pair made by the real ssh-keygen, and an allowed_signers file listing `listed`.
    fn keys(dir: &Path, names: &[&str], listed: &[(&str, &str)]) {
        for name in names {
            let status = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
                .arg(dir.join(name))
                .status()
                .expect("ssh-keygen runs");
            assert!(status.success());
        }
        let mut text = String::new();
        for (principal, key) in listed {
            let public = std::fs::read_to_string(dir.join(format!("{key}.pub"))).expect("pub");
            text.push_str(&format!(
                "{principal} namespaces=\"{NAMESPACE}\" {}",
                public.trim()
            ));
            text.push('\n');
        }
        std::fs::write(dir.join("allowed_signers"), text).expect("allowed_signers");
    }

    #[test]
    fn a_listed_key_verifies_as_its_principal_and_no_other_key_or_statement_does() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        keys(
            dir.path(),
            &["alice", "mallory"],
            &[("alice@contoso.example", "alice")],
        );
        let allowed = dir.path().join("allowed_signers");
        let statement = approval_statement("p", "east", "sha256:abc");
        let signature = sign(&dir.path().join("alice"), &statement).expect("signed");
        assert_eq!(
            verify(&allowed, &signature, &statement).expect("verified"),
            "alice@contoso.example"
        );
        // The same signature does not approve another step.
        let other = approval_statement("p", "west", "sha256:abc");
        assert!(matches!(
            verify(&allowed, &signature, &other),
            Err(SigningError::NotVerified { .. })
        ));
        // A key nobody listed is nobody.
        let forged = sign(&dir.path().join("mallory"), &statement).expect("signed");
        assert!(matches!(
            verify(&allowed, &forged, &statement),
            Err(SigningError::UnknownSigner { .. })
        ));
    }

    #[test]
    fn an_acceptance_statement_lists_its_users_sorted() {
        assert_eq!(
            acceptance_statement("p", "sha256:1", &["b@x.io".into(), "a@x.io".into()]),
            "cutover acceptance\nplan: p\ndigest: sha256:1\nusers: a@x.io, b@x.io\n"
        );
    }
}
