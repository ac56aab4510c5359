//! Where output goes and how it may look: terminal or not, colour or not, how wide.

use std::io::{IsTerminal, Write};

/// What the process may assume about its standard streams, decided once at start.
#[derive(Debug, Clone)]
pub(crate) struct Output {
    /// Colour on stderr: a terminal, and `NO_COLOR` unset or empty, and not `TERM=dumb`.
    pub(crate) color: bool,
    /// Width for wrapped reports: the `COLUMNS` variable, else 100.
    pub(crate) width: usize,
}

impl Output {
    pub(crate) fn detect() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
        let color = std::io::stderr().is_terminal() && !no_color && !dumb;
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse().ok())
            .filter(|w| *w >= 40)
            .unwrap_or(100);
        Self { color, width }
    }

    /// Writes to stdout; a closed pipe (`cutover plan … | head`) is not an error worth a panic.
    pub(crate) fn stdout(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    pub(crate) fn stderr(&self, text: &str) {
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(text.as_bytes());
        let _ = err.flush();
    }
}
