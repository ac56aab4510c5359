//! CSV user files (`users = { file = "east.csv" }`), as admins export them from spreadsheets:
//! a UTF-8 byte-order mark, an `email` header in any case, `,` or `;` between fields, stray
//! spaces, quoted fields, blank trailing rows.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use crate::diagnostic::{Diagnostic, SourceFile};

use super::grammar::Email;

/// One email read from a user file, with where it was.
#[derive(Debug, Clone)]
pub(crate) struct ListedEmail {
    pub(crate) email: Email,
    pub(crate) span: Range<usize>,
}

/// The emails of a user file, or the reasons it cannot be used.
#[derive(Debug)]
pub(crate) struct UserFile {
    pub(crate) file: Arc<SourceFile>,
    pub(crate) emails: Vec<ListedEmail>,
}

/// Why a user file could not be read at all. The caller reports it at the plan's `file` key.
#[derive(Debug)]
pub(crate) enum UnreadableFile {
    Missing,
    Io(std::io::Error),
    NotUtf8,
}

impl UserFile {
    /// Reads and checks a user file. `display` names it in diagnostics (the plan's folder joined
    /// with the path as written). Problems inside the file become diagnostics pointing into it.
    pub(crate) fn read(
        display: &str,
        path: &Path,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Result<UserFile, UnreadableFile> {
        let bytes = std::fs::read(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => UnreadableFile::Missing,
            _ => UnreadableFile::Io(e),
        })?;
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
        let text = String::from_utf8(bytes.to_vec()).map_err(|_| UnreadableFile::NotUtf8)?;
        Ok(Self::parse(SourceFile::new(display, text), diagnostics))
    }

    pub(crate) fn parse(file: Arc<SourceFile>, diagnostics: &mut Vec<Diagnostic>) -> UserFile {
        let text = file.text();
        let mut emails = Vec::new();
        let Some(header_start) = first_non_blank_line(text) else {
            diagnostics.push(
                Diagnostic::error(
                    "plan::empty-user-file",
                    &file,
                    0..0,
                    "this user file is empty",
                )
                .label("no header, no rows")
                .help("a user file needs an `email` header and one email per row"),
            );
            return UserFile { file, emails };
        };
        let header_end = text[header_start..]
            .find('\n')
            .map_or(text.len(), |i| header_start + i);
        let delimiter = sniff_delimiter(&text[header_start..header_end]);

        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());

        let mut column = None;
        let mut seen: std::collections::HashMap<Email, usize> = std::collections::HashMap::new();
        let mut record = csv::StringRecord::new();
        loop {
            let position = reader.position().clone();
            match reader.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => {
                    let at = e.position().map_or(position.byte(), csv::Position::byte);
                    let at = usize::try_from(at).unwrap_or(0);
                    diagnostics.push(
                        Diagnostic::error(
                            "plan::bad-user-file",
                            &file,
                            at..at,
                            format!("this CSV file cannot be read: {e}"),
                        )
                        .label("here")
                        .help("export the sheet again as CSV (UTF-8)"),
                    );
                    break;
                }
            }
            let row_start = usize::try_from(
                record
                    .position()
                    .map_or(position.byte(), csv::Position::byte),
            )
            .unwrap_or(0);
            if record.iter().all(str::is_empty) {
                continue;
            }
            let Some(email_column) = column else {
                let names: Vec<&str> = record.iter().collect();
                match names.iter().position(|n| n.eq_ignore_ascii_case("email")) {
                    Some(i) => column = Some(i),
                    None => {
                        let row_end = text[row_start..]
                            .find('\n')
                            .map_or(text.len(), |i| row_start + i);
                        let guess = names.iter().find(|n| n.to_lowercase().contains("mail"));
                        let help = match guess {
                            Some(g) => format!("rename the column `{g}` to `email`"),
                            None => {
                                "add a header row whose email column is named `email`".to_owned()
                            }
                        };
                        diagnostics.push(
                            Diagnostic::error(
                                "plan::no-email-column",
                                &file,
                                row_start..row_end.max(row_start),
                                "this user file has no `email` column",
                            )
                            .label(format!(
                                "the header row; {} column(s), none named `email`",
                                names.len()
                            ))
                            .help(help),
                        );
                        return UserFile { file, emails };
                    }
                }
                continue;
            };
            let line = usize::try_from(
                record
                    .position()
                    .map_or(position.line(), csv::Position::line),
            )
            .unwrap_or(0);
            let value = record.get(email_column).unwrap_or("");
            let span = field_span(text, row_start, value);
            if value.is_empty() {
                diagnostics.push(
                    Diagnostic::error(
                        "plan::missing-email",
                        &file,
                        span,
                        format!("row {line} has no email"),
                    )
                    .label("empty email cell")
                    .help("fill in the email, or delete the row"),
                );
                continue;
            }
            match Email::parse(value) {
                Ok(email) => {
                    if let Some(first) = seen.get(&email) {
                        diagnostics.push(
                            Diagnostic::error(
                                "plan::duplicate-user",
                                &file,
                                span,
                                format!(
                                    "`{email}` is listed twice in this file (first on line {first})"
                                ),
                            )
                            .label("listed again here")
                            .help("delete one of the two rows"),
                        );
                    } else {
                        seen.insert(email.clone(), line);
                        emails.push(ListedEmail { email, span });
                    }
                }
                Err(e) => {
                    diagnostics.push(
                        Diagnostic::error("plan::bad-email", &file, span, e.message)
                            .label("not an email address")
                            .help(e.help),
                    );
                }
            }
        }
        if column.is_none() {
            diagnostics.push(
                Diagnostic::error(
                    "plan::empty-user-file",
                    &file,
                    0..0,
                    "this user file is empty",
                )
                .label("no header, no rows")
                .help("a user file needs an `email` header and one email per row"),
            );
        } else if emails.is_empty() && diagnostics.iter().all(|d| !Arc::ptr_eq(&d.file, &file)) {
            let end = text.len();
            diagnostics.push(
                Diagnostic::error(
                    "plan::empty-user-file",
                    &file,
                    end..end,
                    "this user file lists no users",
                )
                .label("only a header")
                .help("add one email per row under the `email` header"),
            );
        }
        UserFile { file, emails }
    }
}

fn first_non_blank_line(text: &str) -> Option<usize> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if !line.trim().is_empty() {
            return Some(offset);
        }
        offset += line.len();
    }
    None
}

/// `;` when the header has more semicolons than commas (spreadsheets in locales where the
/// comma is the decimal mark), `,` otherwise.
fn sniff_delimiter(header: &str) -> u8 {
    let mut quoted = false;
    let (mut commas, mut semicolons) = (0, 0);
    for c in header.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => commas += 1,
            ';' if !quoted => semicolons += 1,
            _ => {}
        }
    }
    if semicolons > commas { b';' } else { b',' }
}

/// Where a field's (trimmed) value sits in its row, for the diagnostic's label.
fn field_span(text: &str, row_start: usize, value: &str) -> Range<usize> {
    let row_end = text[row_start..]
        .find('\n')
        .map_or(text.len(), |i| row_start + i);
    let row = &text[row_start..row_end];
    match (value.is_empty(), row.find(value)) {
        (false, Some(i)) => row_start + i..row_start + i + value.len(),
        _ => row_start..row_end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (Vec<String>, Vec<String>) {
        let mut diagnostics = Vec::new();
        let file = UserFile::parse(SourceFile::new("u.csv", text.to_owned()), &mut diagnostics);
        let emails = file.emails.iter().map(|e| e.email.to_string()).collect();
        let messages = diagnostics
            .iter()
            .map(|d| format!("{}: {}", d.location(), d.message))
            .collect();
        (emails, messages)
    }

    #[test]
    fn spreadsheet_exports() {
        let cases: &[(&str, &[&str])] = &[
            ("email\nana@x.io\nben@x.io\n", &["ana@x.io", "ben@x.io"]),
            ("Email\r\nana@x.io\r\n", &["ana@x.io"]),
            (
                "name;EMAIL;location\nAna;ana@x.io;East\nBen; ben@x.io ;West\n",
                &["ana@x.io", "ben@x.io"],
            ),
            (
                "\"Name\",\"E-mail\",\"email\"\n\"Lopez, Ana\",x,Ana@X.io\n",
                &["ana@x.io"],
            ),
            ("email\nana@x.io\n,\n\n , \n", &["ana@x.io"]),
            ("\n\n  email  \n ana@x.io \n", &["ana@x.io"]),
        ];
        for (text, expected) in cases {
            let (emails, messages) = parse(text);
            assert_eq!(emails, *expected, "{text:?}");
            assert!(messages.is_empty(), "{text:?}: {messages:?}");
        }
    }

    #[test]
    fn problems_point_at_their_line() {
        for (text, expected) in [
            (
                "mail\nana@x.io\n",
                "u.csv:1:1: this user file has no `email` column",
            ),
            ("", "u.csv:1:1: this user file is empty"),
            ("email\n", "u.csv:2:1: this user file lists no users"),
            (
                "email\nana@x.io\nben@x.io\nANA@x.io\n",
                "u.csv:4:1: `ana@x.io` is listed twice in this file (first on line 2)",
            ),
            (
                "name,email\nAna,ana\n",
                "u.csv:2:5: \"ana\" is not an email address: it has no @",
            ),
            ("name,email\nAna,\n", "u.csv:2:1: row 2 has no email"),
        ] {
            let (_, messages) = parse(text);
            assert_eq!(messages, [expected], "{text:?}");
        }
    }
}
