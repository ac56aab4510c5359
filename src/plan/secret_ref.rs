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
    /// A systemd credential's name: the file `$CREDENTIALS_DIRECTORY/NAME` that
    /// `LoadCredential=` (or `SetCredential=`) gives the service.
    Credential(String),
}

impl SecretRef {
    /// Words for where the secret is kept, for messages and `status`: never its value.
    pub(crate) fn describe(&self) -> String {
        match self {
            SecretRef::Env(name) => format!("environment variable {name}"),
            SecretRef::File { written, .. } => format!("file {written}"),
            SecretRef::Credential(name) => format!("systemd credential {name}"),
        }
    }
}
