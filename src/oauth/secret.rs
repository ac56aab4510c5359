//! Reading a secret reference. Errors name the reference, never a value.

use crate::plan::SecretRef;

/// A secret reference that points at nothing usable. `what` says whose secret it is ("client
/// secret", "API token"), for the message.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SecretError {
    #[error("the {what}'s environment variable {name} is not set; set it (the plan only names it)")]
    EnvUnset { what: &'static str, name: String },
    #[error("the {what}'s environment variable {name} is empty")]
    EnvEmpty { what: &'static str, name: String },
    #[error("cannot read the {what} file {written}: {source}")]
    FileUnreadable {
        what: &'static str,
        written: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the {what} file {written} is empty")]
    FileEmpty { what: &'static str, written: String },
    #[error(
        "the {what} is the systemd credential {name}, but CREDENTIALS_DIRECTORY is not set; \
         run cutover from a unit with `LoadCredential={name}:PATH`, or set CREDENTIALS_DIRECTORY"
    )]
    NoCredentialsDirectory { what: &'static str, name: String },
    #[error("cannot read the {what}'s systemd credential {name}: {source}")]
    CredentialUnreadable {
        what: &'static str,
        name: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the {what}'s systemd credential {name} is empty")]
    CredentialEmpty { what: &'static str, name: String },
}

/// The secret a reference points at, and words for where it came from (for messages). Text,
/// trimmed: an environment variable, a file or a systemd credential.
pub(crate) fn read_secret(
    secret: &SecretRef,
    what: &'static str,
) -> Result<(String, String), SecretError> {
    if let SecretRef::Env(name) = secret {
        let value = std::env::var(name).map_err(|_| SecretError::EnvUnset {
            what,
            name: name.clone(),
        })?;
        let value = value.trim().to_owned();
        if value.is_empty() {
            return Err(SecretError::EnvEmpty {
                what,
                name: name.clone(),
            });
        }
        return Ok((value, format!("environment variable {name}")));
    }
    let (bytes, source) = read_secret_bytes(secret, what)?;
    let text = String::from_utf8(bytes).map_err(|_| not_text(secret, what))?;
    Ok((text.trim().to_owned(), source))
}

/// The bytes a reference points at (a certificate may be binary), and words for where they came
/// from. An environment variable's value is its text, trimmed; a file or credential is read as
/// it is.
pub(crate) fn read_secret_bytes(
    secret: &SecretRef,
    what: &'static str,
) -> Result<(Vec<u8>, String), SecretError> {
    let (path, source) = match secret {
        SecretRef::Env(_) => {
            return read_secret(secret, what).map(|(value, source)| (value.into_bytes(), source));
        }
        SecretRef::File { written, path } => (path.clone(), format!("file {written}")),
        SecretRef::Credential(name) => {
            let dir = std::env::var_os(CREDENTIALS_DIRECTORY)
                .filter(|d| !d.is_empty())
                .ok_or_else(|| SecretError::NoCredentialsDirectory {
                    what,
                    name: name.clone(),
                })?;
            // The validator allows a name only (no `/`, no `..`), so this stays in the folder.
            (
                std::path::Path::new(&dir).join(name),
                format!("systemd credential {name}"),
            )
        }
    };
    let value = std::fs::read(&path).map_err(|source| unreadable(secret, what, source))?;
    if value.iter().all(u8::is_ascii_whitespace) {
        return Err(empty(secret, what));
    }
    Ok((value, source))
}

fn unreadable(secret: &SecretRef, what: &'static str, source: std::io::Error) -> SecretError {
    match secret {
        SecretRef::Credential(name) => SecretError::CredentialUnreadable {
            what,
            name: name.clone(),
            source,
        },
        SecretRef::File { written, .. } => SecretError::FileUnreadable {
            what,
            written: written.clone(),
            source,
        },
        SecretRef::Env(name) => SecretError::EnvUnset {
            what,
            name: name.clone(),
        },
    }
}

fn empty(secret: &SecretRef, what: &'static str) -> SecretError {
    match secret {
        SecretRef::Credential(name) => SecretError::CredentialEmpty {
            what,
            name: name.clone(),
        },
        SecretRef::File { written, .. } => SecretError::FileEmpty {
            what,
            written: written.clone(),
        },
        SecretRef::Env(name) => SecretError::EnvEmpty {
            what,
            name: name.clone(),
        },
    }
}

/// A text secret (a token, a password) whose file is not UTF-8.
fn not_text(secret: &SecretRef, what: &'static str) -> SecretError {
    unreadable(
        secret,
        what,
        std::io::Error::new(std::io::ErrorKind::InvalidData, "it is not UTF-8 text"),
    )
}

/// Where systemd puts a service's credentials (`LoadCredential=`, `SetCredential=`).
pub(crate) const CREDENTIALS_DIRECTORY: &str = "CREDENTIALS_DIRECTORY";
