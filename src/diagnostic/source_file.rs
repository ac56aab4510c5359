//! A file that diagnostics point into, with secrets masked before anything can render it.
//!
//! It indexes its line starts once, so that naming a place (`LINE:COLUMN`) and cutting a snippet
//! for miette cost a binary search and the snippet's own lines — never a scan from the top of the
//! file. A report of thousands of findings in a large file stays linear.

use std::ops::Range;
use std::sync::Arc;

use miette::{MietteError, MietteSpanContents, SourceCode, SourceSpan, SpanContents};

/// The text of a plan or CSV file, named as the user gave it.
///
/// Diagnostics render snippets of this text, so any literal secret found in it is overwritten
/// with `*` (same length, so lines and columns stay true) before the first diagnostic is made.
#[derive(Debug)]
pub(crate) struct SourceFile {
    name: String,
    /// The text, and one space after it: a snippet of the last line draws a finding "at the end
    /// of the file" under that space, where a parser places it.
    padded: String,
    /// The length of the text itself.
    len: usize,
    /// The byte offset where each line starts; the first is 0. Lines end at `\n` (a `\r` before
    /// it belongs to the line, as miette draws it).
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub(crate) fn new(name: impl AsRef<str>, text: String) -> Arc<Self> {
        let mut line_starts = vec![0];
        line_starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        let len = text.len();
        let mut padded = text;
        padded.push(' ');
        Arc::new(Self {
            name: name.as_ref().to_owned(),
            padded,
            len,
            line_starts,
        })
    }

    /// Builds the file with the given byte ranges of `text` masked.
    pub(crate) fn masked(name: impl AsRef<str>, text: &str, secrets: &[Range<usize>]) -> Arc<Self> {
        let mut bytes = text.as_bytes().to_vec();
        for range in secrets {
            if let Some(slice) = bytes.get_mut(range.clone()) {
                slice.fill(b'*');
            }
        }
        // Masking whole UTF-8 sequences with ASCII keeps valid UTF-8 only when the range starts
        // and ends on character boundaries, which TOML value spans always do; fall back to the
        // lossy form rather than trusting that blindly.
        let text = String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        Self::new(name, text)
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn text(&self) -> &str {
        &self.padded[..self.len]
    }

    /// The 0-based line that holds a byte offset (offsets past the end are on the last line).
    fn line_of(&self, offset: usize) -> usize {
        self.line_starts
            .partition_point(|&start| start <= offset)
            .saturating_sub(1)
    }

    /// Where the 0-based `line` ends, its `\n` included.
    fn line_end(&self, line: usize) -> usize {
        self.line_starts.get(line + 1).copied().unwrap_or(self.len)
    }

    /// The longest line (in bytes) among the 0-based lines `lines` (those past the last line
    /// are not there, and count as empty).
    pub(crate) fn widest_line(&self, lines: Range<usize>) -> usize {
        let lines = lines.start.min(self.line_starts.len())..lines.end.min(self.line_starts.len());
        lines
            .map(|line| self.line_end(line) - self.line_starts[line])
            .max()
            .unwrap_or(0)
    }

    /// The 0-based lines a span covers, from its first byte to its last.
    pub(crate) fn lines_of(&self, span: &Range<usize>) -> Range<usize> {
        let first = self.line_of(span.start);
        let last = self.line_of(span.end.saturating_sub(1).max(span.start));
        first..last + 1
    }

    /// 1-based line and column of a byte offset. Columns count bytes, as miette's snippet
    /// header does (it reads them from here), so the text and JSON renderings always name the
    /// same place.
    pub(crate) fn line_column(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.len);
        let line = self.line_of(offset);
        (line + 1, offset - self.line_starts[line] + 1)
    }

    /// `span` made safe to draw: inside the text (a span past the end, such as a parser's "at
    /// the end of the file", ends at the end), on character boundaries, start before end.
    pub(crate) fn clamp(&self, span: Range<usize>) -> Range<usize> {
        let text = self.text();
        let mut start = span.start.min(text.len());
        let mut end = span.end.clamp(start, text.len());
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        while !text.is_char_boundary(end) {
            end += 1;
        }
        start..end
    }
}

/// The text of a file that is not UTF-8, for a finding at its first bad byte (`valid_up_to`):
/// everything before it, then the rest of its line with each bad byte as `�`, so that the bad
/// byte keeps its line and column and a snippet can underline it.
pub(crate) fn through_bad_line(bytes: &[u8], valid_up_to: usize) -> String {
    let line_end = bytes[valid_up_to..]
        .iter()
        .position(|b| *b == b'\n')
        .map_or(bytes.len(), |i| valid_up_to + i);
    let mut text = String::from_utf8_lossy(&bytes[..valid_up_to]).into_owned();
    text.push_str(&String::from_utf8_lossy(&bytes[valid_up_to..line_end]));
    text
}

impl SourceCode for SourceFile {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let start = span.offset();
        let end = start + span.len();
        if end > self.len {
            return Err(MietteError::OutOfBounds);
        }
        let (data, line, column) = if context_lines_before == 0 && context_lines_after == 0 {
            // The span itself: miette reads the header's `LINE:COLUMN` from this.
            let (line, column) = self.line_column(start);
            (start..end, line - 1, column - 1)
        } else {
            let lines = self.lines_of(&(start..end));
            let first = lines.start.saturating_sub(context_lines_before);
            let last = (lines.end - 1 + context_lines_after).min(self.line_starts.len() - 1);
            let mut data_end = self.line_end(last);
            if end == self.len && data_end == self.len {
                data_end += 1; // the space after the text, under which a finding at its end is drawn
            }
            (self.line_starts[first]..data_end, first, 0)
        };
        let line_count = self.lines_of(&data).len();
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            &self.padded.as_bytes()[data.clone()],
            SourceSpan::from((data.start, data.len())),
            line,
            column,
            line_count,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column() {
        let file = SourceFile::new("p.toml", "ab\ncd\n\nxyz".to_owned());
        for (offset, expected) in [
            (0, (1, 1)),
            (1, (1, 2)),
            (3, (2, 1)),
            (7, (4, 1)),
            (9, (4, 3)),
            (99, (4, 4)),
        ] {
            assert_eq!(file.line_column(offset), expected, "offset {offset}");
        }
    }

    #[test]
    fn masking_keeps_positions() {
        let text = "token = \"hunter2\"\nx = 1";
        let secrets = [9..16, 0..0];
        let file = SourceFile::masked("p.toml", text, &secrets);
        assert_eq!(file.text(), "token = \"*******\"\nx = 1");
        assert_eq!(file.line_column(18), (2, 1));
    }

    #[test]
    fn clamping() {
        let file = SourceFile::new("p.toml", "a = \"é\"\nb = \n".to_owned());
        for (span, expected) in [
            (0..1, 0..1),
            (5..6, 5..7), // inside `é`: widened to the whole character
            (Range { start: 6, end: 5 }, 5..7), // backwards, and inside `é`
            (14..15, 14..14), // past the end
            (
                Range {
                    start: usize::MAX,
                    end: 0,
                },
                14..14,
            ),
        ] {
            assert_eq!(file.clamp(span.clone()), expected, "{span:?}");
        }
        let bare = SourceFile::new("p.toml", "not_before = ".to_owned());
        assert_eq!(bare.clamp(13..14), 13..13);
    }

    #[test]
    fn widths() {
        let file = SourceFile::new("p.toml", "a\nbbbb\ncc".to_owned());
        assert_eq!(file.widest_line(0..1), 2);
        assert_eq!(file.widest_line(0..3), 5);
        assert_eq!(file.widest_line(2..9), 2);
        assert_eq!(file.widest_line(7..9), 0);
        assert_eq!(file.lines_of(&(10..10)), 2..3);
    }

    #[test]
    fn snippets_hold_only_their_lines() {
        let file = SourceFile::new("p.toml", "one\ntwo\nthree\nfour\n".to_owned());
        let contents = file
            .read_span(&SourceSpan::from((8, 5)), 1, 1)
            .expect("in bounds");
        assert_eq!(contents.data(), b"two\nthree\nfour\n");
        let end = file
            .read_span(&SourceSpan::from((19, 0)), 1, 1)
            .expect("at the end");
        assert_eq!(end.data(), b"four\n ");
        assert_eq!((contents.line(), contents.column()), (1, 0));
        let exact = file
            .read_span(&SourceSpan::from((9, 2)), 0, 0)
            .expect("in bounds");
        assert_eq!(exact.data(), b"hr");
        assert_eq!((exact.line(), exact.column()), (2, 1));
        assert!(file.read_span(&SourceSpan::from((19, 5)), 0, 0).is_err());
    }
}
