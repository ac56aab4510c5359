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
    }
}

/// The bytes a reference points at (a certificate may be binary), and words for where they came
/// from. An environment variable's value is its text, trimmed; a file is read as it is.
pub(crate) fn read_secret_bytes(
    secret: &SecretRef,
    what: &'static str,
) -> Result<(Vec<u8>, String), SecretError> {
    match secret {
        SecretRef::Env(_) => {
            read_secret(secret, what).map(|(value, source)| (value.into_bytes(), source))
        }
        SecretRef::File { written, path } => {
            let value = std::fs::read(path).map_err(|source| SecretError::FileUnreadable {
                what,
                written: written.clone(),
                source,
            })?;
            if value.iter().all(u8::is_ascii_whitespace) {
                return Err(SecretError::FileEmpty {
                    what,
                    written: written.clone(),
                });
            }
            Ok((value, format!("file {written}")))
        }
    }
}
