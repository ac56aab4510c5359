//! Reading a secret reference. Errors name the reference, never a value.

use crate::plan::SecretRef;

/// The secret a reference points at, and words for where it came from (for messages).
pub(crate) fn read_secret(secret: &SecretRef, what: &str) -> Result<(String, String), String> {
    match secret {
        SecretRef::Env(name) => {
            let value = std::env::var(name)
                .map_err(|_| format!("the {what}'s environment variable {name} is not set; set it (the plan only names it)"))?;
            let value = value.trim().to_owned();
            if value.is_empty() {
                return Err(format!("the {what}'s environment variable {name} is empty"));
            }
            Ok((value, format!("environment variable {name}")))
        }
        SecretRef::File { written, path } => {
            let value = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read the {what} file {written}: {e}"))?;
            let value = value.trim().to_owned();
            if value.is_empty() {
                return Err(format!("the {what} file {written} is empty"));
            }
            Ok((value, format!("file {written}")))
        }
    }
}
