//! Where output goes and how it may look: terminal or not, colour or not, how wide.

use std::io::{IsTerminal, Write};

/// What the process may assume about its standard streams, decided once at start.
#[derive(Debug, Clone)]
pub(crate) struct Output {
    /// Colour on stderr: a terminal, and `NO_COLOR` unset or empty, and not `TERM=dumb`.
    pub(crate) color: bool,
    /// The same for stdout.
    pub(crate) color_stdout: bool,
    /// Width for wrapped reports: the `COLUMNS` variable, else 100.
    pub(crate) width: usize,
}

impl Output {
    pub(crate) fn detect() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
        let color = std::io::stderr().is_terminal() && !no_color && !dumb;
        let color_stdout = std::io::stdout().is_terminal() && !no_color && !dumb;
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse().ok())
            .filter(|w| *w >= 40)
            .unwrap_or(100);
        Self {
            color,
            color_stdout,
            width,
        }
    }

    /// A report for stdout (a run's end, a dry-run) with what needs attention marked in colour
    /// when stdout is a terminal that takes it: a halt in red, warnings in yellow, the
    /// irreversible step in magenta.
    pub(crate) fn paint_report(&self, text: &str) -> String {
        if !self.color_stdout {
            return text.to_owned();
        }
        text.lines()
            .map(|line| {
                let code = if line.starts_with("HALTED")
                    || line.starts_with("halted:")
                    || line.contains("BLOCKING")
                    || line.contains("GATE FAILED")
                {
                    Some("1;31")
                } else if line.contains("IRREVERSIBLE") {
                    Some("1;35")
                } else if line.trim_start().starts_with("warning") || line.starts_with("waiting:") {
                    Some("33")
                } else {
                    None
                };
                match code {
                    Some(code) => format!("\x1b[{code}m{line}\x1b[0m\n"),
                    None => format!("{line}\n"),
                }
            })
            .collect()
    }

    /// Writes to stdout; a closed pipe (`cutover plan … | head`) is not an error worth a panic.
    pub(crate) fn stdout(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    /// Writes what `write` writes to stdout, through a buffer: for a document too large to
    /// build whole first. A closed stdout (`| head`) is not an error, as with [`Output::stdout`].
    /// (A concrete writer, not `dyn Write`: a serializer writes many small pieces.)
    pub(crate) fn stdout_with(
        &self,
        write: impl FnOnce(&mut std::io::BufWriter<std::io::StdoutLock<'static>>) -> std::io::Result<()>,
    ) {
        let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
        let _ = write(&mut out).and_then(|()| out.flush());
    }

    pub(crate) fn stderr(&self, text: &str) {
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(text.as_bytes());
        let _ = err.flush();
    }
}

/// Where a command's lines for people go: the process's own streams ([`Output`]), or — in a
/// fleet, where several plans run at once — the same streams with each line marked by its plan.
pub(crate) trait Lines {
    fn stdout(&self, text: &str);
    fn stderr(&self, text: &str);
    /// A report for stdout, marked in colour where stdout takes it (see [`Output::paint_report`]).
    fn paint_report(&self, text: &str) -> String;
}

impl Lines for Output {
    fn stdout(&self, text: &str) {
        Output::stdout(self, text);
    }

    fn stderr(&self, text: &str) {
        Output::stderr(self, text);
    }

    fn paint_report(&self, text: &str) -> String {
        Output::paint_report(self, text)
    }
}
