//! Renders diagnostics for people (miette) and for machines (JSON).

use std::fmt;

use miette::{GraphicalReportHandler, GraphicalTheme};
use serde::Serialize;

use super::{Diagnostic, Severity};

/// How many diagnostics a text report shows before it says how many more there are. JSON lists
/// them all.
pub(crate) const TEXT_LIMIT: usize = 50;

/// The widest line a snippet draws. miette lays a snippet out in one row per line, so a line of
/// a minified or generated file (tens of thousands of bytes) is drawn whole, and past 65,535
/// columns its layout overflows; such a finding is reported without its snippet instead.
const SNIPPET_MAX_LINE: usize = 1_000;

/// The most lines a snippet draws: a span over more is reported without its snippet.
const SNIPPET_MAX_LINES: usize = 40;

/// Renders one diagnostic as miette's graphical report. `color` and `width` come from the
/// caller so that snapshots can pin them.
pub(crate) fn render_text(diagnostic: &Diagnostic, color: bool, width: usize) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = |context| {
        GraphicalReportHandler::new_themed(theme.clone())
            .with_width(width)
            .with_links(false)
            .with_context_lines(context)
    };
    let mut out = String::new();
    let rendered = match snippet(diagnostic) {
        Snippet::WithContext => handler(1).render_report(&mut out, diagnostic),
        Snippet::Alone => handler(0).render_report(&mut out, diagnostic),
        Snippet::None => handler(0).render_report(&mut out, &Unsnippeted(diagnostic)),
    };
    // Writing into a String cannot fail unless a Display impl lies; keep the message if so.
    if rendered.is_err() {
        out = format!("{}: {}\n", diagnostic.location(), diagnostic.message);
    }
    out
}

/// Renders the first [`TEXT_LIMIT`] diagnostics, each followed by a blank line, then a line
/// saying how many were left out.
pub(crate) fn render_text_report(diagnostics: &[Diagnostic], color: bool, width: usize) -> String {
    let mut out = String::new();
    for diagnostic in diagnostics.iter().take(TEXT_LIMIT) {
        out.push_str(&render_text(diagnostic, color, width));
        out.push('\n');
    }
    if let Some(rest) = diagnostics.len().checked_sub(TEXT_LIMIT).filter(|n| *n > 0) {
        let errors = diagnostics[TEXT_LIMIT..]
            .iter()
            .filter(|d| d.is_error())
            .count();
        let warnings = rest - errors;
        let what = match (errors, warnings) {
            (_, 0) => plural(errors, "error"),
            (0, _) => plural(warnings, "warning"),
            _ => format!(
                "{} and {}",
                plural(errors, "error"),
                plural(warnings, "warning")
            ),
        };
        out.push_str(&format!(
            "… and {rest} more: {what} not shown (`--format json` lists every one)\n\n"
        ));
    }
    out
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// How much of the file a diagnostic's snippet can show.
enum Snippet {
    /// Its lines and a line of context on each side.
    WithContext,
    /// Its lines alone: a line beside them is too wide to draw.
    Alone,
    /// Nothing: its lines are too many or too wide to draw; the place is named instead.
    None,
}

fn snippet(diagnostic: &Diagnostic) -> Snippet {
    let file = &diagnostic.file;
    let lines = file.lines_of(&diagnostic.span);
    let context = lines.start.saturating_sub(1)..lines.end + 1;
    if lines.len() > SNIPPET_MAX_LINES || file.widest_line(lines) > SNIPPET_MAX_LINE {
        Snippet::None
    } else if file.widest_line(context) > SNIPPET_MAX_LINE {
        Snippet::Alone
    } else {
        Snippet::WithContext
    }
}

/// A diagnostic shown without its snippet: the place is named in the message instead.
struct Unsnippeted<'a>(&'a Diagnostic);

impl fmt::Debug for Unsnippeted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0, f)
    }
}

impl fmt::Display for Unsnippeted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}\nat {} (too long to show here)",
            self.0.message,
            self.0.location()
        )
    }
}

impl std::error::Error for Unsnippeted<'_> {}

impl miette::Diagnostic for Unsnippeted<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        miette::Diagnostic::code(self.0)
    }

    fn severity(&self) -> Option<miette::Severity> {
        miette::Diagnostic::severity(self.0)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        miette::Diagnostic::help(self.0)
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::SourceFile;

    fn finding(text: String, span: std::ops::Range<usize>) -> Diagnostic {
        let file = SourceFile::new("p.toml", text);
        Diagnostic::error("plan::test", &file, span, "something is wrong")
            .label("here")
            .help("fix it")
    }

    #[test]
    fn long_lines_are_named_not_drawn() {
        for width in [999, 1_001, 70_000, 200_000] {
            let text = format!("a = \"{}\"\nb = 1\n", "x".repeat(width));
            let end = text.len() - 7;
            for span in [0..1, end - 1..end, end..end + 1, text.len()..text.len()] {
                let out = render_text(&finding(text.clone(), span.clone()), false, 80);
                assert!(
                    out.contains("something is wrong"),
                    "{width} {span:?}: {out}"
                );
                assert!(out.contains("p.toml:"), "{width} {span:?}: {out}");
                assert!(out.len() < 5_000 || width < 1_000, "{width} {span:?}");
            }
        }
        let wide = finding(format!("a = \"{}\"\n", "x".repeat(70_000)), 4..10);
        let out = render_text(&wide, false, 80);
        assert!(
            out.contains("at p.toml:1:5 (too long to show here)"),
            "{out}"
        );
        assert!(out.contains("help: fix it"), "{out}");
        // A short line beside a long one is drawn, without the long one.
        let text = format!("a = \"{}\"\nb = 1\n", "x".repeat(70_000));
        let beside = finding(text.clone(), text.len() - 6..text.len() - 5);
        let out = render_text(&beside, false, 80);
        assert!(
            out.contains("[p.toml:2:1]") && out.contains("2 │ b"),
            "{out}"
        );
        assert!(out.len() < 2_000, "{out}");
    }

    #[test]
    fn spans_at_and_past_the_end_render() {
        for text in [
            "not_before = ",
            "not_before = \n",
            "x = \"é",
            "",
            "\r\n",
            "é",
        ] {
            for span in [
                0..0,
                text.len()..text.len(),
                text.len()..text.len() + 1,
                1..99,
            ] {
                let d = finding(text.to_owned(), span.clone());
                let out = render_text(&d, false, 80);
                assert!(out.contains(&d.location()), "{text:?} {span:?}: {out}");
            }
        }
    }

    #[test]
    fn text_reports_stop_at_fifty() {
        let file = SourceFile::new("p.toml", "x\n".repeat(60));
        let diagnostics: Vec<Diagnostic> = (0..60)
            .map(|i| Diagnostic::error("plan::test", &file, 2 * i..2 * i + 1, format!("n{i}")))
            .collect();
        let out = render_text_report(&diagnostics, false, 80);
        assert!(out.contains("× n49") && !out.contains("× n50"), "{out}");
        assert!(
            out.ends_with(
                "… and 10 more: 10 errors not shown (`--format json` lists every one)\n\n"
            ),
            "{out}"
        );
        assert!(!render_text_report(&diagnostics[..50], false, 80).contains("more"));
    }
}
