//! One finding about a file: a message, the span it is about, and how to fix it.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use miette::{LabeledSpan, SourceCode, SourceSpan};

use super::SourceFile;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Severity {
    Error,
    Warning,
}

/// A finding with a place. Errors make a plan invalid; warnings are shown and let it pass.
#[derive(Debug, Clone)]
pub(crate) struct Diagnostic {
    pub(crate) severity: Severity,
    /// A stable identifier of the kind of finding, such as `plan::unknown-key`.
    pub(crate) code: &'static str,
    pub(crate) message: String,
    /// A few words shown under the offending span.
    pub(crate) label: String,
    pub(crate) help: Option<String>,
    pub(crate) file: Arc<SourceFile>,
    pub(crate) span: Range<usize>,
}

impl Diagnostic {
    pub(crate) fn error(
        code: &'static str,
        file: &Arc<SourceFile>,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            severity: Severity::Error,
            code,
            message: message.into(),
            label: String::new(),
            help: None,
            file: Arc::clone(file),
            // Whatever a pass computed (a parser's "one past the end", a range inside a
            // character), the span is drawable from here on.
            span: file.clamp(span),
        }
    }

    pub(crate) fn warning(
        code: &'static str,
        file: &Arc<SourceFile>,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(code, file, span, message)
        }
    }

    pub(crate) fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    pub(crate) fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub(crate) fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `(line, column)`, both 1-based.
    pub(crate) fn position(&self) -> (usize, usize) {
        self.file.line_column(self.span.start)
    }

    /// `PATH:LINE:COLUMN`.
    pub(crate) fn location(&self) -> String {
        let (line, column) = self.position();
        format!("{}:{line}:{column}", self.file.name())
    }

    /// Orders findings by file, then position, so reports read top to bottom.
    pub(crate) fn sort_key(&self) -> (String, usize, usize) {
        (self.file.name().to_owned(), self.span.start, self.span.end)
    }
}

/// The most findings kept for one file: a hostile or generated plan (a million `=` signs, a
/// million unknown keys) must not make cutover build a million findings. A plan a person wrote
/// has a few; past this many, the rest are counted out, not kept.
pub(crate) const MAX_FINDINGS: usize = 10_000;

/// Adds `diagnostic` to `diagnostics` unless they already hold [`MAX_FINDINGS`].
pub(crate) fn keep(diagnostics: &mut Vec<Diagnostic>, diagnostic: Diagnostic) {
    if diagnostics.len() < MAX_FINDINGS {
        diagnostics.push(diagnostic);
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Diagnostic {}

impl miette::Diagnostic for Diagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&*self.file)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = SourceSpan::from((self.span.start, self.span.len()));
        let label = (!self.label.is_empty()).then(|| self.label.clone());
        Some(Box::new(std::iter::once(
            LabeledSpan::new_primary_with_span(label, span),
        )))
    }
}
