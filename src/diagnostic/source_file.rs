//! A file that diagnostics point into, with secrets masked before anything can render it.

use std::ops::Range;
use std::sync::Arc;

use miette::NamedSource;

/// The text of a plan or CSV file, named as the user gave it.
///
/// Diagnostics render snippets of this text, so any literal secret found in it is overwritten
/// with `*` (same length, so lines and columns stay true) before the first diagnostic is made.
#[derive(Debug)]
pub(crate) struct SourceFile {
    named: NamedSource<String>,
}

impl SourceFile {
    pub(crate) fn new(name: impl AsRef<str>, text: String) -> Arc<Self> {
        Arc::new(Self {
            named: NamedSource::new(name, text),
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
        self.named.name()
    }

    pub(crate) fn text(&self) -> &str {
        self.named.inner()
    }

    pub(crate) fn named(&self) -> &NamedSource<String> {
        &self.named
    }

    /// 1-based line and column of a byte offset. Columns count bytes, as miette's snippet
    /// header does, so the text and JSON renderings always name the same place.
    pub(crate) fn line_column(&self, offset: usize) -> (usize, usize) {
        let text = self.text();
        let offset = offset.min(text.len());
        let before = &text.as_bytes()[..offset];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        (line, offset - line_start + 1)
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
}
