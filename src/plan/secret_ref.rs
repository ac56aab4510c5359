//! References to secrets. A plan names where a secret is kept, never the secret itself; the
//! value is read only when a command needs it, and never printed, logged or stored.

use std::path::PathBuf;

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum SecretRef {
    /// An environment variable's name.
    Env(String),
    /// A file holding the secret.
    File {
        written: String,
        #[serde(skip)]
        path: PathBuf,
    },
}
