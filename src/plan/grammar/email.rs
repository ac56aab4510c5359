//! User emails: the key by which plans, CSV files and the platform name a user.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use super::GrammarError;

/// An email address, lowercased: the platform matches users case-insensitively, and a plan
/// must not treat `Ana@x` and `ana@x` as two people.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub(crate) struct Email(String);

impl Email {
    pub(crate) fn parse(text: &str) -> Result<Self, GrammarError> {
        let help = "write a full email address such as \"ana@contoso.example\"";
        if let Some(i) = text.find(char::is_whitespace) {
            let message = format!("\"{text}\" is not an email address: it contains a space");
            return Err(GrammarError::new(message, help).at(i..i + 1));
        }
        let Some((local, domain)) = text.split_once('@') else {
            let message = format!("\"{text}\" is not an email address: it has no @");
            return Err(GrammarError::new(message, help));
        };
        let valid_domain = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && !domain.contains('@');
        if local.is_empty() || !valid_domain {
            let message = format!("\"{text}\" is not an email address");
            return Err(GrammarError::new(message, help));
        }
        Ok(Self(text.to_lowercase()))
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Email::parse(&text).map_err(|e| serde::de::Error::custom(e.message))
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for (text, ok) in [
            ("ana@contoso.example", Some("ana@contoso.example")),
            (
                "Ana.Lopez@Contoso.Example",
                Some("ana.lopez@contoso.example"),
            ),
            ("a+b@x.io", Some("a+b@x.io")),
            ("ana", None),
            ("ana@", None),
            ("@x.io", None),
            ("ana@localhost", None),
            ("ana@x..io", None),
            ("ana@@x.io", None),
            ("ana @x.io", None),
        ] {
            assert_eq!(
                Email::parse(text).ok().map(|e| e.to_string()).as_deref(),
                ok,
                "{text}"
            );
        }
    }
}
