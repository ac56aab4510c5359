//! Names of plans and steps: 1–63 lowercase letters, digits and dashes, starting with a letter.

use std::fmt;

use serde::Serialize;

use super::GrammarError;

/// A plan or batch name. Names appear in file names, command lines (`cutover approve PLAN east`)
/// and URLs, so the grammar is deliberately narrow.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub(crate) struct StepName(String);

impl StepName {
    pub(crate) fn parse(text: &str) -> Result<Self, GrammarError> {
        let help = "use 1 to 63 lowercase letters, digits and dashes, starting with a letter, \
            such as \"east-branches\"";
        if text.is_empty() {
            return Err(GrammarError::new("a name cannot be empty", help));
        }
        if text.len() > 63 {
            let message = format!(
                "a name can be at most 63 characters; this one has {}",
                text.len()
            );
            return Err(GrammarError::new(message, help).at(63..text.len()));
        }
        if let Some((i, c)) = text
            .char_indices()
            .find(|&(_, c)| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
        {
            let message = if c.is_ascii_uppercase() {
                format!("a name cannot contain the uppercase letter `{c}`")
            } else {
                format!("a name cannot contain `{c}`")
            };
            let help = if c.is_ascii_uppercase() || c == '_' || c == ' ' {
                format!(
                    "use lowercase letters, digits and dashes, such as \"{}\"",
                    suggest(text)
                )
            } else {
                help.to_owned()
            };
            return Err(GrammarError::new(message, help).at(i..i + c.len_utf8()));
        }
        if !text.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(GrammarError::new("a name must start with a letter", help).at(0..1));
        }
        Ok(Self(text.to_owned()))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

fn suggest(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '_' | ' ' => '-',
            c => c.to_ascii_lowercase(),
        })
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
        .collect()
}

impl fmt::Display for StepName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for (text, ok) in [
            ("east", true),
            ("east-2", true),
            ("a", true),
            (&"a".repeat(63), true),
            (&"a".repeat(64), false),
            ("", false),
            ("East", false),
            ("east_2", false),
            ("2east", false),
            ("-east", false),
            ("east wing", false),
        ] {
            assert_eq!(StepName::parse(text).is_ok(), ok, "{text}");
        }
        let e = StepName::parse("East_Wing").expect_err("uppercase");
        assert!(e.help.contains("\"east-wing\""), "{}", e.help);
    }
}
