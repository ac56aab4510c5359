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

/// The secret a reference points at, and words for where it came from (for messages).
pub(crate) fn read_secret(
    secret: &SecretRef,
    what: &'static str,
) -> Result<(String, String), SecretError> {
    match secret {
        SecretRef::Env(name) => {
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
            Ok((value, format!("environment variable {name}")))
        }
        SecretRef::File { written, path } => {
            let value =
                std::fs::read_to_string(path).map_err(|source| SecretError::FileUnreadable {
                    what,
                    written: written.clone(),
                    source,
                })?;
            let value = value.trim().to_owned();
            if value.is_empty() {
                return Err(SecretError::FileEmpty {
                    what,
                    written: written.clone(),
                });
            }
            Ok((value, format!("file {written}")))
        }
        SecretRef::Credential(name) => {
            let dir = std::env::var_os(CREDENTIALS_DIRECTORY)
                .filter(|d| !d.is_empty())
                .ok_or_else(|| SecretError::NoCredentialsDirectory {
                    what,
                    name: name.clone(),
                })?;
            // The validator allows a name only (no `/`, no `..`), so this stays in the folder.
            let path = std::path::Path::new(&dir).join(name);
            let value = std::fs::read_to_string(&path).map_err(|source| {
                SecretError::CredentialUnreadable {
                    what,
                    name: name.clone(),
                    source,
                }
            })?;
            let value = value.trim().to_owned();
            if value.is_empty() {
                return Err(SecretError::CredentialEmpty {
                    what,
                    name: name.clone(),
                });
            }
            Ok((value, format!("systemd credential {name}")))
        }
    }
}

/// Where systemd puts a service's credentials (`LoadCredential=`, `SetCredential=`).
pub(crate) const CREDENTIALS_DIRECTORY: &str = "CREDENTIALS_DIRECTORY";
