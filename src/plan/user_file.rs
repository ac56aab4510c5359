//! CSV user files (`users = { file = "east.csv" }`), as admins export them from spreadsheets and
//! Exchange: a UTF-8 byte-order mark, an `email` (or Exchange's `PrimarySmtpAddress`) header in
//! any case, or the column the plan names, `,` or `;` between fields, stray spaces, quoted
//! fields, CRLF line ends, blank rows, and the `#TYPE` line PowerShell's `Export-Csv` writes first.
//!
//! A user file is read only if it is a regular file no larger than [`MAX_USER_FILE_BYTES`], so a
//! path that names a device, a pipe or a folder is refused by name, never read.

use std::io::Read;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use crate::diagnostic::{Diagnostic, MAX_FINDINGS, SourceFile, through_bad_line};

use super::grammar::Email;

/// The largest user file read: 64 MiB, about a million users with a few columns each.
pub(crate) const MAX_USER_FILE_BYTES: u64 = 64 << 20;

/// The email column's names when the plan names none, in order of preference. A
/// `UserPrincipalName` is never taken for the email unless the plan names it: it is the sign-in
/// name, which can differ from the mailbox's address.
const EMAIL_COLUMNS: [&str; 2] = ["email", "PrimarySmtpAddress"];

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
    /// A folder, a device, a pipe or a socket: what it is, in a few words.
    NotRegular(&'static str),
    /// Larger than [`MAX_USER_FILE_BYTES`]; its size in bytes.
    TooLarge(u64),
    Io(std::io::Error),
}

impl UserFile {
    /// Reads and checks a user file. `display` names it in diagnostics (the plan's folder joined
    /// with the path as written); `column` is the email column the plan names, if it does.
    /// Problems inside the file become diagnostics pointing into it.
    pub(crate) fn read(
        display: &str,
        path: &Path,
        column: Option<&str>,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Result<UserFile, UnreadableFile> {
        let io = |e: std::io::Error| match e.kind() {
            std::io::ErrorKind::NotFound => UnreadableFile::Missing,
            _ => UnreadableFile::Io(e),
        };
        // `metadata` does not open the file: a FIFO is refused without waiting for a writer.
        let metadata = std::fs::metadata(path).map_err(io)?;
        if !metadata.is_file() {
            return Err(UnreadableFile::NotRegular(file_kind(&metadata)));
        }
        if metadata.len() > MAX_USER_FILE_BYTES {
            return Err(UnreadableFile::TooLarge(metadata.len()));
        }
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_USER_FILE_BYTES + 1).read_to_end(&mut bytes))
            .map_err(io)?;
        if bytes.len() as u64 > MAX_USER_FILE_BYTES {
            return Err(UnreadableFile::TooLarge(bytes.len() as u64));
        }
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
        match std::str::from_utf8(bytes) {
            Ok(text) => Ok(Self::parse(
                SourceFile::new(display, text.to_owned()),
                column,
                diagnostics,
            )),
            Err(e) => {
                // Point at the first byte that is not UTF-8, in the text before it.
                let at = e.valid_up_to();
                let file = SourceFile::new(display, through_bad_line(bytes, at));
                let byte = bytes.get(at).copied().unwrap_or_default();
                diagnostics.push(
                    Diagnostic::error(
                        "plan::not-utf8",
                        &file,
                        at..at + char::REPLACEMENT_CHARACTER.len_utf8(),
                        format!(
                            "this user file is not UTF-8 text: the byte 0x{byte:02X} here is not"
                        ),
                    )
                    .label("not UTF-8")
                    .help("export the sheet as \"CSV UTF-8\""),
                );
                Ok(UserFile {
                    file,
                    emails: Vec::new(),
                })
            }
        }
    }

    pub(crate) fn parse(
        file: Arc<SourceFile>,
        column: Option<&str>,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> UserFile {
        let text = file.text();
        let mut emails = Vec::new();
        let empty = |file: &Arc<SourceFile>| {
            Diagnostic::error(
                "plan::empty-user-file",
                file,
                0..0,
                "this user file is empty",
            )
            .label("no header, no rows")
            .help("a user file needs an `email` header and one email per row")
        };
        let Some(mut header_start) = first_non_blank_line(text, 0) else {
            diagnostics.push(empty(&file));
            return UserFile { file, emails };
        };
        // PowerShell's `Export-Csv` (without `-NoTypeInformation`) writes `#TYPE <class>` first.
        if text[header_start..].starts_with("#TYPE") {
            let next = line_end(text, header_start);
            match first_non_blank_line(text, next) {
                Some(start) => header_start = start,
                None => {
                    diagnostics.push(empty(&file));
                    return UserFile { file, emails };
                }
            }
        }
        let delimiter = sniff_delimiter(&text[header_start..line_end(text, header_start)]);

        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(&text.as_bytes()[header_start..]);

        let mut email_column = None;
        let mut seen: std::collections::HashMap<Email, usize> = std::collections::HashMap::new();
        let mut record = csv::StringRecord::new();
        while diagnostics.len() < MAX_FINDINGS {
            let position = reader.position().clone();
            match reader.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => {
                    let at = e.position().map_or(position.byte(), csv::Position::byte);
                    let at = header_start + usize::try_from(at).unwrap_or(0);
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
            if record.iter().all(str::is_empty) {
                continue;
            }
            let at = record
                .position()
                .map_or(position.byte(), csv::Position::byte);
            // After a CRLF line end the reader's position is on its `\n`, still on the line
            // before: the row starts past it.
            let row_start = skip_line_ends(text, header_start + usize::try_from(at).unwrap_or(0));
            let Some(chosen) = email_column else {
                match choose_column(&record, column) {
                    Some(i) => email_column = Some(i),
                    None => {
                        let row = row_start..line_end(text, row_start);
                        diagnostics.push(no_column(&file, row, &record, column));
                        return UserFile { file, emails };
                    }
                }
                continue;
            };
            let (line, _) = file.line_column(row_start);
            let value = record.get(chosen).unwrap_or("");
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
        if email_column.is_none() {
            diagnostics.push(empty(&file));
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

/// The index of the email column in the header row: the one the plan names, or else the first
/// of [`EMAIL_COLUMNS`] present (names compared case-insensitively).
fn choose_column(header: &csv::StringRecord, named: Option<&str>) -> Option<usize> {
    let find = |name: &str| {
        header
            .iter()
            .position(|h| h.eq_ignore_ascii_case(name.trim()))
    };
    match named {
        Some(name) => find(name),
        None => EMAIL_COLUMNS.iter().find_map(|name| find(name)),
    }
}

/// The finding for a header row without the email column, with the likeliest fix.
fn no_column(
    file: &Arc<SourceFile>,
    row: Range<usize>,
    header: &csv::StringRecord,
    named: Option<&str>,
) -> Diagnostic {
    let names: Vec<&str> = header.iter().collect();
    let listed = names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let (message, label, help) = match named {
        Some(name) => (
            format!("this user file has no `{name}` column, which the plan names"),
            format!("the header row; its columns: {listed}"),
            "name one of this file's columns in `column`, or fix the header row".to_owned(),
        ),
        None => {
            let upn = names
                .iter()
                .find(|n| n.eq_ignore_ascii_case("UserPrincipalName"));
            let guess = names.iter().find(|n| n.to_lowercase().contains("mail"));
            let help = match (upn, guess) {
                (_, Some(g)) => format!(
                    "name the email column in the plan, `users = {{ file = \"…\", column = \"{g}\" }}`, \
                     or rename it to `email`"
                ),
                (Some(u), None) => format!(
                    "a `{u}` is the sign-in name, which can differ from the mailbox's email, so it \
                     is not taken for it; if it is the email here, name it: \
                     `users = {{ file = \"…\", column = \"{u}\" }}`"
                ),
                (None, None) => "add a header row whose email column is named `email`, or name \
                     the column with `users = { file = \"…\", column = \"…\" }`"
                    .to_owned(),
            };
            (
                "this user file has no `email` column".to_owned(),
                format!(
                    "the header row; {} column(s), none named `email` or `PrimarySmtpAddress`",
                    names.len()
                ),
                help,
            )
        }
    };
    Diagnostic::error("plan::no-email-column", file, row, message)
        .label(label)
        .help(help)
}

/// Where the line holding `offset` ends (before its `\n`).
fn line_end(text: &str, offset: usize) -> usize {
    text[offset..].find('\n').map_or(text.len(), |i| offset + i)
}

/// `offset` moved past any `\r` and `\n` bytes.
fn skip_line_ends(text: &str, mut offset: usize) -> usize {
    while matches!(text.as_bytes().get(offset), Some(b'\r' | b'\n')) {
        offset += 1;
    }
    offset
}

/// What a path that is not a regular file names, for the message that refuses it.
fn file_kind(metadata: &std::fs::Metadata) -> &'static str {
    let kind = metadata.file_type();
    if kind.is_dir() {
        return "a folder";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a named pipe (FIFO)";
        }
        if kind.is_char_device() || kind.is_block_device() {
            return "a device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    "not a regular file"
}

/// The start of the first line at or after `from` that is not blank.
fn first_non_blank_line(text: &str, from: usize) -> Option<usize> {
    let mut offset = from;
    for line in text[from..].split_inclusive('\n') {
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
    let row_end = line_end(text, row_start);
    let row = text[row_start..row_end].trim_end_matches('\r');
    let row_end = row_start + row.len();
    match (value.is_empty(), row.find(value)) {
        (false, Some(i)) => row_start + i..row_start + i + value.len(),
        _ => row_start..row_end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (Vec<String>, Vec<String>) {
        parse_column(text, None)
    }

    fn parse_column(text: &str, column: Option<&str>) -> (Vec<String>, Vec<String>) {
        let mut diagnostics = Vec::new();
        let file = UserFile::parse(
            SourceFile::new("u.csv", text.to_owned()),
            column,
            &mut diagnostics,
        );
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

    #[test]
    fn crlf_rows_point_at_their_own_line() {
        for (text, expected) in [
            (
                "name,email\r\nAna,ana\r\n",
                "u.csv:2:5: \"ana\" is not an email address: it has no @",
            ),
            (
                "email\r\nana@x.io\r\nben\r\n",
                "u.csv:3:1: \"ben\" is not an email address: it has no @",
            ),
            ("name,email\r\nAna,\r\n", "u.csv:2:1: row 2 has no email"),
            (
                "email\r\nana@x.io\r\n\r\nANA@x.io\r\n",
                "u.csv:4:1: `ana@x.io` is listed twice in this file (first on line 2)",
            ),
        ] {
            let (_, messages) = parse(text);
            assert_eq!(messages, [expected], "{text:?}");
        }
    }

    #[test]
    fn exchange_exports() {
        let cases: &[(&str, Option<&str>, &[&str])] = &[
            (
                "#TYPE Selected.Microsoft.Exchange.Data.Directory.Management.Mailbox\r\n\"DisplayName\",\"PrimarySmtpAddress\"\r\n\"Ana\",\"ana@x.io\"\r\n",
                None,
                &["ana@x.io"],
            ),
            (
                "DisplayName,UserPrincipalName,PrimarySmtpAddress\nAna,ana.upn@x.io,ana@x.io\n",
                None,
                &["ana@x.io"],
            ),
            (
                "email,PrimarySmtpAddress\nana@x.io,a2@x.io\n",
                None,
                &["ana@x.io"],
            ),
            (
                "DisplayName,UserPrincipalName\nAna,ana@x.io\n",
                Some("userprincipalname"),
                &["ana@x.io"],
            ),
            ("Mail;Email\nana@x.io;b@x.io\n", Some("Mail"), &["ana@x.io"]),
        ];
        for (text, column, expected) in cases {
            let (emails, messages) = parse_column(text, *column);
            assert_eq!(emails, *expected, "{text:?}");
            assert!(messages.is_empty(), "{text:?}: {messages:?}");
        }
    }

    #[test]
    fn the_email_column_is_never_guessed() {
        for (text, column, expected) in [
            (
                "DisplayName,UserPrincipalName\nAna,ana@x.io\n",
                None,
                "u.csv:1:1: this user file has no `email` column",
            ),
            (
                "#TYPE System.Management.Automation.PSCustomObject\nName,Email\nAna,ana@x.io\n",
                Some("PrimarySmtpAddress"),
                "u.csv:2:1: this user file has no `PrimarySmtpAddress` column, which the plan names",
            ),
            (
                "#TYPE x\r\n\r\n",
                None,
                "u.csv:1:1: this user file is empty",
            ),
        ] {
            let mut diagnostics = Vec::new();
            UserFile::parse(
                SourceFile::new("u.csv", text.to_owned()),
                column,
                &mut diagnostics,
            );
            let messages: Vec<String> = diagnostics
                .iter()
                .map(|d| format!("{}: {}", d.location(), d.message))
                .collect();
            assert_eq!(messages, [expected], "{text:?}");
            if text.contains("UserPrincipalName") {
                let help = diagnostics[0].help.as_deref().unwrap_or_default();
                assert!(help.contains("column = \"UserPrincipalName\""), "{help}");
            }
        }
    }

    #[test]
    fn only_regular_files_are_read() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut diagnostics = Vec::new();
        for (path, kind) in [
            (dir.path().to_path_buf(), "a folder"),
            (std::path::PathBuf::from("/dev/zero"), "a device"),
        ] {
            match UserFile::read("x.csv", &path, None, &mut diagnostics) {
                Err(UnreadableFile::NotRegular(k)) => assert_eq!(k, kind),
                other => panic!("{path:?}: {other:?}"),
            }
        }
        assert!(matches!(
            UserFile::read(
                "x.csv",
                &dir.path().join("none.csv"),
                None,
                &mut diagnostics
            ),
            Err(UnreadableFile::Missing)
        ));
        let latin1 = dir.path().join("latin1.csv");
        std::fs::write(&latin1, b"email\nana@x.io\nJos\xE9@x.io\n").expect("write");
        UserFile::read("latin1.csv", &latin1, None, &mut diagnostics).expect("read");
        let [d] = diagnostics.as_slice() else {
            panic!("{diagnostics:?}")
        };
        assert_eq!(d.location(), "latin1.csv:3:4");
        assert!(d.message.contains("0xE9"), "{}", d.message);
    }
}
