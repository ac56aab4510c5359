//! Renders diagnostics for people (miette) and for machines (JSON).

use miette::{GraphicalReportHandler, GraphicalTheme};
use serde::Serialize;

use super::{Diagnostic, Severity};

/// Renders one diagnostic as miette's graphical report. `color` and `width` come from the
/// caller so that snapshots can pin them.
pub(crate) fn render_text(diagnostic: &Diagnostic, color: bool, width: usize) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(width)
        .with_links(false)
        .with_context_lines(1);
    let mut out = String::new();
    // Writing into a String cannot fail unless a Display impl lies; keep the message if so.
    if handler.render_report(&mut out, diagnostic).is_err() {
        out = format!("{}: {}\n", diagnostic.location(), diagnostic.message);
    }
    out
}

/// The JSON shape of a diagnostic: a contract for editors and CI.
#[derive(Debug, Serialize)]
pub(crate) struct DiagnosticJson {
    pub(crate) file: String,
    pub(crate) line: usize,
    pub(crate) column: usize,
    pub(crate) end_line: usize,
    pub(crate) end_column: usize,
    pub(crate) severity: Severity,
    pub(crate) code: &'static str,
    pub(crate) message: String,
    pub(crate) help: Option<String>,
}

impl From<&Diagnostic> for DiagnosticJson {
    fn from(d: &Diagnostic) -> Self {
        let (line, column) = d.position();
        let (end_line, end_column) = d.file.line_column(d.span.end);
        Self {
            file: d.file.name().to_owned(),
            line,
            column,
            end_line,
            end_column,
            severity: d.severity,
            code: d.code,
            message: d.message.clone(),
            help: d.help.clone(),
        }
    }
}
