//! A plan's lines in a fleet's shared output: each line marked `name: `, written whole so that
//! plans running at once never interleave within a line. On a terminal they go above the
//! fleet's progress lines (`progress.rs`).

use indicatif::MultiProgress;

use crate::cli::Output;
use crate::cli::output::Lines;

pub(super) struct PlanLines<'a> {
    out: &'a Output,
    prefix: String,
    /// On a terminal: print above the progress lines instead of between them.
    multi: Option<MultiProgress>,
}

impl<'a> PlanLines<'a> {
    pub(super) fn new(out: &'a Output, name: &str, multi: Option<MultiProgress>) -> Self {
        Self {
            out,
            prefix: format!("{name}: "),
            multi,
        }
    }

    fn marked(&self, text: &str) -> String {
        text.lines()
            .map(|line| format!("{}{line}\n", self.prefix))
            .collect()
    }
}

impl Lines for PlanLines<'_> {
    fn stdout(&self, text: &str) {
        let marked = self.marked(text);
        match &self.multi {
            Some(multi) => {
                let _ = multi.println(marked.trim_end());
            }
            None => self.out.stdout(&marked),
        }
    }

    fn stderr(&self, text: &str) {
        let marked = self.marked(text);
        match &self.multi {
            Some(multi) => {
                let _ = multi.println(marked.trim_end());
            }
            None => self.out.stderr(&marked),
        }
    }

    fn paint_report(&self, text: &str) -> String {
        self.out.paint_report(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_is_marked_with_its_plan() {
        let out = Output {
            color: false,
            color_stdout: false,
            width: 100,
        };
        let lines = PlanLines::new(&out, "acme", None);
        assert_eq!(lines.marked("a\nb\n"), "acme: a\nacme: b\n");
    }
}
