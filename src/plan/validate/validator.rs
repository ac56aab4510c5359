//! The state the section checks share, and the two ways they report: an error at a span, and
//! a grammar's rejection pointed at the offending characters inside a string.
//!
//! It owns no rule of its own: what is wrong with a section is decided in that section's file.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use toml::Spanned;

use crate::diagnostic::{Diagnostic, SourceFile};

use super::users::Seen;
use crate::plan::grammar::{Email, GrammarError};

pub(super) struct Validator<'a> {
    pub(super) file: &'a Arc<SourceFile>,
    /// The plan's folder: relative paths in the plan resolve against it.
    pub(super) dir: &'a Path,
    pub(super) diagnostics: &'a mut Vec<Diagnostic>,
    /// Every user a step has named so far, so that a second step naming one is caught.
    pub(super) seen_users: HashMap<Email, Seen>,
    /// Dotted paths of keys an earlier pass reported and removed: present, but not usable.
    pruned: &'a [String],
}

impl<'a> Validator<'a> {
    pub(super) fn new(
        file: &'a Arc<SourceFile>,
        dir: &'a Path,
        pruned: &'a [String],
        diagnostics: &'a mut Vec<Diagnostic>,
    ) -> Self {
        Self {
            file,
            dir,
            diagnostics,
            seen_users: HashMap::new(),
            pruned,
        }
    }
}

impl Validator<'_> {
    /// Whether any pass so far, this one or an earlier one, reported an error.
    pub(super) fn any_error(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    pub(super) fn was_pruned(&self, path: &str) -> bool {
        self.pruned.iter().any(|p| p == path)
    }

    pub(super) fn error(
        &mut self,
        code: &'static str,
        span: Range<usize>,
        message: impl Into<String>,
        label: &str,
        help: impl Into<String>,
    ) {
        let d = Diagnostic::error(code, self.file, span, message)
            .label(label)
            .help(help);
        crate::diagnostic::keep(self.diagnostics, d);
    }

    /// Parses a string value with one of the plan's grammars, reporting a failure at the
    /// offending characters where the grammar can tell which they are.
    pub(super) fn grammar<T>(
        &mut self,
        value: &Spanned<String>,
        parse: fn(&str) -> Result<T, GrammarError>,
        code: &'static str,
    ) -> Option<T> {
        match parse(value.get_ref()) {
            Ok(v) => Some(v),
            Err(e) => {
                let span = self.inner_span(value, e.at.clone());
                let d = Diagnostic::error(code, self.file, span, e.message)
                    .label("here")
                    .help(e.help);
                crate::diagnostic::keep(self.diagnostics, d);
                None
            }
        }
    }

    /// Maps a range inside a string's content to the file, when the string is written without
    /// escapes (so content and source line up); otherwise the whole value.
    fn inner_span(&self, value: &Spanned<String>, at: Option<Range<usize>>) -> Range<usize> {
        let span = value.span();
        let Some(at) = at else { return span };
        let text = self.file.text();
        let content = span.start + 1..span.end.saturating_sub(1);
        // Same length and no escapes: the characters line up one to one. (Comparing the text
        // itself would fail where a secret was masked.)
        let source = text.get(content.clone()).unwrap_or("");
        let multiline = text
            .get(span.start..)
            .is_some_and(|t| t.starts_with("\"\"\"") || t.starts_with("'''"));
        let verbatim =
            !multiline && source.len() == value.get_ref().len() && !source.contains('\\');
        // Grammars count bytes; widen to whole characters so a label never splits one.
        let value_text = value.get_ref();
        let mut at = at.start.min(value_text.len())..at.end.min(value_text.len());
        while !value_text.is_char_boundary(at.start) {
            at.start -= 1;
        }
        while !value_text.is_char_boundary(at.end) {
            at.end += 1;
        }
        if verbatim {
            content.start + at.start..content.start + at.end
        } else {
            span
        }
    }
}
