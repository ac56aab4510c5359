//! Reading a plan file: syntax, secrets, structure, then meaning — every error of every pass.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::de::DeTable;

use crate::diagnostic::{Diagnostic, MAX_FINDINGS, SourceFile, through_bad_line};

use super::raw::RawPlan;
use super::{Plan, schema, secrets, structure, validate};

/// A plan that validated, with the warnings it raised.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) plan: Plan,
    pub(crate) warnings: Vec<Diagnostic>,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum LoadError {
    #[error("cannot read the plan file {path}: {source}")]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the plan file {path} is larger than {} MiB: a plan is a short text file",
        MAX_PLAN_BYTES >> 20
    )]
    TooLarge { path: PathBuf },
    #[error("{} error(s) in the plan", diagnostics.iter().filter(|d| d.is_error()).count())]
    Invalid { diagnostics: Vec<Diagnostic> },
}

/// The largest plan file read (4 MiB); a plan is a few kilobytes, one listing 50,000 users
/// under 2 MiB. The read stops there, so a plan path that names a device or a pipe that never
/// ends cannot fill the memory.
pub(crate) const MAX_PLAN_BYTES: u64 = 4 << 20;

/// The most TOML syntax errors reported: past the first, the parser's recovery mostly reports
/// its own confusion (one error per character of a line of `=`).
const MAX_SYNTAX_ERRORS: usize = 1_000;

/// Reads and validates the plan at `path` (named in diagnostics exactly as given).
pub(crate) fn load(path: &Path) -> Result<Loaded, LoadError> {
    let unreadable = |source| LoadError::Unreadable {
        path: path.to_path_buf(),
        source,
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_PLAN_BYTES + 1).read_to_end(&mut bytes))
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_PLAN_BYTES {
        return Err(LoadError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    match String::from_utf8(bytes) {
        Ok(text) => load_text(path, &text),
        Err(e) => Err(LoadError::Invalid {
            diagnostics: vec![not_utf8(path, e.as_bytes(), e.utf8_error())],
        }),
    }
}

/// The finding for a plan file that is not UTF-8: it points at the first byte that is not, shown
/// with the text before it and the rest of its line (masked line by line in case a secret is in
/// it).
fn not_utf8(path: &Path, bytes: &[u8], error: std::str::Utf8Error) -> Diagnostic {
    let at = error.valid_up_to();
    let text = through_bad_line(bytes, at);
    let file = SourceFile::masked(
        path.display().to_string(),
        &text,
        &secrets::mask_lines_textually(&text),
    );
    let byte = bytes.get(at).copied().unwrap_or_default();
    Diagnostic::error(
        "plan::not-utf8",
        &file,
        at..at + char::REPLACEMENT_CHARACTER.len_utf8(),
        format!("the plan file is not UTF-8 text: the byte 0x{byte:02X} here is not"),
    )
    .label("not UTF-8")
    .help("save the plan as UTF-8 (an editor's \"Save with encoding\"); TOML files are UTF-8")
}

/// Validates plan text as if it were read from `path`: relative paths in it resolve against
/// `path`'s folder.
pub(crate) fn load_text(path: &Path, text: &str) -> Result<Loaded, LoadError> {
    let name = path.display().to_string();
    let (mut document, syntax_errors) = DeTable::parse_recoverable(text);

    // Secrets are found first, so that every diagnostic below renders a masked copy.
    let (literals, mut masked) = secrets::take_literal_secrets(document.get_mut(), text);
    masked.extend(literals.iter().map(|l| l.value_span.clone()));
    if !syntax_errors.is_empty() {
        masked.extend(secrets::mask_lines_textually(text));
    }
    let file = SourceFile::masked(&name, text, &masked);

    let mut diagnostics = Vec::new();
    for error in syntax_errors.iter().take(MAX_SYNTAX_ERRORS) {
        let span = error.span().unwrap_or(0..0);
        diagnostics.push(
            Diagnostic::error(
                "plan::syntax",
                &file,
                span,
                format!("TOML syntax: {}", error.message().trim_end()),
            )
            .label("here")
            .help("fix the TOML syntax here; see https://toml.io for the format"),
        );
    }
    if let Some(next) = syntax_errors.get(MAX_SYNTAX_ERRORS) {
        let more = syntax_errors.len() - MAX_SYNTAX_ERRORS;
        diagnostics.push(
            Diagnostic::error(
                "plan::syntax",
                &file,
                next.span().unwrap_or(0..0),
                format!("{more} more TOML syntax errors from here on are not reported"),
            )
            .label("and more from here")
            .help("fix the syntax errors above first: the rest may go with them"),
        );
    }
    for literal in &literals {
        let key = &literal.key;
        let variable = match key.as_str() {
            "token" => "CUTOVER_API_TOKEN".to_owned(),
            other => format!("CUTOVER_{}", other.to_ascii_uppercase()),
        };
        diagnostics.push(
            Diagnostic::error(
                "plan::literal-secret",
                &file,
                literal.key_span.start..literal.value_span.end.max(literal.key_span.end),
                format!("`{key}` holds a secret written into the plan"),
            )
            .label("a literal secret (masked here)")
            .help(format!(
                "a plan is committed to git, so it may only refer to a secret: write \
                 `{key} = {{ env = \"{variable}\" }}` or `{key} = {{ file = \"/run/secrets/cutover-{}\" }}`, \
                 and rotate this one, since it may already be in version control",
                key.replace('_', "-")
            )),
        );
    }

    let taken: Vec<String> = literals.iter().map(|l| l.path.clone()).collect();
    let pruned = structure::check_document(
        &mut document,
        &schema::plan_schema(),
        &file,
        syntax_errors.is_empty(),
        &taken,
        &mut diagnostics,
    );

    let plan = match RawPlan::deserialize(toml::de::Deserializer::from(document)) {
        Ok(raw) => validate::validate(raw, &file, path, &pruned, &mut diagnostics),
        Err(e) => {
            // The structural pass pruned everything serde could object to; reaching this means
            // the two disagree, which is a bug — but still the user's plan gets a located answer.
            if !diagnostics.iter().any(Diagnostic::is_error) {
                let span = e.span().unwrap_or(0..0);
                diagnostics.push(
                    Diagnostic::error("plan::shape", &file, span, e.message().to_owned())
                        .label("here")
                        .help(
                            "this plan's shape was not understood; please report it with the plan",
                        ),
                );
            }
            None
        }
    };

    sort(&mut diagnostics);
    if diagnostics.len() >= MAX_FINDINGS {
        diagnostics.push(
            Diagnostic::error(
                "plan::too-many-findings",
                &file,
                0..0,
                format!("cutover stopped after {MAX_FINDINGS} findings; this plan has more"),
            )
            .help("fix the ones reported first; a plan a person writes has a handful"),
        );
    }
    match plan {
        Some(plan) if !diagnostics.iter().any(Diagnostic::is_error) => Ok(Loaded {
            plan,
            warnings: diagnostics,
        }),
        _ => {
            if !diagnostics.iter().any(Diagnostic::is_error) {
                // Every path that fails reports why; never let an invalid plan pass silently.
                diagnostics.push(
                    Diagnostic::error("plan::invalid", &file, 0..0, "this plan is not valid")
                        .help("please report this plan: cutover rejected it without saying why"),
                );
            }
            Err(LoadError::Invalid { diagnostics })
        }
    }
}

/// By file (the plan first, then the files it names, by name), then position.
fn sort(diagnostics: &mut [Diagnostic]) {
    let plan_first = |d: &Diagnostic| !d.file.name().ends_with(".toml");
    diagnostics.sort_by_key(|d| (plan_first(d), d.sort_key()));
}
