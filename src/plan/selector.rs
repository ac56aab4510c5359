//! Who a step moves.

use std::path::PathBuf;

use serde::Serialize;

use super::grammar::Email;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub(crate) enum Selector {
    /// Every user enabled on `from` and in no earlier step, resolved when the batch starts.
    Remaining,
    /// An explicit list, in the order written.
    Emails { emails: Vec<Email> },
    /// Every user whose location is this value.
    Location { location: String },
    /// Every user in this group.
    Group { group: String },
    /// The emails of a CSV file, read at validation.
    File {
        /// The path as written in the plan.
        file: String,
        /// The email column's header, as the plan names it (unset: `email` or
        /// `PrimarySmtpAddress`).
        #[serde(skip_serializing_if = "Option::is_none")]
        column: Option<String>,
        #[serde(skip)]
        path: PathBuf,
        emails: Vec<Email>,
    },
}
