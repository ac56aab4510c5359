//! Who a step moves: `remaining`, a location, a group, a list of emails or a CSV user file —
//! and that no user is named by two steps (or twice by one), pointing at both places.
//!
//! The CSV file's own contents (header, emails, duplicates inside it) are checked by
//! [`UserFile`]; the rules about which step may say `remaining` are in `steps.rs`.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use toml::Spanned;

use crate::diagnostic::{Diagnostic, SourceFile};
use crate::plan::Selector;
use crate::plan::grammar::Email;
use crate::plan::raw::RawUsers;
use crate::plan::user_file::{MAX_USER_FILE_BYTES, UnreadableFile, UserFile};

use super::validator::Validator;

/// Where a user was first named, for the message about the second time. The place is kept
/// as a span and turned into `PATH:LINE:COLUMN` only if a duplicate is reported: computing it
/// for every user would scan the file once per user.
pub(super) struct Seen {
    step: String,
    file: Arc<SourceFile>,
    span: Range<usize>,
}

impl Validator<'_> {
    /// Who `step` moves (`step` names it in a duplicate's message); `None` when any of them is
    /// wrong, each reported.
    pub(super) fn users(&mut self, raw: Spanned<RawUsers>, step: &str) -> Option<Selector> {
        match raw.into_inner() {
            RawUsers::Remaining => Some(Selector::Remaining),
            RawUsers::Location(l) => Some(Selector::Location {
                location: l.into_inner().trim().to_owned(),
            }),
            RawUsers::Group(g) => Some(Selector::Group {
                group: g.into_inner().trim().to_owned(),
            }),
            RawUsers::List(items) => {
                let mut emails = Vec::with_capacity(items.len());
                let mut ok = true;
                for item in &items {
                    match self.grammar(item, Email::parse, "plan::bad-email") {
                        Some(email) => {
                            if self.claim(&email, step, self.file.clone(), item.span()) {
                                emails.push(email);
                            } else {
                                ok = false;
                            }
                        }
                        None => ok = false,
                    }
                }
                ok.then_some(Selector::Emails { emails })
            }
            RawUsers::File { file: f, column } => {
                let written = f.get_ref().clone();
                let column = column.map(|c| c.into_inner().trim().to_owned());
                let path = self.dir.join(&written);
                let display = if Path::new(&written).is_absolute() {
                    written.clone()
                } else {
                    display_path(self.dir, &written)
                };
                let before = self.diagnostics.len();
                let mut file_diagnostics = Vec::new();
                let read =
                    UserFile::read(&display, &path, column.as_deref(), &mut file_diagnostics);
                for d in file_diagnostics {
                    crate::diagnostic::keep(self.diagnostics, d);
                }
                let users = match read {
                    Ok(users) => users,
                    Err(e) => {
                        let (message, help) = match e {
                            UnreadableFile::Missing => (
                                format!("the user file `{display}` does not exist"),
                                format!(
                                    "relative paths resolve against the plan's folder ({}); check the name",
                                    display_dir(self.dir)
                                ),
                            ),
                            UnreadableFile::NotRegular(kind) => (
                                format!(
                                    "the user file `{display}` is not a regular file: it is {kind}"
                                ),
                                "name a CSV file; cutover does not read folders, devices or pipes"
                                    .to_owned(),
                            ),
                            UnreadableFile::TooLarge(size) => (
                                format!(
                                    "the user file `{display}` is {} MiB, more than the {} MiB a user file may be",
                                    size >> 20,
                                    MAX_USER_FILE_BYTES >> 20
                                ),
                                "split it into one file per batch".to_owned(),
                            ),
                            UnreadableFile::Io(e) => (
                                format!("the user file `{display}` cannot be read: {e}"),
                                "check that the path names a readable file".to_owned(),
                            ),
                        };
                        self.error("plan::bad-user-file", f.span(), message, "this file", help);
                        return None;
                    }
                };
                let mut emails = Vec::with_capacity(users.emails.len());
                for listed in &users.emails {
                    if self.claim(&listed.email, step, users.file.clone(), listed.span.clone()) {
                        emails.push(listed.email.clone());
                    }
                }
                let clean = self.diagnostics[before..].iter().all(|d| !d.is_error());
                clean.then_some(Selector::File {
                    file: written,
                    column,
                    path,
                    emails,
                })
            }
        }
    }

    /// Records that `step` names `email`; false (and a diagnostic) if a step already did.
    fn claim(
        &mut self,
        email: &Email,
        step: &str,
        file: Arc<SourceFile>,
        span: Range<usize>,
    ) -> bool {
        if let Some(seen) = self.seen_users.get(email) {
            let (line, column) = seen.file.line_column(seen.span.start);
            let first = format!("{}:{line}:{column}", seen.file.name());
            let (message, help) = if seen.step == step {
                (
                    format!("`{email}` is listed twice in `{step}` (first at {first})"),
                    "remove one of the two".to_owned(),
                )
            } else {
                (
                    format!(
                        "`{email}` is in both `{}` and `{step}` (first at {first})",
                        seen.step
                    ),
                    "a user can move in only one step; remove them from one of the two".to_owned(),
                )
            };
            let d = Diagnostic::error("plan::duplicate-user", &file, span, message)
                .label("listed again here")
                .help(help);
            crate::diagnostic::keep(self.diagnostics, d);
            return false;
        }
        let seen = Seen {
            step: step.to_owned(),
            file,
            span,
        };
        self.seen_users.insert(email.clone(), seen);
        true
    }
}

/// The plan's folder joined with a relative path, as a user would type it.
fn display_path(dir: &Path, written: &str) -> String {
    if dir.as_os_str().is_empty() {
        written.to_owned()
    } else {
        dir.join(written).display().to_string()
    }
}

fn display_dir(dir: &Path) -> String {
    if dir.as_os_str().is_empty() {
        ".".to_owned()
    } else {
        dir.display().to_string()
    }
}
