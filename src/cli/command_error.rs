//! Why a command could not do what it was asked: one type for every command, classified once.
//!
//! Modules below the command line return their own typed errors; a command turns each into a
//! [`CommandError`] (a kind, the message, and hints saying what to do), and `exit_code.rs` maps
//! the kind to the process's exit code. No command picks an exit code for an error itself.

use std::fmt;

/// What kind of failure it is: all that decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    /// Something unexpected; the platform or a file could not be reached or read.
    Failure,
    /// Invalid usage or an invalid plan; a digest that does not match; an edit where the rollout
    /// already ran.
    Invalid,
    /// A precondition needs a person before anything can be done.
    Halted,
    /// Another run holds the plan's lock.
    Locked,
}

/// A command's failure, as its user reads it.
#[derive(Debug, Clone)]
pub(crate) struct CommandError {
    pub(crate) kind: ErrorKind,
    message: String,
    hints: Vec<String>,
    /// The message is a whole line of its own (such as `invalid: plan.toml: 2 error(s)`), not an
    /// error to prefix with `error: `.
    verbatim: bool,
}

impl CommandError {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            hints: Vec::new(),
            verbatim: false,
        }
    }

    pub(crate) fn failure(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Failure, message)
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, message)
    }

    pub(crate) fn halted(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Halted, message)
    }

    pub(crate) fn locked(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Locked, message)
    }

    /// A summary line printed as it is, after the command has already shown the details (the
    /// plan's diagnostics, say).
    pub(crate) fn summary(kind: ErrorKind, line: impl Into<String>) -> Self {
        Self {
            verbatim: true,
            ..Self::new(kind, line)
        }
    }

    /// Adds a line saying what to do about it.
    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    /// The lines for standard error.
    pub(crate) fn render(&self) -> String {
        let mut text = if self.verbatim {
            format!("{}\n", self.message)
        } else {
            format!("error: {}\n", self.message)
        };
        for hint in &self.hints {
            text.push_str(hint);
            text.push('\n');
        }
        text
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Errors a command meets most often, classified by what they mean for its user.
impl From<crate::state::StoreError> for CommandError {
    fn from(error: crate::state::StoreError) -> Self {
        match &error {
            crate::state::StoreError::Locked { .. } => Self::locked(error.to_string()),
            // Pointing --state at a moved file or at a URL cutover refuses is the user's to fix.
            crate::state::StoreError::Moved { .. } | crate::state::StoreError::Location(_) => {
                Self::invalid(error.to_string())
            }
            _ => Self::failure(error.to_string()),
        }
    }
}

impl From<crate::target::TargetError> for CommandError {
    fn from(error: crate::target::TargetError) -> Self {
        Self::failure(error.to_string())
    }
}

impl From<crate::sandbox::SandboxError> for CommandError {
    fn from(error: crate::sandbox::SandboxError) -> Self {
        Self::failure(error.to_string())
    }
}

/// A target URL that is not one or is plain http, or a secret not set, is the user's to fix,
/// yet every command has exited 1 for these, and schedulers key on that.
impl From<crate::http_target::HttpTargetError> for CommandError {
    fn from(error: crate::http_target::HttpTargetError) -> Self {
        Self::failure(error.to_string())
    }
}

/// `sandbox serve` could not start or stopped. Every variant is a failure, exit 1, the flags'
/// own mistakes (a non-loopback `--listen`, a bad `--oauth-issuer`, a missing secret) included:
/// `sandbox` commands have always exited 1 on every error, and scripts may rely on it.
impl From<crate::serve::ServeError> for CommandError {
    fn from(error: crate::serve::ServeError) -> Self {
        Self::failure(error.to_string())
    }
}

/// Every command names the pre-check when it reports why the check could not run; a secret not
/// set exits 1, as it always has.
impl From<crate::precheck::PrecheckError> for CommandError {
    fn from(error: crate::precheck::PrecheckError) -> Self {
        Self::failure(format!("the mailbox pre-check: {error}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_renders_its_message_then_its_hints() {
        let error = CommandError::invalid("the plan has no batch `x`").hint("batches: a, b");
        assert_eq!(
            error.render(),
            "error: the plan has no batch `x`\nbatches: a, b\n"
        );
        let summary = CommandError::summary(ErrorKind::Invalid, "invalid: p.toml: 1 error(s)");
        assert_eq!(summary.render(), "invalid: p.toml: 1 error(s)\n");
    }
}
