//! What a grammar parser says about a string it rejects.

use std::ops::Range;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub(crate) struct GrammarError {
    pub(crate) message: String,
    pub(crate) help: String,
    /// The byte range of the offending part of the string's content, when it is narrower than
    /// the whole value.
    pub(crate) at: Option<Range<usize>>,
}

impl GrammarError {
    pub(crate) fn new(message: impl Into<String>, help: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            help: help.into(),
            at: None,
        }
    }

    pub(crate) fn at(mut self, range: Range<usize>) -> Self {
        self.at = Some(range);
        self
    }
}
